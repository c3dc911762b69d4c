"""The gateway following many locks: throughput of the event stream and its memory.

    python bench/gateway.py [--json] [--locks 10,50] [--events 100] [--sim-max 10]
                            [--interval-ms 0] [--mqtt-commands 0]

For each lock count N, every lock first logs ``--events`` events at its front panel
(door opened / closed pairs) besides its claim; then the gateway starts and the clock
runs until every event of every lock is in its stream (the output file).

Two modes, chosen per N (be clear about what is measured):

* ``sim`` (N <= ``--sim-max``): N lock emulators, each its own process on its own
  simulated host, and the gateway **as its own process** (``gateway.process``, bleak on
  one adapter of host N). ``events_per_s`` = events streamed / seconds from the
  gateway's ``ready`` (its imports done) to the last event in the stream: it includes
  the scan, N connections, N session handshakes and the paging of every log.
  ``--interval-ms`` adds air time per ATT PDU (the simulator's ``att_latency_s``; 0:
  as fast as the processes run). ``rss_mb`` = the gateway process's
  peak resident set (VmHWM), nothing else in it; ``emulator_rss_mb`` the mean peak of
  one emulator process (why 50 of them are not run on a small machine).
* ``memory`` (larger N: 50 emulator processes do not fit two shared cores): N in-memory
  locks (``ble_lock.testing.memory_lock.MemoryLock``: the real core and protocol, no radio)
  in this process, and the gateway in this process too. ``events_per_s`` is the same
  ratio without any radio; ``rss_mb`` is this process's peak (locks included) and
  ``rss_gateway_mb`` the growth while the gateway ran.

With ``--mqtt-commands K`` (K > 0) one more run, ``mqtt`` (docs/home-assistant.md): one
emulator process, the gateway with its MQTT bridge in this process (bleak on the
simulator, a remote-only key, R-APP-5) and a real Mosquitto on loopback (``mosquitto``
must be installed). ``events_per_s`` = log entries acknowledged by the broker and received
by a subscriber acting as Home Assistant / seconds from the gateway's start; then K
``UNLOCK`` commands (each followed by a ``LOCK``) from that subscriber:
``unlock_ms_median`` / ``unlock_ms_max`` = command published -> outcome received
(``ble-lock/<LOCK>/result``), which includes the broker twice, the lock's decision and the
Bluetooth round trip over the simulator (``--interval-ms`` of air time per ATT PDU).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
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
    from ble_lock.central.client import LockClient
    from ble_lock.central.keystore import Keystore
    from ble_lock.peripheral.panel_client import AsyncPanelClient
    from ble_lock.sim.harness import BleHarness

    ble = await BleHarness.simulated(hosts=n + 1)
    try:
        assert ble.sim is not None
        ble.sim.config.att_latency_s = interval_ms / 1000
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp)
            procs = await asyncio.gather(*(ble.start_peripheral(
                TARGET, "--state-dir", str(base / f"lock{i}"), "--profile", "face-palm",
                "--manual-clock", str(START), host=i, ready="ready") for i in range(n)))
            keystore = Keystore(base / "admin")
            central = ble.central(host=n)
            total = 0
            ids = []
            for i, proc in enumerate(procs):
                qr = next(ln.split(" ", 1)[1] for ln in proc.lines if ln.startswith("qr "))
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
            start = time.perf_counter()
            await _wait_for(out, total, 300)
            elapsed = time.perf_counter() - start
            rss = _proc_rss_mb(gw.pid)
            lock_rss = sum(_proc_rss_mb(p.pid) for p in procs) / n
            await gw.stop()
    finally:
        await ble.close()
    return {"locks": n, "mode": "sim", "events": total, "seconds": round(elapsed, 3),
            "events_per_s": round(total / elapsed, 1), "rss_mb": round(rss, 1),
            "interval_ms": interval_ms, "emulator_rss_mb": round(lock_rss, 1)}


async def run_memory(n: int, events: int) -> dict[str, Any]:
    from ble_lock.central.client import LockClient
    from ble_lock.central.keystore import Keystore
    from ble_lock.gateway.config import GatewayConfig, LockEntry
    from ble_lock.gateway.gateway import Gateway
    from ble_lock.gateway.trackers import StaticTracker
    from ble_lock.testing.memory_lock import MemoryLock

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
        out = base / "events.jsonl"
        config = GatewayConfig(
            locks=tuple(LockEntry(lock_id=m.lock_id, name=f"lock {i}")
                        for i, m in enumerate(locks)),
            state=base / "cursors.json", output=str(out), poll_interval_s=5.0)
        before = _rss_mb()
        gateway = Gateway(config, keystore=keystore,
                          tracker=StaticTracker({m.lock_id: m.connector() for m in locks}))
        start = time.perf_counter()
        task = asyncio.create_task(gateway.run())
        await _wait_for(out, total, 300)
        elapsed = time.perf_counter() - start
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    rss = _rss_mb()
    return {"locks": n, "mode": "memory", "events": total, "seconds": round(elapsed, 3),
            "events_per_s": round(total / elapsed, 1), "rss_mb": round(rss, 1),
            "rss_gateway_mb": round(rss - before, 1)}


async def run_mqtt(commands: int, events: int, interval_ms: float) -> dict[str, Any]:
    import statistics

    from ble_lock.central.client import LockClient
    from ble_lock.central.keystore import Keystore
    from ble_lock.gateway.config import GatewayConfig, LockEntry
    from ble_lock.gateway.trackers import BleakTracker
    from ble_lock.peripheral.panel_client import AsyncPanelClient
    from ble_lock.sim.harness import BleHarness
    from ble_lock.wire import messages as m
    from tests.ha._bridge import Bridged
    from tests.ha._mqtt import Broker, HomeAssistant

    ble = await BleHarness.simulated(hosts=2)
    try:
        assert ble.sim is not None
        ble.sim.config.att_latency_s = interval_ms / 1000
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp)
            broker = Broker(base / "mosquitto")
            await broker.start()
            proc = await ble.start_peripheral(
                TARGET, "--state-dir", str(base / "lock"), "--profile", "face-palm",
                "--manual-clock", str(START), host=0, ready="ready")
            qr = next(ln.split(" ", 1)[1] for ln in proc.lines if ln.startswith("qr "))
            lock_id = bytes.fromhex(qr.split(":")[1])
            key = lock_id.hex().upper()
            central = ble.central(host=1)
            panel = await AsyncPanelClient.connect(base / "lock")
            await panel.call("set_button")
            admin, gw_keys = Keystore(base / "admin"), Keystore(base / "gateway")
            async with await LockClient.find(lock_id=lock_id, adapter=central.adapter,
                                             keystore=admin) as client:
                await client.claim_qr(qr)
                user = await client.add_user("gateway", role=m.Role.REMOTE_ONLY)
                invite = await client.issue_key(user.user_number)
                await client.set_settings(m.SettingsSet(remote_unlock=True))
                fingerprint = client.fingerprint
                for k in range(events):
                    await panel.call("door", state="open" if k % 2 == 0 else "closed")
                total = len(await client.events())
            async with await LockClient.find(lock_id=lock_id, adapter=central.adapter,
                                             keystore=gw_keys) as g:
                await g.redeem(invite.invite_id, invite.code, lock_fingerprint=fingerprint)
            ha = HomeAssistant(broker)
            await ha.start()
            config = GatewayConfig(locks=(LockEntry(lock_id=lock_id, name="bench"),),
                                   state=base / "cursors.json", output=str(base / "ev.jsonl"),
                                   poll_interval_s=5.0, backoff_min_s=0.1, backoff_max_s=2)
            start = time.perf_counter()
            run = Bridged(config, tracker=BleakTracker([lock_id], adapter=central.adapter),
                          keystore=gw_keys, url=broker.url)
            deadline = start + 300
            while len(ha.log_seqs(key)) < total:
                if time.perf_counter() > deadline:
                    raise TimeoutError("events did not reach the broker")
                await asyncio.sleep(0.01)
            elapsed = time.perf_counter() - start
            latencies = []
            for command in ["UNLOCK", "LOCK"] * commands:
                before = len(ha.messages[f"ble-lock/{key}/result"])
                t0 = time.perf_counter()
                await ha.publish(f"ble-lock/{key}/set", command)
                while len(ha.messages[f"ble-lock/{key}/result"]) == before:
                    if time.perf_counter() > t0 + 60:
                        raise TimeoutError(f"no outcome for {command}")
                    await asyncio.sleep(0.001)
                outcome = json.loads(ha.messages[f"ble-lock/{key}/result"][-1].payload)
                if not outcome["ok"]:
                    raise RuntimeError(f"{command} refused: {outcome['error']}")
                if command == "UNLOCK":
                    latencies.append((time.perf_counter() - t0) * 1000)
            await run.stop()
            await ha.stop()
            await panel.close()
            await broker.stop()
    finally:
        await ble.close()
    return {"locks": 1, "mode": "mqtt", "events": total, "seconds": round(elapsed, 3),
            "events_per_s": round(total / elapsed, 1), "commands": commands,
            "unlock_ms_median": round(statistics.median(latencies), 1),
            "unlock_ms_max": round(max(latencies), 1), "interval_ms": interval_ms}


async def run(counts: list[int], events: int, sim_max: int, interval_ms: float,
              mqtt_commands: int = 0) -> dict[str, Any]:
    runs = []
    for n in counts:
        runs.append(await (run_sim(n, events, interval_ms) if n <= sim_max
                           else run_memory(n, events)))
    if mqtt_commands > 0:
        runs.append(await run_mqtt(mqtt_commands, events, interval_ms))
    return {"events_per_lock": events, "runs": runs}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--locks", default="10,50", help="lock counts, comma-separated")
    parser.add_argument("--events", type=int, default=100, help="panel events per lock")
    parser.add_argument("--sim-max", type=int, default=10,
                        help="largest lock count run as emulator processes")
    parser.add_argument("--interval-ms", type=float, default=0.0,
                        help="sim: air time per ATT PDU (a connection interval)")
    parser.add_argument("--mqtt-commands", type=int, default=0,
                        help="also the MQTT path: this many UNLOCK commands (0: skip)")
    args = parser.parse_args()
    counts = [int(x) for x in args.locks.split(",") if x.strip()]
    result = asyncio.run(run(counts, args.events, args.sim_max, args.interval_ms,
                             args.mqtt_commands))
    if args.json:
        print(json.dumps(result))
    else:
        for r in result["runs"]:
            print(" ".join(f"{k}={v}" for k, v in r.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
