"""Firmware upload throughput over SMP beside the real BLE link's floor, and the lock's
image verification CPU (issue 17).

    python bench/dfu.py [--json] [--interval-ms 7.5] [--pdus-per-event 4] [--phy 1M]
                        [--body 16384] [--mtus 23,247] [--runs 3] [--rounds 50]

Upload: the emulator (its own process, simulated host 0, ``--vendor-key``) and the
unmodified ``smpclient`` (this process, host 1) upload one image signed by ``imgtool``
inside the maintenance window, ``--runs`` times per ATT MTU (23 with 27-byte LL PDUs; 247
with Data Length Extension, 251: ``bench/e2e.py``'s ``DATA_LENGTH``), over the simulator's
connection-event model (``ble_lock/sim/airtime.py``: ``--interval-ms``,
``--pdus-per-event`` per direction, LL air time from ``--phy`` and the data length; a new
random phase per run). Untimed before the uploads: claim, open the window, SMP connect.

* ``bytes_per_s``: the image size over the time of ``SMPClient.upload`` (from the first
  request to the last answer, the lock's verification of the whole image included).
  Median [min-max] over the runs.
* ``link_floor_bytes_per_s``: what a real link takes for the same bytes with no software
  at all: the upload's ATT PDUs (from the simulator's trace) grouped in flights (a
  request's fragments, then its answer; a flight is queued the instant the previous one
  has arrived), run through the same model at ``FLOOR_PHASES`` phases spread over one
  interval; the image size over the mean of those times.
* ``ratio``: the measured time over the floor's (median run; and the min-max runs).
* ``link_capacity_bytes_per_s``: the most any protocol moves one way on this link (every
  slot of every event a full-MTU write without response, nothing back): how much SMP's
  request/answer (one buffer, ``buf_count`` 1) costs before any software does.

Counts from the trace, exact whatever the machine: ``att_writes``, ``att_notifications``,
``connection_events`` (of the last run) and ``floor_connection_events``.

Verification: ``VendorKey.verify`` (parse, SHA-256 of the hashed region, signature) on one
image per key type and size, median of ``--rounds`` runs, beside its parts (``sha256_us``,
the signature check alone).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from e2e import DATA_LENGTH, _flights, _quiet, _spread

TARGET = "ble_lock.peripheral.process:main"
FLOOR_PHASES = 40
"""Phases of the floor's mean: an upload spans hundreds of events, so the phase moves it
by at most one interval."""
CAPACITY_PDUS = 400


def _imgtool(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "imgtool.main", *args], check=True,
                   capture_output=True)


def _image(tmp: Path, key: Path, version: str, body: int) -> bytes:
    raw = tmp / f"app-{body}.bin"
    raw.write_bytes(bytes((i * 31 + 7) & 0xFF for i in range(body)))
    out = tmp / f"app-{body}-{key.stem}.signed.bin"
    _imgtool("sign", "-k", str(key), "--header-size", "0x20", "--pad-header", "--version",
             version, "--slot-size", "0x100000", str(raw), str(out))
    return out.read_bytes()


def _timing(mtu: int, interval_ms: float, pdus_per_event: int, phy: str) -> Any:
    from ble_lock.sim.airtime import LinkTiming, Phy

    return LinkTiming(interval_s=interval_ms / 1000, pdus_per_event=pdus_per_event,
                      phy=Phy.LE_2M if phy == "2M" else Phy.LE_1M,
                      data_length=DATA_LENGTH.get(mtu, 251 if mtu > 23 else 27))


async def uploads(timing: Any, mtu: int, body: int, runs: int, tmp: Path
                  ) -> dict[str, Any]:
    """Upload one signed image ``runs`` times over a link with ``timing``: the image, each
    run's seconds and ATT trace."""
    from dataclasses import replace

    from smpclient import SMPClient
    from smpclient.transport.ble import SMPBLETransport

    from ble_lock.central.client import LockClient
    from ble_lock.central.keystore import Keystore
    from ble_lock.sim.harness import BleHarness

    key = tmp / f"vendor-{mtu}.pem"
    _imgtool("keygen", "-k", str(key), "-t", "ed25519")
    image = _image(tmp, key, "2.0.0", body)
    ble = await BleHarness.simulated(mtu=mtu)
    try:
        assert ble.sim is not None
        state = tmp / f"lock-{mtu}"
        proc = await ble.start_peripheral(TARGET, "--state-dir", str(state), "--profile",
                                          "dl20vc", "--vendor-key", str(key), host=0,
                                          ready="ready")
        qr = next(line.split(" ", 1)[1] for line in proc.lines if line.startswith("qr "))
        lock_id = bytes.fromhex(qr.split(":")[1])
        central = ble.central(host=1)
        owner = await LockClient.find(lock_id=lock_id, adapter=central.adapter,
                                      keystore=Keystore(tmp / f"phone-{mtu}"))
        times: list[float] = []
        traces: list[list[Any]] = []
        async with owner:
            await owner.claim_qr(qr)
            await owner.open_maintenance_window(3600)
            address = owner.address
            assert address is not None
            smp = SMPClient(SMPBLETransport(), address, timeout_s=120.0)
            await smp.connect(30.0)
            try:
                (link,) = ble.sim.links()
                for _ in range(runs):
                    # a new LinkTiming object: the link starts a new schedule, new phase
                    ble.sim.config.timing = replace(timing)
                    await _quiet(link, timing.interval_s)
                    before = len(link.trace)
                    start = time.perf_counter()
                    async for _ in smp.upload(image):
                        pass
                    times.append(time.perf_counter() - start)
                    traces.append(link.trace[before:])  # traced when their air time ends
            finally:
                await smp.disconnect()
    finally:
        await ble.close()
    return {"image": image, "times": times, "traces": traces}


