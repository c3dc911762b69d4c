"""Issue 14, item 2, through the command line over the simulator: a lock that goes away is
noticed within seconds (docs/central.md, "A lock that goes away").

* The emulator SIGKILLed while ``credentials add --palm`` waits for captures: BlueZ keeps
  the link of the emulator's adapter (only its GATT application goes), so nothing tells the
  phone; one probe read (counted on the link's trace) finds the lock dead and the command
  exits with ``DISCONNECTED`` (82) and one line, instead of the 120 s enrolment timeout.
* The lock out of range mid-enrolment (the supervision timeout drops the link): the same
  exit, from bleak's disconnect callback, without a probe.
* ``events --follow`` survives an emulator restart like ``tail -F``: "lock went away,
  reconnecting…" and "reconnected" on stderr, every event printed exactly once.

Interruptions are injected at a point the test has seen (a line printed, a note written),
never by a sleep; exits are awaited, not timed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from ble_lock.core.errors import ErrorCode
from ble_lock.peripheral.panel_client import AsyncPanelClient
from ble_lock.sim.att import AttOp
from ble_lock.sim.harness import BleHarness
from ble_lock.sim.link import Link
from ble_lock.sim.process import HostProcess, start_process
from ble_lock.testing.emulator import RunningLock, start_lock
from ble_lock.testing.waiting import eventually
from tests.cli._procs import ok, start

pytestmark = pytest.mark.timeout(240)


async def _claimed(ble: BleHarness, state: Path, owner: Path) -> tuple[RunningLock,
                                                                      AsyncPanelClient]:
    """A face-palm lock on host 0, claimed by ``owner`` (host 1) as "door"."""
    lock = await start_lock(ble, state)
    assert lock.qr is not None
    panel = await lock.panel()
    await panel.call("set_button")
    await ok(ble, 1, owner, "claim", lock.name, "--qr", "-", "--name", "door",
             input=lock.qr + "\n")
    return lock, panel


def _phone_link(ble: BleHarness) -> Link:
    assert ble.sim is not None
    phone = ble.address(1)
    (link,) = [lk for lk in ble.sim.links() if lk.central.address == phone]
    return link


async def _exit(proc: HostProcess) -> tuple[int, str]:
    """The process's own exit (bounded only so that a hang fails the test) and stderr."""
    await asyncio.wait_for(proc.proc.wait(), 60)
    rc = await proc.stop()
    return rc, proc.stderr


@pytest.mark.ble_sim(hosts=2)
async def test_enrolment_ends_with_link_lost_when_the_lock_is_killed_or_out_of_range(
        ble_sim: BleHarness, tmp_path: Path) -> None:
    assert ble_sim.sim is not None
    owner, state = tmp_path / "owner", tmp_path / "lock"
    lock, panel = await _claimed(ble_sim, state, owner)
    await panel.close()
    carl = json.loads(await ok(ble_sim, 1, owner, "users", "add", "door", "Carl",
                               "--json"))["user_number"]

    # 1. the emulator is killed while the phone waits for captures; its link stays up
    enrol = await start(ble_sim, 1, owner, "credentials", "add", "door", str(carl), "--palm")
    await enrol.expect("enrolling a palm", 30)
    link = _phone_link(ble_sim)
    before = len(link.trace)
    lock.proc.proc.kill()
    assert await lock.proc.proc.wait() == -9
    assert link.up  # nothing on the air tells the phone
    rc, err = await _exit(enrol)
    assert rc == ErrorCode.DISCONNECTED, err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: lost the link to lock {lock.ready['lock_id']} (it stopped "
                           "answering")
    assert "(DISCONNECTED)" in line
    probes = [r for r in link.trace[before:] if r.op is AttOp.READ_REQ]
    assert len(probes) == 1  # one round trip found the lock dead
    assert not link.up  # and the phone let the dead link go

    # 2. the lock restarted, then out of range mid-enrolment: the supervision timeout
    lock = await start_lock(ble_sim, state)
    enrol = await start(ble_sim, 1, owner, "credentials", "add", "door", str(carl), "--palm")
    await enrol.expect("enrolling a palm", 30)
    link = _phone_link(ble_sim)
    ble_sim.sim.set_in_range(ble_sim.host(0), ble_sim.host(1), False)
    assert not link.up
    rc, err = await _exit(enrol)
    assert rc == ErrorCode.DISCONNECTED, err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: lost the link to lock {lock.ready['lock_id']} (the link "
                           "dropped)")


async def _follow(ble: BleHarness, home: Path, errors: Path, *args: str) -> HostProcess:
    """``ble-lock events ... --follow`` on host 1, its stderr appended to ``errors`` (read
    while it runs: HostProcess reads stdout only)."""
    script = 'exec "$0" -m ble_lock.cli "$@" 2>>"$FOLLOW_ERRORS"'
    proc = await start_process(ble.host(1), "sh", "-c", script, sys.executable, "--home",
                               str(home), "--timeout", "5", *args, name="events --follow",
                               env={"BLE_ADAPTER": "hci0", "FOLLOW_ERRORS": str(errors)})
    ble.processes.append(proc)
    return proc


async def _seqs_until(proc: HostProcess, last: int, printed: list[int]) -> None:
    while not printed or printed[-1] < last:
        printed.append(json.loads(await proc.read_line(60))["seq"])


@pytest.mark.ble_sim(hosts=2, adapters=(1, 2))
async def test_events_follow_survives_an_emulator_restart_printing_each_event_once(
        ble_sim: BleHarness, tmp_path: Path) -> None:
    owner, state, errors = tmp_path / "owner", tmp_path / "lock", tmp_path / "follow.err"
    errors.touch()
    lock, panel = await _claimed(ble_sim, state, owner)

    async def logged() -> list[int]:  # the lock's own log, read from the other adapter
        out = await ok(ble_sim, 1, owner, "events", "door", "--json", adapter="hci1")
        return [r["seq"] for r in json.loads(out)]

    await panel.call("door", state="open")
    await panel.call("door", state="closed")
    printed: list[int] = []
    follow = await _follow(ble_sim, owner, errors, "events", "door", "--follow", "--json")
    await _seqs_until(follow, (await logged())[-1], printed)

    # the emulator dies and comes back on the same state
    lock.proc.proc.kill()
    assert await lock.proc.proc.wait() == -9
    await panel.close()
    await eventually(lambda: "lock went away, reconnecting…" in errors.read_text(),
                     timeout=60, what="the went-away note")
    lock = await start_lock(ble_sim, state)
    await eventually(lambda: "reconnected" in errors.read_text(), timeout=60,
                     what="the reconnected note")
    panel = await lock.panel()
    await panel.call("door", state="open")  # new events; the last one (an unlock) is
    await panel.call("inside_button")  # pushed, so the follower reads them at once
    await panel.close()
    await _seqs_until(follow, (await logged())[-1], printed)

    assert printed == sorted(set(printed)), "an event printed twice or out of order"
    assert printed == await logged()  # every event of the log, each once
    assert follow.proc.returncode is None  # still following
    notes = errors.read_text().splitlines()
    assert notes == ["lock went away, reconnecting…", "reconnected"]
