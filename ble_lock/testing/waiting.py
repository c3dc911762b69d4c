"""Waiting, in tests, for something another task or process makes true.

A last resort: prefer waiting on the event itself (a queue, a future, a process's output)
or moving a manual clock. When only polling is left, ``eventually`` polls a bounded number
of times and, when the condition never holds, fails with an ``AssertionError`` that names
what it waited for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["eventually"]

POLL_INTERVAL_S = 0.02


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
