"""Helpers for the flow tests: emulators in their own processes, one per simulated host
(bless exports its objects on its host's bus), and phones / gateways in the test process
on another host."""

from __future__ import annotations

from typing import Any

from ble_lock.central.client import LockClient
from ble_lock.central.keystore import Keystore
from ble_lock.peripheral.panel_client import AsyncPanelClient
from ble_lock.sim.harness import BleHarness
from ble_lock.testing.emulator import RunningLock

__all__ = ["bolt", "claim", "phone"]


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