def _capacity(timing: Any, mtu: int) -> float:
    """Bytes/s one way with every slot a full-MTU write without response, nothing back."""
    from ble_lock.sim.airtime import burst_floor
    from ble_lock.sim.att import Direction

    seconds, _ = burst_floor(timing, [(Direction.C2P, [mtu] * CAPACITY_PDUS)], phase=0.0)
    return (mtu - 3) * CAPACITY_PDUS / seconds


async def run_mtu(mtu: int, interval_ms: float, pdus_per_event: int, phy: str, body: int,
                  runs: int, tmp: Path) -> dict[str, Any]:
    from ble_lock.sim.airtime import burst_floor, phases
    from ble_lock.sim.att import AttOp, Direction

    timing = _timing(mtu, interval_ms, pdus_per_event, phy)
    done = await uploads(timing, mtu, body, runs, tmp)
    size = len(done["image"])
    last = done["traces"][-1]
    flights = _flights(last)
    floors = [burst_floor(timing, flights, phase=p)
              for p in phases(timing.interval_s, FLOOR_PHASES, random.Random(17))]
    floor_s = statistics.mean(f[0] for f in floors)
    rates = [size / t for t in done["times"]]
    events = {e for r in last for e in range(r.first_event, r.event + 1)}
    seconds = _spread(done["times"])
    return {
        "mtu": mtu,
        "data_length": timing.data_length,
        "image_bytes": size,
        "runs": runs,
        "seconds": seconds,
        "bytes_per_s": {k: round(v) for k, v in _spread(rates).items()},
        "link_floor_s": round(floor_s, 3),
        "link_floor_bytes_per_s": round(size / floor_s),
        "ratio": {"median": round(seconds["median"] / floor_s, 3),
                  "min": round(min(done["times"]) / floor_s, 3),
                  "max": round(max(done["times"]) / floor_s, 3)},
        "link_capacity_bytes_per_s": round(_capacity(timing, mtu)),
        "att_writes": sum(1 for r in last
                          if r.direction is Direction.C2P and r.op is AttOp.WRITE_CMD),
        "att_notifications": sum(1 for r in last if r.direction is Direction.P2C
                                 and r.op is AttOp.HANDLE_VALUE_NTF),
        "att_pdus": len(last),
        "requests": sum(1 for d, _ in flights if d is Direction.C2P),
        "connection_events": len(events),
        "floor_connection_events": max(f[1] for f in floors),
    }


