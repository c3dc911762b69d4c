"""The gateway's commit (gateway/cursors.py): one fsync per batch, and exactly once
across a crash between writing a batch and committing it. Counts fsyncs, never time."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

from ble_lock.central.client import LockClient
from ble_lock.central.keystore import Keystore
from ble_lock.core.errors import ErrorCode, StorageError
from ble_lock.gateway.cursors import StreamCursors
from ble_lock.gateway.gateway import Gateway
from ble_lock.gateway.trackers import StaticTracker
from ble_lock.testing.memory_lock import MemoryLock
from ble_lock.testing.waiting import eventually, yield_to_loop
from tests.flows._memlocks import claim_all, config, memory_locks

pytestmark = pytest.mark.timeout(60)


def _events(path: Path) -> list[tuple[str, int]]:
    if not path.exists():
        return []
    objs = [json.loads(line) for line in path.read_text().splitlines()]
    return [(o["lock"], o["seq"]) for o in objs if o["type"] == "event"]


async def _logs(locks: list[MemoryLock], keystore: Keystore) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for mem in locks:
        async with LockClient(mem.connector(), keystore=keystore, lock_id=mem.lock_id) as c:
            out += [(mem.lock_id.hex().upper(), r.seq) for r in await c.events()]
    return sorted(out)


async def _locks_with_events(tmp: Path, n: int, events: int
                             ) -> tuple[list[MemoryLock], Keystore]:
    locks = memory_locks(n)
    keystore = Keystore(tmp / "admin")
    await claim_all(locks, keystore)
    for mem in locks:  # more than a page (8) each: a batch of several pages
        for k in range(events):
            if k % 2 == 0:
                mem.lock.door_opened()
            else:
                mem.lock.door_closed()
    return locks, keystore


async def _run_until(gw: Gateway, done: object) -> None:
    task = asyncio.create_task(gw.run())
    try:
        await eventually(done, what="streamed")  # type: ignore[arg-type]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_one_fsync_per_batch_and_none_for_the_cursors(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locks, keystore = await _locks_with_events(tmp_path, 3, 20)
    expected = await _logs(locks, keystore)
    cfg = config(locks, tmp_path)
    out = tmp_path / "events.jsonl"
    synced: Counter[str] = Counter()
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced[os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))] += 1
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    steps: Counter[str] = Counter()
    cursors = StreamCursors(cfg.state, out, step=lambda s: steps.update([s]))
    gw = Gateway(cfg, keystore=keystore, cursors=cursors,
                 tracker=StaticTracker({mem.lock_id: mem.connector() for mem in locks}))
    await _run_until(gw, lambda: sorted(_events(out)) == expected)
    # one batch per lock (its whole log, 3+ pages): one commit each, one fsync each
    assert steps["committed"] == 3
    assert steps["written"] >= 3 * 3
    assert synced["events.jsonl"] == 3
    assert synced["cursors.json"] == synced["cursors.json.tmp"] == synced["tmp"] == 0
    assert sorted(_events(out)) == expected


@pytest.mark.parametrize("torn", [False, True])
async def test_a_crash_between_write_and_commit_streams_every_event_exactly_once(
        tmp_path: Path, torn: bool) -> None:
    """Kill at the step hook: the disk as a killed process leaves it (its lines written
    to the file, no commit, no checkpoint) is copied at that instant; a gateway started
    on that copy streams every event exactly once. ``torn``: the kill also cut a line."""
    locks, keystore = await _locks_with_events(tmp_path, 2, 20)
    expected = await _logs(locks, keystore)
    cfg = config(locks, tmp_path)
    out = tmp_path / "events.jsonl"
    crash = tmp_path / "crash"
    crash.mkdir()
    written = 0

    def step(name: str) -> None:
        nonlocal written
        if name != "written":
            return
        written += 1
        if written == 5:  # mid-batch: pages written, the batch not committed
            for f in (out, cfg.state):
                if f.exists():
                    shutil.copy(f, crash / f.name)

    tracker = StaticTracker({mem.lock_id: mem.connector() for mem in locks})
    gw = Gateway(cfg, keystore=keystore, tracker=tracker,
                 cursors=StreamCursors(cfg.state, out, step=step))
    await _run_until(gw, lambda: sorted(_events(out)) == expected)
    assert written >= 5
    # restart on the crashed disk
    for f in (out, cfg.state):
        f.unlink(missing_ok=True)
        if (crash / f.name).exists():
            shutil.copy(crash / f.name, f)
    before = _events(out)
    assert 0 < len(before) < len(expected)  # the crash left part of the stream
    if torn:
        with out.open("a") as f:
            f.write('{"type":"event","lock":"A0000000","seq":9')
    gw = Gateway(cfg, keystore=keystore, tracker=tracker)
    await _run_until(gw, lambda: len(_events(out)) >= len(expected))
    streamed = _events(out)
    assert sorted(streamed) == expected  # none lost, none twice
    assert streamed[:len(before)] == before
    assert '"seq":9{' not in out.read_text()


async def test_cursors_survive_a_lost_checkpoint_and_read_the_old_format(
        tmp_path: Path) -> None:
    out, state = tmp_path / "o.jsonl", tmp_path / "c.json"
    out.write_text('{"type":"status","lock":"AA","state":"connected"}\n'
                   '{"type":"event","lock":"AA","seq":3}\n'
                   '{"type":"event","lock":"BB","seq":7}\n')
    assert StreamCursors(state, out).get("AA") == 3  # no checkpoint: the whole stream
    cursors = StreamCursors(state, out)
    cursors.set("AA", 3)
    cursors.set("CC", 2)
    cursors.flush()
    assert json.loads(state.read_text())["offset"] == out.stat().st_size
    with out.open("a") as f:
        f.write('{"type":"event","lock":"AA","seq":4}\n')
    again = StreamCursors(state, out)  # the checkpoint, then the lines after it
    assert (again.get("AA"), again.get("BB"), again.get("CC")) == (4, 7, 2)
    state.write_text('{"version": 1, "cursors": {"BB": 9}}')
    old = StreamCursors(state, out)
    assert (old.get("AA"), old.get("BB")) == (4, 9)
    out.rename(tmp_path / "o.jsonl.1")  # rotated away: the checkpoint keeps the cursors
    again.set("AA", 5)
    again.flush()
    assert (json.loads(state.read_text())["offset"], StreamCursors(state, out).get("AA")) == (
        0, 5)
    state.write_text('{"version": 2, "cursors": {"X": -1}, "offset": 0}')
    with pytest.raises(StorageError) as bad:
        StreamCursors(state, out)
    assert bad.value.code is ErrorCode.STORAGE_CORRUPT


class _StopsMidPage:
    """Gateway hooks that deliver the first ``deliver`` records of the log, then wait
    forever (the broker slow): the gateway is stopped right there (R-APP-6)."""

    def __init__(self, deliver: int) -> None:
        self.deliver = deliver
        self.done = 0
        self.reached = asyncio.Event()

    def status(self, entry: object, state: str) -> None:
        pass

    def pushed(self, entry: object, body: object) -> None:
        pass

    async def events(self, entry: object, records: list) -> None:  # type: ignore[type-arg]
        for record in records:
            if self.done >= self.deliver:
                self.reached.set()
                await asyncio.Event().wait()  # until the gateway is stopped
            self.done = record.seq

    def delivered(self, entry: object) -> int:
        return self.done


async def test_a_stop_mid_page_records_what_the_hooks_delivered(tmp_path: Path) -> None:
    """A gateway stopped while its hooks (the MQTT bridge) are part-way through a page
    records the records they delivered: a restart delivers each of them once, never
    twice (issue 16, exactly once across a gateway restart)."""
    locks, keystore = await _locks_with_events(tmp_path, 1, 6)
    cfg = config(locks, tmp_path)
    out = tmp_path / "events.jsonl"
    hooks = _StopsMidPage(deliver=3)
    gw = Gateway(cfg, keystore=keystore, tracker=StaticTracker({m.lock_id: m.connector()
                                                                 for m in locks}),
                 hooks=hooks)  # type: ignore[arg-type]
    gw.stop_grace_s = 0.0  # the broker never acknowledges: no wait
    task = asyncio.create_task(gw.run())
    await asyncio.wait_for(hooks.reached.wait(), 30)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert [seq for _, seq in _events(out)] == [1, 2, 3]  # what was delivered, in the stream
    again = _StopsMidPage(deliver=100)
    gw2 = Gateway(cfg, keystore=keystore, tracker=StaticTracker({m.lock_id: m.connector()
                                                                  for m in locks}),
                  hooks=again)  # type: ignore[arg-type]
    expected = await _logs(locks, keystore)
    await _run_until(gw2, lambda: len(_events(out)) == len(expected))
    assert sorted(_events(out)) == expected  # each once: 1-3 not delivered again


class _InFlightAtStop(_StopsMidPage):
    """Hooks whose message for record ``deliver + 1`` is on its way when the gateway stops
    and is acknowledged just after: the stop waits for it."""

    def __init__(self, deliver: int) -> None:
        super().__init__(deliver)
        self.release = asyncio.Event()

    async def events(self, entry: object, records: list) -> None:  # type: ignore[type-arg]
        for record in records:
            if self.done == self.deliver:
                self.reached.set()
                await self.release.wait()  # the broker's acknowledgement
            self.done = record.seq


async def test_a_stop_waits_for_the_message_on_its_way(tmp_path: Path) -> None:
    """A stop while a message is on its way to the broker gives it time to be
    acknowledged (``stop_grace_s``) and records it: the restart publishes nothing twice."""
    locks, keystore = await _locks_with_events(tmp_path, 1, 6)
    cfg = config(locks, tmp_path)
    out = tmp_path / "events.jsonl"
    hooks = _InFlightAtStop(deliver=3)
    gw = Gateway(cfg, keystore=keystore, tracker=StaticTracker({m.lock_id: m.connector()
                                                                 for m in locks}),
                 hooks=hooks)  # type: ignore[arg-type]
    gw.stop_grace_s = 60.0
    task = asyncio.create_task(gw.run())
    await asyncio.wait_for(hooks.reached.wait(), 30)
    task.cancel()
    await yield_to_loop()  # the cancellation reaches the catch-up first
    hooks.release.set()
    await asyncio.gather(task, return_exceptions=True)
    page = [seq for _, seq in _events(out)]
    assert page[:4] == [1, 2, 3, 4]  # the message on its way, recorded
    assert hooks.done == page[-1]  # and the rest of its page
