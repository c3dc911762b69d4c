"""Fixtures for the secure transport: a deterministic testbed at MTU 23 and 247."""

from __future__ import annotations

import pytest

from ble_lock.testing.testbed import Testbed, make_testbed


@pytest.fixture(params=[23, 247], ids=["mtu23", "mtu247"])
def bed(request: pytest.FixtureRequest) -> Testbed:
    return make_testbed(mtu=request.param)


@pytest.fixture
def paired(bed: Testbed) -> Testbed:
    bed.pair()
    return bed
