"""Idempotency bound to the request (issue 10 item 4).

A retried request id is answered from its record only if the opcode and body are the
same; a different request reusing the id is refused with ``REQUEST_ID_REUSED`` and
nothing is applied — never answered "OK" from the record of something else.
"""

from __future__ import annotations

import json

import pytest

from ble_lock.core.clock import FakeClock, FakeRng
from ble_lock.core.errors import ConflictError, ErrorCode, error_for_code
from ble_lock.core.lock import Lock, provision
from ble_lock.core.model import Actor
from ble_lock.core.profile import DL20VC
from ble_lock.core.store import MemoryStore
from ble_lock.lockapp.service import LockService, request_digest
from ble_lock.testing import START
from ble_lock.testing.phone import claimed_world
from ble_lock.wire import messages as m

OWNER = bytes(range(1, 33))
RID = bytes.fromhex("c1c2c3c4c5c6c7c8")


def _service() -> tuple[LockService, Lock, MemoryStore]:
    store = MemoryStore()
    provision(store, FakeRng(5), serial="BL0000000005")
    lock = Lock(store=store, profile=DL20VC, clock=FakeClock(START), rng=FakeRng(6))
    lock.claim(phone_key=OWNER)
    return LockService(lock), lock, store


def _send(service: LockService, body: m.RequestBody, rid: bytes = RID) -> m.Response:
    out = m.decode(service.handle(OWNER, m.encode(m.Request(request_id=rid, body=body))))
    assert isinstance(out, m.Response)
    return out


def _names(lock: Lock) -> list[str]:
    return [u.name for u in lock.list_users(Actor.phone(OWNER))]


def test_a_retry_of_the_same_request_is_answered_from_its_record() -> None:
    service, lock, _ = _service()
    first = _send(service, m.UserAdd(name="Dan", role=m.Role.NORMAL))
    again = _send(service, m.UserAdd(name="Dan", role=m.Role.NORMAL))
    assert first.ok
    assert again == first
    assert _names(lock).count("Dan") == 1


def test_request_id_reuse_with_another_body_is_refused() -> None:
    """Same opcode, another body: refused, and the second user is not created."""
    service, lock, _ = _service()
    assert _send(service, m.UserAdd(name="Dan", role=m.Role.NORMAL)).ok
    reused = _send(service, m.UserAdd(name="Eve", role=m.Role.NORMAL))
    assert reused.status == ErrorCode.REQUEST_ID_REUSED
    assert isinstance(error_for_code(reused.status, reused.message), ConflictError)
    assert "Eve" not in _names(lock)
    # the original retry still gets its answer
    assert _send(service, m.UserAdd(name="Dan", role=m.Role.NORMAL)).ok


def test_request_id_reuse_with_another_opcode_is_refused_and_not_applied() -> None:
    """USER_ADD then USER_DELETE under one id: the delete is refused, never answered
    "Done" from the add's record while the user stays."""
    service, lock, _ = _service()
    added = _send(service, m.UserAdd(name="Dan", role=m.Role.NORMAL))
    assert isinstance(added.body, m.UserInfo)
    deleted = _send(service, m.UserDelete(user_number=added.body.user_number))
    assert deleted.status == ErrorCode.REQUEST_ID_REUSED
    assert "Dan" in _names(lock)
    settings = _send(service, m.SettingsSet(volume=1))
    assert settings.status == ErrorCode.REQUEST_ID_REUSED
    assert lock.settings.volume != 1


def test_the_digest_covers_opcode_and_body_but_not_the_request_id() -> None:
    a = m.Request(request_id=RID, body=m.UserAdd(name="Dan", role=m.Role.NORMAL))
    b = m.Request(request_id=RID[::-1], body=m.UserAdd(name="Dan", role=m.Role.NORMAL))
    c = m.Request(request_id=RID, body=m.UserAdd(name="Dan", role=m.Role.ADMIN))
    d = m.Request(request_id=RID, body=m.UserDelete(user_number=2))
    assert request_digest(a) == request_digest(b)
    assert len({request_digest(a), request_digest(c), request_digest(d)}) == 3


