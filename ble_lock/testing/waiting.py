"""Waiting, in tests, for something another task or process makes true.

A last resort: prefer waiting on the event itself (a queue, a future, a process's output)
or moving a manual clock. When only polling is left, ``eventually`` polls a bounded number
of times and, when the condition never holds, fails with an ``AssertionError`` that names
what it waited for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["eventually", "yield_to_loop"]

POLL_INTERVAL_S = 0.02


async def yield_to_loop(turns: int = 1) -> None:
    """Give every ready task ``turns`` turns of the event loop.

    A scheduling point, not a wait: no time passes on any clock. The in-memory links call
    it where a real link's write, read or connect would yield to the loop, and a test
    calls it to let a task it just started reach its own first ``await``.
    """
    for _ in range(turns):
        await asyncio.sleep(0)


async def eventually(check: Callable[[], bool], *, what: str, timeout: float = 10.0) -> None:
    """Poll ``check`` until it returns true, at most ``timeout / POLL_INTERVAL_S`` times.

    Raises ``AssertionError("never true: <what> ...")`` when it never does; the wait is a
    bound for a loaded machine, never a figure the test asserts.
    """
    polls = max(1, int(timeout / POLL_INTERVAL_S))
    for _ in range(polls):
        if check():
            return
        await asyncio.sleep(POLL_INTERVAL_S)
    if not check():
        raise AssertionError(f"never true: {what} (polled {polls} times)")
