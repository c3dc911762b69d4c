"""The emulator's clock and randomness.

One clock runs the whole lock, read two ways:

* ``now()``, unix seconds: the **lock clock** the core reads (lockout windows, countdown
  lock, pairing mode, visitor-code and validity windows);
* ``mono()``, monotonic seconds: the **link clock** the protocol endpoint reads (the
  freshness values' 15 s rotation and 30 s lifetime, the handshake, reassembly and idle
  timeouts). It never goes backwards; only differences of it mean anything.

:class:`RealClock` reads the machine's wall clock and its monotonic clock.
:class:`ManualClock` (``--manual-clock``) stands still: :meth:`ManualClock.advance` (the
control socket's ``clock.advance``) moves both readings by the same amount, so a test
that advances 31 s expires a freshness value, an idle session and a lockout window alike,
and nothing on either reading moves while a test waits for the radio. A phone that
vanished mid-handshake keeps its channel until the clock is advanced past the timeout
(or a new START evicts it: ``docs/protocol.md``, "Channels").
"""

from __future__ import annotations

import abc
import math
import time

from ble_lock.core.errors import InvalidInputError
from ble_lock.wire.security.crypto import OsRng  # the one production Rng, re-exported

__all__ = ["EmulatorClock", "ManualClock", "OsRng", "RealClock"]


class EmulatorClock(abc.ABC):
    """Base: the lock clock, the link clock, and how long to sleep for a deadline on each."""

    manual = False

    @abc.abstractmethod
    def now(self) -> float:
        """The lock clock: unix seconds."""

    @abc.abstractmethod
    def mono(self) -> float:
        """The link clock: monotonic seconds."""

    def lock_delay(self, deadline: float | None) -> float | None:
        """Real seconds until the lock clock reaches ``deadline`` (None: not by waiting)."""
        return self._delay(deadline, self.now())

    def link_delay(self, deadline: float | None) -> float | None:
        """Real seconds until the link clock reaches ``deadline`` (None: not by waiting)."""
        return self._delay(deadline, self.mono())

    def _delay(self, deadline: float | None, now: float) -> float | None:
        if deadline is None:
            return None
        return max(0.0, deadline - now)


class RealClock(EmulatorClock):
    """The machine's wall clock for the lock, its monotonic clock for the link."""

    def now(self) -> float:
        return time.time()

    def mono(self) -> float:
        return time.monotonic()

    def __repr__(self) -> str:
        return "RealClock()"


class ManualClock(EmulatorClock):
    """A clock that only :meth:`advance` moves (tests): the lock clock from ``start``
    (unix seconds), the link clock from 0."""

    manual = True
    MAX_STEP = 10 * 365 * 86400.0

    def __init__(self, start: float) -> None:
        if not math.isfinite(start) or not 0 <= start < 2**32:
            raise InvalidInputError("manual clock start must be unix seconds in 0..2^32")
        self._now = float(start)
        self._mono = 0.0

    def now(self) -> float:
        return self._now

    def mono(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (0..10 years), the lock clock and the
        link clock alike; returns the new lock time."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) \
                or not math.isfinite(seconds) or not 0 <= seconds <= self.MAX_STEP:
            raise InvalidInputError("clock.advance takes 0..315360000 seconds")
        self._now += float(seconds)
        self._mono += float(seconds)
        return self._now

    def _delay(self, deadline: float | None, now: float) -> float | None:
        # Due deadlines run at once; future ones wait for the next advance (never sleep).
        if deadline is None or deadline > now:
            return None
        return 0.0

    def __repr__(self) -> str:
        return f"ManualClock({self._now!r}, link={self._mono!r})"
