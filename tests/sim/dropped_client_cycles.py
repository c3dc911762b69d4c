"""Harness cycles that leave a bleak client's own D-Bus connection open (run as a script).

Each cycle connects a ``BleakClient`` to the echo peripheral, drops the link (bleak then
keeps the client's per-connection bus open until ``disconnect()``, which this script never
calls) and closes the harness. Before the fix, the simulator stopped the dbus-daemon under
that bus: its reader saw EOF and the bus kept an ``EOFError`` nobody retrieved, printed as
"Future exception was never retrieved" once collected. Prints "cycles done" at the end.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from pathlib import Path

from ble_lock.sim.harness import BleHarness
from ble_lock.testing.waiting import yield_to_loop

PERIPHERAL = f"{Path(__file__).parent / 'echo_peripheral.py'}:main"


async def cycle() -> None:
    harness = await BleHarness.simulated()
    try:
        await harness.start_peripheral(PERIPHERAL, "SimEcho", host=0, ready="ready")
        central = harness.central(host=1)
        dropped = asyncio.Event()
        client = central.client(
            await central.find(name="SimEcho"), disconnected_callback=lambda _c: dropped.set()
        )
        await client.connect()
        assert harness.sim is not None
        harness.sim.drop_links(harness.host(0), harness.host(1))
        await asyncio.wait_for(dropped.wait(), 5)
    finally:
        await harness.close()
    # Let the bus's reader run (it would see EOF now), then collect the client and its bus.
    await yield_to_loop(5)
    del client
    gc.collect()


def main(cycles: int) -> None:
    for _ in range(cycles):
        asyncio.run(cycle())
    gc.collect()
    print("cycles done", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
