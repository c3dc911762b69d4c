"""The pytest plugin as users get it: loaded from the pytest11 entry point, in a fresh pytest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = """
import pytest

@pytest.mark.ble_adapter
def test_needs_radios(ble_adapters):
    print("ADAPTERS", ble_adapters)

async def test_sim_fixture(ble_sim):
    assert ble_sim.simulated_radio
    assert len(ble_sim.sim.hosts) == 3
    assert [len(h.adapters) for h in ble_sim.sim.hosts] == [1, 2, 1]

test_sim_fixture = pytest.mark.ble_sim(hosts=3, adapters=(1, 2, 1))(test_sim_fixture)
"""


def run_pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=auto",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )


@pytest.mark.timeout(150)
def test_real_radio_tests_skip_without_ble_adapter(tmp_path: Path) -> None:
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 1 skipped" in result.stdout


@pytest.mark.timeout(150)
def test_ble_adapter_option_runs_them(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, "--ble-adapter", "hci0", "--ble-adapter", "hci1", "-k", "radios")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ADAPTERS ['hci0', 'hci1']" in result.stdout
