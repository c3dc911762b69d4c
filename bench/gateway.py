"""The gateway following many locks: CPU per event beside its floor, throughput, memory.

    python bench/gateway.py [--json] [--locks 10,50] [--events 100] [--sim-min 1]
                            [--repeat 3] [--interval-ms 0] [--mqtt-commands 0]

For each lock count N, every lock first logs ``--events`` events at its front panel
(door opened / closed pairs) besides its claim; then the gateway starts and the clock
runs until every event of every lock is in its stream (the output file). Each N runs
in two modes:

* ``memory``: N in-memory locks (``ble_lock.testing.memory_lock.MemoryLock``: the real
  core, protocol and crypto, no radio) and the gateway, all in this process; the
  streaming is run ``--repeat`` times (empty stream, no cursors: every event again).
  ``cpu_ms_per_event`` = this process's CPU time (``time.process_time``: gateway *and*
  locks) / events, median with ``_min``/``_max``; ``events_per_s`` likewise.
* ``sim`` (N >= ``--sim-min``): N real emulator processes, each on its own simulated
  host: lock 0 a standalone ``python -m ble_lock.peripheral``, the others forked by
  ``ble_lock.peripheral.forkserver`` (imports shared, ``gc.freeze``); the gateway **as
  its own process** (``gateway.process``, bleak on one adapter of host N). From the
  gateway's ``ready`` (its imports done) to the last event in the stream: scan, N
  connections and handshakes, the paging of every log. ``cpu_ms_per_event`` = CPU of the
  gateway process plus all emulator processes (``/proc/PID/stat``) / events, split in
  ``gateway_cpu_ms_per_event`` and ``emulator_cpu_ms_per_event``. ``emulator_uss_mb`` is
  the mean unique set size (``/proc/PID/smaps_rollup``: Private_Clean + Private_Dirty) of
  a forked emulator after the run, ``emulator_standalone_uss_mb`` lock 0's,
  ``emulator_floor_uss_mb`` a process that only imports asyncio, sqlite3, bless and
  ``cryptography`` (:func:`emulator_floor_uss_mb`, at the same moment); ``rss_mb``
  the gateway's peak resident set (VmHWM). ``--interval-ms`` adds air time per ATT PDU.

The floor (``cpu_floor_ms_per_event``, measured in the same process right after the
run, :func:`cpu_floor`): per event, the codec (a page of 8 events built by the lock and
parsed by the gateway, the request both ways; the generated codec the product runs, with
``floor_codec_construct_ms`` the construct layouts alone beside it), the AEAD (both
frames sealed and opened) and one fsync's CPU per batch (one lock's catch-up: events /
N); ``ratio_to_floor`` = ``cpu_ms_per_event`` / floor.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ble_lock.testing import START

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET = "ble_lock.peripheral.process:main"
GATEWAY = "ble_lock.gateway.process:main"


def _count(path: Path) -> int:
    if not path.exists():
        return 0
    return sum(1 for line in path.read_text().splitlines() if '"type":"event"' in line)


def _proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (``/proc/PID/stat`` fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _uss_mb(pid: int) -> float:
    """Unique set size: the pages only this process maps (Private_Clean + Private_Dirty)."""
    kb = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            kb += int(line.split()[1])
    return kb / 1024


_IMPORT_FLOOR = """
import asyncio, sqlite3
import bless
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers import aead
x25519.X25519PrivateKey.generate()  # a lock makes keys: this loads the OpenSSL backend
kb = 0
for line in open("/proc/self/smaps_rollup"):
    if line.startswith(("Private_Clean:", "Private_Dirty:")):
        kb += int(line.split()[1])
