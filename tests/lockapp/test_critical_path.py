"""The unlock's critical path on the lock (issue 15 item 2): one fsync, no redundant push.

A phone's 0-RTT unlock (R-APP-3) advances its replay counter in the handshake and is
granted right after. Both, with the UNLOCK event (R-APP-6), commit in ONE SQLite
transaction: ``SqliteStore.syncs`` counts commits that wrote (each one WAL fsync under
``synchronous=FULL``). The bolt moves only once that commit is done, and nothing is
answered before it. A request failing half-way inside that transaction leaves nothing of
itself (a savepoint), while the counter stays. The phone that asked is not pushed the
state change its own response already told it; other phones are.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from ble_lock.core.errors import ErrorCode, LockError, StorageError
from ble_lock.core.model import Actor, EventKind
from ble_lock.core.store import MemoryStore
from ble_lock.core.store.sqlite import SqliteStore
from ble_lock.testing.memory_lock import MemoryLock
from ble_lock.testing.phone import LOCK_ID, SERIAL, Phone, new_phone
from ble_lock.wire import messages as m
from ble_lock.wire.errors import RemoteProtocolError


def _world(store: SqliteStore | MemoryStore) -> tuple[MemoryLock, Phone]:
    world = MemoryLock(store=store, seed=7, lock_id=LOCK_ID, serial=SERIAL, mtu=23,
                       pairing_mode=False, key_seed=b"critical path")
    owner = new_phone(world, b"owner")
    world.lock.enter_pairing_mode()
    owner.claim()
    return world, owner


def _unlocks(world: MemoryLock) -> int:
    return sum(1 for e in world.lock.read_events(limit=1000).events
               if e.kind is EventKind.UNLOCK)


def test_a_0rtt_unlock_is_one_fsync_counter_grant_and_event_R_APP_3(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "lock.db")
    world, owner = _world(store)
    for round_ in range(3):
        world.lock.inside_button()
        before, counter = store.syncs, owner.counter
        link = owner.link()
        request_id = link.start(m.Unlock(), world.now)
        assert request_id is not None
        world.run([link])
        assert owner.app.result(request_id, m.Unlocked).user_number == 1
        assert not world.lock.locked
        assert store.syncs - before == 1, f"round {round_}: one fsync per unlock"
        assert world.lock.phone_counter(owner.key.public) == counter
        owner.counter = link.next_counter
        link.close()
        world.run([link])
    store.close()
    with SqliteStore(tmp_path / "lock.db") as again:  # all three durable, counter too
        assert again.get_phone_counter(owner.key.public) == owner.counter - 1
        assert again.get_counter("event_seq") >= 3


def test_a_replayed_hs1_commits_nothing_and_opens_nothing(tmp_path: Path) -> None:
    """The counter's check stays ahead of the request: a replay writes no row."""
    store = SqliteStore(tmp_path / "lock.db")
    world, owner = _world(store)
    link = owner.link()
    link.start(m.Unlock(), world.now)
    hs1 = link.data_to_send()
    for frame in hs1:
        world.server.receive_data(frame, world.now)
    world.server.data_to_send()
    world.lock.inside_button()
    syncs, unlocks = store.syncs, _unlocks(world)
    for frame in hs1:  # the same first message again, on a new channel state
        world.server.receive_data(frame, world.now)
    assert world.lock.locked
    assert _unlocks(world) == unlocks
    assert store.syncs == syncs


class _FailingCommit(MemoryStore):
    """A store whose next outer commit fails (a full disk, an I/O error)."""

    fail = False

    def transaction(self) -> AbstractContextManager[None]:
        return self._failing() if self.fail else super().transaction()

    @contextmanager
    def _failing(self) -> Iterator[None]:
        with super().transaction():
            yield
            self.fail = False
            raise StorageError("disk full", code=ErrorCode.STORAGE_ERROR)


def test_a_failed_commit_answers_nothing_and_the_bolt_stays() -> None:
    """The door acts on what is durable only: if the one commit fails, the bolt has not
    moved, the counter and the event are not there, and no HS2 went out: the channel
    is closed with ``INTERNAL``."""
    store = _FailingCommit()
    world, owner = _world(store)
    counter = world.lock.phone_counter(owner.key.public)
    unlocks = _unlocks(world)
    link = owner.link()
    link.start(m.Unlock(), world.now)
    *head, last = link.data_to_send()  # HS1 in fragments: the last one completes it
    for frame in head:
        world.server.receive_data(frame, world.now)
    store.fail = True
    with pytest.raises(StorageError):
        world.server.receive_data(last, world.now)
    assert world.lock.locked
    assert world.lock.phone_counter(owner.key.public) == counter
    assert _unlocks(world) == unlocks
    (closing,) = world.server.data_to_send()  # no HS2: only the channel's CLOSE
    with pytest.raises(RemoteProtocolError) as closed:
        link.receive_data(closing, world.now)
    assert closed.value.code is ErrorCode.INTERNAL


