"""End-to-end unlock latency: the lock emulator (its own process, simulated host 0) and a
``LockClient`` on bleak (this process, host 1), with a fixed air time per ATT PDU.

    python bench/e2e.py [--json] [--interval-ms 30] [--rounds 15] [--mtu 517]

What is timed (``connect_to_unlocked_ms``, the median over ``--rounds``): a phone that is
paired, connected, subscribed to the response characteristic and holds the GATT services
(bleak's cache: nothing is discovered), but has no session open, calls
``await client.unlock()``; the clock stops when the call returns, i.e. when the phone has
decrypted the lock's HS2 carrying ``Unlocked`` (the bolt is drawn and logged by then).
Between rounds, untimed: ``lock()`` and ``end_session()``.

``floor_ms``: the fewest ATT PDUs any protocol needs for a *confirmed* unlock is two:
one write from the phone (the command) and one notification from the lock (the
confirmation); each PDU costs one interval of air time here (the simulator's
``att_latency_s``, one PDU per direction at a time), so ``floor_ms = 2 x interval_ms``.
A challenge-response protocol (Nuki, TTLock) needs four PDUs, August/Yale six.
``att_pdus`` counts the PDUs of the timed unlocks (from the simulator's trace): the phone
holds the lock's freshness value from the previous HS2 (protocol v2, docs/protocol.md
"Freshness"). ``att_pdus_unlock_reading_fresh``: one more unlock after the phone dropped
that value, so it reads the fresh characteristic first (2 PDUs more, no application round
trip). ``connect_to_unlocked_att_pdus``: every PDU of a new connection (a second phone
session after a disconnect, services from bleak's cache), from connect to the confirmed
unlock: MTU exchange, subscribing, the info read, the fresh read, HS1, HS2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET = "ble_lock.peripheral.process:main"


async def _quiet(link: Any, interval_s: float) -> None:
    """Wait until no PDU is in the air (an untimed step's CLOSE or push may still be
    crossing: bleak returns from a write command before its air time is over)."""
    while True:
        seen = len(link.trace)
        await asyncio.sleep(3 * interval_s + 0.01)
        if len(link.trace) == seen:
            return


async def run(interval_ms: float, rounds: int, mtu: int) -> dict[str, Any]:
    from ble_lock.central.client import LockClient
    from ble_lock.central.keystore import Keystore
    from ble_lock.sim.att import Direction
    from ble_lock.sim.harness import BleHarness

    ble = await BleHarness.simulated(mtu=mtu)
    try:
        assert ble.sim is not None
        ble.sim.config.att_latency_s = interval_ms / 1000
        with tempfile.TemporaryDirectory() as tmp:
            state = Path(tmp) / "lock"
            proc = await ble.start_peripheral(TARGET, "--state-dir", str(state), "--profile",
                                              "dl20vc", host=0, ready="ready")
            qr = next(line.split(" ", 1)[1] for line in proc.lines if line.startswith("qr "))
            lock_id = bytes.fromhex(qr.split(":")[1])
            central = ble.central(host=1)
            start = time.perf_counter()
            client = await LockClient.find(lock_id=lock_id, adapter=central.adapter,
                                           keystore=Keystore(Path(tmp) / "phone"))
            async with client:
                connect_ms = (time.perf_counter() - start) * 1000
                await client.claim_qr(qr)
                (link,) = ble.sim.links()
                times: list[float] = []
                pdus = 0
                for _ in range(rounds):
                    await client.end_session()
                    await _quiet(link, interval_ms / 1000)
                    before = len(link.trace)
                    start = time.perf_counter()
                    await client.unlock()
                    times.append((time.perf_counter() - start) * 1000)
                    timed = link.trace[before:]  # PDUs are traced when their air time ends
                    pdus += len(timed)
                    await client.lock()
                ups = sum(1 for r in timed if r.direction is Direction.C2P)
                await client.end_session()
                await _quiet(link, interval_ms / 1000)
                client.engine.forget_fresh()
                before = len(link.trace)
                await client.unlock()
                with_read = len(link.trace) - before
            # a new connection: everything from connect to the confirmed unlock
            again = await LockClient.find(lock_id=lock_id, adapter=central.adapter,
                                          keystore=Keystore(Path(tmp) / "phone"))
            known = {lk.id for lk in ble.sim.links()}
            async with again:
                await again.unlock()  # the trace now holds everything up to the HS2
                (fresh_link,) = [lk for lk in ble.sim.links() if lk.id not in known]
                upto_hs2 = list(fresh_link.trace)
                connect_pdus = len(upto_hs2)
                connect_ops: dict[str, int] = {}
                for record in upto_hs2:
                    connect_ops[str(record.op)] = connect_ops.get(str(record.op), 0) + 1
    finally:
        await ble.close()
    floor = 2 * interval_ms
    median = statistics.median(times)
    return {
        "interval_ms": interval_ms,
        "connect_to_unlocked_ms": round(median, 2),
        "floor_ms": floor,
        "ratio": round(median / floor, 3) if floor else None,
        "connect_to_unlocked_min_ms": round(min(times), 2),
        "connect_to_unlocked_max_ms": round(max(times), 2),
        "att_pdus_per_unlock": pdus / rounds,
        "att_writes_per_unlock": ups,
        "att_pdus_unlock_reading_fresh": with_read,
        "connect_to_unlocked_att_pdus": connect_pdus,
        "connect_to_unlocked_att_ops": connect_ops,
        "scan_connect_subscribe_ms": round(connect_ms, 1),
        "mtu": mtu,
        "rounds": rounds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--interval-ms", type=float, default=30.0,
                        help="air time per ATT PDU (a connection interval)")
    parser.add_argument("--rounds", type=int, default=15, help="timed unlocks")
    parser.add_argument("--mtu", type=int, default=517, help="ATT MTU the hosts offer")
    args = parser.parse_args()
    result = asyncio.run(run(args.interval_ms, args.rounds, args.mtu))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:28} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
