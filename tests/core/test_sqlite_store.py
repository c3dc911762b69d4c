"""The Store contract, run against MemoryStore and SqliteStore alike, plus SQLite specifics:
durability settings, foreign keys, schema versions and migrations, damaged files."""

from __future__ import annotations

import importlib
import os
import random
import sqlite3
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

from ble_lock.core.clock import FakeClock, FakeRng
from ble_lock.core.errors import ErrorCode, StorageError
from ble_lock.core.lock import Lock, provision
from ble_lock.core.model import (
    Actor,
    Credential,
    CredentialKind,
    EventKind,
    Invite,
    LinkPending,
    LockEvent,
    Note,
    Role,
    Settings,
    SyncLink,
    UnlockMethod,
    User,
    WeekdaySchedule,
)
from ble_lock.core.profile import DL20VC, FACE_PALM
from ble_lock.core.rules.visitor import generate_one_time_code
from ble_lock.core.store import MemoryStore, Store, codec
from ble_lock.core.store.sqlite import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, SqliteStore
from tests.wire._event_details import ALL_DETAILS


def user(number: int, role: Role = Role.NORMAL, **kw: Any) -> User:
    return User(number=number, name=f"user {number}", role=role, **kw)


def cred(cid: int, number: int, kind: CredentialKind = CredentialKind.PIN) -> Credential:
    return Credential(
        id=cid, kind=kind, user_number=number, digest=bytes([cid % 256]) * 16, length=6
    )


def event(seq: int) -> LockEvent:
    return LockEvent(seq=seq, timestamp=1_700_000_000.5 + seq, kind=EventKind.UNLOCK, user_number=1)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    s = SqliteStore(tmp_path / "lock.db")
    yield s
    s.close()


# -- the contract ------------------------------------------------------------------------


def test_fresh_store_is_empty(store: Store) -> None:
    assert store.load_users() == []
    assert store.load_credentials() == []
    assert store.load_settings() is None
    assert store.get_counter("event_seq") == 0
    assert store.get_secret("visitor") is None
    assert store.events_after(0, 100) == []
    assert store.get_phone_counter(b"k" * 32) == 0
    assert store.load_invites() == []
    assert store.load_links() == []
    assert store.get_applied(b"actor", b"req") is None
    assert not store.is_code_used(42)


def test_users_round_trip_replace_and_delete(store: Store) -> None:
    rich = user(
        2,
        Role.DUAL_AUTH,
        valid_from=1.5,
        valid_until=None,
        schedules=(WeekdaySchedule(days_mask=0b0111110, start_minute=480, end_minute=1020),),
        created_at=3.25,
    )
    with store.transaction():
        store.put_user(user(1, Role.ADMIN))
        store.put_user(rich)
    assert sorted(store.load_users(), key=lambda u: u.number) == [user(1, Role.ADMIN), rich]
    with store.transaction():
        store.put_user(user(1, Role.NORMAL))
        store.delete_user(2)
        store.delete_user(99)  # absent: no error
    assert store.load_users() == [user(1, Role.NORMAL)]


def test_credentials_round_trip(store: Store) -> None:
    bt = Credential(
        id=7,
        kind=CredentialKind.BLUETOOTH_KEY,
        user_number=1,
        digest=b"\x00\xff" * 8,
        public_key=b"\x01" * 32,
        revoked=True,
        valid_until=9.0,
        duress=True,
        label="phone",
    )
    with store.transaction():
        store.put_user(user(1))
        store.put_credential(cred(1, 1))
        store.put_credential(bt)
    assert sorted(store.load_credentials(), key=lambda c: c.id) == [cred(1, 1), bt]
    with store.transaction():
        store.put_credential(cred(1, 1, CredentialKind.CARD))
        store.delete_credential(7)
    assert store.load_credentials() == [cred(1, 1, CredentialKind.CARD)]


def test_settings_counters_secrets(store: Store) -> None:
    custom = Settings(privacy_mode=True, volume=0, language="en", time_offset=-3.5)
    with store.transaction():
        store.put_settings(custom)
        store.set_counter("event_seq", 41)
        store.put_secret("visitor", b"\x00" * 32)
        store.put_secret("hash", b"h" * 32)
    assert store.load_settings() == custom
    assert store.get_counter("event_seq") == 41
    assert store.get_secret("visitor") == b"\x00" * 32
    with store.transaction():
        store.set_counter("event_seq", 42)
        store.delete_secret("visitor")
        store.delete_secret("never-there")
    assert store.get_counter("event_seq") == 42
    assert store.get_secret("visitor") is None
    assert store.get_secret("hash") == b"h" * 32


