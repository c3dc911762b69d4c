"""``ble-lock demo`` runs the whole story on the simulator and exits 0; and
``ble-lock sim`` prints the variables to export."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ble_lock.cli import main

pytestmark = pytest.mark.timeout(120)


def test_demo_runs_the_whole_story() -> None:
    """Issue 7: emulator, claim, users, PIN and virtual PIN, duress alarm, lockout,
    Bluetooth key, visitor code, sync unlock of two locks, events. How long it takes is
    the machine's: the subprocess timeout bounds it, the test asserts no duration."""
    done = subprocess.run([sys.executable, "-m", "ble_lock.cli", "demo"], capture_output=True,
                          text=True, timeout=110, check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for needle in [
        "claimed: this phone is user 1 (admin)",
        "keypad 135790#      -> granted to user 2",
        "keypad 4213579088#  -> granted to user 2",
        "granted to user 3 (silent duress alarm)",
        "owner's phone: push DURESS_ALARM for user 3",
        "denied (LOCKED_OUT, retry in 180 s)",
        "Carl's phone: unlock -> opened for user 2",
        "Carl's phone: unlock -> refused",
        "-> granted to visitor code",
        "-> denied (CODE_ALREADY_USED)",
        "gate bolt: locked",
        "gate bolt: unlocked",
        "sync unlock sent to gate",
        "demo complete in",
    ]:
        assert needle in out, needle
    assert "Traceback" not in done.stderr


async def test_sim_prints_exports_and_stops_on_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ble_lock.cli", "sim", "--hosts", "2",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=dict(os.environ))
    assert proc.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(30):
        while not lines or "running" not in lines[-1]:
            lines.append((await proc.stdout.readline()).decode().rstrip())
    exports = [ln for ln in lines if ln.startswith("export DBUS_SYSTEM_BUS_ADDRESS=")]
    assert len(exports) == 2
    assert len(set(exports)) == 2
    assert lines[0].startswith("# host 0 (hci0 ")
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 20) == 0


def test_demo_in_process_keeps_its_state(tmp_path: Path) -> None:
    """CliRunner: `demo --keep DIR` leaves the locks' and phones' folders behind."""
    result = CliRunner().invoke(main, ["demo", "--keep", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert "demo complete in" in result.stdout
    kept = sorted(p.name for p in (tmp_path / "demo").iterdir())
    assert kept == ["carl-phone", "front-door", "gate", "owner-phone"]
    assert (tmp_path / "demo" / "owner-phone" / "keystore.json").exists()


def test_sim_arguments() -> None:
    assert CliRunner().invoke(main, ["sim", "--hosts", "0"]).exit_code == 2
    assert "--adapters" in CliRunner().invoke(main, ["sim", "--help"]).stdout