print(kb / 1024)
"""


def emulator_floor_uss_mb() -> float:
    """USS of a process that only imports what an emulator cannot do without: asyncio,
    sqlite3, bless (with its BlueZ backend) and ``cryptography``'s X25519 and AEAD, with
    one X25519 key generated (that loads ``cryptography``'s OpenSSL backend module, as
    every lock does at its first handshake)."""
    out = subprocess.run([sys.executable, "-c", _IMPORT_FLOOR], capture_output=True,
                         text=True, check=True, timeout=60)
    return float(out.stdout)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _wait_for(path: Path, total: int, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while _count(path) < total:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{_count(path)} of {total} events streamed")
        await asyncio.sleep(0.05)


async def run_sim(n: int, events: int, interval_ms: float) -> dict[str, Any]:
    """Lock 0 a standalone emulator process (``python -m ble_lock.peripheral``), locks
    1..n-1 children of the fork server; the gateway its own process on host n."""
    from ble_lock.central.client import LockClient
    from ble_lock.central.keystore import Keystore
    from ble_lock.peripheral.panel_client import AsyncPanelClient
    from ble_lock.sim.harness import ADAPTER_ENV, BleHarness
    from ble_lock.sim.process import start_process
    from ble_lock.testing.forkserver import ForkServer

    ble = await BleHarness.simulated(hosts=n + 1)
    stack = contextlib.AsyncExitStack()
    try:
        assert ble.sim is not None
        ble.sim.config.att_latency_s = interval_ms / 1000
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp)
            server = await stack.enter_async_context(ForkServer(base / "logs"))
            pids: list[int] = []
            lines: list[list[str]] = []
            for i in range(n):
                argv = ["--state-dir", str(base / f"lock{i}"), "--profile", "face-palm",
                        "--manual-clock", str(START)]
                env = {**ble.host(i).env(), ADAPTER_ENV: "hci0"}
                if i == 0:
                    proc = await start_process(ble.host(i), sys.executable, "-m",
                                               "ble_lock.peripheral", *argv, name="lock0",
                                               env={ADAPTER_ENV: "hci0"})
                    ble.processes.append(proc)
                    await proc.expect("ready", 60)
                    pids.append(proc.pid)
                    lines.append(proc.lines)
                else:
                    child = await server.start(argv, env=env, name=f"lock{i}")
                    await child.expect("ready", 60)
                    pids.append(child.pid)
                    lines.append(child.lines)
                await ble.host(i).adapter("hci0").wait_advertising(30)
            keystore = Keystore(base / "admin")
            central = ble.central(host=n)
            total = 0
            ids = []
            for i in range(n):
                qr = next(ln.split(" ", 1)[1] for ln in lines[i] if ln.startswith("qr "))
                lock_id = bytes.fromhex(qr.split(":")[1])
                ids.append(lock_id.hex())
                panel = await AsyncPanelClient.connect(base / f"lock{i}")
                await panel.call("set_button")
                async with await LockClient.find(lock_id=lock_id, adapter=central.adapter,
                                                 keystore=keystore) as client:
                    await client.claim_qr(qr)
                    for k in range(events):
                        await panel.call("door", state="open" if k % 2 == 0 else "closed")
                    total += len(await client.events())
                await panel.close()
            config = base / "gateway.json"
            out = base / "events.jsonl"
            config.write_text(json.dumps({
                "state": str(base / "cursors.json"), "output": str(out),
                "keystore": str(base / "admin"), "adapter": "hci0", "poll_interval_s": 5,
                "backoff_min_s": 0.1, "backoff_max_s": 2,
                "lock": [{"id": lock_id} for lock_id in ids]}))
            gw = await ble.spawn(GATEWAY, "--config", str(config), host=n)
            await gw.expect("ready", 60)  # imports done: the clock starts here
            cpu0 = _proc_cpu_s(gw.pid), sum(_proc_cpu_s(p) for p in pids)
            start = time.perf_counter()
            try:
                await _wait_for(out, total, 120 + total / 10)
            except TimeoutError as exc:
                await gw.stop()
                raise TimeoutError(f"{exc}; gateway stderr: {gw.stderr[-3000:]}") from None
            elapsed = time.perf_counter() - start
            cpu1 = _proc_cpu_s(gw.pid), sum(_proc_cpu_s(p) for p in pids)
            rss = _proc_rss_mb(gw.pid)
            lock_rss = sum(_proc_rss_mb(p) for p in pids) / n
            uss = [_uss_mb(p) for p in pids]
            uss_floor = emulator_floor_uss_mb()
            await gw.stop()
            floor = cpu_floor(base, total / n)
            await stack.aclose()  # before the state directories go
    finally:
        await stack.aclose()  # the fork server stops the forked emulators
        await ble.close()
    gw_cpu = (cpu1[0] - cpu0[0]) * 1000 / total
    lock_cpu = (cpu1[1] - cpu0[1]) * 1000 / total
    cpu = gw_cpu + lock_cpu
    return {"locks": n, "mode": "sim", "events": total, "seconds": round(elapsed, 3),
            "events_per_s": round(total / elapsed, 1), "rss_mb": round(rss, 1),
            "interval_ms": interval_ms, "cpu_ms_per_event": round(cpu, 4),
            "gateway_cpu_ms_per_event": round(gw_cpu, 4),
            "emulator_cpu_ms_per_event": round(lock_cpu, 4),
            **floor, "ratio_to_floor": round(cpu / floor["cpu_floor_ms_per_event"], 2),
            "emulator_uss_mb": round(statistics.mean(uss[1:] or uss), 2),
            "emulator_uss_mb_max": round(max(uss[1:] or uss), 2),
            "emulator_standalone_uss_mb": round(uss[0], 2),
            "emulator_floor_uss_mb": round(uss_floor, 2),
            "emulator_rss_mb": round(lock_rss, 1)}


async def run_memory(n: int, events: int, repeat: int) -> dict[str, Any]:
    """In-memory locks and the gateway in this process; the streaming phase is run
    ``repeat`` times (each from an empty stream and no cursors: every event again)."""
    from ble_lock.central.client import LockClient
    from ble_lock.central.keystore import Keystore
    from ble_lock.gateway.config import GatewayConfig, LockEntry
    from ble_lock.gateway.gateway import Gateway
    from ble_lock.gateway.trackers import StaticTracker
    from ble_lock.testing.memory_lock import MemoryLock

    rates: list[float] = []
    cpus: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        keystore = Keystore(base / "admin")
        locks = [MemoryLock(lock_id=bytes([0xB0, 0, i >> 8, i & 0xFF]), seed=i % 200 + 1)
                 for i in range(n)]
        total = 0
        for mem in locks:
            async with LockClient(mem.connector(), keystore=keystore,
                                  lock_id=mem.lock_id) as client:
                await client.claim(mem.setup_code, lock_fingerprint=mem.fingerprint)
                for k in range(events):
                    if k % 2 == 0:
                        mem.lock.door_opened()
                    else:
                        mem.lock.door_closed()
                total += len(await client.events())
        before = _rss_mb()
        for r in range(repeat):
            out = base / f"events{r}.jsonl"
            config = GatewayConfig(
                locks=tuple(LockEntry(lock_id=m.lock_id, name=f"lock {i}")
                            for i, m in enumerate(locks)),
                state=base / f"cursors{r}.json", output=str(out), poll_interval_s=5.0)
            gateway = Gateway(config, keystore=keystore,
                              tracker=StaticTracker({m.lock_id: m.connector() for m in locks}))
            start, cpu0 = time.perf_counter(), time.process_time()
            task = asyncio.create_task(gateway.run())
            await _wait_for(out, total, 300)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu0
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            rates.append(total / elapsed)
            cpus.append(cpu * 1000 / total)
        rss = _rss_mb()
        floor = cpu_floor(base, total / n)
    cpu_ms = statistics.median(cpus)
    return {"locks": n, "mode": "memory", "events": total, "repeat": repeat,
            "events_per_s": round(statistics.median(rates), 1),
            "events_per_s_min": round(min(rates), 1), "events_per_s_max": round(max(rates), 1),
            "cpu_ms_per_event": round(cpu_ms, 4), "cpu_ms_per_event_min": round(min(cpus), 4),
            "cpu_ms_per_event_max": round(max(cpus), 4), **floor,
            "ratio_to_floor": round(cpu_ms / floor["cpu_floor_ms_per_event"], 2),
            "rss_mb": round(rss, 1), "rss_gateway_mb": round(rss - before, 1)}


def _cpu_of(fn: Callable[[], object], calls: int, rounds: int = 5) -> float:
    """Median over ``rounds`` of the CPU seconds per call of ``fn``."""
    per: list[float] = []
    for _ in range(rounds):
        t0 = time.process_time()
        for _ in range(calls):
            fn()
        per.append((time.process_time() - t0) / calls)
    return statistics.median(per)


def cpu_floor(base: Path, events_per_batch: float) -> dict[str, float]:
    """What an event must cost, measured here: the codec (the lock builds a page of 8
    events and its response envelope, the gateway parses them; the EVENTS_GET request
    both ways), the AEAD (both directions' frames sealed and opened) and the CPU of one
    fsync per batch (one lock's catch-up) shared by its events. The codec is the one the
    product runs (``encode_body``/``decode_body``: the generated codec, issue 15 item 4);
    ``floor_codec_construct_ms`` is the same work on the construct layouts themselves
    (the floor's codec before item 4), reported beside it, not added."""
    from ble_lock.core.model import EventKind
    from ble_lock.wire import messages as m
    from ble_lock.wire.messages.codec import decode_body, encode_body
    from ble_lock.wire.messages.declare import body_layout
    from ble_lock.wire.messages.envelope import (
        KIND_REQUEST,
        KIND_RESPONSE,
        REQUEST_ID_SIZE,
        Envelope,
        pack,
        unpack,
    )
    from ble_lock.wire.security.crypto import CipherState

    page = m.EventPage(events=tuple(
        m.EventRecord(seq=1000 + k, at_ms=1_790_000_000_000 + k, kind=EventKind.DOOR_OPENED
                      if k % 2 == 0 else EventKind.DOOR_CLOSED)
        for k in range(m.MAX_EVENTS_PER_PAGE)), next_cursor=1007, dropped=0, more=True)
    rid = bytes(REQUEST_ID_SIZE)
    op = int(m.Opcode.EVENTS_GET)

    def codec() -> None:
        req = pack(Envelope(kind=KIND_REQUEST, request_id=rid, opcode=op,
                                body=encode_body(m.EventsGet(after=999))))
        decode_body(m.EventsGet, unpack(req).body)
        resp = pack(Envelope(kind=KIND_RESPONSE, request_id=rid, opcode=op,
                                 body=encode_body(page)))
        decode_body(m.EventPage, unpack(resp).body)

    get_layout, page_layout = body_layout(m.EventsGet), body_layout(m.EventPage)

    def codec_declared() -> None:  # the construct layouts themselves, as before item 4
        req = pack(Envelope(kind=KIND_REQUEST, request_id=rid, opcode=op,
                            body=get_layout.build(m.EventsGet(after=999))))
        get_layout.parse(unpack(req).body)
        resp = pack(Envelope(kind=KIND_RESPONSE, request_id=rid, opcode=op,
                             body=page_layout.build(page)))
        page_layout.parse(unpack(resp).body)

    req_len = len(pack(Envelope(kind=KIND_REQUEST, request_id=rid, opcode=op,
                                    body=encode_body(m.EventsGet(after=999)))))
    resp_len = len(pack(Envelope(kind=KIND_RESPONSE, request_id=rid, opcode=op,
                                     body=encode_body(page))))
    send, recv = CipherState(bytes(32)), CipherState(bytes(32))
    req_pt, resp_pt = bytes(req_len), bytes(resp_len)

    def aead() -> None:
        recv.decrypt(b"", send.encrypt(b"", req_pt))
        recv.decrypt(b"", send.encrypt(b"", resp_pt))

    line = b'{"type":"event","lock":"B0000000","seq":1000}\n' * m.MAX_EVENTS_PER_PAGE
    path = base / "fsync-floor"
    with path.open("ab") as f:
        def fsync() -> None:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        fsync_s = _cpu_of(fsync, 20)
    per_page = m.MAX_EVENTS_PER_PAGE
    codec_ms = _cpu_of(codec, 200) * 1000 / per_page
    declared_ms = _cpu_of(codec_declared, 20) * 1000 / per_page
    aead_ms = _cpu_of(aead, 2000) * 1000 / per_page
    fsync_ms = fsync_s * 1000 / max(events_per_batch, 1.0)
    return {"cpu_floor_ms_per_event": round(codec_ms + aead_ms + fsync_ms, 4),
            "floor_codec_ms": round(codec_ms, 4),
            "floor_codec_construct_ms": round(declared_ms, 4),
            "floor_aead_ms": round(aead_ms, 4),
            "floor_fsync_ms": round(fsync_ms, 4)}


async def run(counts: list[int], events: int, sim_min: int, interval_ms: float,
              repeat: int, mqtt_commands: int = 0) -> dict[str, Any]:
    runs = []
    for n in counts:
        runs.append(await run_memory(n, events, repeat))
        if n >= sim_min:
            runs.append(await run_sim(n, events, interval_ms))
    if mqtt_commands > 0:  # the Home Assistant path (bench/gateway_mqtt.py)
        from gateway_mqtt import run_mqtt

        runs.append(await run_mqtt(mqtt_commands, events, interval_ms))
    return {"events_per_lock": events, "runs": runs}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--locks", default="10,50", help="lock counts, comma-separated")
    parser.add_argument("--events", type=int, default=100, help="panel events per lock")
    parser.add_argument("--sim-min", type=int, default=1,
                        help="smallest lock count also run as emulator processes (sim)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="memory: streaming runs (median, min, max)")
    parser.add_argument("--interval-ms", type=float, default=0.0,
                        help="sim: air time per ATT PDU (a connection interval)")
    parser.add_argument("--mqtt-commands", type=int, default=0,
                        help="also the MQTT path: this many UNLOCK commands (0: skip)")
    args = parser.parse_args()
    counts = [int(x) for x in args.locks.split(",") if x.strip()]
    result = asyncio.run(run(counts, args.events, args.sim_min, args.interval_ms,
                             args.repeat, args.mqtt_commands))
    if args.json:
        print(json.dumps(result))
    else:
        for r in result["runs"]:
            print(" ".join(f"{k}={v}" for k, v in r.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
