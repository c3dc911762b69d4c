"""End-to-end unlock beside the real BLE link's floor: the lock emulator (its own process,
simulated host 0) and a ``LockClient`` on bleak (this process, host 1).

    python bench/e2e.py [--json] [--interval-ms 30] [--rounds 15] [--mtus 23,247]
                        [--pdus-per-event 4] [--phy 1M]

For each ATT MTU (23 with 27-byte LL PDUs; 247 with Data Length Extension, 251), in one run:

* ``software_ms``: the unlock at a 0 ms connection interval (no air model): what the two
  programs, the two D-Bus hops each way, bless, bleak and SQLite cost. Median [min-max].
* ``e2e_ms``: the same unlock over the simulator's connection-event model
  (``ble_lock/sim/airtime.py``: interval, a random phase per link, ``--pdus-per-event``
  per direction, LL air time from ``--phy`` and the data length). Median [min-max], and the
  mean.
* ``ble_floor_ms``: what a real link takes for the same bytes with no software at all: the
  ATT PDUs of the timed unlock (from the simulator's trace) grouped in flights (a flight is
  queued the instant the previous one has arrived), run through the same model at 400
  phases spread over one interval: the mean, and the worst case (``ble_floor_worst_ms``).
* ``ratio_to_ble_floor``: ``mean`` = mean e2e / mean floor, ``worst`` = max e2e / worst
  floor.

What is timed: a phone that is paired, connected, subscribed and holds the GATT services,
with no session open, calls ``await client.unlock()``; the clock stops when the call
returns (the phone has decrypted the lock's HS2 carrying ``Unlocked``; the lock committed
the counter, the grant and the event in one transaction before it answered). Untimed
between rounds: ``lock()``, ``end_session()``, a wait until no PDU is in the air, and a
random (seeded) wait of up to one interval, so that the unlock starts anywhere between two
connection events, as a user's tap does (the floor's mean is over that phase).
PDU and connection-event counts come from the trace: exact whatever the machine.
``att_pdus_unlock_reading_fresh``: one more unlock after the phone dropped the lock's
freshness value, so it reads the fresh characteristic first (2 PDUs more, no application
round trip); ``connect_to_unlocked_att_pdus``: every PDU of a new connection (services from
bleak's cache), from connect to the confirmed unlock.

``critical_path`` (in process, ``--unlocks``): the lock's side of a 0-RTT unlock
(``LockServer``: every HS1 fragment in, every HS2 fragment out) on the SQLite store, with
its fsyncs counted (``SqliteStore.syncs``: commits that wrote, one WAL fsync each), beside
its floor measured the same way: the same unlock on the in-memory store plus one durable
commit of one row on the same disk; and the phone's ``Keystore.next_counter`` with its
``os.fsync`` calls counted (floor 0: counters are reserved in blocks).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET = "ble_lock.peripheral.process:main"
#: ATT MTU -> LL data length: MTU 23 on a 4.0/4.1 link, MTU 247 with DLE (one LL PDU).
DATA_LENGTH = {23: 27, 247: 251}
FLOOR_PHASES = 400


async def _quiet(link: Any, interval_s: float) -> None:
    """Wait until no PDU is in the air (an untimed step's CLOSE or push may still be
    crossing: bleak returns from a write command before its air time is over)."""
    while True:
        seen = len(link.trace)
        await asyncio.sleep(3 * interval_s + 0.01)
        if len(link.trace) == seen:
            return


def _flights(records: list[Any]) -> list[tuple[Any, list[int]]]:
    """Consecutive PDUs of one direction: a flight (queued together, answered together)."""
    out: list[tuple[Any, list[int]]] = []
    for r in records:
        if out and out[-1][0] is r.direction:
            out[-1][1].append(r.size)
        else:
            out.append((r.direction, [r.size]))
    return out


async def unlocks(timing: Any, rounds: int, mtu: int, *, counts: bool = False
                  ) -> dict[str, Any]:
    """Time ``rounds`` unlocks over a link with ``timing``; the trace of each. ``counts``:
    also the PDUs of an unlock that reads the fresh characteristic first, and of a new
    connection from connect to the confirmed unlock."""
    from ble_lock.central.client import LockClient
    from ble_lock.central.keystore import Keystore
    from ble_lock.sim.harness import BleHarness

    ble = await BleHarness.simulated(mtu=mtu)
    try:
        assert ble.sim is not None
        ble.sim.config.timing = timing
        wait = max(timing.interval_s, 0.005)
        with tempfile.TemporaryDirectory() as tmp:
            state = Path(tmp) / "lock"
            proc = await ble.start_peripheral(TARGET, "--state-dir", str(state), "--profile",
                                              "dl20vc", host=0, ready="ready")
            qr = next(line.split(" ", 1)[1] for line in proc.lines if line.startswith("qr "))
            lock_id = bytes.fromhex(qr.split(":")[1])
            central = ble.central(host=1)
            client = await LockClient.find(lock_id=lock_id, adapter=central.adapter,
                                           keystore=Keystore(Path(tmp) / "phone"))
            async with client:
                await client.claim_qr(qr)
                (link,) = ble.sim.links()
                times: list[float] = []
                traces: list[list[Any]] = []
                taps = random.Random(7)
                for _ in range(rounds):
                    await client.end_session()
                    await _quiet(link, wait)
                    # a user's tap falls anywhere between two connection events
                    await asyncio.sleep(taps.uniform(0, timing.interval_s))
                    before = len(link.trace)
                    start = time.perf_counter()
                    await client.unlock()
                    times.append((time.perf_counter() - start) * 1000)
                    traces.append(link.trace[before:])  # traced when their air time ends
                    await client.lock()
                out: dict[str, Any] = {"times": times, "traces": traces}
                if counts:
                    await client.end_session()
                    await _quiet(link, wait)
                    client.engine.forget_fresh()
                    before = len(link.trace)
                    await client.unlock()
                    out["att_pdus_unlock_reading_fresh"] = len(link.trace) - before
            if counts:  # a new connection: everything from connect to the confirmed unlock
                again = await LockClient.find(lock_id=lock_id, adapter=central.adapter,
                                              keystore=Keystore(Path(tmp) / "phone"))
                known = {lk.id for lk in ble.sim.links()}
                async with again:
                    await again.unlock()  # the trace now holds everything up to the HS2
                    (fresh_link,) = [lk for lk in ble.sim.links() if lk.id not in known]
                    out["connect_to_unlocked_att_pdus"] = len(fresh_link.trace)
                    # what the phone sent: exact; the lock cuts HS2 at the MTU it infers
                    # from HS1's size (docs/peripheral.md, MTU): one or two notifications
                    out["connect_to_unlocked_c2p_pdus"] = sum(
                        1 for r in fresh_link.trace if r.direction.name == "C2P")
            return out
    finally:
        await ble.close()


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2),
            "max": round(max(values), 2), "mean": round(statistics.mean(values), 2)}


async def run_mtu(mtu: int, interval_ms: float, rounds: int, pdus_per_event: int,
                  phy: str) -> dict[str, Any]:
    from ble_lock.sim.airtime import LinkTiming, Phy, burst_floor, phases
    from ble_lock.sim.att import Direction

    kind = Phy.LE_2M if phy == "2M" else Phy.LE_1M
    data_length = DATA_LENGTH.get(mtu, 251 if mtu > 23 else 27)
    timing = LinkTiming(interval_s=interval_ms / 1000, pdus_per_event=pdus_per_event,
                        phy=kind, data_length=data_length)
    software = await unlocks(LinkTiming(), rounds, mtu)
    timed = await unlocks(timing, rounds, mtu, counts=True)
    flights = _flights(timed["traces"][-1])
    floors = [burst_floor(timing, flights, phase=p)
              for p in phases(timing.interval_s, FLOOR_PHASES, random.Random(15))]
    floor_mean = statistics.mean(f[0] for f in floors) * 1000
    floor_worst = max(f[0] for f in floors) * 1000
    e2e = _spread(timed["times"])
    last = timed["traces"][-1]
    events = {e for r in last for e in range(r.first_event, r.event + 1)}
    return {
        "mtu": mtu,
        "data_length": data_length,
        "software_ms": _spread(software["times"]),
        "e2e_ms": e2e,
        "ble_floor_ms": round(floor_mean, 2),
        "ble_floor_worst_ms": round(floor_worst, 2),
        "ratio_to_ble_floor": {"mean": round(e2e["mean"] / floor_mean, 3),
                               "worst": round(e2e["max"] / floor_worst, 3)},
        "att_pdus_per_unlock": len(last),
        "att_writes_per_unlock": sum(1 for r in last if r.direction is Direction.C2P),
        "flights": [[str(d.name), len(sizes)] for d, sizes in flights],
        "connection_events_per_unlock": len(events),
        "floor_connection_events": max(f[1] for f in floors),
        "att_pdus_unlock_reading_fresh": timed["att_pdus_unlock_reading_fresh"],
        "connect_to_unlocked_att_pdus": timed["connect_to_unlocked_att_pdus"],
        "connect_to_unlocked_c2p_pdus": timed["connect_to_unlocked_c2p_pdus"],
    }


def _lock_path_us(store: Any, unlocks: int) -> tuple[list[float], int]:
    """Lock-side wall time (µs) of each 0-RTT unlock (every HS1 fragment in, every HS2
    fragment out: endpoint, service, core, store) and the store's fsyncs over them."""
    from ble_lock.testing.memory_lock import MemoryLock
    from ble_lock.testing.phone import LOCK_ID, SERIAL, new_phone
    from ble_lock.wire import messages as m

    world = MemoryLock(store=store, seed=7, lock_id=LOCK_ID, serial=SERIAL, mtu=247,
                       pairing_mode=False, key_seed=b"bench critical path")
    owner = new_phone(world, b"owner")
    world.lock.enter_pairing_mode()
    owner.claim()
    times: list[float] = []
    syncs = 0
    for _ in range(unlocks):
        world.lock.inside_button()  # relock (its own commit: not the unlock's)
        link = owner.link()
        request_id = link.start(m.Unlock(), world.now)
        up = link.data_to_send()
        before = getattr(store, "syncs", 0)
        start = time.perf_counter_ns()
        for frame in up:
            world.server.receive_data(frame, world.now)
        down = world.server.data_to_send()
        times.append((time.perf_counter_ns() - start) / 1000)
        syncs += getattr(store, "syncs", 0) - before
        for frame in down:
            link.receive_data(frame, world.now)
        assert request_id is not None
        assert owner.app.result(request_id, m.Unlocked)
        owner.counter = link.next_counter
        link.close()
        world.run([link])
    return times, syncs


