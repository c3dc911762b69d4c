"""No D-Bus connection of the test process sees its simulated daemon vanish.

Stopping a host first disconnects the connections it handed out (``Host.connect``), and
closing the harness first disconnects the bleak clients it made (a client whose link dropped
keeps its own connection), so none keeps an ``EOFError`` that nobody retrieves ("Future
exception was never retrieved" at exit). Nothing scans the heap for them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ble_lock.sim.simulator import Simulator

CYCLES = Path(__file__).parent / "dropped_client_cycles.py"


async def test_stop_closes_this_process_buses_before_the_daemon() -> None:
    sim = await Simulator(hosts=1).start()
    try:
        left = await sim.hosts[0].connect()
        closed = await sim.hosts[0].connect()
        closed.disconnect()
    finally:
        await sim.stop()
    assert not left.connected
    # A user disconnect: the future holds no EOFError (it would raise here otherwise).
    assert await left.wait_for_disconnect() is None  # type: ignore[no-untyped-call]  # untyped upstream
    assert await closed.wait_for_disconnect() is None  # type: ignore[no-untyped-call]  # untyped upstream


def test_dropped_bleak_client_leaves_no_unretrieved_future() -> None:
    run = subprocess.run(
        [sys.executable, str(CYCLES), "2"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "cycles done" in run.stdout
    assert "never retrieved" not in run.stderr, run.stderr
    assert "EOFError" not in run.stderr, run.stderr
