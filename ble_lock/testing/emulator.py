"""The one way tests start the lock emulator: its own process on a simulated (or real)
host, with a manual clock at :data:`ble_lock.testing.START` unless told otherwise.

The process prints what a tester needs (``ready lock_id=... name=... profile=...``, the
QR text and, at the first start only, the setup code); :class:`RunningLock` holds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ble_lock.peripheral.panel_client import AsyncPanelClient
from ble_lock.sim.harness import BleHarness
from ble_lock.sim.process import HostProcess
from ble_lock.testing import START

__all__ = ["TARGET", "RunningLock", "start_lock"]

TARGET = "ble_lock.peripheral.process:main"
"""The emulator process's entry point, for ``BleHarness.start_peripheral``."""


def _printed(proc: HostProcess, prefix: str) -> str | None:
    return next((line.split(" ", 1)[1] for line in proc.lines if line.startswith(prefix)),
                None)


@dataclass(slots=True, kw_only=True)
class RunningLock:
    """An emulator process and what it printed at start-up."""

    proc: HostProcess
    state: Path
    ready: dict[str, str]
    """The fields of its ``ready`` line (``lock_id``, ``name``, ``profile``, ...)."""
    qr: str | None = field(default=None, repr=False)
    setup_code: str | None = field(default=None, repr=False)

    @classmethod
    def from_output(cls, proc: HostProcess, state: Path) -> RunningLock:
        """Read a started emulator's ``ready``, ``qr`` and ``setup-code`` lines."""
        ready = _printed(proc, "ready ")
        assert ready is not None, f"{proc} printed no ready line"
        return cls(proc=proc, state=state,
                   ready=dict(item.split("=", 1) for item in ready.split()),
                   qr=_printed(proc, "qr "), setup_code=_printed(proc, "setup-code "))

    @property
    def lock_id(self) -> bytes:
        return bytes.fromhex(self.ready["lock_id"])

    @property
    def name(self) -> str:
        return self.ready["name"]

    async def panel(self) -> AsyncPanelClient:
        """A client of its front panel (the control socket in its state directory)."""
        return await AsyncPanelClient.connect(self.state)


async def start_lock(ble: BleHarness, state: Path, *extra: str, host: int = 0,
                     profile: str | None = "face-palm", manual_clock: bool = True
                     ) -> RunningLock:
    """Start (or restart) the emulator on ``host`` with ``state`` as its directory.

    ``profile`` is that of a new lock (``None``: the emulator's default, or the stored one
    on a restart); ``extra`` goes to the emulator's command line as is. With
    ``manual_clock`` its clock stands at ``START`` until the panel's ``clock.advance``.
    """
    args = ["--state-dir", str(state), *extra]
    if profile is not None:
        args += ["--profile", profile]
    if manual_clock:
        args += ["--manual-clock", str(START)]
    proc = await ble.start_peripheral(TARGET, *args, host=host, ready="ready ")
    return RunningLock.from_output(proc, state)
