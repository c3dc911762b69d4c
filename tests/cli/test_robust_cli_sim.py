"""Issue 14 items 4, 5 and 7 as ``ble-lock`` processes over the simulator: no BlueZ on the
bus, the simulator gone, ``events --follow`` into a pipe whose reader leaves and under
Ctrl-C, an unknown lock name answered without a scan.

Every interruption lands at a known step: SIGINT after a line was read, the reader closed
after two lines and a new event made by the test, never after a sleep.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from ble_lock.core.errors import ErrorCode
from ble_lock.sim.daemon import BusDaemon
from ble_lock.sim.harness import BleHarness
from tests.cli._procs import emulate, run

pytestmark = pytest.mark.timeout(240)


async def _cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ble_lock.cli", "--timeout", "5", *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def _claimed(ble: BleHarness, tmp_path: Path) -> tuple[Path, Path]:
    """An emulated lock 'front' on host 0, claimed from host 1 as 'door'."""
    lock_home, owner = tmp_path / "lock", tmp_path / "owner"
    _, lock = await emulate(ble, 0, lock_home, "front")
    assert (await run(ble, 1, lock_home, "panel", "set")).rc == 0
    claimed = await run(ble, 1, owner, "claim", "front", "--qr", "-", "--name", "door",
                        input=lock["qr"] + "\n")
    assert claimed.rc == 0, claimed.err
    return lock_home, owner


async def _follow(ble: BleHarness, owner: Path, stdout: Any) -> asyncio.subprocess.Process:
    env = {**ble.host(1).env(), "BLE_ADAPTER": "hci0"}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ble_lock.cli", "--home", str(owner), "events", "door",
        "--follow", stdin=asyncio.subprocess.DEVNULL, stdout=stdout,
        stderr=asyncio.subprocess.PIPE, env=env)


async def test_a_bus_without_bluez_names_the_cause_and_both_fixes(tmp_path: Path) -> None:
    """Item 4: a system bus where nobody owns org.bluez (bluetoothd not running), for
    the phone side (`scan`) and the lock side (`emulate`, bless)."""
    bus = BusDaemon("no-bluez")
    address = await bus.start()
    try:
        env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": address}
        scanned = await _cli(env, "--home", str(tmp_path), "scan", "--for", "1")
        emulated = await _cli(env, "--home", str(tmp_path), "emulate")
    finally:
        await bus.stop()
    for rc, _, err in (scanned, emulated):
        assert rc == int(ErrorCode.BLUETOOTH_UNAVAILABLE), err
        line = err.splitlines()[-1]
        assert line.startswith("error: BlueZ (org.bluez) is not running on the system "
                               f"D-Bus {address} (BLUETOOTH_UNAVAILABLE)")
        assert "systemctl start bluetooth" in line
        assert "ble-lock sim" in line
    assert scanned[2].count("\n") == 1


@pytest.mark.ble_sim(hosts=2)
async def test_the_simulator_gone(ble_sim: BleHarness, tmp_path: Path) -> None:
    """Item 4: the shell still exports a simulated host's bus, but the simulator stopped
    (its socket is gone): one line with BLUETOOTH_UNAVAILABLE, not "move closer"."""
    _, owner = await _claimed(ble_sim, tmp_path)
    env = {**ble_sim.host(1).env(), "BLE_ADAPTER": "hci0"}
    address = env["DBUS_SYSTEM_BUS_ADDRESS"]
    assert ble_sim.sim is not None
    for proc in ble_sim.processes:
        await proc.stop()
    ble_sim.processes.clear()
    await ble_sim.sim.stop()
    rc, _, err = await _cli(env, "--home", str(owner), "unlock", "door")
    assert rc == int(ErrorCode.BLUETOOTH_UNAVAILABLE), err
    assert err.count("\n") == 1
    assert f"no system D-Bus at {address}" in err
    assert "move closer" not in err


@pytest.mark.ble_sim(hosts=2)
async def test_events_follow_into_a_pipe_whose_reader_leaves(ble_sim: BleHarness,
                                                            tmp_path: Path) -> None:
    """Item 5: `ble-lock events door --follow | head -2`: once the reader is gone, the
    next event ends the command quietly with 141 (was a Bluetooth error, exit 81)."""
    lock_home, owner = await _claimed(ble_sim, tmp_path)
    read_fd, write_fd = os.pipe()
    proc = await _follow(ble_sim, owner, write_fd)
    os.close(write_fd)
    reader = os.fdopen(read_fd, "rb")
    lines = [await asyncio.to_thread(reader.readline) for _ in range(2)]  # `head -2`
    assert all(line.endswith(b"\n") for line in lines), lines
    reader.close()
    # a new event: the lock pushes it, the command writes it into the closed pipe
    assert (await run(ble_sim, 1, lock_home, "panel", "key")).rc == 0
    assert proc.stderr is not None
    err = await asyncio.wait_for(proc.stderr.read(), 60)
    assert await asyncio.wait_for(proc.wait(), 30) == 141
    assert err == b""


@pytest.mark.ble_sim(hosts=2)
async def test_ctrl_c_in_events_follow_exits_130_without_traceback(ble_sim: BleHarness,
                                                                   tmp_path: Path) -> None:
    """Item 5: SIGINT once `events --follow` printed its first line."""
    _, owner = await _claimed(ble_sim, tmp_path)
    proc = await _follow(ble_sim, owner, asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stderr is not None
    first = await asyncio.wait_for(proc.stdout.readline(), 60)
    assert first.endswith(b"\n")
    proc.send_signal(signal.SIGINT)
    err = await asyncio.wait_for(proc.stderr.read(), 60)
    assert await asyncio.wait_for(proc.wait(), 30) == 130
    assert err == b""


@pytest.mark.ble_sim(hosts=2)
async def test_unknown_lock_name_fails_fast_without_a_scan(
        ble_sim: BleHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 7: a typo costs no 10 s scan: the radio sees no scan start, the line lists
    what the keystore knows."""
    _, owner = await _claimed(ble_sim, tmp_path)
    assert ble_sim.sim is not None
    radio = ble_sim.sim.radio
    scans: list[str] = []
    start_scan = radio.start_scan

    def counting(address: str) -> None:
        scans.append(address)
        start_scan(address)

    monkeypatch.setattr(radio, "start_scan", counting)
    done = await run(ble_sim, 1, owner, "unlock", "dor")
    assert done.rc == int(ErrorCode.NOT_PAIRED), done.err
    assert "no lock 'dor' in the keystore" in done.err
    assert "did you mean 'door'?" in done.err
    assert scans == []
    done = await run(ble_sim, 1, owner, "unlock", "door")  # the right name does scan
    assert done.rc == 0, done.err
    assert scans
