"""bench/dfu.py --json: the firmware upload over the simulator's connection-event model,
beside the real link's floor for the same bytes, at MTU 23 (27-byte LL PDUs) and 247 (251,
DLE), and the image verification CPU (issue 17; the time model of issue 15 item 1). The
test checks what the benchmark counts and computes (PDUs, requests, the floor's connection
events, the one-way capacity from the model's arithmetic), never the times it measures."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "dfu.py"

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]


def test_bench_dfu_json_reports_throughput_floor_and_ratio_per_mtu() -> None:
    out = subprocess.run([sys.executable, str(BENCH), "--json", "--body", "4000",
                          "--runs", "2", "--rounds", "3"],
                         capture_output=True, text=True, timeout=280, check=True)
    report = json.loads(out.stdout)
    assert (report["interval_ms"], report["pdus_per_event"], report["phy"],
            report["runs"]) == (7.5, 4, "1M", 2)
    by_mtu = {r["mtu"]: r for r in report["uploads"]}
    assert set(by_mtu) == {23, 247}
    for r in by_mtu.values():
        # 4000 bytes + the 32-byte header + TLVs (SHA-256, key hash, Ed25519 signature)
        assert r["image_bytes"] == 4176
        assert r["runs"] == 2
        # the timed figures are there; their values are the machine's, not asserted here
        for figure in ("seconds", "bytes_per_s", "ratio"):
            assert set(r[figure]) >= {"median", "min", "max"}, figure
        assert r["link_floor_s"] > 0
        # SMP is request/answer (one buffer): below what the link moves one way
        assert 0 < r["link_floor_bytes_per_s"] < r["link_capacity_bytes_per_s"]
        # every ATT PDU of the upload is a request fragment or an answer
        assert r["att_pdus"] == r["att_writes"] + r["att_notifications"]
        # 4176 bytes in requests that fill the lock's 2475-byte SMP buffer: two
        assert r["requests"] == 2
        assert r["att_notifications"] >= r["requests"]
    small, big = by_mtu[23], by_mtu[247]
    assert (small["data_length"], big["data_length"]) == (27, 251)
    # MTU 23: 20 bytes per write, every write one 27-byte LL PDU
    assert math.ceil(4176 / 20) <= small["att_writes"] <= math.ceil(4176 / 20) * 1.05
    # MTU 247: 244 bytes per write in one LL PDU (DLE)
    assert math.ceil(4176 / 244) <= big["att_writes"] <= math.ceil(4176 / 244) + 3
    # the floor: 4 packets per event at 27 bytes; at 251 bytes one full exchange fills a
    # 7.5 ms event (2 x (2.12 ms + T_IFS) twice is over 7.35 ms), so one write per event
    assert small["floor_connection_events"] >= math.ceil(small["att_writes"] / 4)
    assert big["floor_connection_events"] >= big["att_writes"]
    # one-way capacity: slots x (MTU - 3) per interval (400 PDUs: the last event's air
    # time instead of a whole interval, within 1 %)
    assert small["link_capacity_bytes_per_s"] == pytest.approx(4 * 20 / 0.0075, rel=0.01)
    assert big["link_capacity_bytes_per_s"] == pytest.approx(244 / 0.0075, rel=0.01)
    kinds = {(v["key"], v["image_bytes"] > 100_000) for v in report["verification"]}
    assert kinds == {("ed25519", False), ("ed25519", True), ("ecdsa-p256", False),
                     ("ecdsa-p256", True)}
    for v in report["verification"]:
        assert min(v["verify_us"], v["sha256_us"], v["signature_us"]) > 0
