"""Issue 6, sync unlock over the simulator (R-SYN-1..4): two emulators, each in its own
process on its own host (0 and 1), and the admin's central on host 2. The clocks are
the emulators' manual clocks, moved through their control sockets."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ble_lock.central.keystore import Keystore
from ble_lock.central.sync import SyncRelay, describe_event, link_locks, sync_status, unlink_locks
from ble_lock.core.errors import ErrorCode, LockError
from ble_lock.peripheral.panel_client import AsyncPanelClient
from ble_lock.sim.att import AttOp
from ble_lock.sim.harness import BleHarness
from ble_lock.testing.emulator import start_lock
from ble_lock.testing.waiting import eventually
from ble_lock.wire import messages as m
from tests.flows._env import bolt, claim, phone

pytestmark = pytest.mark.timeout(180)

K = m.EventKind
ADMIN_PIN_B = "246801"
CARL_PIN_A = "135790"


async def _advance(seconds: float, *panels: AsyncPanelClient) -> None:
    """Both lock clocks move together (statements are checked for freshness)."""
    for panel in panels:
        await panel.call("clock.advance", seconds=seconds)


async def _answers(ble: BleHarness, n: int, *, central_host: int, lock_host: int) -> None:
    """Wait until the lock on ``lock_host`` sent ``n`` more notifications to the central on
    ``central_host``: ``n`` answers to its requests."""
    sim = ble.sim
    assert sim is not None

    def notified() -> int:
        return sum(r.op == AttOp.HANDLE_VALUE_NTF
                   for link in sim.links_between(ble.host(central_host), ble.host(lock_host))
                   for r in link.trace)

    target = notified() + n
    await eventually(lambda: notified() >= target, what=f"{n} answers from host {lock_host}",
                     timeout=20)


@pytest.mark.ble_sim(hosts=3)
async def test_sync_unlock_link_open_relock_replay_unlink(ble_sim: BleHarness,
                                                          tmp_path: Path) -> None:
    """R-SYN-1 (link confirmed at door B within the countdown), R-SYN-2 (a PIN at A opens
    B through the relay), R-SYN-3 (B relocks when its door stays shut; stays open while
    the door is open), R-SYN-4 (both logs tell it; "opened by sync from A"); a replayed
    statement and one relayed after unlinking open nothing."""
    lock_a = await start_lock(ble_sim, tmp_path / "a", host=0)
    lock_b = await start_lock(ble_sim, tmp_path / "b", host=1)
    pa, pb = await lock_a.panel(), await lock_b.panel()
    keystore = Keystore(tmp_path / "admin")
    ca = await phone(ble_sim, lock_a, keystore, host=2)
    cb = await phone(ble_sim, lock_b, keystore, host=2)
    async with ca, cb:
        await claim(ca, lock_a, pa)
        await claim(cb, lock_b, pb)
        carl = await ca.add_user("Carl")
        await ca.add_pin(carl.user_number, CARL_PIN_A)
        await cb.add_pin(1, ADMIN_PIN_B)  # the admin's own PIN at door B
        await cb.set_settings(m.SettingsSet(lock_body=m.LockBody.BODY_6068,
                                            auto_lock_on_close=True))

        # R-SYN-1: enable on A, choose B, confirm at door B within the countdown
        started = asyncio.Event()
        linking = asyncio.create_task(link_locks(
            ca, cb, window_s=10, countdown_s=30, poll_s=0.05,
            on_countdown=lambda _s: started.set()))
        await asyncio.wait_for(started.wait(), 20)
        assert await ca.sync_links() == []  # nothing linked on A before the confirmation
        (waiting,) = await cb.sync_links()  # B: pending, its own countdown running
        assert (waiting.peer_lock_id, waiting.pending) == (lock_a.lock_id, True)
        assert 0 < waiting.confirm_left_s <= 30
        reply = await pb.call("keypad", keys=ADMIN_PIN_B + "#")
        assert (reply["outcome"], reply["user"]) == ("granted", 1)
        result = await asyncio.wait_for(linking, 30)
        assert (result.lock_a, result.lock_b, result.confirmed_by) == (
            lock_a.lock_id, lock_b.lock_id, 1)
        await pb.call("inside_button")  # B locked again from inside (R-LCK-2)
        status_a, status_b = await sync_status(ca), await sync_status(cb)
        assert (status_a.enabled, status_b.enabled) == (True, True)
        assert [link.peer_lock_id for link in status_a.links] == [lock_b.lock_id]
        assert [link.peer_lock_id for link in status_b.links] == [lock_a.lock_id]
        assert status_b.links[0].window_s == 10

        relay = SyncRelay({lock_a.lock_id: ca, lock_b.lock_id: cb})
        await relay.start()

        # R-SYN-2/3: Carl's PIN at A opens A, then B; B relocks, its door shut
        assert await bolt(pb) == "locked"
        reply = await pa.call("keypad", keys=CARL_PIN_A + "#")
        assert (reply["outcome"], reply["user"]) == ("granted", carl.user_number)
        await eventually(lambda: len(relay.results) == 1, what="statement relayed")
        assert relay.results == [(lock_b.lock_id, None)]
        assert await bolt(pb) == "unlocked"
        await _advance(9, pa, pb)
        assert await bolt(pb) == "unlocked"  # still inside the 10 s window
        await _advance(2, pa, pb)
        assert await bolt(pb) == "locked"  # R-SYN-3: not opened in time

        # the same statement again: a replay opens nothing
        with pytest.raises(LockError) as replay:
            await cb.relay_statement(relay.statements[-1])
        assert replay.value.code is ErrorCode.REPLAY
        assert await bolt(pb) == "locked"

        # door B opened inside the window: B stays open until the door closes
        await pa.call("inside_button")
        await pa.call("keypad", keys=CARL_PIN_A + "#")
        await eventually(lambda: len(relay.results) == 2, what="second statement relayed")
        assert relay.results[-1] == (lock_b.lock_id, None)
        await pb.call("door", state="open")
        await _advance(30, pa, pb)
        assert await bolt(pb) == "unlocked"
        await pb.call("door", state="closed")  # 6068 body, auto-lock on close (R-LCK-4)
        assert await bolt(pb) == "locked"

        # a fresh statement that nobody relayed, then unlink from B's side only
        await relay.stop()
        captured: list[m.SyncStatement] = []
        remove = ca.on_event(lambda body: captured.append(body)
                             if isinstance(body, m.SyncStatement) else None)
        await pa.call("keypad", keys=CARL_PIN_A + "#")
        await eventually(lambda: len(captured) == 1, what="statement pushed by A")
        remove()
        assert await unlink_locks(cb, peer_lock_id=lock_a.lock_id) == 1
        with pytest.raises(LockError) as unlinked:
            await cb.relay_statement(captured[0])
        assert unlinked.value.code is ErrorCode.UNKNOWN_KEY
        assert await bolt(pb) == "locked"
        assert await unlink_locks(ca, cb) == 1  # A's side; B's was gone already
        assert (await sync_status(ca)).links == ()

        events_a, events_b = await ca.events(), await cb.events()

    a_hex, b_hex = lock_a.lock_id.hex(), lock_b.lock_id.hex()
    triggers = [r for r in events_a if r.kind is K.SYNC_TRIGGER]
    assert [r.detail for r in triggers] == [b_hex] * 3
    pins_a = [r for r in events_a if r.kind is K.UNLOCK and r.method is m.UnlockMethod.PIN]
    assert [r.user_number for r in pins_a] == [carl.user_number] * 3
    syncs = [r for r in events_b if r.kind in (K.SYNC_UNLOCK, K.SYNC_RELOCK)]
    assert [(r.kind, r.method) for r in syncs] == [
        (K.SYNC_UNLOCK, m.UnlockMethod.SYNC), (K.SYNC_RELOCK, None),
        (K.SYNC_UNLOCK, m.UnlockMethod.SYNC)]
    assert syncs[0].detail == f"from {a_hex}"
    names = {a_hex.upper(): "front door"}
    assert describe_event(syncs[0], names) == "opened by sync from front door"
    links_b = [r.detail for r in events_b if r.kind is K.LINK_CHANGED]
    assert links_b == [f"link {a_hex} pending 30s", f"confirmed {a_hex}", f"unlink {a_hex}"]
    confirmed = next(r for r in events_b if r.detail == f"confirmed {a_hex}")
    assert (confirmed.user_number, confirmed.method) == (1, m.UnlockMethod.PIN)
    # B opened by sync only twice: the replay and the post-unlink statement did nothing
    assert sum(r.kind is K.SYNC_UNLOCK for r in events_b) == 2
    await pa.close()
    await pb.close()


@pytest.mark.ble_sim(hosts=3)
async def test_sync_link_not_confirmed_in_time_links_nothing(ble_sim: BleHarness,
                                                             tmp_path: Path) -> None:
    """R-SYN-1: no admin unlock at door B within the countdown: lock B drops the
    pending link by itself when its own clock ends the countdown; no link, A put back."""
    lock_a = await start_lock(ble_sim, tmp_path / "a", host=0)
    lock_b = await start_lock(ble_sim, tmp_path / "b", host=1)
    pa, pb = await lock_a.panel(), await lock_b.panel()
    keystore = Keystore(tmp_path / "admin")
    ca = await phone(ble_sim, lock_a, keystore, host=2)
    cb = await phone(ble_sim, lock_b, keystore, host=2)
    async with ca, cb:
        await claim(ca, lock_a, pa)
        await claim(cb, lock_b, pb)
        carl = await cb.add_user("Carl")
        await cb.add_pin(carl.user_number, CARL_PIN_A)
        started = asyncio.Event()
        linking = asyncio.create_task(link_locks(
            ca, cb, countdown_s=10, poll_s=0.05, on_countdown=lambda _s: started.set()))
        await asyncio.wait_for(started.wait(), 20)
        # a normal user's PIN at door B does not confirm
        reply = await pb.call("keypad", keys=CARL_PIN_A + "#")
        assert reply["outcome"] == "granted"
        # the central polled B since (three answers counted on its link, not slept)
        await _answers(ble_sim, 3, central_host=2, lock_host=1)
        assert not linking.done()
        await _advance(10, pb)  # B's countdown ends on B's clock
        with pytest.raises(LockError) as late:
            await asyncio.wait_for(linking, 30)
        assert late.value.code is ErrorCode.TIMEOUT
        assert (await sync_status(ca)).enabled is False
        assert await ca.sync_links() == []
        assert await cb.sync_links() == []
        events_b = await cb.events()
    a_hex = lock_a.lock_id.hex()
    assert [r.detail for r in events_b if r.kind is K.LINK_CHANGED] == [
        f"link {a_hex} pending 10s", f"expired {a_hex}"]
    await pa.close()
    await pb.close()
