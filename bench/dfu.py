"""Firmware upload throughput over SMP and the lock's image verification CPU (issue 17).

    python bench/dfu.py [--json] [--interval-ms 7.5] [--body 16384] [--mtus 23,247]

Upload: the emulator (its own process, simulated host 0, ``--vendor-key``) and the
unmodified ``smpclient`` (this process, host 1) upload one image signed by ``imgtool``
inside the maintenance window, once per ATT MTU. ``bytes_per_s`` is the image size over
the time of ``SMPClient.upload`` (from the first request to the last answer, the lock's
verification of the whole image included).

The link's model is the simulator's today: each ATT PDU takes one ``--interval-ms`` of air
time, one PDU per direction at a time (one PDU per connection event; a connection-event
time model with several PDUs per event is not on main yet, so the floor is computed from
these parameters: interval, PDUs per event = 1, MTU). Two floors are reported:

* ``link_floor_bytes_per_s``: the most any protocol can move one way:
  ``(MTU - 3) x pdus_per_event / interval`` (every PDU a full write without response);
* ``smp_floor_bytes_per_s``: the air time of the PDUs this upload really needed (the
  request fragments the client wrote and the answers the lock notified, counted in the
  simulator's trace), with nothing else: ``image / ((writes + notifications) x interval)``.
  SMP with one buffer (``buf_count`` 1) is request/answer, so the two directions never
  overlap; ``ratio`` = that floor's time over the measured time.

Verification: ``VendorKey.verify`` (parse, SHA-256 of the hashed region, signature) on one
image per key type and size, median of ``--rounds`` runs, beside its parts (``sha256_us``,
the signature check alone).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET = "ble_lock.peripheral.process:main"


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


async def _upload_once(mtu: int, interval_ms: float, body: int, tmp: Path) -> dict[str, Any]:
    from smpclient import SMPClient
    from smpclient.transport.ble import SMPBLETransport

    from ble_lock.central.client import LockClient
    from ble_lock.central.keystore import Keystore
    from ble_lock.sim.att import AttOp, Direction
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
        async with owner:
            await owner.claim_qr(qr)
            await owner.open_maintenance_window(3600)
            address = owner.address
            assert address is not None
            smp = SMPClient(SMPBLETransport(), address, timeout_s=60.0)
            await smp.connect(30.0)
            try:
                (link,) = ble.sim.links()
                ble.sim.config.att_latency_s = interval_ms / 1000
                before = len(link.trace)
                start = time.perf_counter()
                async for _ in smp.upload(image):
                    pass
                elapsed = time.perf_counter() - start
                traced = link.trace[before:]
            finally:
                ble.sim.config.att_latency_s = 0.0
                await smp.disconnect()
    finally:
        await ble.close()
    writes = sum(1 for r in traced if r.direction is Direction.C2P and r.op is AttOp.WRITE_CMD)
    notes = sum(1 for r in traced
                if r.direction is Direction.P2C and r.op is AttOp.HANDLE_VALUE_NTF)
    interval_s = interval_ms / 1000
    pdus_per_event = 1
    link_floor = (mtu - 3) * pdus_per_event / interval_s
    smp_floor_s = (writes + notes) * interval_s / pdus_per_event
    return {
        "mtu": mtu,
        "image_bytes": len(image),
        "seconds": round(elapsed, 3),
        "bytes_per_s": round(len(image) / elapsed),
        "link_floor_bytes_per_s": round(link_floor),
        "smp_floor_bytes_per_s": round(len(image) / smp_floor_s),
        "ratio": round(smp_floor_s / elapsed, 3),
        "att_writes": writes,
        "att_notifications": notes,
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


async def run(interval_ms: float, body: int, mtus: list[int], rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        uploads = [await _upload_once(mtu, interval_ms, body, tmp) for mtu in mtus]
        verify = verification(rounds, tmp)
    return {"interval_ms": interval_ms, "pdus_per_event": 1,
            "time_model": "simulator att_latency_s: one PDU per direction per interval",
            "uploads": uploads, "verification": verify}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--interval-ms", type=float, default=7.5,
                        help="air time per ATT PDU (a connection interval)")
    parser.add_argument("--body", type=int, default=16 * 1024, help="firmware body bytes")
    parser.add_argument("--mtus", default="23,247", help="ATT MTUs, comma-separated")
    parser.add_argument("--rounds", type=int, default=50, help="verification runs")
    args = parser.parse_args()
    mtus = [int(x) for x in args.mtus.split(",")]
    result = asyncio.run(run(args.interval_ms, args.body, mtus, args.rounds))
    if args.json:
        print(json.dumps(result))
    else:
        for upload in result["uploads"]:
            print(json.dumps(upload))
        for row in result["verification"]:
            print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
