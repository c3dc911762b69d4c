"""bench/core.py --json prints the figures the issue asks for (small run). What the test
checks is the benchmark's behaviour (it runs, the JSON shape, the counts it was asked
for), never how fast this machine is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_core_json_keys() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "core.py"), "--json", "--users", "300",
         "--open-sizes", "200"],
        check=True, capture_output=True, text=True, cwd=ROOT,
    ).stdout
    figures = json.loads(out)
    assert figures["users"] == 300
    assert figures["pins"] == 300
    for key in ("verify_pin_us", "verify_card_us", "verify_fingerprint_us", "match_pin_miss_us",
                "verify_bluetooth_us", "add_user_300_us", "add_user_300_floor_us", "open_200_s",
                "open_200_floor_s"):
        # measured (a positive figure); its size is the machine's, not asserted
        assert isinstance(figures[key], float), key
        assert figures[key] > 0, key
        unit = key.rsplit("_", 1)[1]
        base = key[: -len(unit) - 1]  # issue 15: median with min and max, and the ratio
        assert figures[f"{base}_min_{unit}"] <= figures[key] <= figures[f"{base}_max_{unit}"]
    assert figures["open_200_ratio"] > 0
    assert figures["add_user_300_ratio"] > 0
