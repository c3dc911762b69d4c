"""bench/gateway.py --mqtt-commands: the MQTT path's figures (events/s to the broker,
command -> unlocked latency over the simulator) are printed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ha._mqtt import MOSQUITTO

BENCH = Path(__file__).resolve().parents[2] / "bench" / "gateway.py"

pytestmark = pytest.mark.timeout(180)


@pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto is not installed (.ci/run does)")
def test_bench_gateway_mqtt_row() -> None:
    out = subprocess.run([sys.executable, str(BENCH), "--json", "--locks", "",
                          "--events", "4", "--mqtt-commands", "2"],
                         capture_output=True, text=True, timeout=170, check=True)
    (row,) = json.loads(out.stdout)["runs"]
    assert (row["mode"], row["locks"], row["commands"]) == ("mqtt", 1, 2)
    assert row["events"] >= 4  # the claim's entries and the 4 door events
    for key in ("events_per_s", "unlock_ms_median", "unlock_ms_max"):
        assert isinstance(row[key], float), key
        assert row[key] > 0, key
