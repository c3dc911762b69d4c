"""Replay state that lasts (issue 10 item 3).

* A phone key's replay counter belongs to the key: deleting the key (or a factory reset)
  and enrolling the same key again does not reset it, so its old HS1 stays refused.
* The last sync statement accepted from a linked lock (R-SYN-2) is kept in the store,
  so a statement replayed after a restart of the lock is refused (``REPLAY``).
"""

from __future__ import annotations

from pathlib import Path

from ble_lock.core.clock import FakeClock, FakeRng
from ble_lock.core.errors import ErrorCode
from ble_lock.core.lock import Lock, provision
from ble_lock.core.model import Actor, EventKind
from ble_lock.core.profile import FACE_PALM
from ble_lock.core.store import MemoryStore, Store
from ble_lock.core.store.sqlite import SqliteStore
from ble_lock.lockapp.service import LockService
from ble_lock.lockapp.sync import SyncStatements
from ble_lock.testing import START
from ble_lock.testing.memory_lock import MemoryLock
from ble_lock.testing.phone import Phone, claimed_world, new_phone
from ble_lock.wire import messages as m
from ble_lock.wire.link.framing import Reassembler, parse_frame
from ble_lock.wire.link.transport_messages import Hs1, decode
from ble_lock.wire.security.crypto import DeterministicRng, KeyPair

RID = bytes.fromhex("b1b2b3b4b5b6b7b8")
OWNER = bytes(range(1, 33))
ID_A, ID_B = b"\x10\x00\x00\x0a", b"\x10\x00\x00\x0b"


def _unlock_and_capture(world: MemoryLock, phone: Phone) -> list[bytes]:
    """The phone unlocks in one round trip; returns the frames it sent (what a radio
    recorder keeps)."""
    link = phone.link()
    request_id = link.start(m.Unlock(), world.now)
    assert request_id is not None
    sent = link.data_to_send()
    for frame in sent:
        world.server.receive_data(frame, world.now)
    for frame in world.server.data_to_send():
        link.receive_data(frame, world.now)
    phone.counter = max(phone.counter, link.next_counter)
    assert phone.app.result(request_id, m.Unlocked).user_number >= 1
    link.close()
    world.run([link])
    return sent


def _recorded_fresh(frames: list[bytes]) -> bytes:
    """The freshness value the recorded HS1 names (in clear after the version byte)."""
    reassembler = Reassembler()
    for frame in frames:
        message = reassembler.feed(parse_frame(frame), 0.0)
        if message is not None:
            hs1 = decode(message)
            assert isinstance(hs1, Hs1)
            return hs1.fresh
    raise AssertionError("no HS1 among the recorded frames")


def _replay(world: MemoryLock, frames: list[bytes]) -> None:
    """Deliver the recorded frames while the lock still shows the freshness value they
    name (docs/protocol.md, "Freshness"): only the replay counter can refuse them, so
    the test checks the counter, not the freshness check that precedes it."""
    assert world.server.endpoint.freshness(world.now)[0] == _recorded_fresh(frames)
    for frame in frames:
        world.server.receive_data(frame, world.now)
    world.server.data_to_send()


def _unlocks(world: MemoryLock) -> int:
    return sum(e.kind is EventKind.UNLOCK for e in world.lock.read_events(limit=500).events)


def _gus(world: MemoryLock, owner: Phone) -> tuple[Phone, int, int]:
    gus = new_phone(world, b"gus")
    gus.redeem(owner.call(m.KeyInvite(name="Gus"), m.Invite))
    info = world.lock.find_phone(gus.key.public)
    assert info is not None
    return gus, info.credential_id, info.user_number


def test_a_re_enrolled_keys_old_hs1_is_refused() -> None:
    """Deleting a phone key and redeeming a new invite with the same key keeps its replay
    counter: the HS1 recorded before the deletion opens nothing afterwards."""
    world, owner = claimed_world()
    admin = Actor.phone(owner.key.public)
    gus, credential_id, user_number = _gus(world, owner)
    recorded = _unlock_and_capture(world, gus)
    world.lock.inside_button()
    world.lock.delete_credential(admin, credential_id)
    assert world.lock.find_phone(gus.key.public) is None
    gus.redeem(owner.call(m.KeyInvite(user_number=user_number), m.Invite))
    assert world.lock.find_phone(gus.key.public) is not None
    before = _unlocks(world)
    _replay(world, recorded)
    assert world.lock.locked
    assert _unlocks(world) == before
    # the phone itself goes on (its next counter is larger): the key works again
    _unlock_and_capture(world, gus)
    assert not world.lock.locked


