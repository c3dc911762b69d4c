"""The emulator's clocks and randomness.

Two times run in the emulator:

* the **lock clock** (``now()``, unix seconds) that the core reads: lockout windows,
  countdown lock, pairing mode, visitor-code and validity windows;
* the **link clock** (``mono()``, monotonic seconds) of the transport timers: handshake
  and reassembly timeouts, idle sessions.

:class:`RealClock` runs both on the machine's clocks. :class:`ManualClock` (``--manual-clock``)
freezes the lock clock at a start time and moves it only through :meth:`ManualClock.advance`
(the control socket's ``clock.advance``), so tests of lockout and validity windows never
wait; the link clock stays real, so a phone that vanished mid-handshake still frees its
channel after the protocol's timeouts (a frozen link clock would fill the lock's 8 channels
with dead ones).
"""

from __future__ import annotations

import abc
import math
import os
import time

from ble_lock.core.errors import InvalidInputError

__all__ = ["EmulatorClock", "ManualClock", "OsRng", "RealClock"]


class OsRng:
    """``os.urandom`` in both shapes: the core's ``token_bytes(n)`` and the protocol's
    ``rng(n)`` callable."""

    __slots__ = ()

    def token_bytes(self, n: int) -> bytes:
        return os.urandom(n)

    def __call__(self, n: int) -> bytes:
        return os.urandom(n)

    def __repr__(self) -> str:
        return "OsRng()"


class EmulatorClock(abc.ABC):
    """Base: the lock clock, the link clock, and how long to sleep for a lock deadline."""

    manual = False

    @abc.abstractmethod
    def now(self) -> float:
        ...

    def mono(self) -> float:
        return time.monotonic()

    def lock_delay(self, deadline: float | None) -> float | None:
        """Real seconds until the lock clock reaches ``deadline`` (None: not by waiting)."""
        if deadline is None:
            return None
        return max(0.0, deadline - self.now())


class RealClock(EmulatorClock):
    """The machine's wall clock for the lock, its monotonic clock for the link."""

    def now(self) -> float:
        return time.time()

    def __repr__(self) -> str:
        return "RealClock()"


class ManualClock(EmulatorClock):
    """A lock clock that only :meth:`advance` moves (tests)."""

    manual = True
    MAX_STEP = 10 * 365 * 86400.0

    def __init__(self, start: float) -> None:
        if not math.isfinite(start) or not 0 <= start < 2**32:
            raise InvalidInputError("manual clock start must be unix seconds in 0..2^32")
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move the lock clock forward by ``seconds`` (0..10 years); returns the new time."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) \
                or not math.isfinite(seconds) or not 0 <= seconds <= self.MAX_STEP:
            raise InvalidInputError("clock.advance takes 0..315360000 seconds")
        self._now += float(seconds)
        return self._now

    def lock_delay(self, deadline: float | None) -> float | None:
        # Due deadlines run at once; future ones wait for the next advance (never sleep).
        if deadline is None or deadline > self._now:
            return None
        return 0.0

    def __repr__(self) -> str:
        return f"ManualClock({self._now!r})"