def test_the_record_keeps_no_dictionary_searchable_digest_of_a_pin() -> None:
    """R-SEC-4: a PIN_ADD's binding is keyed with the lock's hashing key: neither the
    PIN nor the plain digest of the request is in the store."""
    service, lock, store = _service()
    user = lock.add_user(Actor.phone(OWNER), name="Dan")
    body = m.PinAdd(user_number=user.number, pin="135790")
    assert _send(service, body).ok
    record = store.get_applied(Actor.phone(OWNER).identity(), RID)
    assert record is not None
    assert b"135790" not in record
    plain = request_digest(m.Request(request_id=RID, body=body))
    assert plain.hex().encode() not in record
    assert _send(service, body).ok  # the same request is still recognised


def test_core_binds_an_id_to_the_operation_without_a_protocol_scope() -> None:
    """Called directly (no request scope), the core binds a request id to the operation:
    another operation reusing it is refused; inside scopes, to the scope's digest."""
    _, lock, _ = _service()
    admin = Actor.phone(OWNER)
    dan = lock.add_user(admin, name="Dan", request_id=b"r1")
    with pytest.raises(ConflictError) as info:
        lock.delete_user(admin, dan.number, request_id=b"r1")
    assert info.value.code is ErrorCode.REQUEST_ID_REUSED
    assert "Dan" in _names(lock)
    with lock.request_scope(b"asked: Eve"):
        lock.add_user(admin, name="Eve", request_id=b"r2")
    with lock.request_scope(b"asked: Fay"), pytest.raises(ConflictError):
        lock.add_user(admin, name="Fay", request_id=b"r2")
    assert "Fay" not in _names(lock)


def test_a_record_written_before_requests_were_bound_matches_nothing() -> None:
    """An idempotency record without a binding (older ble-lock) answers no request: the
    retry is refused rather than answered from a record that may be another request's."""
    service, lock, store = _service()
    legacy = json.dumps({"t": "", "v": None}).encode()
    with store.transaction():
        store.put_applied(Actor.phone(OWNER).identity(), RID, legacy, keep=32)
    answer = _send(service, m.UserAdd(name="Dan", role=m.Role.NORMAL))
    assert answer.status == ErrorCode.REQUEST_ID_REUSED
    assert "Dan" not in _names(lock)


def test_a_lost_answer_is_retried_with_the_same_id_over_the_transport() -> None:
    """The client's retry after a lost link (docs/protocol.md "Retry after a lost
    link") sends the same bytes: answered from the record, applied once."""
    world, owner = claimed_world()
    request_id = owner.call_dropped(m.UserAdd(role=m.Role.NORMAL, name="Dan"))
    info = owner.retry(request_id, m.UserInfo)
    assert info.name == "Dan"
    names = [u.name for u in world.lock.list_users(Actor.phone(owner.key.public))]
    assert names.count("Dan") == 1


def test_a_lazy_scope_digest_is_computed_only_for_a_mutation() -> None:
    """The digest of what was asked may be passed as a function: an unlock in the scope
    never computes it (the hot path, issue 10 lock CPU), a management mutation does and
    binds the id to it exactly like the digest itself."""
    _, lock, _ = _service()
    admin = Actor.phone(OWNER)
    asked: list[bytes] = []

    def digest() -> bytes:
        asked.append(b"asked: Eve")
        return b"asked: Eve"

    with lock.request_scope(digest):
        assert lock.unlock_bluetooth(admin).granted
    assert asked == []
    with lock.request_scope(digest):
        lock.add_user(admin, name="Eve", request_id=b"r3")
    assert asked == [b"asked: Eve"]
    with lock.request_scope(b"asked: Eve"):  # the same request: answered from its record
        lock.add_user(admin, name="Eve", request_id=b"r3")
    assert _names(lock).count("Eve") == 1
    with lock.request_scope(b"asked: Fay"), pytest.raises(ConflictError):
        lock.add_user(admin, name="Fay", request_id=b"r3")
