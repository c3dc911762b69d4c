"""Starting the emulator process under the simulator harness."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ble_lock.sim.harness import BleHarness
from ble_lock.sim.process import HostProcess
from ble_lock.testing import START

TARGET = "ble_lock.peripheral.process:main"


@dataclass
class Running:
    proc: HostProcess
    ready: dict[str, str]
    qr: str | None
    setup_code: str | None

    @property
    def lock_id(self) -> bytes:
        return bytes.fromhex(self.ready["lock_id"])

    @property
    def name(self) -> str:
        return self.ready["name"]


def _field(proc: HostProcess, prefix: str) -> str | None:
    return next((line.split(" ", 1)[1] for line in proc.lines if line.startswith(prefix)),
                None)


async def start_lock(ble: BleHarness, state: Path, *args: str, host: int = 0,
                     manual: bool = True) -> Running:
    clock = ("--manual-clock", str(START)) if manual else ()
    proc = await ble.start_peripheral(TARGET, "--state-dir", str(state), *clock, *args,
                                      host=host, ready="ready ")
    ready_line = _field(proc, "ready ")
    assert ready_line is not None
    ready = dict(item.split("=", 1) for item in ready_line.split())
    return Running(proc=proc, ready=ready, qr=_field(proc, "qr "),
                   setup_code=_field(proc, "setup-code "))
