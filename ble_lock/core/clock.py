"""Time and randomness, passed into the core (DESIGN: never read inside ``core``).

The lock reads "now" from a :class:`Clock` (unix seconds, float) and draws random bytes
from an :class:`Rng`. The emulator passes real ones (``time.time`` / ``os.urandom``
wrappers live in the adapters); tests pass :class:`FakeClock` and :class:`FakeRng`.

These are the project's only clock and RNG protocols: the wire layer draws its ephemerals,
channels, request ids and freshness values from the same :class:`Rng`
(``ble_lock.wire.security.crypto`` imports it from here; the production one is
``crypto.os_rng``). This module stays a leaf (it imports nothing of ``ble_lock``) so that
the sans-IO wire layer may depend on it (tests/test_layering.py).

The core's clock drives every timer and the deadlines the lock persists (a running
lockout, a pending sync link), so it must move forward across a restart: the lock's
admin-set time is an offset over it (``set_time``),
never a change of it. See ``docs/core.md`` "Time".
"""

from __future__ import annotations

import hashlib
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FakeClock", "FakeRng", "Rng"]


@runtime_checkable
class Clock(Protocol):
    """A source of the current time in unix seconds (may have a fractional part)."""

    def now(self) -> float:
        """Return the current time in unix seconds."""
        ...


@runtime_checkable
class Rng(Protocol):
    """A source of cryptographically strong random bytes (the emulator: ``os.urandom``)."""

    def token_bytes(self, n: int) -> bytes:
        """Return ``n`` random bytes."""
        ...


class FakeClock:
    """A settable clock for tests: ``advance`` moves it, never a real wait."""

    __slots__ = ("_now",)

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward (or back, for clock-jump tests) and return the new time."""
        self._now += seconds
        return self._now

    def set(self, when: float) -> None:
        self._now = float(when)

    def __repr__(self) -> str:
        return f"FakeClock({self._now!r})"


class FakeRng:
    """A deterministic RNG for tests: SHAKE-256 of a seed and a counter."""

    __slots__ = ("_counter", "_seed")

    def __init__(self, seed: bytes | int = 0) -> None:
        self._seed = seed if isinstance(seed, bytes) else seed.to_bytes(8, "big", signed=True)
        self._counter = 0

    def token_bytes(self, n: int) -> bytes:
        if n < 0:
            raise ValueError("n must be >= 0")
        self._counter += 1
        material = self._seed + self._counter.to_bytes(8, "big")
        return hashlib.shake_256(material).digest(n)

    def __repr__(self) -> str:
        return "FakeRng(<seeded>)"
