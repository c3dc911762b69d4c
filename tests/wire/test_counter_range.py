"""Counters from the wire are range-checked before they reach the store (issue 10 item 2).

HS1 carries a 64-bit counter; the stores keep signed 64-bit integers. A revoked phone
that sent 2^63 used to overflow SQLite inside the receive path: the error escaped, the
channel was never closed, and eight of them disabled Bluetooth until a restart. Now a
counter outside ``1..MAX_COUNTER`` is never accepted: a valid phone gets a resync (and
goes on), a revoked one is refused, and the lock keeps working. Storage failures in the
directory surface as typed :class:`LockError`\\ s.
"""

from __future__ import annotations

import pytest

from ble_lock.core.clock import FakeClock, FakeRng
from ble_lock.core.errors import ErrorCode, LockError, StorageError
from ble_lock.core.keys import MAX_COUNTER
from ble_lock.core.lock import Lock, provision
from ble_lock.core.model import Actor, EventKind
from ble_lock.core.profile import FACE_PALM
from ble_lock.core.store import MemoryStore
from ble_lock.core.store.sqlite import SqliteStore
from ble_lock.lockapp.directory import CoreDirectory, CorePeer
from ble_lock.testing import START
from ble_lock.testing.memory_lock import MemoryLock
from ble_lock.testing.phone import LOCK_ID, SERIAL, new_phone
from ble_lock.wire import messages as m
from ble_lock.wire.errors import RemoteProtocolError

HUGE = (2**63, 2**64 - 1)


def _sqlite_world() -> MemoryLock:
    """The in-memory world, but on the durable store (where the overflow happened)."""
    return MemoryLock(store=SqliteStore(":memory:"), seed=7, lock_id=LOCK_ID, serial=SERIAL,
                      mtu=23, pairing_mode=False, key_seed=b"counter world")


@pytest.mark.parametrize("counter", HUGE, ids=["2^63", "2^64-1"])
def test_huge_counter_from_a_revoked_key_leaves_the_lock_working(counter: int) -> None:
    """Ten revoked-key HS1s with a counter of 2^63 / 2^64-1: each is refused with the
    protocol's error (its channel closed), nothing else escapes, nothing is stored, and
    the owner's phone still opens a session and unlocks in one round trip."""
    world = _sqlite_world()
    owner = new_phone(world, b"owner")
    world.lock.enter_pairing_mode()
    owner.claim()
    admin = Actor.phone(owner.key.public)
    thief = new_phone(world, b"thief")
    thief.redeem(owner.call(m.KeyInvite(name="ex"), m.Invite))
    info = world.lock.find_phone(thief.key.public)
    assert info is not None
    world.lock.revoke_key(admin, info.credential_id)
    for _ in range(10):
        thief.counter = counter
        link = thief.link()
        link.start(m.Unlock(), world.now)
        with pytest.raises(RemoteProtocolError) as refused:
            world.run([link])
        assert refused.value.code is ErrorCode.UNKNOWN_PEER
    assert world.lock.phone_counter(thief.key.public) < MAX_COUNTER
    assert world.server.endpoint.sessions() == []  # every refused channel was closed
    assert world.server.endpoint.next_timer() is None  # and none waits for a timeout
    rounds = world.round_trips
    assert owner.call(m.Unlock(), m.Unlocked).user_number == 1
    assert world.round_trips == rounds + 1
    assert not world.lock.locked
    events = world.lock.read_events(limit=1000).events
    assert sum(1 for e in events if e.kind is EventKind.UNLOCK) == 1


