"""The outer transaction of a mutation (``Management.tx``, issue 10 made it a plain
context manager): a commit that fails is a failed mutation like a write that fails."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
from core_env import ADMIN_KEY, Env

from ble_lock.core.clock import FakeRng
from ble_lock.core.errors import StorageError
from ble_lock.core.lock import Lock
from ble_lock.core.model import Actor, EventKind
from ble_lock.core.store import MemoryStore


class _CommitFails:
    """Wraps a store; the next outermost transaction rolls back and raises at commit, as
    a full disk would."""

    def __init__(self, inner: MemoryStore) -> None:
        self._inner = inner
        self.fail = False

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def transaction(self) -> AbstractContextManager[None]:
        return self._tx()

    @contextmanager
    def _tx(self) -> Iterator[None]:
        fail, self.fail = self.fail, False
        with self._inner.transaction():
            yield
            if fail:
                raise StorageError("disk full at commit")


def test_r_app_6_a_failed_commit_applies_nothing_and_pushes_nothing(env: Env) -> None:
    """A Bluetooth unlock whose commit fails: no event in the log or in memory, no
    notification, and the next unlock runs its own transaction (R-APP-6)."""
    store = _CommitFails(env.store)
    lock = Lock(store=store, profile=env.profile, clock=env.clock, rng=FakeRng(9))  # type: ignore[arg-type]
    phone = Actor.phone(ADMIN_KEY)
    events_before = [e.seq for e in env.store.events_after(0, 1000)]
    lock.drain_notifications()
    store.fail = True
    with pytest.raises(StorageError):
        lock.unlock_bluetooth(phone)
    assert [e.seq for e in env.store.events_after(0, 1000)] == events_before
    assert lock.drain_notifications() == []
    decision = lock.unlock_bluetooth(phone)
    assert decision.granted
    kinds = [e.kind for e in lock.drain_notifications()]
    assert kinds == [EventKind.UNLOCK]
    assert env.store.events_after(0, 1000)[-1].seq == (events_before[-1] if events_before
                                                        else 0) + 1
