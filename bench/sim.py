"""Benchmark of the BLE simulator: a bless echo peripheral (own process) and a bleak central.

    python bench/sim.py [--json] [--latency-ms 0] [--rounds 200] [--command]

Prints the write->notify round trip (median, p90) and the time from starting a scan to a
connected client with services resolved. ``--latency-ms`` sets the air time of each ATT PDU
(a connection interval); 0 measures the simulator, D-Bus, bless and bleak themselves.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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


async def run(latency_ms: float, rounds: int, command: bool) -> dict[str, Any]:
    from ble_lock.sim.harness import BleHarness

    ble = await BleHarness.simulated()
    try:
        assert ble.sim is not None
        ble.sim.config.att_latency_s = latency_ms / 1000
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
        for i in range(rounds):
            payload = i.to_bytes(4, "big") * 4
            start = time.perf_counter()
            await client.write_gatt_char(ECHO, payload, response=not command)
            while await asyncio.wait_for(got.get(), 10) != payload:
                pass
            rtts.append((time.perf_counter() - start) * 1000)
        await client.disconnect()
        return {
            "write_notify_rtt_median_ms": round(statistics.median(rtts), 3),
            "write_notify_rtt_p90_ms": round(percentile(rtts, 0.9), 3),
            "scan_to_connected_ms": round(statistics.median(connects), 3),
            "att_latency_ms": latency_ms,
            "write_type": "command" if command else "request",
            "rounds": rounds,
        }
    finally:
        await ble.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="air time per ATT PDU")
    parser.add_argument("--rounds", type=int, default=200, help="write->notify round trips")
    parser.add_argument("--command", action="store_true", help="write without response")
    args = parser.parse_args()
    result = asyncio.run(run(args.latency_ms, args.rounds, args.command))
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"ATT latency per PDU:        {result['att_latency_ms']} ms "
            f"(write {result['write_type']}, {result['rounds']} rounds)"
        )
        print(f"write -> notify RTT median: {result['write_notify_rtt_median_ms']} ms")
        print(f"write -> notify RTT p90:    {result['write_notify_rtt_p90_ms']} ms")
        print(f"scan -> connected (median): {result['scan_to_connected_ms']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
