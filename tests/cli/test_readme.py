"""README's two-host test example runs as printed, in a fresh folder (so the tour does not
rot, and does not lean on this repository's pytest configuration: issue 14 item 6)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"

pytestmark = pytest.mark.timeout(180)


def _example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    (example,) = [b for b in blocks if "async def test_claim_and_unlock" in b]
    return example


def _pytest(folder: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "BLE_LOCK"))}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "-p", "no:xdist", "test_lock.py"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=150, check=False)


def test_readme_example_passes_in_a_fresh_folder(tmp_path: Path) -> None:
    """Exactly the README block, as a newcomer's test file in a folder with no pytest
    configuration (pytest-asyncio in its default strict mode): the plugin marks it."""
    (tmp_path / "test_lock.py").write_text(_example())
    done = _pytest(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    assert f"rootdir: {tmp_path}\n" in done.stdout  # not this repository's configuration
    assert "asyncio: mode=Mode.STRICT" in done.stdout


def test_without_the_plugins_marking_strict_mode_refuses_it(tmp_path: Path) -> None:
    """The test above can fail: the same file with the plugin's marking switched off
    (``-p no:ble_lock_sim`` drops the fixtures too) is what a newcomer saw before."""
    (tmp_path / "test_lock.py").write_text(_example())
    (tmp_path / "conftest.py").write_text(
        "import ble_lock.testing.pytest_plugin as plugin\n"
        "plugin._ASYNC_FIXTURES = frozenset()\n")
    done = _pytest(tmp_path)
    assert done.returncode != 0
    assert "async def functions are not natively supported" in done.stdout
