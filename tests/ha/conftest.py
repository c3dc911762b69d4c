"""Fixtures of the Home Assistant tests: a real Mosquitto per test (issue 16, item 7)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.ha._mqtt import MOSQUITTO, Broker


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Broker]:
    """Mosquitto on a free loopback port with a generated config (.ci/run installs it)."""
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto; .ci/run does)")
    b = Broker(tmp_path / "mosquitto")
    await b.start()
    try:
        yield b
    finally:
        await b.stop()

