"""Helpers for the flow tests: emulators in their own processes, one per simulated host
(bless exports its objects on its host's bus), and phones / gateways in the test process
on another host."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ble_lock.central.client import LockClient
from ble_lock.central.keystore import Keystore
from ble_lock.peripheral.client import AsyncPanelClient
from ble_lock.sim.harness import BleHarness
from ble_lock.testing.waiting import eventually
from tests.e2e._env import START, TARGET, RunningLock

__all__ = ["START", "bolt", "claim", "eventually", "phone", "start_lock"]


async def start_lock(ble: BleHarness, state: Path, *, host: int,
                     profile: str = "face-palm") -> RunningLock:
    """An emulator with a manual clock at ``START`` on ``host``."""
    args = ["--state-dir", str(state), "--profile", profile, "--manual-clock", str(START)]
    proc = await ble.start_peripheral(TARGET, *args, host=host, ready="ready")
    qr = next((line.split(" ", 1)[1] for line in proc.lines if line.startswith("qr ")), None)
    ready = next(line for line in proc.lines if line.startswith("ready "))
    fields = dict(item.split("=", 1) for item in ready.split()[1:])
    return RunningLock(proc=proc, state=state, lock_id=bytes.fromhex(fields["lock_id"]),
                       name=fields["name"], qr=qr)


async def phone(ble: BleHarness, lock: RunningLock, keystore: Keystore, *, host: int,
                adapter: str = "hci0") -> LockClient:
    central = ble.central(host=host, adapter=adapter)
    return await LockClient.find(lock_id=lock.lock_id, adapter=central.adapter,
                                 keystore=keystore, scan_timeout=10.0, timeout=10.0)


async def claim(client: LockClient, lock: RunningLock, panel: AsyncPanelClient) -> None:
    """The admin phone claims a fresh face-palm lock (SET first: R-APP-1)."""
    assert lock.qr is not None
    await panel.call("set_button")
    await client.claim_qr(lock.qr)


async def bolt(panel: AsyncPanelClient) -> str:
    reply: dict[str, Any] = await panel.call("status")
    return str(reply["display"]["bolt"])
