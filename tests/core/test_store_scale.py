"""The store's open path and user numbering at scale (issue 15, item 5), pinned to the
definitions they replaced: the generated record decoders equal the reflective
``from_jsonable``; ``loads_many`` equals ``loads`` blob by blob (and still names a
corrupt record); the index's lowest free number equals the scan of R-USR-3."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ble_lock.core.errors import StorageError
from ble_lock.core.events import LockEvent
from ble_lock.core.index import Index
from ble_lock.core.model import (
    Credential,
    CredentialKind,
    Invite,
    Role,
    Settings,
    SyncLink,
    User,
)
from ble_lock.core.store import codec

RECORDS = [User, Credential, Settings, Invite, SyncLink, LockEvent]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(RECORDS).flatmap(st.builds))
def test_generated_decoder_equals_from_jsonable(record: Any) -> None:
    cls = type(record)
    blob = codec.dumps(record)
    expected = codec.from_jsonable(cls, json.loads(blob))
    got = codec.decoder(cls)(json.loads(blob))
    assert type(got) is cls
    assert codec.dumps(got) == codec.dumps(expected) == blob  # NaN-proof equality
    assert [codec.dumps(r) for r in codec.loads_many(cls, [blob] * 3)] == [blob] * 3


def test_decoded_records_equal_the_constructed_ones() -> None:
    user = User(number=7, name="ann", role=Role.ADMIN, valid_from=1.5, created_at=3.0)
    cred = Credential(id=9, kind=CredentialKind.BLUETOOTH_KEY, user_number=7, digest=b"d" * 16,
                      public_key=b"k" * 32, label="phone", valid_until=9.0)
    for record in (user, cred):
        got = codec.decoder(type(record))(json.loads(codec.dumps(record)))
        assert got == record
        assert hash(got) == hash(record)
        assert repr(got) == repr(record)
        with pytest.raises(AttributeError):  # still frozen
            got.created_at = 1.0  # type: ignore[misc]


def test_an_older_blob_without_a_field_gets_its_default() -> None:
    user = User(number=7, name="ann", role=Role.NORMAL, created_at=3.0)
    value = json.loads(codec.dumps(user))
    del value["schedules"]  # written before the field existed
    blob = json.dumps(value).encode()
    with pytest.raises(KeyError):
        codec.decoder(User)(value)  # the generated decoder gives up ...
    assert codec.loads_many(User, [blob, codec.dumps(user)]) == [user, user]  # ... not loads


def test_a_corrupt_blob_among_many_is_named() -> None:
    good = codec.dumps(User(number=1, name="a", role=Role.ADMIN))
    for bad in (b'{"number": 2', b'{"number":1},{"number":2}', b'{"number": "x", "role": 99}'):
        with pytest.raises(StorageError, match="corrupt User record"):
            codec.loads_many(User, [good, bad, good])


def _scan(users: set[int]) -> int:
    number = 1
    while number in users:
        number += 1
    return number


class Numbering(RuleBasedStateMachine):
    """R-USR-3: a new user takes the lowest free number, whatever was added and deleted."""

    def __init__(self) -> None:
        super().__init__()
        self.index = Index()

    def _user(self, number: int, role: Role = Role.NORMAL) -> User:
        return User(number=number, name="", role=role)

    @rule(admin=st.booleans())
    def add_lowest(self, admin: bool) -> None:
        number = self.index.lowest_free_number()
        self.index.put_user(self._user(number, Role.ADMIN if admin else Role.NORMAL))

    @rule(number=st.integers(1, 40))
    def load_sparse(self, number: int) -> None:  # a store load may hold any numbers
        self.index.put_user(self._user(number))

    @rule(number=st.integers(1, 40))
    def remove(self, number: int) -> None:
        self.index.remove_user(number)

    @rule(number=st.integers(1, 40))
    def demote(self, number: int) -> None:
        if number in self.index.users:
            self.index.put_user(self._user(number))

    @invariant()
    def lowest_is_the_scan(self) -> None:
        assert self.index.lowest_free_number() == _scan(set(self.index.users))

    @invariant()
    def admins_are_the_admin_users(self) -> None:
        assert self.index.admins() == sorted(
            n for n, u in self.index.users.items() if u.role is Role.ADMIN)


TestNumbering = Numbering.TestCase
TestNumbering.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)


def test_gc_is_paused_during_a_bulk_load_and_restored() -> None:
    import gc

    seen: list[bool] = []
    assert gc.isenabled()
    with codec.gc_paused():
        seen.append(gc.isenabled())
    assert seen == [False]
    assert gc.isenabled()
    gc.disable()
    try:
        with codec.gc_paused():
            pass
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()
    with pytest.raises(RuntimeError), codec.gc_paused():
        raise RuntimeError
    assert gc.isenabled()
