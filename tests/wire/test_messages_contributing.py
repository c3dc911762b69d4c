"""CONTRIBUTING.md's worked example ("adding a request") is the code: every block it
quotes with a ``# file: <path>`` first line is, verbatim, in that file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "CONTRIBUTING.md"
_BLOCK = re.compile(r"```python\n# file: (\S+)\n(.*?)```", re.S)


def _quoted() -> list[tuple[str, str]]:
    return _BLOCK.findall(GUIDE.read_text())


def test_the_guide_quotes_every_touch_of_a_request() -> None:
    files = {path for path, _ in _quoted()}
    assert files >= {
        "ble_lock/wire/messages/types.py",
        "ble_lock/wire/messages/bodies.py",
        "ble_lock/lockapp/handlers.py",
        "ble_lock/central/operations.py",
        "tests/wire/_samples.py",
    }


@pytest.mark.parametrize(("path", "code"), _quoted(), ids=[p for p, _ in _quoted()])
def test_a_quoted_block_is_in_its_file(path: str, code: str) -> None:
    assert code in (ROOT / path).read_text(), f"CONTRIBUTING.md quotes {path} out of date"