def _median_us(fn: Any, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e6)
    return round(statistics.median(times), 1)


def verification(rounds: int, tmp: Path) -> list[dict[str, Any]]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    from ble_lock.dfu.image import VendorKey, parse_image

    out = []
    for kind in ("ed25519", "ecdsa-p256"):
        key = tmp / f"verify-{kind}.pem"
        _imgtool("keygen", "-k", str(key), "-t", kind)
        vendor = VendorKey.from_pem(key.read_bytes())
        for body in (16 * 1024, 256 * 1024):
            image = _image(tmp, key, "2.0.0", body)
            parsed = parse_image(image)
            region = image[:parsed.hashed_len]
            digest = hashlib.sha256(region).digest()
            sig = parsed.tlv(vendor.signature_tlv)
            assert sig is not None

            def check_sig(sig: bytes = sig, region: bytes = region, digest: bytes = digest,
                          public: Any = vendor.public) -> None:
                if isinstance(public, ed25519.Ed25519PublicKey):
                    public.verify(sig, digest)
                else:
                    public.verify(sig, region, ec.ECDSA(hashes.SHA256()))

            out.append({
                "key": kind, "image_bytes": len(image),
                "verify_us": _median_us(lambda image=image, v=vendor: v.verify(image), rounds),
                "sha256_us": _median_us(lambda region=region: hashlib.sha256(region), rounds),
                "signature_us": _median_us(check_sig, rounds),
            })
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    mtus = [int(x) for x in args.mtus.split(",")]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        results = [await run_mtu(mtu, args.interval_ms, args.pdus_per_event, args.phy,
                                 args.body, args.runs, tmp) for mtu in mtus]
        verify = verification(args.rounds, tmp)
    return {"interval_ms": args.interval_ms, "pdus_per_event": args.pdus_per_event,
            "phy": args.phy, "runs": args.runs,
            "time_model": "ble_lock.sim.airtime connection events",
            "uploads": results, "verification": verify}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--interval-ms", type=float, default=7.5,
                        help="connection interval of the modelled link")
    parser.add_argument("--pdus-per-event", type=int, default=4,
                        help="LL packets per connection event and direction")
    parser.add_argument("--phy", choices=("1M", "2M"), default="1M")
    parser.add_argument("--body", type=int, default=16 * 1024, help="firmware body bytes")
    parser.add_argument("--mtus", default="23,247", help="ATT MTUs, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="timed uploads per MTU")
    parser.add_argument("--rounds", type=int, default=50, help="verification runs")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"interval {args.interval_ms} ms, {args.pdus_per_event} PDUs/event, LE {args.phy}, "
          f"{args.runs} runs; median [min-max]")
    for r in result["uploads"]:
        rate, ratio = r["bytes_per_s"], r["ratio"]
        print(f"MTU {r['mtu']} (LL {r['data_length']}), {r['image_bytes']} bytes: "
              f"{rate['median']} [{rate['min']}-{rate['max']}] B/s; floor "
              f"{r['link_floor_bytes_per_s']} B/s; ratio {ratio['median']} "
              f"[{ratio['min']}-{ratio['max']}]; one-way capacity "
              f"{r['link_capacity_bytes_per_s']} B/s")
        print(f"    {r['requests']} requests, {r['att_writes']} writes, "
              f"{r['att_notifications']} notifications, {r['connection_events']} events "
              f"(floor {r['floor_connection_events']})")
    for row in result["verification"]:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
