"""The in-memory lock rig's own behaviour: ``writes(n)`` waits for counted writes (no
clock), and ``run`` counts round trips for sans-IO phones."""

from __future__ import annotations

import asyncio

from ble_lock.testing.memory_lock import MemoryLock
from ble_lock.testing.phone import claimed_world
from ble_lock.testing.waiting import yield_to_loop
from ble_lock.wire import messages as m


async def test_writes_returns_once_that_many_more_frames_were_written() -> None:
    lock = MemoryLock()
    link = await lock.connector()(lambda _frame: None, lambda: None)
    waiting = asyncio.create_task(lock.writes(2))
    await link.write(b"\x01\x00")  # garbage is fine: counted, answered or not
    await yield_to_loop()
    assert not waiting.done()  # one write is not two
    await link.write(b"\x01\x00")
    await asyncio.wait_for(waiting, 1)
    assert len(lock.frames) == 2


async def test_writes_of_zero_returns_at_once() -> None:
    await asyncio.wait_for(MemoryLock().writes(0), 1)


def test_run_counts_one_round_trip_per_request_and_keeps_the_transcript() -> None:
    world, owner = claimed_world()
    before, frames = world.round_trips, len(world.transcript)
    owner.call(m.WhoAmI(), m.UserInfo)
    # the request in the first message, its answer in the reply; then the CLOSE
    assert world.round_trips - before == 1
    assert len(world.transcript) > frames

