"""Fixtures for the lock core tests (helpers live in ``core_env``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from core_env import Env, make_env

from ble_lock.core.profile import DL20VC, FACE_PALM, Profile


@pytest.fixture(params=[DL20VC, FACE_PALM], ids=lambda p: p.name)
def env(request: pytest.FixtureRequest) -> Env:
    """A claimed lock, once per model profile."""
    profile: Profile = request.param
    return make_env(profile)


@pytest.fixture
def dl20() -> Env:
    return make_env(DL20VC)


@pytest.fixture
def fp() -> Env:
    return make_env(FACE_PALM)


@pytest.fixture
def env_factory() -> Callable[..., Env]:
    return make_env
