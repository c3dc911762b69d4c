"""Fixtures of the real-BlueZ tests (docs/testing.md, "The real-BlueZ lane")."""

from __future__ import annotations

import pytest

from tests.real.test_real_story import CONNECT


@pytest.fixture
def slow_radio(monkeypatch: pytest.MonkeyPatch) -> None:
    """bleak-retry-connector gives one connection attempt (connect + GATT discovery) 20 s;
    under software emulation a first discovery takes longer."""
    import bleak_retry_connector

    monkeypatch.setattr(bleak_retry_connector, "BLEAK_TIMEOUT", CONNECT)
    monkeypatch.setattr(bleak_retry_connector, "BLEAK_SAFETY_TIMEOUT", CONNECT * 2)