def test_a_request_failing_half_way_leaves_nothing_but_the_counter_stays(
        tmp_path: Path) -> None:
    """Inside the frame's transaction a failing request is undone alone (savepoint):
    its writes are gone, the replay counter advanced by its handshake is durable."""
    store = SqliteStore(tmp_path / "lock.db")
    world, owner = _world(store)
    users = world.lock.context.store.load_users()
    original = store.put_user
    calls = 0

    def put_user_then_fail(user: object) -> None:
        nonlocal calls
        calls += 1
        original(user)  # type: ignore[arg-type]  # written, then the next step fails
        raise StorageError("I/O error", code=ErrorCode.STORAGE_ERROR)

    store.put_user = put_user_then_fail  # type: ignore[method-assign]
    counter_before = owner.counter
    with pytest.raises(LockError) as failed:
        owner.call(m.UserAdd(name="Mallory", role=m.Role.NORMAL), m.UserInfo)
    store.put_user = original  # type: ignore[method-assign]
    assert failed.value.code is ErrorCode.STORAGE_ERROR
    assert calls == 1
    assert store.load_users() == users
    assert world.lock.phone_counter(owner.key.public) == counter_before
    store.close()
    with SqliteStore(tmp_path / "lock.db") as again:
        assert again.get_phone_counter(owner.key.public) == counter_before
        assert again.load_users() == users


def test_no_redundant_unlocked_push_to_the_session_that_asked() -> None:
    """The HS2 tells the asking phone the door is open; a StateChanged on top costs an
    encrypt and a notification on the critical path. Another phone still gets it."""
    world, owner = _world(MemoryStore())
    guest = new_phone(world, b"guest")
    guest.redeem(owner.call(m.KeyInvite(name="guest"), m.Invite))
    watching = guest.link()
    watching.start(None, world.now)
    world.run([watching])
    link = owner.link()
    link.start(m.Unlock(), world.now)
    got = world.run([link, watching])
    owner_pushes = [e for e in got[id(link)] if hasattr(e, "body")
                    and isinstance(e.body, m.StateChanged)]
    guest_pushes = [e.body for e in got[id(watching)] if hasattr(e, "body")
                    and isinstance(e.body, m.StateChanged)]
    assert owner_pushes == []
    assert [(p.state, p.user_number) for p in guest_pushes] == [(m.LockState.UNLOCKED, 1)]
    # a later change the owner did not ask for in that session is pushed to it
    world.lock.inside_button()
    world.flush_pushes()
    later = world.run([link, watching])
    assert any(isinstance(getattr(e, "body", None), m.StateChanged)
               and e.body.state is m.LockState.LOCKED for e in later[id(link)])


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_savepoint_undoes_its_own_writes_only(kind: str) -> None:
    """``Store.savepoint``: inside a transaction the failing scope alone is undone;
    outside one it is a transaction of its own."""
    store = MemoryStore() if kind == "memory" else SqliteStore(":memory:")
    with store.transaction():
        store.set_counter("kept", 1)
        with pytest.raises(KeyError):
            _write_then_fail(store)
        with store.savepoint():
            store.set_counter("also", 3)
    assert (store.get_counter("kept"), store.get_counter("undone"),
            store.get_counter("also")) == (1, 0, 3)
    with store.savepoint():  # no transaction open: it is one
        store.set_counter("alone", 4)
    assert store.get_counter("alone") == 4


def _write_then_fail(store: MemoryStore | SqliteStore) -> None:
    with store.savepoint():
        store.set_counter("undone", 2)
        store.set_counter("kept", 5)
        raise KeyError("fails half-way")


def test_a_request_refused_before_writing_costs_no_reload(tmp_path: Path) -> None:
    """A denial or a bad argument inside the frame's transaction writes nothing, so
    nothing in memory is rebuilt (a reload reads every user: seconds at 100,000); one
    that failed after writing is reloaded (above)."""
    world, owner = _world(SqliteStore(tmp_path / "lock.db"))
    reloads: list[int] = []
    world.lock.context.on_reload(lambda: reloads.append(1))
    reloads.clear()
    with pytest.raises(LockError) as refused:
        owner.call(m.UserDelete(user_number=77), m.Done)
    assert refused.value.code is ErrorCode.UNKNOWN_USER
    assert reloads == []


def test_a_denied_unlock_in_the_batch_still_logs_and_commits_its_failure(
        tmp_path: Path) -> None:
    """R-MOD-2, R-APP-6: a guest's 0-RTT unlock in privacy mode is denied; the handler
    turns the denial into an error response, but the UNLOCK_FAILED the core logged is its
    own mutation (a savepoint released before the error): it commits with the counter."""
    store = SqliteStore(tmp_path / "lock.db")
    world, owner = _world(store)
    guest = new_phone(world, b"guest")
    guest.redeem(owner.call(m.KeyInvite(name="guest"), m.Invite))
    world.lock.update_settings(Actor.phone(owner.key.public), privacy_mode=True)
    counter = guest.counter
    with pytest.raises(LockError) as denied:
        guest.call(m.Unlock(), m.Unlocked)
    assert denied.value.code is ErrorCode.PRIVACY_MODE
    assert world.lock.locked
    store.close()
    with SqliteStore(tmp_path / "lock.db") as again:
        failed = [e for e in again.events_after(0, 1000) if e.kind is EventKind.UNLOCK_FAILED]
        assert [e.reason for e in failed] == [ErrorCode.PRIVACY_MODE]
        assert again.get_phone_counter(guest.key.public) == counter