def test_r_app_6_event_log_is_bounded_oldest_dropped(store: Store) -> None:
    with store.transaction():
        dropped = [store.append_event(event(s), keep=3) for s in range(1, 6)]
    assert dropped == [0, 0, 0, 1, 1]
    assert [e.seq for e in store.events_after(0, 10)] == [3, 4, 5]
    assert [e.seq for e in store.events_after(3, 10)] == [4, 5]
    assert [e.seq for e in store.events_after(0, 1)] == [3]
    assert store.events_after(0, 10)[0] == event(3)
    rich = LockEvent(
        seq=6,
        timestamp=2.0,
        kind=EventKind.UNLOCK_FAILED,
        method=UnlockMethod.PIN,
        reason=ErrorCode.NO_MATCH,
        duress=True,
        credential_id=3,
        detail=LinkPending(peer=b"\x0b\xad\xc0\xde", confirm_s=60),
    )
    with store.transaction():
        assert store.append_event(rich, keep=2) == 2
    assert store.events_after(0, 10) == [event(5), rich]


def test_phone_counters(store: Store) -> None:
    with store.transaction():
        store.set_phone_counter(b"a" * 32, 5)
        store.set_phone_counter(b"b" * 32, 2**62)
    assert store.get_phone_counter(b"a" * 32) == 5
    assert store.get_phone_counter(b"b" * 32) == 2**62
    with store.transaction():
        store.delete_phone_counter(b"a" * 32)
    assert store.get_phone_counter(b"a" * 32) == 0


def test_invites_and_links(store: Store) -> None:
    invite = Invite(id=3, user_number=1, secret=b"s" * 32, nonce=b"n" * 16, expires_at=10.0)
    link = SyncLink(peer_lock_id=b"L" * 8, peer_public_key=b"P" * 32, window_s=15)
    with store.transaction():
        store.put_user(user(1))
        store.put_invite(invite)
        store.put_link(link)
    assert store.load_invites() == [invite]
    assert store.load_links() == [link]
    with store.transaction():
        store.delete_invite(3)
        store.delete_link(b"L" * 8)
    assert store.load_invites() == []
    assert store.load_links() == []


def test_applied_requests_keep_the_newest_per_actor(store: Store) -> None:
    with store.transaction():
        for i in range(4):
            store.put_applied(b"A", bytes([i]), b"r%d" % i, keep=3)
        store.put_applied(b"B", b"\x00", b"other", keep=3)
    assert store.get_applied(b"A", b"\x00") is None
    assert [store.get_applied(b"A", bytes([i])) for i in (1, 2, 3)] == [b"r1", b"r2", b"r3"]
    with store.transaction():
        store.put_applied(b"A", b"\x01", b"again", keep=3)  # an update keeps its age
        store.put_applied(b"A", b"\x04", b"r4", keep=3)
    assert store.get_applied(b"A", b"\x01") is None
    assert store.get_applied(b"A", b"\x04") == b"r4"
    assert store.get_applied(b"B", b"\x00") == b"other"


def test_r_app_4_used_visitor_codes_are_remembered_then_pruned(store: Store) -> None:
    with store.transaction():
        store.mark_code_used(11, 100.0)
        store.mark_code_used(12, 200.0)
    assert store.is_code_used(11)
    assert store.is_code_used(12)
    with store.transaction():
        assert store.prune_used_codes(100.0) == 0  # strictly before
        assert store.prune_used_codes(150.0) == 1
    assert not store.is_code_used(11)
    assert store.is_code_used(12)


def test_r_sec_5_factory_reset_keeps_events_counters_and_named_secrets(store: Store) -> None:
    """R-SEC-5 erases users and configuration; events, counters, phone replay counters
    and the factory secrets stay."""
    with store.transaction():
        store.put_user(user(1, Role.ADMIN))
        store.put_credential(cred(1, 1))
        store.put_invite(
            Invite(id=1, user_number=1, secret=b"s" * 32, nonce=b"n" * 16, expires_at=1.0)
        )
        store.put_link(SyncLink(peer_lock_id=b"L", peer_public_key=b"P" * 32))
        store.put_settings(Settings(privacy_mode=True))
        store.set_phone_counter(b"p", 3)
        store.put_applied(b"A", b"r", b"x", keep=5)
        store.mark_code_used(5, 9.0)
        store.put_secret("factory", b"f" * 32)
        store.put_secret("visitor", b"v" * 32)
        store.set_counter("event_seq", 7)
        store.append_event(event(7), keep=10)
    with store.transaction():
        store.factory_reset(keep_secrets={"factory"})
    assert store.load_users() == []
    assert store.load_credentials() == []
    assert store.load_invites() == []
    assert store.load_links() == []
    assert store.load_settings() is None
    assert store.get_phone_counter(b"p") == 3  # replay state that lasts (issue 10)
    assert store.get_applied(b"A", b"r") is None
    assert not store.is_code_used(5)
    assert store.get_secret("visitor") is None
    assert store.get_secret("factory") == b"f" * 32
    assert store.get_counter("event_seq") == 7
    assert store.events_after(0, 10) == [event(7)]


