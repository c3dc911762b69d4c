"""bench/gateway.py --json prints, per run, the figures beside their floor: in-memory
locks (memory) and real emulator processes over the simulator (sim: one standalone, the
others forked by ble_lock.peripheral.forkserver), the gateway as its own process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "gateway.py"

pytestmark = pytest.mark.timeout(240)


def test_bench_gateway_json_has_the_figures_for_both_modes() -> None:
    out = subprocess.run([sys.executable, str(BENCH), "--json", "--locks", "3",
                          "--events", "6", "--repeat", "2"],
                         capture_output=True, text=True, timeout=230, check=True)
    result = json.loads(out.stdout)
    memory, sim = result["runs"]
    assert (memory["locks"], memory["mode"], sim["locks"], sim["mode"]) == (
        3, "memory", 3, "sim")
    for run in (sim, memory):
        # every lock's log: its claim (a few events) and the 6 door events
        assert run["events"] >= run["locks"] * 6
        # measured figures are there; their values are the machine's, not asserted
        for key in ("events_per_s", "rss_mb", "cpu_ms_per_event", "cpu_floor_ms_per_event",
                    "floor_codec_ms", "floor_aead_ms", "floor_fsync_ms", "ratio_to_floor"):
            assert isinstance(run[key], float), key
            assert run[key] > 0, key
        assert run["ratio_to_floor"] == pytest.approx(
            run["cpu_ms_per_event"] / run["cpu_floor_ms_per_event"], rel=0.01)
    assert memory["events_per_s_min"] <= memory["events_per_s"] <= memory["events_per_s_max"]
    assert (memory["cpu_ms_per_event_min"] <= memory["cpu_ms_per_event"]
            <= memory["cpu_ms_per_event_max"])
    for key in ("emulator_uss_mb", "emulator_standalone_uss_mb", "emulator_floor_uss_mb",
                "gateway_cpu_ms_per_event",
                "emulator_cpu_ms_per_event"):
        assert isinstance(sim[key], float), key
        assert sim[key] > 0, key
