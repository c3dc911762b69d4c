"""The store's open path and user numbering at scale (issue 15, item 5), pinned to the
definitions they replaced: the generated record decoders equal the reflective
``from_jsonable``; ``loads_many`` equals ``loads`` blob by blob (and still names a
corrupt record); the index's lowest free number equals the scan of R-USR-3; schema 3's
column rows load as the records written, and ``row_builder`` equals the constructor."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
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
from ble_lock.core.store.sqlite import SqliteStore

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


# -- schema 3: users and credentials as native columns -----------------------------------

_INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_REAL = st.floats(allow_nan=False)  # SQLite stores NaN as NULL; the core never makes one
_OPT_REAL = st.none() | _REAL


@settings(max_examples=80, deadline=None)
@given(
    st.builds(User, number=_INT64, valid_from=_OPT_REAL, valid_until=_OPT_REAL,
              created_at=_REAL),
    st.builds(Credential, id=_INT64, user_number=_INT64, length=_INT64, valid_from=_OPT_REAL,
              valid_until=_OPT_REAL, created_at=_REAL),
)
def test_a_record_in_columns_loads_as_it_was_written(user: User, cred: Credential) -> None:
    """Schema 3 (issue 15): any user and credential round-trip through the native columns
    and the generated row builders, field for field and type for type."""
    cred = replace(cred, user_number=user.number)  # the foreign key holds
    with SqliteStore(":memory:") as store:
        with store.transaction():
            store.put_user(user)
            store.put_credential(cred)
        (got_user,) = store.load_users()
        (got_cred,) = store.load_credentials()
    assert got_user == user
    assert got_cred == cred
    for got, want in ((got_user, user), (got_cred, cred)):
        for f in fields(want):
            assert type(getattr(got, f.name)) is type(getattr(want, f.name)), f.name


@dataclass
class _Plain:  # not slotted, with a __post_init__: built through the constructor
    a: int
    b: str = "x"
    seen: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.seen.append(self.a)


def test_row_builder_equals_the_constructor() -> None:
    build = codec.row_builder(Credential, {"kind": "kinds[{}]"},
                              {"kinds": {k.value: k for k in CredentialKind}})
    row = (5, 3, 7, b"d", True, "l", 4, None, False, None, 9.5, 1.0)
    assert build(*row) == Credential(id=5, kind=CredentialKind.CARD, user_number=7, digest=b"d",
                                     duress=True, label="l", length=4, valid_until=9.5,
                                     created_at=1.0)
    with pytest.raises(KeyError):
        build(5, 99, *row[2:])  # an unknown kind
    plain = codec.row_builder(_Plain, {"b": "{}.upper()"}, {})(2, "y", [])
    assert plain == _Plain(a=2, b="Y", seen=[])
    assert plain.seen == [2]  # its __post_init__ ran
    with pytest.raises(ValueError, match="no field"):
        codec.row_builder(_Plain, {"nope": "{}"}, {})
