"""Fixtures of the Home Assistant tests: a real Mosquitto per test (issue 16, item 7)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.ha._bridge import RUNNING
from tests.ha._mqtt import CLIENTS, MOSQUITTO, Broker


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
        # a failed test's gateways and clients first (their tasks would keep the loop)
        for run in list(RUNNING):
            await asyncio.wait_for(run.stop(), 30)
        for client in list(CLIENTS):
            await asyncio.wait_for(client.stop(), 30)
        await b.stop()

