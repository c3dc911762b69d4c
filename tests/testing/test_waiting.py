"""``eventually``: returns once the condition holds, and names what it waited for when it
never does (the message used to be lost behind the timeout)."""

from __future__ import annotations

import asyncio

import pytest

from ble_lock.testing.waiting import eventually, yield_to_loop


async def test_eventually_returns_once_another_task_made_it_true() -> None:
    done: list[int] = []

    async def later() -> None:
        await yield_to_loop()
        done.append(1)

    task = asyncio.create_task(later())
    await eventually(lambda: bool(done), what="the task ran")
    await task
    assert done == [1]


async def test_eventually_failure_names_what_it_waited_for() -> None:
    calls: list[int] = []

    def never() -> bool:
        calls.append(1)
        return False

    with pytest.raises(AssertionError, match="never true: the relay answered"):
        await eventually(never, what="the relay answered", timeout=0.04)
    assert len(calls) == 3  # two polls and the last look: bounded, not open-ended