def test_a_key_enrolled_again_after_a_factory_reset_keeps_its_counter() -> None:
    """R-SEC-5 erases users and keys but not the phones' replay counters (the lock keeps
    its static key): the owner's HS1 recorded before the reset opens nothing after the
    same phone claimed the lock again."""
    world, owner = claimed_world()
    admin = Actor.phone(owner.key.public)
    recorded = _unlock_and_capture(world, owner)
    world.lock.inside_button()
    world.lock.factory_reset(admin)
    world.lock.enter_pairing_mode()
    owner.claim()
    _replay(world, recorded)
    assert world.lock.locked
    assert _unlocks(world) == 1


def _lock_b(store: Store, clock: FakeClock, key: KeyPair, rng: DeterministicRng
            ) -> tuple[LockService, Lock]:
    lock = Lock(store=store, profile=FACE_PALM, clock=clock, rng=FakeRng(99))
    sync = SyncStatements(lock, lock_id=ID_B, static_key=key, rng=rng)
    return LockService(lock, make_statement=sync.make, verify_statement=sync.verify), lock


def _relay(service: LockService, statement: m.SyncStatement, rid: bytes = RID) -> int:
    raw = m.encode(m.Request(request_id=rid, body=m.SyncStatementRelay(statement=statement)))
    out = m.decode(service.handle(OWNER, raw))
    assert isinstance(out, m.Response)
    return out.status


def _store(kind: str, tmp_path: Path) -> Store:
    tmp_path.mkdir()
    return MemoryStore() if kind == "memory" else SqliteStore(tmp_path / "b.db")


def test_a_sync_statement_replayed_after_a_restart_is_refused(tmp_path: Path) -> None:
    """R-SYN-2 replay state survives a restart of lock B (memory and SQLite stores):
    A's statement opens B once; after B restarts, the same statement gets ``REPLAY``
    and opens nothing, while a newer statement from A still opens B."""
    for kind in ("memory", "sqlite"):
        rng = DeterministicRng(b"sync " + kind.encode())
        key_a, key_b = KeyPair.generate(rng), KeyPair.generate(rng)
        clock = FakeClock(START)
        lock_a_store, store_b = MemoryStore(), _store(kind, tmp_path / kind)
        provision(lock_a_store, FakeRng(1), serial="BL0000000001")
        provision(store_b, FakeRng(2), serial="BL0000000002")
        lock_a = Lock(store=lock_a_store, profile=FACE_PALM, clock=clock, rng=FakeRng(3))
        sync_a = SyncStatements(lock_a, lock_id=ID_A, static_key=key_a, rng=rng)
        svc_b, lock_b = _lock_b(store_b, clock, key_b, rng)
        for lock, peer, peer_key in ((lock_a, ID_B, key_b), (lock_b, ID_A, key_a)):
            lock.enter_pairing_mode()
            lock.claim(phone_key=OWNER)
            lock.link_lock(Actor.phone(OWNER), peer, peer_key.public, confirm_s=0)
            lock.update_settings(Actor.phone(OWNER), sync_unlock=True)
        statement = sync_a.make(ID_B)
        assert statement is not None
        assert _relay(svc_b, statement) == 0  # ok
        assert not lock_b.locked
        lock_b.inside_button()
        clock.advance(2)  # B restarts (battery swap), well inside the 30 s freshness
        svc_b, lock_b = _lock_b(store_b, clock, key_b, rng)
        assert _relay(svc_b, statement, rid=RID[::-1]) == ErrorCode.REPLAY, kind
        assert lock_b.locked
        newer = sync_a.make(ID_B)
        assert newer is not None
        assert _relay(svc_b, newer, rid=bytes(8)) == 0
        assert not lock_b.locked
        if isinstance(store_b, SqliteStore):
            store_b.close()