# -- transactions ----------------------------------------------------------------------


def _failing_mutation(store: Store) -> None:
    with store.transaction():
        store.put_user(user(2))
        store.put_credential(cred(1, 2))
        store.delete_user(1)
        store.set_counter("n", 1)
        raise RuntimeError("boom")


def _nested_then_fail(store: Store) -> None:
    with store.transaction():
        with store.transaction():
            store.put_user(user(1))
        assert store.load_users() == [user(1)]
        raise RuntimeError("outer fails after the inner block")


def test_a_failed_mutation_leaves_nothing(store: Store) -> None:
    with store.transaction():
        store.put_user(user(1))
    with pytest.raises(RuntimeError):
        _failing_mutation(store)
    assert store.load_users() == [user(1)]
    assert store.load_credentials() == []
    assert store.get_counter("n") == 0


def test_reads_see_the_open_transaction(store: Store) -> None:
    with store.transaction():
        store.put_user(user(1))
        assert store.load_users() == [user(1)]
        store.set_counter("c", 3)
        assert store.get_counter("c") == 3


def test_nested_transactions_join_the_outer_one(store: Store) -> None:
    with pytest.raises(RuntimeError):
        _nested_then_fail(store)
    assert store.load_users() == []  # the inner block did not commit on its own


def test_writes_outside_a_transaction_are_refused(store: Store) -> None:
    with pytest.raises(StorageError):
        store.put_user(user(1))
    with pytest.raises(StorageError):
        store.set_counter("x", 1)
    assert store.load_users() == []


# -- both implementations agree on random operation sequences --------------------------


def _apply(s: Store, rng: random.Random, op: int) -> object:
    n = rng.randrange(1, 6)
    if op == 0:
        s.put_user(user(n, rng.choice(list(Role))))
    elif op == 1:
        s.put_credential(cred(rng.randrange(1, 10), n))
    elif op == 2:
        s.delete_credential(rng.randrange(1, 10))
    elif op == 3:
        s.set_counter(f"c{n}", rng.randrange(1000))
    elif op == 4:
        seq = s.get_counter("seq") + 1
        s.set_counter("seq", seq)
        return s.append_event(event(seq), keep=rng.randrange(1, 5))
    elif op == 5:
        s.put_applied(bytes([n % 2]), bytes([rng.randrange(6)]), bytes([n]), keep=2)
    elif op == 6:
        s.mark_code_used(rng.randrange(8), float(rng.randrange(10)))
    elif op == 7:
        return s.prune_used_codes(float(rng.randrange(10)))
    else:
        s.put_secret(f"s{n}", bytes([n]) * 16)
    return None


def _snapshot(s: Store) -> tuple[object, ...]:
    return (
        sorted(s.load_users(), key=lambda u: u.number),
        sorted(s.load_credentials(), key=lambda c: c.id),
        [s.get_counter(f"c{n}") for n in range(1, 6)],
        s.events_after(0, 100),
        [s.get_applied(bytes([a]), bytes([r])) for a in (0, 1) for r in range(6)],
        [s.is_code_used(c) for c in range(8)],
        [s.get_secret(f"s{n}") for n in range(1, 6)],
    )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32), ops=st.lists(st.integers(0, 8), max_size=40))
def test_memory_and_sqlite_stores_behave_identically(seed: int, ops: list[int]) -> None:
    memory, sqlite = MemoryStore(), SqliteStore(":memory:")
    try:
        for chunk in range(0, len(ops), 5):
            results = []
            for s in (memory, sqlite):
                rng = random.Random(seed + chunk)
                with s.transaction():
                    out = [_apply(s, rng, op) for op in ops[chunk : chunk + 5]]
                    # Users referenced by credentials exist (the lock guarantees it).
                    for c in s.load_credentials():
                        if c.user_number not in {u.number for u in s.load_users()}:
                            s.put_user(user(c.user_number))
                results.append(out)
            assert results[0] == results[1]
            assert _snapshot(memory) == _snapshot(sqlite)
    finally:
        sqlite.close()


# -- SQLite specifics --------------------------------------------------------------------


