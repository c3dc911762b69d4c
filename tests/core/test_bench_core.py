"""bench/core.py --json prints the figures the issue asks for (small run)."""

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
        assert 0 < figures[key] < 10_000, key
