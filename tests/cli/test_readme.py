"""README's two-host test example runs as printed (so the tour does not rot)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from ble_lock.sim.harness import BleHarness

README = Path(__file__).resolve().parents[2] / "README.md"

pytestmark = pytest.mark.timeout(120)


async def test_readme_two_host_example(ble_sim: BleHarness, tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    (example,) = [b for b in blocks if "async def test_claim_and_unlock" in b]
    namespace: dict[str, Any] = {}
    exec(compile(example, str(README), "exec"), namespace)
    await namespace["test_claim_and_unlock"](ble_sim, tmp_path)
