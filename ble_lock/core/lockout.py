"""R-SEC-1: 5 consecutive failures within 5 minutes lock the system for 3 minutes.

Pure bookkeeping over the times passed in. Windows are exact: the lockout covers
``[t5, t5 + duration)`` where ``t5`` is the time of the failure that tripped it; a
failure older than ``window`` seconds (``now - t >= window``) no longer counts.
"""

from __future__ import annotations

from collections import deque

__all__ = ["Lockout"]


class Lockout:
    """Failure counter and lockout window."""

    __slots__ = ("_duration", "_failures", "_limit", "_window", "locked_until")

    def __init__(self, *, limit: int, window: float, duration: float) -> None:
        self._limit = limit
        self._window = window
        self._duration = duration
        self._failures: deque[float] = deque()
        self.locked_until: float | None = None

    def __repr__(self) -> str:
        return f"Lockout(failures={len(self._failures)}, locked_until={self.locked_until})"

    def retry_after(self, now: float) -> float | None:
        """Seconds left in the lockout, or None if not locked out at ``now``."""
        if self.locked_until is None:
            return None
        if now >= self.locked_until:
            self.locked_until = None
            return None
        return self.locked_until - now

    def failures(self, now: float) -> int:
        self._expire(now)
        return len(self._failures)

    def _expire(self, now: float) -> None:
        while self._failures and now - self._failures[0] >= self._window:
            self._failures.popleft()

    def fail(self, now: float) -> bool:
        """Count one failure; True if it trips the lockout."""
        self._expire(now)
        self._failures.append(now)
        if len(self._failures) >= self._limit:
            self._failures.clear()
            self.locked_until = now + self._duration
            return True
        return False

    def succeed(self) -> None:
        """A success ends the run of consecutive failures."""
        self._failures.clear()

    def lift(self) -> None:
        """R-SEC-1 (face-palm): the app lifts the lockout."""
        self._failures.clear()
        self.locked_until = None
