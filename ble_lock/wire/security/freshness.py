"""The lock's freshness values (``docs/protocol.md``, "Freshness"), sans-IO.

The lock draws a random 16-byte *freshness value* every :data:`ROTATION` seconds and
accepts the current and the previous one, so an accepted value was first shown at most
:data:`MAX_AGE` (2 x ROTATION = 30 s) ago. A phone learns the current value from the fresh
characteristic (one ATT read) or from the last HS2; its HS1 carries it in clear and mixes
it into the Noise prologue, so an HS1 is bound to a value the lock chose recently. A new
:class:`Freshness` (a lock restart) accepts nothing from before.

Time is the caller's monotonic ``now`` (seconds); a clock that goes backwards starts a
new value at once (never extends an old one).
"""

from __future__ import annotations

import hmac

from ble_lock.wire.errors import LocalProtocolError
from ble_lock.wire.link.transport_messages import FRESH_LEN
from ble_lock.wire.security.crypto import Rng

__all__ = ["FRESH_LEN", "MAX_AGE", "ROTATION", "Freshness"]

ROTATION = 15.0
MAX_AGE = 2 * ROTATION
MAX_VALID_FOR = 255  # the u8 of seconds on the wire


class Freshness:
    """The current and previous freshness values of one lock (one per endpoint)."""

    __slots__ = ("_current", "_minted", "_previous", "_rng", "_rotation", "rotations")

    def __init__(self, rng: Rng, *, rotation: float = ROTATION, now: float | None = None
                 ) -> None:
        if not 0 < 2 * rotation <= MAX_VALID_FOR:
            raise LocalProtocolError("rotation must be in (0, 127.5] seconds")
        self._rng = rng
        self._rotation = rotation
        self._current = rng.token_bytes(FRESH_LEN)
        self._previous: bytes | None = None
        self._minted: float | None = now  # when the current value started (None: at first use)
        self.rotations = 0

    def __repr__(self) -> str:
        return f"Freshness(rotation={self._rotation:g}, rotations={self.rotations})"

    @property
    def max_age(self) -> float:
        """How long after it was first shown a value may still be accepted."""
        return 2 * self._rotation

    def current(self, now: float) -> tuple[bytes, int]:
        """The value to show now, and whole seconds it stays accepted (at least
        ``rotation``, at most ``2 x rotation``; rounded down)."""
        minted = self._advance(now)
        return self._current, int(minted + 2 * self._rotation - now)

    def accepts(self, value: bytes, now: float) -> bool:
        """Whether ``value`` is the current or the previous value (at most 30 s old)."""
        self._advance(now)
        ok = hmac.compare_digest(value, self._current)
        if self._previous is not None:
            ok |= hmac.compare_digest(value, self._previous)
        return ok

    def _advance(self, now: float) -> float:
        minted = self._minted
        if minted is None:
            self._minted = now
            return now
        if now < minted:  # the clock went backwards: start over, never stretch a value
            self._rotate(keep_previous=False)
            self._minted = now
            return now
        steps = int((now - minted) // self._rotation)
        if steps >= 1:
            # Stepping on the grid keeps "accepted for < 2 x rotation after it was first
            # shown" exact even when nobody asked for a while.
            self._rotate(keep_previous=steps == 1)
            minted += steps * self._rotation
            self._minted = minted
        return minted

    def _rotate(self, *, keep_previous: bool) -> None:
        self._previous = self._current if keep_previous else None
        self._current = self._rng.token_bytes(FRESH_LEN)
        self.rotations += 1
