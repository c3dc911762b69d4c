"""sync.py over in-memory locks (real core and protocol): the R-SYN-1 confirmation
rules, unlink from either side, the relay's outcomes and the R-SYN-4 texts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ble_lock.central.client import LockClient
from ble_lock.central.keystore import Keystore
from ble_lock.central.sync import (
    LinkResult,
    SyncRelay,
    describe_event,
    link_locks,
    sync_status,
    unlink_locks,
)
from ble_lock.core.errors import ErrorCode, InvalidInputError, LockError
from ble_lock.core.model import LinkExpired, LinkPending
from ble_lock.testing.memory_lock import MemoryLock
from ble_lock.testing.waiting import eventually
from ble_lock.wire import messages as m
from tests.flows._memlocks import ADMIN_PIN, claim_all, memory_locks

pytestmark = pytest.mark.timeout(30)


async def _pair(tmp_path: Path) -> tuple[MemoryLock, MemoryLock, Keystore]:
    lock_a, lock_b = memory_locks(2)
    keystore = Keystore(tmp_path / "admin")
    await claim_all([lock_a, lock_b], keystore)
    return lock_a, lock_b, keystore


def _client(mem: MemoryLock, keystore: Keystore) -> LockClient:
    return LockClient(mem.connector(), keystore=keystore, lock_id=mem.lock_id)


async def _link_confirmed_by(lock_b: MemoryLock, a: LockClient, b: LockClient,
                             confirm: str, countdown_s: float = 20.0) -> LinkResult:
    started = asyncio.Event()
    task = asyncio.create_task(link_locks(a, b, window_s=7, countdown_s=countdown_s,
                                          poll_s=0.01,
                                          on_countdown=lambda _s: started.set()))
    await asyncio.wait_for(started.wait(), 5)
    if confirm == "pin":
        assert lock_b.lock.enter_pin(ADMIN_PIN).granted
    elif confirm == "phone":
        await b.unlock()  # the admin's phone: not a credential at the door
    if confirm != "pin":
        await lock_b.writes(2)  # the central polls B's pending link meanwhile
        lock_b.clock.advance(countdown_s)  # B's own countdown ends (R-SYN-1)
    return await task


async def test_link_confirmed_by_an_admin_pin_at_door_b(tmp_path: Path) -> None:
    """R-SYN-1: confirmed at B -> links on both sides, sync on at both, the window."""
    lock_a, lock_b, keystore = await _pair(tmp_path)
    async with _client(lock_a, keystore) as a, _client(lock_b, keystore) as b:
        result = await _link_confirmed_by(lock_b, a, b, "pin")
        assert result.confirmed_by == 1
        for client, peer in ((a, lock_b), (b, lock_a)):
            status = await sync_status(client)
            assert (status.enabled, status.window_s) == (True, 7)
            assert [(x.peer_lock_id, x.peer_public_key, x.window_s) for x in status.links] == [
                (peer.lock_id, peer.key.public, 7)]


@pytest.mark.parametrize("confirm", ["none", "phone"])
async def test_no_door_credential_within_the_countdown_links_nothing(
        tmp_path: Path, confirm: str) -> None:
    lock_a, lock_b, keystore = await _pair(tmp_path)
    async with _client(lock_a, keystore) as a, _client(lock_b, keystore) as b:
        with pytest.raises(LockError) as late:
            await _link_confirmed_by(lock_b, a, b, confirm, countdown_s=10)
        assert late.value.code is ErrorCode.TIMEOUT
        details = [e.detail for e in lock_b.lock.read_events(limit=500).events
                   if e.kind is m.EventKind.LINK_CHANGED]
        assert details == [LinkPending(peer=lock_a.lock_id, confirm_s=10),
                           LinkExpired(peer=lock_a.lock_id)]
        assert (await sync_status(a)).enabled is False
        assert await a.sync_links() == []
        assert await b.sync_links() == []


async def test_r_syn_1_link_waits_for_lock_b_not_for_its_log(tmp_path: Path) -> None:
    """R-SYN-1: while the countdown runs, B's link is pending (SYNC_LINK_LIST) and A has
    none; a normal user's PIN at B does not confirm; cancelling the call drops B's
    pending link and puts A back."""
    lock_a, lock_b, keystore = await _pair(tmp_path)
    async with _client(lock_a, keystore) as a, _client(lock_b, keystore) as b:
        normal = await b.add_user(name="kid")
        await b.add_pin(normal.user_number, "135790")
        started = asyncio.Event()
        task = asyncio.create_task(link_locks(a, b, countdown_s=30, poll_s=0.01,
                                              on_countdown=lambda _s: started.set()))
        await asyncio.wait_for(started.wait(), 5)
        (pending,) = await b.sync_links()
        assert (pending.peer_lock_id, pending.pending, pending.confirm_left_s) == (
            lock_a.lock_id, True, 30)
        assert await a.sync_links() == []
        assert lock_b.lock.enter_pin("135790").granted
        await lock_b.writes(2)  # the central polled B at least once since: still pending
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await b.sync_links() == []
        assert (await sync_status(a)).enabled is False


async def test_bad_link_and_unlink_requests(tmp_path: Path) -> None:
    lock_a, lock_b, keystore = await _pair(tmp_path)
    async with _client(lock_a, keystore) as a, _client(lock_b, keystore) as b:
        with pytest.raises(InvalidInputError):
            await link_locks(a, a)
        for countdown in (5, 301):  # R-SYN-1 countdown bounds, checked before any change
            with pytest.raises(InvalidInputError):
                await link_locks(a, b, countdown_s=countdown)
        assert (await sync_status(a)).enabled is False
        with pytest.raises(InvalidInputError):
            await unlink_locks(a)
        assert await unlink_locks(a, b) == 0  # nothing linked: not an error
    stranger = MemoryLock(lock_id=bytes.fromhex("0c0c0c0c"), seed=9)
    async with _client(stranger, Keystore(tmp_path / "other")) as unpaired, \
            _client(lock_a, keystore) as a:
        with pytest.raises(LockError) as not_paired:
            await link_locks(a, unpaired)
        assert not_paired.value.code is ErrorCode.NOT_PAIRED


async def test_relay_outcomes_and_unlink_from_one_side(tmp_path: Path) -> None:
    """R-SYN-2 through SyncRelay; after B alone unlinks, A's statement is refused
    (UNKNOWN_KEY) and B stays locked."""
    lock_a, lock_b, keystore = await _pair(tmp_path)
    async with _client(lock_a, keystore) as a, _client(lock_b, keystore) as b:
        await _link_confirmed_by(lock_b, a, b, "pin")
        lock_b.lock.inside_button()
        relay = SyncRelay({lock_a.lock_id: a, lock_b.lock_id: b})
        await relay.start()
        assert lock_a.lock.enter_pin(ADMIN_PIN).granted
        lock_a.panel()
        await eventually(lambda: len(relay.results) == 1, what="relayed")
        assert relay.results == [(lock_b.lock_id, None)]
        assert not lock_b.lock.locked
        lock_b.lock.inside_button()
        assert await unlink_locks(b, peer_lock_id=lock_a.lock_id) == 1
        assert lock_a.lock.enter_pin(ADMIN_PIN).granted
        lock_a.panel()
        await eventually(lambda: len(relay.results) == 2, what="second relay")
        assert relay.results[-1] == (lock_b.lock_id, ErrorCode.UNKNOWN_KEY)
        assert lock_b.lock.locked
        await relay.stop()
        assert "SyncRelay(locks=2" in repr(relay)


def test_describe_event_says_where_a_sync_unlock_came_from() -> None:
    """R-SYN-4: the effect is visible to shared users."""
    def rec(kind: m.EventKind, *, method: m.UnlockMethod | None = None, detail: str = "",
            user_number: int | None = None, reason: int | None = None) -> m.EventRecord:
        return m.EventRecord(seq=1, at_ms=0, kind=kind, method=method, detail=detail,
                             user_number=user_number, reason=reason)

    names = {"0BADC0DE": "front door"}
    assert describe_event(rec(m.EventKind.SYNC_UNLOCK, method=m.UnlockMethod.SYNC,
                              detail="from 0badc0de"), names) == "opened by sync from front door"
    assert describe_event(rec(m.EventKind.SYNC_UNLOCK, detail="from 01020304")) == (
        "opened by sync from 01020304")
    assert describe_event(rec(m.EventKind.SYNC_TRIGGER, detail="0badc0de"), names) == (
        "sync unlock sent to front door")
    assert describe_event(rec(m.EventKind.SYNC_RELOCK)) == (
        "relocked: door not opened within the sync window")
    assert describe_event(rec(m.EventKind.UNLOCK_FAILED, method=m.UnlockMethod.PIN,
                              reason=5)) == "unlock failed by pin"
    assert describe_event(rec(m.EventKind.LINK_CHANGED, user_number=1,
                              detail="link 0badc0de")) == "link changed user 1 (link 0badc0de)"
    # R-SYN-1 at the linked door, visible (R-SYN-4)
    assert describe_event(rec(m.EventKind.LINK_CHANGED, detail="link 0badc0de pending 60s"),
                          names) == ("sync link with front door waiting for an admin "
                                     "credential at this door (60 s)")
    assert describe_event(rec(m.EventKind.LINK_CHANGED, user_number=1,
                              method=m.UnlockMethod.PIN, detail="confirmed 0badc0de"),
                          names) == (
        "sync link with front door confirmed at this door by user 1 (pin)")
    assert describe_event(rec(m.EventKind.LINK_CHANGED, detail="expired 01020304")) == (
        "sync link with 01020304 expired: not confirmed at this door in time")


def test_describe_event_shows_a_detail_of_unknown_shape_as_the_lock_sent_it() -> None:
    """A detail text that does not fit its kind is not read as an empty peer: the
    typed parser refuses it and the line shows the text as sent."""
    odd = m.EventRecord(seq=1, at_ms=0, kind=m.EventKind.SYNC_TRIGGER, detail="not a lock id")
    assert describe_event(odd) == "sync trigger (not a lock id)"
    odd_link = m.EventRecord(seq=2, at_ms=0, kind=m.EventKind.LINK_CHANGED,
                             detail="confirmed by nobody")
    assert describe_event(odd_link) == "link changed (confirmed by nobody)"
