"""``ble-lock demo`` runs the whole story on the simulator and exits 0; and
``ble-lock sim`` prints the variables to export."""

from __future__ import annotations

import asyncio
import os
import re
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
    # issue 14 item 10: the invite's number and the key's are told apart, and the log's
    # first line says why it starts where it does
    invite = re.search(r"owner issues invite (\d+) for user 2 \(an invite number", out)
    assert invite is not None, out
    key = re.search(rf"Carl's phone redeems invite {invite.group(1)}: user 2 \(normal\), "
                    r"Bluetooth key (\d+)", out)
    assert key is not None, out
    assert f"owner revokes key {key.group(1)} " in out
    last = re.search(r"\(the last 14 of (\d+) events: #(\d+) on;", out)
    assert last is not None, out
    assert int(last.group(2)) == int(last.group(1)) - 13
    assert f"    #{last.group(2)} " in out
    assert "Traceback" not in done.stderr


async def _sim_exports(*args: str) -> tuple[asyncio.subprocess.Process, list[str]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ble_lock.cli", "sim", "--hosts", "2", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=dict(os.environ))
    assert proc.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(30):
        while not lines or "running" not in lines[-1]:
            lines.append((await proc.stdout.readline()).decode().rstrip())
    return proc, lines


def _homes(lines: list[str]) -> list[Path]:
    return [Path(ln.split("=", 1)[1].strip("'")) for ln in lines
            if ln.startswith("export BLE_LOCK_HOME=")]


async def test_sim_prints_exports_and_stops_on_sigterm() -> None:
    proc, lines = await _sim_exports()
    exports = [ln for ln in lines if ln.startswith("export DBUS_SYSTEM_BUS_ADDRESS=")]
    assert len(exports) == 2
    assert len(set(exports)) == 2
    assert lines[0].startswith("# host 0 (hci0 ")
    # issue 14 item 11: each host its own home (a second phone needs its own keystore)
    homes = _homes(lines)
    assert len(homes) == 2
    assert len(set(homes)) == 2
    assert all(home.is_dir() for home in homes)
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 20) == 0
    assert not any(home.exists() for home in homes)  # a temporary folder, removed


async def test_sim_homes_kept_in_a_folder_and_used_by_each_host(tmp_path: Path) -> None:
    """`sim --homes DIR`: host N's home is DIR/host-N and stays; a command run with a
    host's exports keeps its keystore there, apart from the other host's."""
    proc, lines = await _sim_exports("--homes", str(tmp_path / "homes"))
    try:
        homes = _homes(lines)
        assert homes == [tmp_path / "homes" / "host-0", tmp_path / "homes" / "host-1"]
        host0 = dict(os.environ)
        exports = [ln.removeprefix("export ").split("=", 1) for ln in lines
                   if ln.startswith("export ")]
        host0.update({k: v.strip("'") for k, v in exports[:3]})  # host 0's three lines
        assert host0["BLE_LOCK_HOME"] == str(homes[0])
        emulator = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ble_lock.cli", "emulate", "--manual-clock", "1767258000",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=host0)
        assert emulator.stdout is not None
        try:
            async with asyncio.timeout(60):
                while not (await emulator.stdout.readline()).startswith(b"ready "):
                    pass
        finally:
            emulator.send_signal(signal.SIGTERM)
            await asyncio.wait_for(emulator.wait(), 20)
        assert (homes[0] / "emulator").is_dir()  # host 0's lock lives in host 0's home
        assert not (homes[1] / "emulator").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    assert all(home.is_dir() for home in homes)  # kept


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


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_shell_completion_as_docs_cli_md_says(shell: str) -> None:
    """Issue 14 item 11: completion through click's _BLE_LOCK_COMPLETE, documented in
    docs/cli.md for bash, zsh and fish; the script and a completion answer both work."""
    docs = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()
    assert f"_BLE_LOCK_COMPLETE={shell}_source ble-lock" in docs
    cli = [sys.executable, "-m", "ble_lock.cli"]
    script = subprocess.run(cli, env={**os.environ, "_BLE_LOCK_COMPLETE": f"{shell}_source"},
                            capture_output=True, text=True, timeout=60, check=True).stdout
    assert "_BLE_LOCK_COMPLETE" in script
    if shell == "bash":
        answer = subprocess.run(
            cli, env={**os.environ, "_BLE_LOCK_COMPLETE": "bash_complete",
                      "COMP_WORDS": "ble-lock se", "COMP_CWORD": "1"},
            capture_output=True, text=True, timeout=60, check=True).stdout
        assert answer.split() == ["plain,settings"]