def test_sqlite_store_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "lock.db"
    with SqliteStore(path) as s, s.transaction():
        s.put_user(user(1, Role.ADMIN))
        s.put_credential(cred(1, 1))
        s.put_secret("visitor", b"v" * 32)
        s.append_event(event(1), keep=10)
    with SqliteStore(path) as s:
        assert s.load_users() == [user(1, Role.ADMIN)]
        assert s.load_credentials() == [cred(1, 1)]
        assert s.get_secret("visitor") == b"v" * 32
        assert s.events_after(0, 10) == [event(1)]


def test_every_typed_event_detail_survives_reopening(tmp_path: Path) -> None:
    """Each typed detail is stored tagged and read back as the same record (R-APP-6)."""
    events = [LockEvent(seq=n, timestamp=float(n), kind=EventKind.LINK_CHANGED, detail=d)
              for n, d in enumerate(ALL_DETAILS, start=1)]
    with SqliteStore(tmp_path / "lock.db") as s, s.transaction():
        for e in events:
            s.append_event(e, keep=100)
    with SqliteStore(tmp_path / "lock.db") as s:
        assert s.events_after(0, 100) == events


def test_event_rows_written_with_text_details_still_load(tmp_path: Path) -> None:
    """A log written before details were typed (``detail`` a string) loads: the text as a
    Note (the wire renders it unchanged), "" as no detail."""
    path = tmp_path / "lock.db"
    SqliteStore(path).close()
    old = [(1, '{"credential_id":null,"detail":"link 0badc0de pending 60s","duress":false,'
               '"kind":30,"method":null,"reason":null,"seq":1,"timestamp":5.0,'
               '"user_number":null}'),
           (2, '{"detail":"","kind":3,"seq":2,"timestamp":6.0}')]
    with sqlite3.connect(path) as raw:
        raw.executemany("INSERT INTO events (seq, record) VALUES (?, ?)",
                        [(seq, record.encode()) for seq, record in old])
    with SqliteStore(path) as s:
        assert s.events_after(0, 10) == [
            LockEvent(seq=1, timestamp=5.0, kind=EventKind.LINK_CHANGED,
                      detail=Note(text="link 0badc0de pending 60s")),
            LockEvent(seq=2, timestamp=6.0, kind=EventKind.LOCKED),
        ]


