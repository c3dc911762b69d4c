"""The lock on a durable store: a restart (new Lock on the same store) keeps users,
credentials, settings, invites, links, counters and the event sequence; also on SQLite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ble_lock.core.clock import FakeClock, FakeRng
from ble_lock.core.errors import ConflictError, ErrorCode, StorageError
from ble_lock.core.lock import Lock, provision
from ble_lock.core.model import Actor, CredentialKind, EventKind
from ble_lock.core.profile import FACE_PALM
from ble_lock.core.rules.lockout import InputPath
from ble_lock.core.store import MemoryStore, Store
from ble_lock.core.store.sqlite import SqliteStore
from ble_lock.testing import START

ADMIN = b"\xad" * 32


@contextmanager
def memory_stores(tmp_path: Path) -> Iterator[Callable[[], Store]]:
    del tmp_path
    store = MemoryStore()
    yield lambda: store


@contextmanager
def sqlite_stores(tmp_path: Path) -> Iterator[Callable[[], Store]]:
    opened: list[SqliteStore] = []

    def reopen() -> Store:
        for old in opened:
            old.close()
        opened.clear()
        opened.append(SqliteStore(tmp_path / "lock.db"))
        return opened[0]

    try:
        yield reopen
    finally:
        for store in opened:
            store.close()


@pytest.mark.parametrize("stores", [memory_stores, sqlite_stores], ids=["memory", "sqlite"])
def test_restart_keeps_everything(tmp_path: Path, stores: Callable[..., object]) -> None:
    clock = FakeClock(START)
    with stores(tmp_path) as reopen:
        store = reopen()
        factory = provision(store, FakeRng(1))
        lock = Lock(store=store, profile=FACE_PALM, clock=clock, rng=FakeRng(2))
        lock.press_set_button()
        lock.claim(phone_key=ADMIN)
        admin = Actor.phone(ADMIN)
        user = lock.add_user(admin, name="bob", request_id=b"add-bob")
        lock.add_pin(admin, user.number, "135790")
        session = lock.begin_enrolment(admin, user.number, CredentialKind.FACE)
        for _ in range(session.captures_needed):
            lock.present_biometric(CredentialKind.FACE, b"bob-face")
        lock.update_settings(admin, volume=4, sync_unlock=True)
        lock.link_lock(admin, b"peer", b"\x50" * 32)
        invite = lock.issue_invite(admin, name="guest")
        assert lock.accept_phone_counter(ADMIN, 7)
        last_seq = lock.read_events(limit=500).events[-1].seq
        invite_secret = lock.invite_secret(invite.invite_id)
        setup_secret = lock.setup_secret()

        store = reopen()
        again = Lock(store=store, profile=FACE_PALM, clock=clock, rng=FakeRng(3))
        assert again.enter_pin("135790").user_number == user.number
        face = again.present_biometric(CredentialKind.FACE, b"bob-face")
        assert getattr(face, "granted", False)
        assert again.settings.volume == 4
        assert again.find_link(b"peer") is not None
        assert again.invite_secret(invite.invite_id) == invite_secret
        assert again.setup_secret() == setup_secret
        assert again.serial == factory.serial
        assert not again.accept_phone_counter(ADMIN, 7)
        assert again.add_user(admin, name="bob", request_id=b"add-bob") == user  # idempotent
        events = again.read_events(after=last_seq, limit=500).events
        assert events[0].seq == last_seq + 1
        again.factory_reset(admin)
        assert again.read_events(after=last_seq, limit=500).events[-1].kind is \
            EventKind.FACTORY_RESET

        store = reopen()
        third = Lock(store=store, profile=FACE_PALM, clock=clock, rng=FakeRng(4))
        assert not third.claimed
        assert third.setup_secret() == setup_secret  # printed on the lock: kept
        assert not third.enter_pin("135790").granted


def test_unprovisioned_store_is_refused() -> None:
    with pytest.raises(StorageError) as info:
        Lock(store=MemoryStore(), profile=FACE_PALM, clock=FakeClock(), rng=FakeRng())
    assert info.value.code is ErrorCode.STORAGE_ERROR
    store = MemoryStore()
    provision(store, FakeRng())
    with pytest.raises(ConflictError):  # ALREADY_EXISTS: its class by the code (issue 13)
        provision(store, FakeRng())


def test_r_sec_1_lockout_survives_a_restart() -> None:
    """R-SEC-1: pulling the battery (a restart) does not end a running lockout."""
    store, clock = MemoryStore(), FakeClock(START)
    provision(store, FakeRng(1))
    lock = Lock(store=store, profile=FACE_PALM, clock=clock, rng=FakeRng(2))
    for _ in range(5):
        lock.enter_pin("000000")
    clock.advance(100)
    again = Lock(store=store, profile=FACE_PALM, clock=clock, rng=FakeRng(3))
    assert again.lockout_remaining() == 80.0
    assert again.enter_pin("000000").reason is ErrorCode.LOCKED_OUT
    clock.advance(80)
    assert again.lockout_remaining() is None
    third = Lock(store=store, profile=FACE_PALM, clock=clock, rng=FakeRng(4))
    assert third.lockout_remaining() is None


@pytest.mark.parametrize("stores", [memory_stores, sqlite_stores], ids=["memory", "sqlite"])
def test_r_sec_1_each_paths_lockout_survives_a_restart(
        tmp_path: Path, stores: Callable[..., object]) -> None:
    """R-SEC-1 per path: the pairing limiter and the system lockout are persisted
    separately; a restart keeps each one, and the pairing one still locks nothing else."""
    clock = FakeClock(START)
    with stores(tmp_path) as reopen:
        store = reopen()
        provision(store, FakeRng(1))
        lock = Lock(store=store, profile=FACE_PALM, clock=clock, rng=FakeRng(2))
        for _ in range(5):
            lock.record_failed_attempt("invite")
        clock.advance(60)
        again = Lock(store=reopen(), profile=FACE_PALM, clock=clock, rng=FakeRng(3))
        assert again.lockout_remaining(InputPath.PAIRING) == 120.0
        assert again.lockout_remaining() is None
        for _ in range(5):
            again.enter_pin("000000")
        clock.advance(30)
        third = Lock(store=reopen(), profile=FACE_PALM, clock=clock, rng=FakeRng(4))
        assert third.lockout_remaining(InputPath.PAIRING) == 90.0
        assert third.lockout_remaining() == 150.0
        assert third.enter_pin("000000").reason is ErrorCode.LOCKED_OUT
        clock.advance(90)
        assert third.lockout_remaining(InputPath.PAIRING) is None
        assert third.lockout_remaining() == 60.0


@pytest.mark.parametrize("stores", [memory_stores, sqlite_stores], ids=["memory", "sqlite"])
def test_a_redeemed_invite_is_remembered_across_a_restart(
        tmp_path: Path, stores: Callable[..., object]) -> None:
    """Issue 14 item 8: a redeemed invite says INVITE_USED, also after a restart (its
    ``redeemed_by`` is stored), until it expires; at most SPENT_KEPT are kept."""
    from ble_lock.core.errors import PermissionDeniedError
    from ble_lock.core.invites import SPENT_KEPT

    clock = FakeClock(START)
    with stores(tmp_path) as reopen:
        store = reopen()
        provision(store, FakeRng(1))
        lock = Lock(store=store, profile=FACE_PALM, clock=clock, rng=FakeRng(2))
        lock.press_set_button()
        lock.claim(phone_key=ADMIN)
        admin = Actor.phone(ADMIN)
        guest = lock.add_user(admin, name="guest")
        first = lock.issue_invite(admin, user_number=guest.number)
        lock.redeem_invite(first.invite_id, b"\x01" * 32)
        store = reopen()
        again = Lock(store=store, profile=FACE_PALM, clock=clock, rng=FakeRng(3))
        with pytest.raises(PermissionDeniedError) as used:
            again.redeem_invite(first.invite_id, b"\x02" * 32)
        assert used.value.code is ErrorCode.INVITE_USED
        for n in range(SPENT_KEPT):  # more redeemed invites: the oldest is forgotten
            issued = again.issue_invite(admin, user_number=guest.number)
            again.redeem_invite(issued.invite_id, bytes([0x10 + n]) * 32)
        kept = [i for i in store.load_invites() if i.redeemed_by is not None]
        assert len(kept) == SPENT_KEPT
        assert first.invite_id not in [i.id for i in kept]
