"""Issue 14, item 2, the gateway over the simulator: the emulator (its own process, host 0)
is SIGKILLed under the gateway (bleak, host 1) and restarted on the same state.

The loss is noticed without a timer of the gateway's (the client's probe finds the dead
link: BlueZ keeps it when the emulator process dies), the gateway then waits for the lock,
and reconnects with exactly one attempt, on its first advertisement: the backoff's sleep
is a fake that never ends, so nothing else can have brought it back. Every event is
streamed once, those logged while it was away included."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from ble_lock.central.keystore import Keystore
from ble_lock.gateway.config import GatewayConfig, LockEntry
from ble_lock.gateway.gateway import Gateway
from ble_lock.gateway.trackers import BleakTracker
from ble_lock.sim.harness import BleHarness
from ble_lock.testing.emulator import start_lock
from ble_lock.testing.waiting import eventually
from tests.flows._env import claim, phone

pytestmark = pytest.mark.timeout(180)


def _lines(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.ble_sim(hosts=2)
async def test_gateway_reconnects_on_the_first_advertisement_after_the_lock_restarts(
        ble_sim: BleHarness, tmp_path: Path) -> None:
    state, out = tmp_path / "lock", tmp_path / "events.jsonl"
    lock = await start_lock(ble_sim, state)
    panel = await lock.panel()
    keystore = Keystore(tmp_path / "admin")
    async with await phone(ble_sim, lock, keystore, host=1) as admin:
        await claim(admin, lock, panel)
    await panel.close()
    backoffs: list[float] = []

    async def never(seconds: float) -> None:  # the backoff never runs out in this test
        backoffs.append(seconds)
        await asyncio.Event().wait()

    central = ble_sim.central(host=1)
    cfg = GatewayConfig(locks=(LockEntry(lock_id=lock.lock_id, name="door"),),
                        state=tmp_path / "cursors.json", output=str(out),
                        poll_interval_s=3600, backoff_min_s=1.0, backoff_max_s=60.0,
                        request_timeout_s=5.0)
    gateway = Gateway(cfg, keystore=keystore, sleep=never,
                      tracker=BleakTracker([lock.lock_id], adapter=central.adapter))
    task = asyncio.create_task(gateway.run())
    try:
        await eventually(lambda: gateway.connected[lock.lock_id], timeout=60,
                         what="connected")
        lock.proc.proc.kill()  # SIGKILL: its link stays up, its GATT application goes
        assert await lock.proc.proc.wait() == -9
        # the gateway gave the lock up and waits for it (its backoff wait began)
        await eventually(lambda: backoffs, timeout=60, what="the lock given up")
        assert not gateway.connected[lock.lock_id]
        waiting_since = gateway.attempts[lock.lock_id]

        lock = await start_lock(ble_sim, state)  # back, advertising
        panel = await lock.panel()
        await panel.call("door", state="open")  # logged while the gateway may be away (not
        # pushed: streamed by the reconnection's catch-up, or the next one)
        await eventually(lambda: gateway.connected[lock.lock_id], timeout=60,
                         what="reconnected")
        assert gateway.attempts[lock.lock_id] == waiting_since + 1  # the first advert's
        assert len(backoffs) == 1  # no backoff ran out: the advertisement ended the wait

        await panel.call("inside_button")  # an unlock: pushed, so read at once (with
        # everything before it; the poll interval is an hour)
        reader = gateway.client(lock.lock_id)
        assert reader is not None
        expected = [r.seq for r in await reader.events()]
        await panel.close()
        await eventually(lambda: [o["seq"] for o in _lines(out) if o["type"] == "event"]
                         == expected, timeout=60,
                         what=f"every event streamed once ({expected} in {out})")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    states = [o["state"] for o in _lines(out) if o["type"] == "status"]
    assert states == ["connected", "lost", "connected"]