@pytest.mark.parametrize("counter", HUGE, ids=["2^63", "2^64-1"])
def test_huge_counter_from_a_valid_key_is_resynced_not_stored(counter: int) -> None:
    """A valid phone whose counter jumped out of range gets the lock's authenticated
    resync and its request is served inside the session; the out-of-range counter is
    never stored, so the key keeps working."""
    world = _sqlite_world()
    owner = new_phone(world, b"owner")
    world.lock.enter_pairing_mode()
    owner.claim()
    stored = world.lock.phone_counter(owner.key.public)
    owner.counter = counter
    assert owner.call(m.Unlock(), m.Unlocked).user_number == 1  # retried in the session
    assert world.lock.phone_counter(owner.key.public) == stored
    world.lock.inside_button()
    owner.counter = stored + 5  # a phone back in range opens in one round trip again
    assert owner.call(m.Unlock(), m.Unlocked).user_number == 1
    assert world.lock.phone_counter(owner.key.public) == stored + 5
    assert not world.lock.locked
    assert [e for e in world.lock.read_events(limit=500).events
            if e.kind is EventKind.UNLOCK_FAILED] == []


def test_directory_never_stores_an_out_of_range_counter() -> None:
    """CoreDirectory (on SQLite) refuses counters the store cannot keep, for a valid
    and for a revoked key, without raising; sync statement times likewise."""
    store = SqliteStore(":memory:")
    provision(store, FakeRng(1), serial=SERIAL, lock_id=LOCK_ID)
    lock = Lock(store=store, profile=FACE_PALM, clock=FakeClock(START), rng=FakeRng(2))
    lock.enter_pairing_mode()
    owner_key, ex_key = b"\x01" * 32, b"\x02" * 32
    lock.claim(phone_key=owner_key)
    admin = Actor.phone(owner_key)
    invite = lock.issue_invite(admin, name="ex")
    cred = lock.redeem_invite(invite.invite_id, ex_key)
    lock.revoke_key(admin, cred.id)
    directory = CoreDirectory(lock)
    peer = directory.find_peer(owner_key)
    assert isinstance(peer, CorePeer)
    for bad in (*HUGE, 0, -1, 2**200):
        assert directory.advance_counter(peer, bad) is False
        directory.record_refused_peer(ex_key, bad)
        assert lock.accept_sync_statement(b"\x10\x00\x00\x0b", bad) is False
    assert directory.advance_counter(peer, MAX_COUNTER) is True  # the top is fine
    assert directory.current_counter(peer) == MAX_COUNTER
    assert lock.read_events(after=2**64 - 1).events == ()  # a 64-bit cursor: no overflow
    assert lock.enter_pin("000000").reason is ErrorCode.NO_MATCH  # still working


def test_memory_store_has_the_durable_stores_integer_range() -> None:
    """MemoryStore refuses what SQLite cannot keep, so core tests see the same limits."""
    store = MemoryStore()
    with store.transaction():
        store.set_counter("x", MAX_COUNTER)
        for bad in HUGE:
            with pytest.raises(StorageError):
                store.set_counter("x", bad)
            with pytest.raises(StorageError):
                store.set_phone_counter(b"p", bad)
    assert store.get_counter("x") == MAX_COUNTER


def test_storage_failure_in_the_directory_is_a_typed_lock_error() -> None:
    """A store that fails (here: closed under the lock) surfaces as a LockError from
    every directory call that touches it, never as sqlite3's own exception."""
    store = SqliteStore(":memory:")
    provision(store, FakeRng(1), serial=SERIAL, lock_id=LOCK_ID)
    lock = Lock(store=store, profile=FACE_PALM, clock=FakeClock(START), rng=FakeRng(2))
    lock.enter_pairing_mode()
    lock.claim(phone_key=b"\x01" * 32)
    directory = CoreDirectory(lock)
    peer = directory.find_peer(b"\x01" * 32)
    assert peer is not None
    store.close()
    calls = [
        lambda: directory.advance_counter(peer, 5),
        lambda: directory.current_counter(peer),
        lambda: directory.record_pairing_failure(b"\x00\x00\x00\x01", START),
    ]
    for call in calls:
        with pytest.raises(LockError) as info:
            call()
        assert info.value.code is ErrorCode.STORAGE_ERROR
    with pytest.raises(LockError):
        directory.advance_counter(object(), 5)  # not a peer of this directory
