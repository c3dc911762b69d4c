"""Crash consistency of the SQLite store (issue "done when").

A child process (``crash_writer.py``) writes multi-row mutations to the store and acks
each one after its commit; we SIGKILL it at 60 random moments (deterministic seed).
After each kill the store must open, hold every acked mutation, and hold no partial one:
its whole content equals a MemoryStore model that applied exactly ops 1..N, where N is
the last acked op or the one after it (committed, killed before its ack got out).
"""

from __future__ import annotations

import importlib.util
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from ble_lock.core.store import MemoryStore
from ble_lock.core.store.sqlite import SqliteStore

KILLS = 60
SEED = 20261121
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WRITER = HERE / "crash_writer.py"


def _load_writer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crash_writer", WRITER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run_and_kill(db: Path, rng: random.Random) -> list[int]:
    """Start a writer, let it ack a random number of ops, kill it at a random moment."""
    # -S: no site-packages to scan (the writer needs only this tree and the stdlib), so
    # the 60 restarts stay cheap on a loaded machine.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-S", str(WRITER), str(db), "100000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert child.stdout is not None
    acks: list[int] = []
    try:
        wanted = rng.randint(0, 6)
        while len(acks) < wanted:
            line = child.stdout.readline()
            if not line:
                break
            acks.append(int(line))
        time.sleep(rng.uniform(0, 0.004))  # land anywhere: inside a write, a commit, a print
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        # Not communicate(): it reads the raw pipes and would lose what readline()
        # already buffered. The child is dead, so these reads end at EOF.
        out = child.stdout.read()
        err = child.stderr.read() if child.stderr else ""
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    acks += [int(line) for line in out.split()]
    assert child.returncode == -signal.SIGKILL, f"the writer died on its own: {err}"
    return acks


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sigkill_at_random_moments_loses_no_acked_op_and_applies_none_by_half(
    tmp_path: Path,
) -> None:
    writer = _load_writer()
    rng = random.Random(SEED)
    db = tmp_path / "lock.db"
    model = MemoryStore()
    applied = 0  # ops in the model
    last_acked = 0
    mid_kills = 0  # kills that landed after a commit and before its ack
    for _ in range(KILLS):
        acks = _run_and_kill(db, rng)
        assert acks == list(range(last_acked + 1, last_acked + 1 + len(acks)))
        if acks:
            last_acked = acks[-1]
        with SqliteStore(db) as store:  # opens (WAL recovery, integrity check)
            durable = store.get_counter("op")
            assert last_acked <= durable <= last_acked + 1, (last_acked, durable)
            mid_kills += durable - last_acked
            while applied < durable:
                applied += 1
                writer.apply_op(model, applied)
            assert writer.snapshot(store, durable) == writer.snapshot(model, durable)
        last_acked = durable  # the next writer continues from the store's state
    assert last_acked >= KILLS  # the writers made real progress
    print(f"{KILLS} kills, {last_acked} ops, {mid_kills} committed-but-unacked")
