"""Helpers for the end-to-end tests: the emulator in its own process on host 0 of the
simulator (``ble_lock.testing.emulator.start_lock``), phones (``LockClient`` on bleak) in
the test process on the adapters of host 1.
"""

from __future__ import annotations

from pathlib import Path

from ble_lock.central.client import LockClient
from ble_lock.central.keystore import Keystore
from ble_lock.peripheral.panel_client import AsyncPanelClient
from ble_lock.sim.harness import BleHarness
from ble_lock.testing.emulator import RunningLock, start_lock
from ble_lock.wire import messages as m


async def start_in_pairing_mode(ble: BleHarness, state: Path
                                ) -> tuple[RunningLock, AsyncPanelClient, str]:
    """A fresh emulator (``start_lock``) with SET pressed (pairing mode, R-APP-1): the
    lock, its panel and the QR text of its label, ready for ``claim_qr``."""
    lock = await start_lock(ble, state)
    assert lock.qr is not None
    panel = await lock.panel()
    await panel.call("set_button")
    return lock, panel, lock.qr


async def phone(ble: BleHarness, lock: RunningLock, home: Path, *, adapter: str = "hci0",
                host: int = 1, timeout: float = 10.0) -> LockClient:
    """A phone (its own keystore in ``home``) on one adapter of the central host, found
    by lock id; not connected yet (use ``async with``)."""
    central = ble.central(host=host, adapter=adapter)
    return await LockClient.find(lock_id=lock.lock_id, adapter=central.adapter,
                                 keystore=Keystore(home), scan_timeout=10.0, timeout=timeout)


def kinds(records: list[m.EventRecord]) -> list[m.EventKind]:
    return [r.kind for r in records]
