"""Helpers for the end-to-end tests: the emulator in its own process on host 0 of the
simulator, phones (``LockClient`` on bleak) in the test process on the adapters of host 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ble_lock.central.client import LockClient
from ble_lock.central.keystore import Keystore
from ble_lock.peripheral.client import AsyncPanelClient
from ble_lock.sim.harness import BleHarness
from ble_lock.sim.process import HostProcess
from ble_lock.testing import START
from ble_lock.wire import messages as m

TARGET = "ble_lock.peripheral.process:main"


@dataclass(slots=True, kw_only=True)
class RunningLock:
    """An emulator process and what it printed."""

    proc: HostProcess
    state: Path
    lock_id: bytes
    name: str
    qr: str | None = field(default=None, repr=False)

    async def panel(self) -> AsyncPanelClient:
        return await AsyncPanelClient.connect(self.state)


async def start_lock(ble: BleHarness, state: Path, *extra: str, manual_clock: bool = True,
                     profile: str = "face-palm") -> RunningLock:
    """Start (or restart) the emulator on host 0 with ``state`` as its directory."""
    args = ["--state-dir", str(state), "--profile", profile, *extra]
    if manual_clock:
        args += ["--manual-clock", str(START)]
    proc = await ble.start_peripheral(TARGET, *args, host=0, ready="ready")
    qr = next((line.split(" ", 1)[1] for line in proc.lines if line.startswith("qr ")), None)
    ready = next(line for line in proc.lines if line.startswith("ready "))
    fields = dict(item.split("=", 1) for item in ready.split()[1:])
    return RunningLock(proc=proc, state=state, lock_id=bytes.fromhex(fields["lock_id"]),
                       name=fields["name"], qr=qr)


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
