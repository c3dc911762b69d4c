"""bench/gateway.py --json prints locks, events_per_s and rss_mb per run: emulator
processes with the gateway as its own process (sim), and in-memory locks (memory)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "gateway.py"

pytestmark = pytest.mark.timeout(180)


def test_bench_gateway_json_has_the_figures_for_both_modes() -> None:
    out = subprocess.run([sys.executable, str(BENCH), "--json", "--locks", "2,5",
                          "--events", "6", "--sim-max", "2"],
                         capture_output=True, text=True, timeout=170, check=True)
    result = json.loads(out.stdout)
    sim, memory = result["runs"]
    assert (sim["locks"], sim["mode"], memory["locks"], memory["mode"]) == (
        2, "sim", 5, "memory")
    for run in (sim, memory):
        # every lock's log: its claim (a few events) and the 6 door events
        assert run["events"] >= run["locks"] * 6
        # measured figures are there; their values are the machine's, not asserted
        for key in ("events_per_s", "seconds", "rss_mb"):
            assert isinstance(run[key], float), key
            assert run[key] > 0, key
