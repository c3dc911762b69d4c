"""Start-up time of the ``ble-lock`` command beside its floor, ``python -c "import click"``.

    python bench/cli.py [--json] [--runs 20]

Each command runs ``--runs`` times as a fresh process, side by side with the floor (one
round = every command once, in turn, so a busy machine slows all of them alike). Printed
per command: the median wall time, the floor's median, their ratio, and median [min-max].
Commands: ``--help`` (target: within 2x the floor), ``code one-time`` on a keystore made
for the run (needs no Bluetooth; target: within 3x), and for reference what every command
paid before the lazy loading: importing all the command modules at once.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ble_lock.central.keystore import Keystore, LockRecord

_EAGER = ("import ble_lock.cli.door, ble_lock.cli.emulate, ble_lock.cli.people, "
          "ble_lock.cli.keys, ble_lock.cli.codes, ble_lock.cli.lockcfg, "
          "ble_lock.cli.gateway_cmd, ble_lock.cli.demo_cmd")

TARGETS = {"--help": 2.0, "code one-time": 3.0}


def _ble_lock() -> list[str]:
    """The console script beside this interpreter (what a user runs), else ``-m``."""
    script = Path(sys.executable).parent / "ble-lock"
    return [str(script)] if script.exists() else [sys.executable, "-m", "ble_lock.cli"]


def _commands(home: Path) -> dict[str, list[str]]:
    cli = _ble_lock()
    return {
        "floor": [sys.executable, "-c", "import click"],
        "--help": [*cli, "--help"],
        "code one-time": [*cli, "--home", str(home), "code", "one-time", "door", "--at",
                          "1767225600", "--nonce", "3"],
        "eager imports (before)": [sys.executable, "-c", _EAGER],
    }


def _once(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - start) * 1000


def run(runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        Keystore(home).put(LockRecord(lock_id="0BADC0DE", name="door",
                                      lock_public_key=bytes(32), visitor_secret=bytes(32)))
        commands = _commands(home)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for argv in commands.values():  # warm the caches (bytecode, page cache)
            _once(argv)
        for _ in range(runs):
            for name, argv in commands.items():
                times[name].append(_once(argv))
    floor = statistics.median(times["floor"])
    result: dict[str, Any] = {"runs": runs, "python": sys.version.split()[0],
                              "floor_ms": round(floor, 1), "commands": {}}
    for name, values in times.items():
        if name == "floor":
            continue
        median = statistics.median(values)
        result["commands"][name] = {
            "median_ms": round(median, 1), "min_ms": round(min(values), 1),
            "max_ms": round(max(values), 1), "ratio": round(median / floor, 2),
            "target_ratio": TARGETS.get(name),
        }
    result["floor_min_ms"] = round(min(times["floor"]), 1)
    result["floor_max_ms"] = round(max(times["floor"]), 1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--runs", type=int, default=20, help="runs of each command")
    args = parser.parse_args()
    result = run(args.runs)
    if args.json:
        print(json.dumps(result))
        return 0
    floor = result["floor_ms"]
    print(f"floor `python -c 'import click'`: {floor} ms "
          f"[{result['floor_min_ms']}-{result['floor_max_ms']}], {result['runs']} runs")
    for name, r in result["commands"].items():
        target = f" (target <= {r['target_ratio']}x)" if r["target_ratio"] else ""
        print(f"{name:24} {r['median_ms']:7} ms  floor {floor} ms  ratio {r['ratio']}x"
              f"{target}  median {r['median_ms']} [{r['min_ms']}-{r['max_ms']}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
