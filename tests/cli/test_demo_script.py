"""``scripts/demo.sh`` on a fresh machine installs only what the demo needs, quietly
(issue 14 item 13): its install step, into a fresh virtual environment.

It installs from the package index configured on the machine (as the script does), so it
is marked slow; ``ble-lock demo`` itself is tested in test_demo_cli.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

#: what the test extras bring and the demo must not install
TEST_TOOLS = ("ruff", "mypy", "hypothesis", "pytest", "pytest-asyncio", "pytest-xdist")


def _pip_notice(line: str) -> bool:
    """Lines pip prints about this machine's own configuration (unreachable extra index
    folders), not about ble-lock's packaging."""
    return line.startswith("WARNING: Location ") and "is ignored" in line


def test_demo_install_is_the_package_alone_without_setuptools_warnings(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    env = {**os.environ, "BLE_LOCK_VENV": str(venv), "PYTHON": sys.executable}
    # bootstrap.sh as demo.sh sources it, then the installed command answers
    script = (f"ble_lock_install=demo; source {ROOT / 'scripts' / 'bootstrap.sh'}; "
              "ble-lock --version")
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=540, check=False)
    assert done.returncode == 0, done.stderr
    assert "ble-lock, version" in done.stdout
    noise = [line for line in done.stderr.splitlines() if line.strip() and not _pip_notice(line)]
    assert noise == []  # no setuptools warnings (license form, package discovery, editable)
    listed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list",
                             "--format=freeze"], capture_output=True, text=True, check=True)
    installed = {line.split("==")[0].lower() for line in listed.stdout.splitlines()}
    assert "ble-lock" in installed
    assert "bleak" in installed
    assert installed.isdisjoint(TEST_TOOLS), sorted(installed & set(TEST_TOOLS))
    assert (venv / ".ble-lock-installed").read_text().split()[1] == "demo"
