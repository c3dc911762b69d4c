"""bench/protocol.py --json prints the figures issue 3 asks for, and meets the targets
that do not depend on the machine (round trips)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "protocol.py"
FIELDS = {"mtu", "unlock_round_trips", "unlock_att_writes", "unlock_notifications",
          "unlock_bytes_up", "unlock_bytes_down", "unlock_lock_cpu_us", "pair_round_trips",
          "pair_lock_cpu_us", "unlock_att_pdus", "connected_to_unlocked_att_pdus",
          "connect_to_unlocked_att_pdus", "bogus_hs1_lock_cpu_us",
          # issue 15: each figure beside its floor, measured in the same run, and the ratio
          "unlock_crypto_floor_us", "unlock_ratio", "pair_crypto_floor_us", "pair_ratio",
          "unlock_lock_cpu_cold_us", "unlock_crypto_floor_cold_us", "unlock_cold_ratio",
          "pair_lock_cpu_cold_us", "pair_crypto_floor_cold_us", "pair_cold_ratio"}
CODEC = {"event_page_encode_us", "event_page_encode_struct_us", "event_page_encode_ratio",
         "event_page_decode_us", "event_page_decode_struct_us", "event_page_decode_ratio",
         "unlocked_encode_ratio", "unlocked_decode_ratio"}


def test_bench_json_has_one_result_per_mtu() -> None:
    out = subprocess.run([sys.executable, str(BENCH), "--json", "--runs", "5",
                          "--codec-calls", "50"], check=True, capture_output=True,
                         text=True).stdout
    report = json.loads(out)
    results = report["results"]
    assert set(report["codec"]) >= CODEC
    assert [r["mtu"] for r in results] == [23, 247]
    for r in results:
        assert set(r) >= FIELDS
        for name in ("unlock_lock_cpu", "unlock_crypto_floor", "pair_lock_cpu",
                     "pair_crypto_floor"):  # median [min - max]
            assert 0 < r[f"{name}_min_us"] <= r[f"{name}_us"] <= r[f"{name}_max_us"]
        assert r["unlock_round_trips"] == 1
        assert r["pair_round_trips"] == 2
        assert r["unlock_lock_cpu_us"] > 0
    small, big = results
    assert big["unlock_att_writes"] == 1
    assert big["unlock_notifications"] == 1
    assert small["unlock_att_writes"] > big["unlock_att_writes"]
    # v2 (issue 10): the freshness value costs one ATT read (2 PDUs) only when the phone
    # has none in hand; connecting adds MTU exchange, subscribe and the info read
    assert big["unlock_att_pdus"] == 2
    assert big["connected_to_unlocked_att_pdus"] == 4
    assert big["connect_to_unlocked_att_pdus"] == 10
    assert all(r["bogus_hs1_lock_cpu_us"] > 0 for r in results)
