"""Benchmark of the BLE simulator: a bless echo peripheral (own process) and a bleak central.

    python bench/sim.py [--json] [--interval-ms 0] [--pdus-per-event 4] [--rounds 200]
                        [--command]

Prints the write->notify round trip (median, p90, min, max) and the time from starting a
scan to a connected client with services resolved. ``--interval-ms`` sets the connection
interval of the simulator's connection-event model (``ble_lock/sim/airtime.py``); 0 (no air
model) measures the simulator, D-Bus, bless and bleak themselves. With an interval, the
real link's floor for the same PDUs (the last round's, from the trace, through the same
model with no software, mean and worst over the phase) and the ratio are printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

SERVICE = "5e1a0b01-0000-4000-8000-00805f9b34fb"
ECHO = "5e1a0b02-0000-4000-8000-00805f9b34fb"


async def peripheral(args: list[str]) -> None:
    """The echo server, run on simulated host 0 by ``ble_lock.sim.run``."""
    from bless import BlessServer
    from bless.backends.attribute import GATTAttributePermissions as Perm
    from bless.backends.characteristic import (
        GATTCharacteristicProperties as Props,
    )

    server = BlessServer(name="BenchEcho")

    def on_write(char: Any, value: Any, **_: Any) -> None:
        char.value = bytes(value)
        server.update_value(SERVICE, ECHO)

    server.read_request_func = lambda char, **_: bytes(char.value)
    server.write_request_func = on_write
    await server.add_new_service(SERVICE)
    props = Props.read | Props.write | Props.write_without_response | Props.notify
    await server.add_new_characteristic(
        SERVICE, ECHO, props, bytearray(b""), Perm.readable | Perm.writeable
    )
    await server.start()
    print("ready", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(interval_ms: float, rounds: int, command: bool,
              pdus_per_event: int = 4) -> dict[str, Any]:
    from ble_lock.sim.airtime import LinkTiming
    from ble_lock.sim.harness import BleHarness

    ble = await BleHarness.simulated()
    try:
        assert ble.sim is not None
        timing = LinkTiming(interval_s=interval_ms / 1000, pdus_per_event=pdus_per_event)
        ble.sim.config.timing = timing
        await ble.start_peripheral(f"{Path(__file__).resolve()}:peripheral", ready="ready")
        central = ble.central(host=1)
        connects: list[float] = []
        for _ in range(5):
            start = time.perf_counter()
            client = central.client(await central.find(service_uuid=SERVICE))
            await client.connect()
            connects.append((time.perf_counter() - start) * 1000)
            await client.disconnect()
        client = central.client(await central.find(service_uuid=SERVICE))
        await client.connect()
        got: asyncio.Queue[bytes] = asyncio.Queue()
        await client.start_notify(ECHO, lambda _c, d: got.put_nowait(bytes(d)))
        rtts: list[float] = []
        link = ble.sim.links()[-1]
        last: list[Any] = []
        taps = random.Random(7)
        for i in range(rounds):
            payload = i.to_bytes(4, "big") * 4
            # start anywhere between two connection events (back to back, every write
            # would start just after one: a whole interval's wait each time)
            await asyncio.sleep(taps.uniform(0, timing.interval_s))
            before = len(link.trace)
            start = time.perf_counter()
            await client.write_gatt_char(ECHO, payload, response=not command)
            while await asyncio.wait_for(got.get(), 10) != payload:
                pass
            rtts.append((time.perf_counter() - start) * 1000)
            last = link.trace[before:]
        await client.disconnect()
        floor, worst = _floor(timing, last)
        result = {
            "write_notify_rtt_median_ms": round(statistics.median(rtts), 3),
            "write_notify_rtt_p90_ms": round(percentile(rtts, 0.9), 3),
            "write_notify_rtt_min_ms": round(min(rtts), 3),
            "write_notify_rtt_max_ms": round(max(rtts), 3),
            "scan_to_connected_ms": round(statistics.median(connects), 3),
            "interval_ms": interval_ms,
            "pdus_per_event": pdus_per_event,
            "pdus_per_round": len(last),
            "write_type": "command" if command else "request",
            "rounds": rounds,
        }
        if timing.timed:
            result["ble_floor_ms"] = round(floor, 3)
            result["ble_floor_worst_ms"] = round(worst, 3)
            result["ratio_to_ble_floor"] = {
                "mean": round(statistics.mean(rtts) / floor, 3),
                "worst": round(max(rtts) / worst, 3)}
        return result
    finally:
        await ble.close()


def _floor(timing: Any, records: list[Any]) -> tuple[float, float]:
    """The real link's time for the same PDUs (flights as in the trace), mean and worst
    over 400 phases, in ms."""
    from ble_lock.sim.airtime import burst_floor, phases

    if not timing.timed:
        return 0.0, 0.0
    flights: list[tuple[Any, list[int]]] = []
    for r in records:
        if flights and flights[-1][0] is r.direction:
            flights[-1][1].append(r.size)
        else:
            flights.append((r.direction, [r.size]))
    times = [burst_floor(timing, flights, phase=p)[0]
             for p in phases(timing.interval_s, 400, random.Random(15))]
    return statistics.mean(times) * 1000, max(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--interval-ms", type=float, default=0.0,
                        help="connection interval (0: no air model)")
    parser.add_argument("--pdus-per-event", type=int, default=4,
                        help="LL packets per connection event and direction")
    parser.add_argument("--rounds", type=int, default=200, help="write->notify round trips")
    parser.add_argument("--command", action="store_true", help="write without response")
    args = parser.parse_args()
    result = asyncio.run(run(args.interval_ms, args.rounds, args.command, args.pdus_per_event))
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"connection interval:        {result['interval_ms']} ms "
            f"(write {result['write_type']}, {result['rounds']} rounds)"
        )
        print(f"write -> notify RTT median: {result['write_notify_rtt_median_ms']} ms "
              f"[{result['write_notify_rtt_min_ms']}-{result['write_notify_rtt_max_ms']}]")
        print(f"write -> notify RTT p90:    {result['write_notify_rtt_p90_ms']} ms")
        if "ble_floor_ms" in result:
            ratio = result["ratio_to_ble_floor"]
            print(f"real-link floor:            {result['ble_floor_ms']} ms mean, "
                  f"{result['ble_floor_worst_ms']} ms worst "
                  f"(ratio {ratio['mean']} / {ratio['worst']})")
        print(f"scan -> connected (median): {result['scan_to_connected_ms']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
