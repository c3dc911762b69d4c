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
        [sys.executable, str(ROOT / "bench" / "core.py"), "--json", "--users", "300"],
        check=True, capture_output=True, text=True, cwd=ROOT,
    ).stdout
    figures = json.loads(out)
    assert figures["users"] == 300
    assert figures["pins"] == 300
    for key in ("verify_pin_us", "verify_card_us", "verify_fingerprint_us", "match_pin_miss_us"):
        # measured (a positive figure in µs); its size is the machine's, not asserted
        assert isinstance(figures[key], float), key
        assert figures[key] > 0, key
