"""Fixtures of the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from ble_lock.testing.memory_lock import MemoryLock
from tests.cli._memory import Cli, MemoryBackend


@pytest.fixture
def door() -> MemoryLock:
    """A factory-fresh face-palm lock in pairing mode, lock id 0BADC0DE."""
    return MemoryLock()


@pytest.fixture
def cli(tmp_path: Path, door: MemoryLock) -> Cli:
    return Cli(home=tmp_path / "home", backend=MemoryBackend(door))


@pytest.fixture
def owned(cli: Cli, door: MemoryLock) -> Cli:
    """``door`` claimed by this phone, saved as 'door'."""
    cli.ok("claim", "0BADC0DE", "--code", "-", "--trust-fingerprint",
           door.fingerprint.hex(), "--name", "door", input=door.setup_code + "\n")
    return cli
