"""Running ``ble-lock`` as real processes on simulated hosts: each process gets its
host's system bus (``DBUS_SYSTEM_BUS_ADDRESS``), adapter and keystore folder."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ble_lock.sim.harness import BleHarness
from ble_lock.sim.process import HostProcess, start_process
from ble_lock.testing import START
from ble_lock.testing.emulator import RunningLock


@dataclass(frozen=True, slots=True)
class Done:
    rc: int
    out: str
    err: str

    def json(self) -> Any:
        assert self.rc == 0, (self.rc, self.err)
        return json.loads(self.out)


def _env(ble: BleHarness, host: int, adapter: str) -> dict[str, str]:
    return {**ble.host(host).env(), "BLE_ADAPTER": adapter, "PYTHONUNBUFFERED": "1"}


async def start(ble: BleHarness, host: int, home: Path, *args: str,
                adapter: str = "hci0") -> HostProcess:
    """A long-running ``ble-lock`` (emulate, events --follow, sync link/relay) on ``host``;
    the harness stops it at the end of the test."""
    hp = await start_process(
        ble.host(host), sys.executable, "-m", "ble_lock.cli", "--home", str(home), *args,
        name=f"ble-lock {' '.join(args)}", env={"BLE_ADAPTER": adapter})
    ble.processes.append(hp)
    return hp


async def run(ble: BleHarness, host: int, home: Path, *args: str, adapter: str = "hci0",
              timeout: float = 60.0, input: str | None = None) -> Done:
    """One ``ble-lock`` command on ``host`` to its end; ``input`` is its stdin (secrets
    given with ``-``), else stdin is empty. Never a terminal."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ble_lock.cli", "--home", str(home), "--timeout", "10", *args,
        stdin=asyncio.subprocess.DEVNULL if input is None else asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=_env(ble, host, adapter))
    out, err = await asyncio.wait_for(
        proc.communicate(None if input is None else input.encode()), timeout)
    assert proc.returncode is not None
    return Done(proc.returncode, out.decode(), err.decode())


async def ok(ble: BleHarness, host: int, home: Path, *args: str, adapter: str = "hci0",
             input: str | None = None) -> str:
    """:func:`run` for a command that must succeed: its stdout."""
    done = await run(ble, host, home, *args, adapter=adapter, input=input)
    assert done.rc == 0, (args, done.err)
    return done.out


async def emulate(ble: BleHarness, host: int, home: Path, name: str, profile: str = "face-palm"
                  ) -> tuple[HostProcess, dict[str, str]]:
    """``ble-lock emulate --profile PROFILE`` on ``host`` (the command under test; other
    tests start the emulator with ``ble_lock.testing.emulator.start_lock``): waits for its
    ``ready`` line and its advert; what it printed is read by ``RunningLock``."""
    proc = await start(ble, host, home, "emulate", "--profile", profile, "--name", name,
                       "--manual-clock", str(START))
    await proc.expect("ready ", 30)
    await proc.until(ble.host(host).adapter("hci0").wait_advertising(20))
    lock = RunningLock.from_output(proc, home)
    assert lock.qr is not None
    assert lock.setup_code is not None
    return proc, {**lock.ready, "qr": lock.qr, "setup_code": lock.setup_code}
