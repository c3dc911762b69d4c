"""Issue 6, the gateway over the simulator: ten emulators, each in its own process on its
own host (0-9), and the gateway (bleak, one adapter) on host 10. Links are dropped at
random (seeded) while the locks log events, and one lock goes out of range for a while:
every event of every lock is streamed exactly once."""

from __future__ import annotations

import asyncio
import json
import random
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

pytestmark = pytest.mark.timeout(300)

N = 10
GW_HOST = N
ADMIN_PIN = "246801"


def _streamed(path: Path) -> list[tuple[str, int]]:
    if not path.exists():
        return []
    objects = [json.loads(line) for line in path.read_text().splitlines()]
    return [(o["lock"], o["seq"]) for o in objects if o["type"] == "event"]


@pytest.mark.ble_sim(hosts=N + 1)
async def test_gateway_follows_ten_locks_through_random_link_drops(ble_sim: BleHarness,
                                                                   tmp_path: Path) -> None:
    sim = ble_sim.sim
    assert sim is not None
    locks = await asyncio.gather(*(start_lock(ble_sim, tmp_path / f"lock{i}", host=i)
                                   for i in range(N)))
    panels = [await lock.panel() for lock in locks]
    keystore = Keystore(tmp_path / "admin")
    for lock, panel in zip(locks, panels, strict=True):
        async with await phone(ble_sim, lock, keystore, host=GW_HOST) as admin:
            await claim(admin, lock, panel)
            await admin.add_pin(1, ADMIN_PIN)
    central = ble_sim.central(host=GW_HOST)
    cfg = GatewayConfig(
        locks=tuple(LockEntry(lock_id=lock.lock_id, name=f"lock {i}")
                    for i, lock in enumerate(locks)),
        state=tmp_path / "cursors.json", output=str(tmp_path / "events.jsonl"),
        poll_interval_s=0.5, backoff_min_s=0.05, backoff_max_s=0.5, request_timeout_s=5.0)
    out = tmp_path / "events.jsonl"
    gateway = Gateway(cfg, keystore=keystore,
                      tracker=BleakTracker([lock.lock_id for lock in locks],
                                           adapter=central.adapter))
    task = asyncio.create_task(gateway.run())
    await eventually(lambda: all(gateway.connected.values()), timeout=60, what="connected")

    rng = random.Random(20261121)
    gone = locks[3]
    drops = 0
    for round_ in range(6):
        if round_ == 1:
            sim.set_in_range(ble_sim.host(3), ble_sim.host(GW_HOST), False)
        if round_ == 4:
            sim.set_in_range(ble_sim.host(3), ble_sim.host(GW_HOST), True)
        for panel in panels:
            keys = ADMIN_PIN if rng.random() < 0.5 else "999999"
            await panel.call("keypad", keys=keys + "#")
            await panel.call("door", state="open")
            await panel.call("door", state="closed")
        for link in rng.sample(sim.links(), k=min(3, len(sim.links()))):
            link.drop("fault: random drop")
            drops += 1
        # the next round's faults hit a recovered gateway: every lock in range reconnected
        # (waited for, not slept)
        in_range = tuple(lock.lock_id for lock in locks if lock is not gone or not 1 <= round_ < 4)
        await eventually(lambda ids=in_range: all(gateway.connected[i] for i in ids),
                         timeout=60, what=f"reconnected after round {round_}")
    assert drops >= 10

    expected: list[tuple[str, int]] = []
    for lock in locks:  # the locks' own logs, read over the gateway's own links (a
        # second bleak client of the same device on the same adapter would share its
        # BlueZ object with the gateway's)
        reader = gateway.client(lock.lock_id)
        assert reader is not None
        expected += [(lock.lock_id.hex().upper(), r.seq) for r in await reader.events()]
    await eventually(lambda: set(_streamed(out)) >= set(expected), timeout=60,
                     what="every event streamed")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    streamed = _streamed(out)
    assert len(streamed) == len(set(streamed)), "an event was streamed twice"
    assert sorted(streamed) == sorted(expected)
    per_lock = {lock.lock_id.hex().upper(): 0 for lock in locks}
    for key, _ in streamed:
        per_lock[key] += 1
    assert min(per_lock.values()) >= 6 * 3  # the panel's events of every round
    states = [json.loads(line) for line in out.read_text().splitlines()]
    lost = [o for o in states if o["type"] == "status" and o["state"] == "lost"]
    assert lost, "the drops were seen"
    assert any(o["lock"] == gone.lock_id.hex().upper() for o in lost)
    for panel in panels:
        await panel.close()

