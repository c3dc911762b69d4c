"""R-SEC-1: 5 consecutive failures within 5 minutes lock the system for 3 minutes.

Pure bookkeeping over the times passed in. Windows are exact: a lockout covers
``[t5, t5 + duration)`` where ``t5`` is the time of the failure that tripped it; a
failure older than ``window`` seconds (``now - t >= window``) no longer counts.

Failures are counted **per input path** (:class:`InputPath`): "consecutive" means
consecutive on that path, so a success on one path (a guest's Bluetooth unlock, the
owner's finger) does not end a run of wrong PINs at the keypad. Paths are grouped into
*barriers* (one :class:`Lockout` each) that decide what a tripped run locks:

* the **user-input** barrier (keypad: PINs and visitor codes; sensors: fingerprint,
  face, palm; card) is the manual's "system" lockout: any of its paths tripping refuses
  every user-input path, Bluetooth keys, sync statements and the remote control for
  3 minutes (the mechanical key and the inside handle always open);
* the **pairing** barrier (setup and invite codes guessed from radio range) has its own
  limiter with the same figures and refuses only pairing: strangers' PAIR1s never lock
  out users' credentials, and the code-guessing bound still holds;
* the **remote** barrier (remote-control accessory ids, also radio) refuses only the
  remote control.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from enum import Enum

from ble_lock.core.events import UnlockMethod

__all__ = [
    "USER_INPUT_PATHS",
    "Barrier",
    "InputPath",
    "Lockout",
    "Lockouts",
    "barrier_of",
    "path_of_method",
    "refused_by",
]


class InputPath(Enum):
    """Where a verification or a guess came in (R-SEC-1 counts runs per path)."""

    KEYPAD = "keypad"  # PINs, visitor codes (R-PIN-*, R-APP-4)
    SENSOR = "sensor"  # fingerprint, face, palm
    CARD = "card"
    REMOTE = "remote"  # remote-control accessory (R-APP-7), over radio
    PAIRING = "pairing"  # setup and invite codes over Bluetooth (R-APP-1/3), over radio


#: The paths of the manual's "5 consecutive failed verifications" (R-SEC-1).
USER_INPUT_PATHS = frozenset({InputPath.KEYPAD, InputPath.SENSOR, InputPath.CARD})

_METHOD_PATH: dict[UnlockMethod, InputPath] = {
    UnlockMethod.PIN: InputPath.KEYPAD,
    UnlockMethod.VISITOR_CODE: InputPath.KEYPAD,
    UnlockMethod.FINGERPRINT: InputPath.SENSOR,
    UnlockMethod.FACE: InputPath.SENSOR,
    UnlockMethod.PALM: InputPath.SENSOR,
    UnlockMethod.CARD: InputPath.CARD,
    UnlockMethod.REMOTE_CONTROL: InputPath.REMOTE,
}


def path_of_method(method: UnlockMethod) -> InputPath | None:
    """The path whose run a failure (or success) of ``method`` counts on; None for
    methods that verify nothing guessable (Bluetooth key, sync statement, mechanical key,
    inside handle) and for ``DUAL_AUTH`` (the credential's own path counts)."""
    return _METHOD_PATH.get(method)


class Barrier(Enum):
    """The lock's barriers, each one :class:`Lockout` (see the module docstring)."""

    SYSTEM = "system lockout"  # the user-input paths' barrier
    PAIRING = "pairing limiter"
    REMOTE = "remote limiter"


_REFUSED_BY: dict[InputPath | None, tuple[Barrier, ...]] = {
    InputPath.PAIRING: (Barrier.PAIRING,),
    InputPath.REMOTE: (Barrier.SYSTEM, Barrier.REMOTE),
}


def barrier_of(path: InputPath) -> Barrier:
    """The barrier whose run ``path`` counts on (and which a run of ``path`` trips)."""
    if path is InputPath.PAIRING:
        return Barrier.PAIRING
    if path is InputPath.REMOTE:
        return Barrier.REMOTE
    return Barrier.SYSTEM


def refused_by(path: InputPath | None) -> tuple[Barrier, ...]:
    """The barriers whose lockout refuses an attempt on ``path`` (None: an unlock with no
    path of its own, a Bluetooth key or a sync statement): pairing answers to its own
    limiter only; everything else to the system lockout, the remote control to its own
    limiter too."""
    return _REFUSED_BY.get(path, (Barrier.SYSTEM,))


class Lockout:
    """One barrier: a failure run per path, and the lockout any of them trips."""

    __slots__ = ("_duration", "_limit", "_runs", "_window", "locked_until")

    def __init__(self, *, limit: int, window: float, duration: float,
                 paths: Iterable[InputPath]) -> None:
        self._limit = limit
        self._window = window
        self._duration = duration
        self._runs: dict[InputPath, deque[float]] = {p: deque() for p in paths}
        self.locked_until: float | None = None

    def __repr__(self) -> str:
        runs = {p.value: len(r) for p, r in self._runs.items()}
        return f"Lockout(failures={runs}, locked_until={self.locked_until})"

    @property
    def paths(self) -> frozenset[InputPath]:
        return frozenset(self._runs)

    def retry_after(self, now: float) -> float | None:
        """Seconds left in the lockout, or None if not locked out at ``now``."""
        if self.locked_until is None:
            return None
        if now >= self.locked_until:
            self.locked_until = None
            return None
        return self.locked_until - now

    def failures(self, path: InputPath, now: float) -> int:
        """Failures of ``path`` still inside the window."""
        run = self._runs[path]
        self._expire(run, now)
        return len(run)

    def _expire(self, run: deque[float], now: float) -> None:
        while run and now - run[0] >= self._window:
            run.popleft()

    def fail(self, path: InputPath, now: float) -> bool:
        """Count one failure on ``path``; True if it trips the lockout. A lockout
        ends every run of the barrier (the penalty was paid)."""
        run = self._runs[path]
        self._expire(run, now)
        run.append(now)
        if len(run) >= self._limit:
            for each in self._runs.values():
                each.clear()
            self.locked_until = now + self._duration
            return True
        return False

    def succeed(self, path: InputPath) -> None:
        """A success on ``path`` ends that path's run of consecutive failures only."""
        self._runs[path].clear()

    def lift(self) -> None:
        """R-SEC-1 (face-palm): the app lifts the lockout and forgets the runs."""
        for run in self._runs.values():
            run.clear()
        self.locked_until = None


class Lockouts:
    """The lock's barriers (user input, pairing, remote) and which one refuses what."""

    __slots__ = ("pairing", "remote", "user")

    def __init__(self, *, limit: int, window: float, duration: float) -> None:
        def barrier(paths: Iterable[InputPath]) -> Lockout:
            return Lockout(limit=limit, window=window, duration=duration, paths=paths)

        self.user = barrier(USER_INPUT_PATHS)
        self.pairing = barrier((InputPath.PAIRING,))
        self.remote = barrier((InputPath.REMOTE,))

    def __repr__(self) -> str:
        return f"Lockouts(user={self.user!r}, pairing={self.pairing!r}, remote={self.remote!r})"

    def barriers(self) -> tuple[Lockout, Lockout, Lockout]:
        return (self.user, self.pairing, self.remote)

    def barrier(self, path: InputPath) -> Lockout:
        """The barrier whose run ``path`` counts on."""
        return self.of(barrier_of(path))

    def of(self, barrier: Barrier) -> Lockout:
        """The :class:`Lockout` of ``barrier``."""
        if barrier is Barrier.PAIRING:
            return self.pairing
        if barrier is Barrier.REMOTE:
            return self.remote
        return self.user

    def denial(self, path: InputPath | None, now: float) -> float | None:
        """Seconds left of the longest lockout that refuses an attempt on ``path``
        (:func:`refused_by`), or None."""
        left: float | None = None
        for barrier in refused_by(path):  # no list per attempt: this runs on every unlock
            t = self.of(barrier).retry_after(now)
            if t is not None and (left is None or t > left):
                left = t
        return left

    def next_end(self) -> float | None:
        """The earliest end of a running lockout (a timer deadline), or None."""
        ends = [b.locked_until for b in self.barriers() if b.locked_until is not None]
        return min(ends) if ends else None

    def expire(self, now: float) -> None:
        """Forget lockouts that ended by ``now``."""
        for b in self.barriers():
            b.retry_after(now)