def _commit_us(path: Path, rounds: int) -> list[float]:
    """One durable commit of one small row, as the lock's store makes it (WAL,
    synchronous=FULL): the fsync floor, measured the same way on the same disk."""
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE c (k TEXT PRIMARY KEY, v INTEGER)")
    out = []
    for i in range(rounds):
        start = time.perf_counter_ns()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO c VALUES ('n', ?) ON CONFLICT (k) DO UPDATE SET v = "
                     "excluded.v", (i,))
        conn.execute("COMMIT")
        out.append((time.perf_counter_ns() - start) / 1000)
    conn.close()
    return out


def critical_path(unlocks: int) -> dict[str, Any]:
    """The unlock's durable writes (issue 15 item 2): fsyncs and time on the lock (in
    process: ``LockServer`` on the SQLite store, beside the same on the in-memory store
    plus one measured commit), and on the phone (``Keystore.next_counter``)."""
    import os

    from ble_lock.central.keystore import Keystore, LockRecord
    from ble_lock.core.store import MemoryStore
    from ble_lock.core.store.sqlite import SqliteStore

    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "lock.db")
        durable, syncs = _lock_path_us(store, unlocks)
        store.close()
        memory, _ = _lock_path_us(MemoryStore(), unlocks)
        commit = _commit_us(Path(tmp) / "commit.db", unlocks)
        keystore = Keystore(Path(tmp) / "phone")
        keystore.put(LockRecord(lock_id="L", name="bench", lock_public_key=bytes(32)))
        calls = 0
        real_fsync = os.fsync

        def counting(fd: int) -> None:
            nonlocal calls
            calls += 1
            real_fsync(fd)

        os.fsync = counting
        try:
            phone = []
            for _ in range(unlocks):
                start = time.perf_counter_ns()
                keystore.next_counter("L")
                phone.append((time.perf_counter_ns() - start) / 1000)
        finally:
            os.fsync = real_fsync
    floor = statistics.median(memory) + statistics.median(commit)
    return {
        "unlocks": unlocks,
        "lock_fsyncs_per_unlock": syncs / unlocks,
        "lock_unlock_sqlite_us": _spread(durable),
        "lock_unlock_memory_us": _spread(memory),
        "commit_us": _spread(commit),
        "lock_unlock_floor_us": round(floor, 1),
        "lock_unlock_ratio": round(statistics.median(durable) / floor, 3),
        "phone_fsyncs_per_unlock": round(calls / unlocks, 3),
        "phone_counter_us": _spread(phone),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--interval-ms", type=float, default=30.0,
                        help="connection interval of the modelled link")
    parser.add_argument("--rounds", type=int, default=15, help="timed unlocks per run")
    parser.add_argument("--mtus", default="23,247", help="ATT MTUs the hosts offer")
    parser.add_argument("--pdus-per-event", type=int, default=4,
                        help="LL packets per connection event and direction")
    parser.add_argument("--phy", choices=("1M", "2M"), default="1M")
    parser.add_argument("--unlocks", type=int, default=200,
                        help="in-process unlocks for the critical path's fsync figures")
    args = parser.parse_args()
    results = [asyncio.run(run_mtu(int(m), args.interval_ms, args.rounds,
                                   args.pdus_per_event, args.phy))
               for m in args.mtus.split(",")]
    path = critical_path(args.unlocks)
    out = {"interval_ms": args.interval_ms, "pdus_per_event": args.pdus_per_event,
           "phy": args.phy, "rounds": args.rounds, "results": results,
           "critical_path": path}
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"interval {args.interval_ms} ms, {args.pdus_per_event} PDUs/event, LE {args.phy}, "
          f"{args.rounds} rounds; median [min-max]")
    print(f"{'MTU':>4} {'figure':28} {'floor (mean / worst)':24} {'ratio (mean / worst)'}")
    for r in results:
        s, e = r["software_ms"], r["e2e_ms"]
        ratio = r["ratio_to_ble_floor"]
        print(f"{r['mtu']:>4} {'software ' + _fmt(s):28} {'-':24} -")
        print(f"{'':>4} {'e2e ' + _fmt(e):28} "
              f"{r['ble_floor_ms']:.1f} / {r['ble_floor_worst_ms']:.1f} ms{'':10} "
              f"{ratio['mean']:.2f} / {ratio['worst']:.2f}")
        print(f"{'':>4} PDUs {r['att_pdus_per_unlock']} ({r['att_writes_per_unlock']} writes), "
              f"flights {r['flights']}, events {r['connection_events_per_unlock']} "
              f"(floor {r['floor_connection_events']})")
    p = path
    print(f"lock, one unlock on SQLite:  {_fmt(p['lock_unlock_sqlite_us'])} µs, "
          f"{p['lock_fsyncs_per_unlock']} fsync(s); floor {p['lock_unlock_floor_us']} µs "
          f"(in memory {_fmt(p['lock_unlock_memory_us'])} + one commit "
          f"{_fmt(p['commit_us'])}); ratio {p['lock_unlock_ratio']}")
    print(f"phone, counter per unlock:   {_fmt(p['phone_counter_us'])} µs, "
          f"{p['phone_fsyncs_per_unlock']} fsyncs per unlock (floor 0)")
    return 0


def _fmt(s: dict[str, float]) -> str:
    return f"{s['median']:.1f} [{s['min']:.1f}-{s['max']:.1f}]"


if __name__ == "__main__":
    sys.exit(main())
