"""Secrets never ride in a handshake's first message (no forward secrecy there).

docs/protocol.md (0-RTT): a request that carries a secret (``RequestBody.SECRET``: PIN,
card code, remote id) is refused by the client in the first message, refused unapplied by
the lock if a client puts it there anyway, and a retry of one after a lost link goes
inside the new session.
"""

from __future__ import annotations

import dataclasses

import pytest

from ble_lock.core.errors import ErrorCode, LockError
from ble_lock.core.model import CredentialKind
from ble_lock.testing.phone import claimed_world
from ble_lock.wire import messages as m
from ble_lock.wire.errors import LocalProtocolError

SECRET_BODIES = [
    m.PinAdd(user_number=1, pin="860531"),
    m.CardAdd(user_number=1, card_uid=b"\x04\x11\x22\x33", card_code="402718"),
    m.RemoteAdd(user_number=1, remote_id=b"\x09" * 6),
]


def test_exactly_the_secret_carrying_requests_are_marked() -> None:
    marked = {cls.__name__ for cls in m.RequestOf.__subclasses__() if cls.SECRET}
    assert marked == {"PinAdd", "CardAdd", "RemoteAdd"}


def test_secret_flag_agrees_with_the_fields_kept_out_of_repr() -> None:
    """A body with a field hidden from ``repr`` holds a secret, and vice versa: a new
    secret field cannot be added without the flag."""
    for cls in m.RequestOf.__subclasses__():
        hidden = [f.name for f in dataclasses.fields(cls) if not f.repr]
        assert bool(hidden) == cls.SECRET, (cls.__name__, hidden)


@pytest.mark.parametrize("body", SECRET_BODIES, ids=lambda b: type(b).__name__)
def test_client_refuses_a_secret_in_the_first_message(body: m.RequestBody) -> None:
    world, owner = claimed_world()
    link = owner.link()
    with pytest.raises(LocalProtocolError, match="first message"):
        link.start(body, world.now)
    assert link.data_to_send() == []  # nothing went on the air


def test_lock_refuses_a_secret_that_rides_in_the_first_message() -> None:
    world, owner = claimed_world()
    link = owner.link()
    request_id, payload = owner.app.request(m.PinAdd(user_number=1, pin="860531"))
    link.session.start(payload, world.now)  # a client that ignores the rule
    world.run([link])
    with pytest.raises(LockError) as err:
        owner.app.result(request_id, m.CredentialInfo)
    assert err.value.code is ErrorCode.PROTOCOL_ERROR
    pins = owner.call(m.CredentialList(user_number=1, kind=CredentialKind.PIN),
                      m.CredentialPage).credentials
    assert pins == ()  # not applied


def test_retry_of_a_secret_request_goes_inside_the_session_and_applies_once() -> None:
    _, owner = claimed_world()
    request_id = owner.call_dropped(m.PinAdd(user_number=1, pin="860531"))
    assert not owner.app.answered(request_id)
    # Were the retry in the first message, the lock would answer PROTOCOL_ERROR.
    again = owner.retry(request_id, m.CredentialInfo)
    pins = owner.call(m.CredentialList(user_number=1, kind=CredentialKind.PIN),
                      m.CredentialPage).credentials
    assert [c.credential_id for c in pins] == [again.credential_id]
