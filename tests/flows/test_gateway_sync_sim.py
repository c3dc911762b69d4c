"""Issue 6: the gateway relays sync statements over the simulator. Two emulators (own
processes, hosts 0 and 1), linked by the admin's central; then the gateway (host 2, same
keystore) follows both: a PIN at A opens B through it, and its stream tells the story."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from ble_lock.central.keystore import Keystore
from ble_lock.central.sync import link_locks
from ble_lock.gateway.config import GatewayConfig, LockEntry
from ble_lock.gateway.gateway import Gateway
from ble_lock.gateway.trackers import BleakTracker
from ble_lock.sim.harness import BleHarness
from ble_lock.testing.emulator import start_lock
from ble_lock.testing.waiting import eventually
from tests.flows._env import bolt, claim, phone

pytestmark = pytest.mark.timeout(180)

ADMIN_PIN = "246801"


@pytest.mark.ble_sim(hosts=3)
async def test_gateway_relays_a_sync_unlock_between_two_emulators(ble_sim: BleHarness,
                                                                  tmp_path: Path) -> None:
    """R-SYN-2/3/4 through the gateway."""
    lock_a = await start_lock(ble_sim, tmp_path / "a", host=0)
    lock_b = await start_lock(ble_sim, tmp_path / "b", host=1)
    pa, pb = await lock_a.panel(), await lock_b.panel()
    keystore = Keystore(tmp_path / "admin")
    async with await phone(ble_sim, lock_a, keystore, host=2) as ca, \
            await phone(ble_sim, lock_b, keystore, host=2) as cb:
        await claim(ca, lock_a, pa)
        await claim(cb, lock_b, pb)
        await ca.add_pin(1, ADMIN_PIN)
        await cb.add_pin(1, ADMIN_PIN)
        started = asyncio.Event()
        linking = asyncio.create_task(link_locks(ca, cb, poll_s=0.05,
                                                 on_countdown=lambda _s: started.set()))
        await asyncio.wait_for(started.wait(), 20)
        await pb.call("keypad", keys=ADMIN_PIN + "#")
        await asyncio.wait_for(linking, 30)
    await pb.call("inside_button")

    central = ble_sim.central(host=2)
    out = tmp_path / "events.jsonl"
    cfg = GatewayConfig(
        locks=(LockEntry(lock_id=lock_a.lock_id, name="front door"),
               LockEntry(lock_id=lock_b.lock_id, name="back door")),
        state=tmp_path / "cursors.json", output=str(out), poll_interval_s=0.5,
        backoff_min_s=0.05, backoff_max_s=0.5, request_timeout_s=5.0)
    gateway = Gateway(cfg, keystore=keystore,
                      tracker=BleakTracker([lock_a.lock_id, lock_b.lock_id],
                                           adapter=central.adapter))
    task = asyncio.create_task(gateway.run())
    await eventually(lambda: all(gateway.connected.values()), timeout=30, what="connected")

    assert await bolt(pb) == "locked"
    reply = await pa.call("keypad", keys=ADMIN_PIN + "#")
    assert reply["outcome"] == "granted"
    await eventually(lambda: gateway.relays_ok == 1, what="relayed")
    assert await bolt(pb) == "unlocked"
    await pb.call("clock.advance", seconds=11)
    assert await bolt(pb) == "locked"

    def lines() -> list[dict[str, object]]:
        return [json.loads(line) for line in out.read_text().splitlines()]

    await eventually(lambda: {"SYNC_TRIGGER", "SYNC_RELOCK"} <= {o.get("kind")
                                                                 for o in lines()},
                     what="A's trigger and B's relock streamed")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    objects = lines()
    b_key = lock_b.lock_id.hex().upper()
    story = [(o["name"], o["text"]) for o in objects if o["type"] == "event"
             and o["kind"] in ("SYNC_TRIGGER", "SYNC_UNLOCK", "SYNC_RELOCK")]
    assert ("front door", "sync unlock sent to back door") in story
    assert [s for s in story if s[0] == "back door"] == [
        ("back door", "opened by sync from front door"),
        ("back door", "relocked: door not opened within the sync window")]
    assert {"type": "relay", "from": lock_a.lock_id.hex().upper(), "to": b_key,
            "ok": True} in objects
    await pa.close()
    await pb.close()