def test_an_event_row_with_an_unknown_detail_tag_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "lock.db"
    SqliteStore(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute("INSERT INTO events (seq, record) VALUES (1, ?)",
                    (b'{"detail":{"@":"nonsense"},"kind":3,"seq":1,"timestamp":1.0}',))
    with SqliteStore(path) as s, pytest.raises(StorageError):
        s.events_after(0, 10)


def test_sqlite_durability_settings(tmp_path: Path) -> None:
    """WAL, synchronous=FULL (2) and foreign keys on the store's connection."""
    with SqliteStore(tmp_path / "lock.db") as s:
        conn = s._conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert s.schema_version == SCHEMA_VERSION == len(MIGRATIONS)


def test_sqlite_file_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "lock.db"
    with SqliteStore(path) as s:
        with s.transaction():
            s.put_secret("visitor", b"v" * 32)
        files = sorted(tmp_path.iterdir())
        assert [f.name for f in files] == ["lock.db", "lock.db-shm", "lock.db-wal"]
        assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_one_commit_per_transaction(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "lock.db") as s:
        with s.transaction():
            with s.transaction():
                s.put_user(user(1))
            s.put_user(user(2))
        assert s.commits == 1


def test_a_credential_cannot_outlive_its_user(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "lock.db") as s:
        with s.transaction():  # any order inside a mutation: checks are deferred
            s.put_credential(cred(1, 1))
            s.put_user(user(1))
        with pytest.raises(StorageError) as info, s.transaction():
            s.delete_user(1)
        assert "FOREIGN KEY" in info.value.message
        assert s.load_users() == [user(1)]  # rolled back whole
        with pytest.raises(StorageError), s.transaction():
            s.put_credential(cred(2, 9))
        assert s.load_credentials() == [cred(1, 1)]
        with s.transaction():  # the lock's way: credentials first, then the user
            s.delete_credential(1)
            s.delete_user(1)
        assert s.load_users() == []


def test_newer_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lock.db"
    SqliteStore(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(StorageError) as info:
        SqliteStore(path)
    assert info.value.code is ErrorCode.STORAGE_VERSION
    assert "upgrade ble-lock" in info.value.message


def _add_note_column(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE users ADD COLUMN note TEXT NOT NULL DEFAULT 'migrated'")


def _broken_step(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE half_done (x)")
    raise RuntimeError("step failed")


def test_old_schema_is_migrated_in_order_keeping_data(tmp_path: Path) -> None:
    path = tmp_path / "lock.db"
    with SqliteStore(path) as old, old.transaction():
        old.put_user(user(1, Role.ADMIN))
    with SqliteStore(path, migrations=(*MIGRATIONS, _add_note_column)) as new:
        assert new.schema_version == SCHEMA_VERSION + 1
        assert new.load_users() == [user(1, Role.ADMIN)]
        row = new._conn.execute("SELECT note FROM users").fetchone()
        assert row == ("migrated",)


def test_a_failed_migration_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "lock.db"
    with SqliteStore(path) as old, old.transaction():
        old.put_user(user(1))
    with pytest.raises(StorageError) as info:
        SqliteStore(path, migrations=(*MIGRATIONS, _broken_step))
    assert f"from schema version {SCHEMA_VERSION} to {SCHEMA_VERSION + 1}" in info.value.message
    with SqliteStore(path) as again:
        assert again.schema_version == SCHEMA_VERSION
        assert again.load_users() == [user(1)]
        tables = {r[0] for r in again._conn.execute("SELECT name FROM sqlite_master")}
        assert "half_done" not in tables


def test_garbage_file_is_a_clear_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "lock.db"
    path.write_bytes(os.urandom(8192))
    with pytest.raises(StorageError) as info:
        SqliteStore(path)
    assert info.value.code is ErrorCode.STORAGE_CORRUPT
    assert str(path) in info.value.message


def _users_root_page(path: Path) -> int:
    with sqlite3.connect(path) as raw:
        (page,) = raw.execute("SELECT rootpage FROM sqlite_master WHERE name = 'users'").fetchone()
    raw.close()
    return int(page)


def _scribble(path: Path, page: int) -> None:
    data = bytearray(path.read_bytes())
    assert len(data) >= page * 4096
    data[(page - 1) * 4096 : page * 4096] = b"\xa5" * 4096  # scribble over a b-tree page
    path.write_bytes(bytes(data))


def _three_hundred_users(path: Path) -> None:
    with SqliteStore(path) as s, s.transaction():
        for n in range(1, 300):
            s.put_user(user(n))


def test_a_clean_close_skips_the_integrity_check_and_a_crash_does_not(tmp_path: Path) -> None:
    """The check runs when the previous run left its WAL behind (a kill, a crash: the
    only moments a page can be torn), not after a clean close; ``check=True`` forces it."""
    path = tmp_path / "lock.db"
    with SqliteStore(path) as first:
        assert not first.checked  # a new file
        with first.transaction():
            first.put_user(user(1))
        crashed = tmp_path / "crashed.db"  # the files as a SIGKILL here would leave them
        crashed.write_bytes(path.read_bytes())
        Path(f"{crashed}-wal").write_bytes(Path(f"{path}-wal").read_bytes())
    assert not Path(f"{path}-wal").exists()
    with SqliteStore(path) as again:
        assert not again.checked
        assert again.load_users() == [user(1)]
    with SqliteStore(path, check=True) as forced:
        assert forced.checked
    with SqliteStore(crashed) as recovered:
        assert recovered.checked
        assert recovered.load_users() == [user(1)]  # the WAL's committed write recovered


def test_damaged_pages_after_a_crash_are_detected_on_open(tmp_path: Path) -> None:
    """A page torn while the lock ran (its WAL left behind) fails the open with
    STORAGE_CORRUPT naming the file, before anything is read."""
    path = tmp_path / "lock.db"
    _three_hundred_users(path)
    page = _users_root_page(path)
    crashed = tmp_path / "crashed.db"
    with SqliteStore(path) as s:
        with s.transaction():
            s.put_secret("other", b"x")  # a write elsewhere: the WAL does not hold the page
        crashed.write_bytes(path.read_bytes())
        Path(f"{crashed}-wal").write_bytes(Path(f"{path}-wal").read_bytes())
    _scribble(crashed, page)
    with pytest.raises(StorageError) as info:
        SqliteStore(crashed)
    assert info.value.code is ErrorCode.STORAGE_CORRUPT
    assert str(crashed) in info.value.message


def test_damaged_pages_after_a_clean_close_are_detected_on_first_read(tmp_path: Path) -> None:
    """Damage that appeared while the lock was off (a failing medium) is found by the
    first read of the page -- the lock reads its users on open -- as STORAGE_CORRUPT
    naming the file; ``check=True`` finds it on open."""
    path = tmp_path / "lock.db"
    with SqliteStore(path) as fresh:
        provision(fresh, FakeRng(1))
    _three_hundred_users(path)
    _scribble(path, _users_root_page(path))
    with SqliteStore(path) as s, pytest.raises(StorageError) as info:
        s.load_users()
    assert info.value.code is ErrorCode.STORAGE_CORRUPT
    assert str(path) in info.value.message
    with pytest.raises(StorageError) as on_open:
        SqliteStore(path, check=True)
    assert on_open.value.code is ErrorCode.STORAGE_CORRUPT
    lock_store = SqliteStore(path)
    with pytest.raises(StorageError) as by_lock:
        Lock(store=lock_store, profile=FACE_PALM, clock=FakeClock(), rng=FakeRng(1))
    lock_store.close()
    assert by_lock.value.code is ErrorCode.STORAGE_CORRUPT


def test_foreign_sqlite_files_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as raw:
        raw.execute("CREATE TABLE photos (id)")
    raw.close()
    with pytest.raises(StorageError) as info:
        SqliteStore(other)
    assert info.value.code is ErrorCode.STORAGE_CORRUPT
    tagged = tmp_path / "tagged.db"
    with sqlite3.connect(tagged) as raw:
        raw.execute("PRAGMA application_id=1234")
    raw.close()
    with pytest.raises(StorageError, match="another application"):
        SqliteStore(tagged)


def test_unopenable_path_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError) as info:
        SqliteStore(tmp_path / "missing-dir" / "lock.db")
    assert info.value.code is ErrorCode.STORAGE_ERROR
    with pytest.raises(StorageError):
        SqliteStore(tmp_path)  # a directory


def test_a_corrupt_record_is_a_storage_error(tmp_path: Path) -> None:
    """A row SQLite accepts but the model does not (an unknown credential kind, a
    garbled schedule list) is a StorageError naming the row, not a crash or a guess."""
    path = tmp_path / "lock.db"
    SqliteStore(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute("INSERT INTO users (number, name, role, schedules, created_at) "
                    "VALUES (1, 'a', 2, NULL, 0.0), (2, 'b', 2, '[{}]', 0.0)")
        raw.execute("INSERT INTO credentials (id, kind, user_number, digest, duress, label, "
                    "length, revoked, created_at) VALUES (7, 99, 1, x'00', 0, '', 0, 0, 0.0)")
    raw.close()
    with SqliteStore(path) as s:
        with pytest.raises(StorageError, match="users number 2"):
            s.load_users()
        with pytest.raises(StorageError, match="credentials id 7") as info:
            s.load_credentials()
        assert info.value.code is ErrorCode.STORAGE_ERROR


def test_columns_keep_their_types(tmp_path: Path) -> None:
    """Schema 3: each native column refuses a value of the wrong type (CHECK), so what
    loads is what the store wrote."""
    path = tmp_path / "lock.db"
    SqliteStore(path).close()
    with sqlite3.connect(path) as raw:
        for sql in (
            "INSERT INTO users (number, name, role, created_at) VALUES (1, x'00', 2, 0.0)",
            "INSERT INTO users (number, name, role, created_at) VALUES (1, 'a', 'x', 0.0)",
            "INSERT INTO users (number, name, role, created_at) VALUES (1, 'a', 2, 'x')",
            "INSERT INTO credentials (id, kind, user_number, digest, duress, label, length, "
            "revoked, created_at) VALUES (1, 1, 1, 'text', 0, '', 0, 0, 0.0)",
            "INSERT INTO credentials (id, kind, user_number, digest, duress, label, length, "
            "revoked, created_at) VALUES (1, 1, 1, x'00', 2, '', 0, 0, 0.0)",
        ):
            with pytest.raises(sqlite3.IntegrityError):
                raw.execute(sql)
    raw.close()


def _v2_users_and_credentials() -> tuple[list[User], list[Credential]]:
    users = [
        user(1, Role.ADMIN),
        user(2, valid_from=10.0, valid_until=20.5, created_at=3.25,
             schedules=(WeekdaySchedule(days_mask=0b0111110, start_minute=480, end_minute=1020),
                        WeekdaySchedule(days_mask=1, start_minute=0, end_minute=60))),
    ]
    creds = [
        cred(1, 1),
        Credential(id=2, kind=CredentialKind.BLUETOOTH_KEY, user_number=2, digest=b"\x02" * 32,
                   public_key=b"\x09" * 32, revoked=True, duress=False, label="phone",
                   valid_until=99.5, created_at=4.0),
        Credential(id=3, kind=CredentialKind.PIN, user_number=2, digest=b"\x03" * 32,
                   duress=True, length=8, valid_from=1.0),
    ]
    return users, creds


def test_version_2_store_of_json_blobs_migrates_to_columns(tmp_path: Path) -> None:
    """Schema 2 -> 3: a store written by the previous code (users and credentials as
    JSON blobs, one older credential blob lacking the fields added since) opens with the
    same records in native columns, its invites and their foreign keys intact."""
    path = tmp_path / "lock.db"
    users, creds = _v2_users_and_credentials()
    with SqliteStore(path, migrations=MIGRATIONS[:2]) as old:
        assert old.schema_version == 2
        with old.transaction():
            for u in users:
                old._conn.execute("INSERT INTO users (number, record) VALUES (?, ?)",
                                  (u.number, codec.dumps(u)))
            for c in creds:
                old._conn.execute(
                    "INSERT INTO credentials (id, user_number, kind, record) VALUES (?, ?, ?, ?)",
                    (c.id, c.user_number, int(c.kind), codec.dumps(c)))
            old._conn.execute(
                "INSERT INTO credentials (id, user_number, kind, record) VALUES (4, 1, 2, ?)",
                (b'{"id":4,"kind":2,"user_number":1,"digest":"' + b"44" * 32 + b'"}',))
            old.put_invite(Invite(id=1, user_number=2, secret=b"\x05" * 32, nonce=b"\x06" * 16,
                                  expires_at=50.0))
    with SqliteStore(path) as new:
        assert new.schema_version == SCHEMA_VERSION >= 3
        assert new.load_users() == users
        assert new.load_credentials() == [*creds, Credential(
            id=4, kind=CredentialKind.FINGERPRINT, user_number=1, digest=b"\x44" * 32)]
        assert [i.id for i in new.load_invites()] == [1]
        columns = [r[1] for r in new._conn.execute("PRAGMA table_info(credentials)")]
        assert "record" not in columns
        assert "digest" in columns
        assert new._conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
        with pytest.raises(StorageError), new.transaction():  # the key still holds
            new.put_credential(cred(9, 77))
    with SqliteStore(path) as again:
        assert again.load_users() == users


def test_a_version_2_store_with_a_bad_blob_stays_as_it_was(tmp_path: Path) -> None:
    """Schema 2 -> 3 is all or nothing: an unreadable blob fails the migration with the
    step named, and the file is still a readable version 2 store."""
    path = tmp_path / "lock.db"
    with SqliteStore(path, migrations=MIGRATIONS[:2]) as old, old.transaction():
        old._conn.execute("INSERT INTO users (number, record) VALUES (1, ?)",
                          (codec.dumps(user(1)),))
        old._conn.execute("INSERT INTO users (number, record) VALUES (2, x'7b7d')")  # "{}"
    with pytest.raises(StorageError, match="from schema version 2 to 3"):
        SqliteStore(path)
    with SqliteStore(path, migrations=MIGRATIONS[:2]) as old:
        assert old.schema_version == 2
        rows = old._conn.execute("SELECT number FROM users ORDER BY number").fetchall()
        assert rows == [(1,), (2,)]


def test_repr_names_only_the_path(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "lock.db") as s:
        with s.transaction():
            s.put_secret("visitor", b"TOPSECRET" * 4)
        assert repr(s) == f"SqliteStore({str(tmp_path / 'lock.db')!r})"


# -- the real lock on SQLite -----------------------------------------------------------


def _files(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file())


def test_lock_on_sqlite_survives_restart_and_stores_no_plaintext_pin_or_card(
    tmp_path: Path,
) -> None:
    """R-CRD-5 / R-PIN-3 on a real file: credentials work after a restart, and neither the
    PINs, the card UID nor the card security code are anywhere in the files (WAL included)."""
    path = tmp_path / "lock.db"
    clock = FakeClock()
    secrets = (b"135790", b"246813", b"918273", b"\xde\xad\xbe\xef", b"deadbeef")
    with SqliteStore(path) as s:
        provision(s, FakeRng(1))
        lock = Lock(store=s, profile=DL20VC, clock=clock, rng=FakeRng(2))
        admin = Actor.panel(lock.claim_at_panel("135790", "135790").number)
        guest = lock.add_user(admin, name="guest").number
        lock.add_pin(admin, guest, "246813")
        lock.add_card(admin, guest, b"\xde\xad\xbe\xef", "918273", card_code_confirm="918273")
        data = _files(tmp_path)  # the WAL is live while the store is open
        assert all(secret not in data for secret in secrets)
    with SqliteStore(path) as s:
        lock = Lock(store=s, profile=DL20VC, clock=clock, rng=FakeRng(3))
        by_pin = lock.enter_pin("000246813000")  # a virtual PIN entry (R-PIN-3)
        assert by_pin.granted
        assert by_pin.user_number == guest
        assert lock.tap_card(b"\xde\xad\xbe\xef").granted
        lock.delete_user(admin, guest)  # credentials go first, then the user: FK holds
    with SqliteStore(path) as s:
        lock = Lock(store=s, profile=DL20VC, clock=clock, rng=FakeRng(4))
        assert not lock.enter_pin("246813").granted
        assert [u.number for u in s.load_users()] == [admin.user_number]
    assert all(secret not in _files(tmp_path) for secret in secrets)


def test_r_app_4_a_used_one_time_code_stays_used_across_a_restart(tmp_path: Path) -> None:
    """The used-code list is durable: a restarted lock still refuses a spent code."""
    path = tmp_path / "lock.db"
    clock = FakeClock(1_790_000_000.0)
    with SqliteStore(path) as s:
        provision(s, FakeRng(1))
        lock = Lock(store=s, profile=FACE_PALM, clock=clock, rng=FakeRng(2))
        admin = Actor.panel(lock.claim_at_panel("135790", "135790").number)
        code = generate_one_time_code(lock.visitor_secret(admin), now=clock.now(), nonce=7)
        first = lock.enter_pin(code)
        assert first.granted
        assert first.method is UnlockMethod.VISITOR_CODE
    clock.advance(60)
    with SqliteStore(path) as s:
        lock = Lock(store=s, profile=FACE_PALM, clock=clock, rng=FakeRng(3))
        again = lock.enter_pin(code)
        assert not again.granted
        assert again.reason is ErrorCode.CODE_ALREADY_USED


def test_a_store_may_be_used_from_another_thread(tmp_path: Path) -> None:
    """One caller at a time, but not pinned to the opening thread (executor use)."""
    with SqliteStore(tmp_path / "lock.db") as s:
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(_put_one_user, s).result()
        assert s.load_users() == [user(1)]


def _put_one_user(s: Store) -> None:
    with s.transaction():
        s.put_user(user(1))


def test_core_state_machine_runs_unchanged_on_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    """The core's own Hypothesis state machine (tests/core/test_stateful.py: capacities,
    admins, deleted credentials, exact lockout, event order), with its MemoryStore swapped
    for a SqliteStore: every real mutation of the lock passes the foreign keys and reads
    back identically."""
    stateful = importlib.import_module("test_stateful")  # tests/core is on sys.path
    opened: list[SqliteStore] = []
    monkeypatch.setattr(stateful, "MemoryStore", lambda: _opened(opened))
    for machine in (stateful.Dl20vcMachine, stateful.FacePalmMachine):
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=25,
                stateful_step_count=30,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    assert len(opened) >= 20  # every example ran on SQLite
    assert sum(s.commits for s in opened) > 200
    for s in opened:
        s.close()


def _opened(opened: list[SqliteStore]) -> SqliteStore:
    opened.append(SqliteStore(":memory:"))
    return opened[-1]


def test_r_syn_1_version_1_store_migrates_links_to_pending_aware_schema(tmp_path: Path) -> None:
    """R-SYN-1 (schema 1 -> 2): a store written before pending links opens with its
    link kept and confirmed (the old record lacks the new fields), ``links`` gains
    ``confirm_by``, and a pending link written afterwards round-trips with its deadline."""
    path = tmp_path / "lock.db"
    old_record = b'{"created_at":5.0,"peer_lock_id":"4c4c4c4c","peer_public_key":"' \
        + b"50" * 32 + b'","window_s":15}'
    with SqliteStore(path, migrations=MIGRATIONS[:1]) as old:
        assert old.schema_version == 1
        with old.transaction():
            old._conn.execute("INSERT INTO links (peer_lock_id, record) VALUES (?, ?)",
                              (b"LLLL", old_record))
    with SqliteStore(path) as new:
        assert new.schema_version == SCHEMA_VERSION >= 2
        (link,) = new.load_links()
        assert link == SyncLink(peer_lock_id=b"LLLL", peer_public_key=b"\x50" * 32,
                                window_s=15, created_at=5.0)
        assert not link.pending
        pending = SyncLink(peer_lock_id=b"MMMM", peer_public_key=b"\x51" * 32,
                           confirm_by=123.5)
        with new.transaction():
            new.put_link(pending)
        rows = new._conn.execute("SELECT peer_lock_id, confirm_by FROM links ORDER BY 1")
        assert rows.fetchall() == [(b"LLLL", None), (b"MMMM", 123.5)]
    with SqliteStore(path) as again:
        assert again.load_links()[1] == pending
