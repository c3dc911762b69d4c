"""Timers, sans-IO: the caller runs ``tick()`` at ``next_deadline()`` (or any time).

Deadlines are on the injected clock: countdown lock (R-LCK-3), sync relock (R-SYN-3),
keypad sleep (R-MOD-8, ends a one-time mute R-MOD-6), tamper alarm end (R-SEC-2),
lockout end (R-SEC-1), enrolment timeout (R-CRD-4), pairing mode end (R-APP-1),
dual-auth window (R-USR-8), pending sync link countdown (R-SYN-1).
"""

from __future__ import annotations

from ble_lock.core.decision import Path, Verdict
from ble_lock.core.enrolment import Enrolment
from ble_lock.core.links import Links
from ble_lock.core.management import Management
from ble_lock.core.model import BoltState, DoorState, EventKind
from ble_lock.core.unlock import Unlock

__all__ = ["Timers"]


class Timers:
    """``tick`` and ``next_deadline`` over every service's deadlines."""

    def __init__(self, ctx: Management, unlock: Unlock, enrolment: Enrolment,
                 links: Links) -> None:
        self._ctx = ctx
        self._dev = ctx.device
        self._unlock = unlock
        self._enrolment = enrolment
        self._links = links

    def next_deadline(self) -> float | None:
        """The earliest time (injected clock) at which ``tick`` has something to do."""
        candidates = [
            self._dev.relock_at if self._dev.bolt is BoltState.UNLOCKED else None,
            self._dev.sync_relock_at,
            self._dev.keypad.awake_until,
            self._dev.tamper_until,
            self._ctx.lockouts.next_end(),
            self._enrolment.deadline(),
            self._dev.pairing_until,
            self._dev.dual_pending.until if self._dev.dual_pending is not None else None,
            self._links.deadline(),
        ]
        times = [t for t in candidates if t is not None]
        return min(times) if times else None

    def tick(self) -> None:
        """Run every timer that is due at the injected clock's now."""
        now = self._ctx.now()
        if self._dev.sync_relock_at is not None and now >= self._dev.sync_relock_at:
            self._dev.sync_relock_at = None
            # R-SYN-3: not opened in time; R-MOD-4: passage mode holds the door open
            if self._dev.door is DoorState.CLOSED and self._unlock.lock_path(
                    Path.SYNC_RELOCK, "sync window over").verdict is Verdict.LOCK:
                self._ctx.emit(EventKind.SYNC_RELOCK)
        if self._dev.relock_at is not None and now >= self._dev.relock_at:
            self._dev.relock_at = None
            if self._dev.bolt is BoltState.UNLOCKED:
                self._unlock.lock_path(Path.COUNTDOWN, "countdown")  # R-LCK-3, R-MOD-4
        pad = self._dev.keypad
        if pad.awake_until is not None and now >= pad.awake_until:  # R-MOD-8
            pad.awake_until = None
            pad.digits.clear()
            pad.muted_once = False
            pad.confirm_lit = False
        if self._dev.tamper_until is not None and now >= self._dev.tamper_until:
            self._dev.tamper_until = None
            self._ctx.emit(EventKind.TAMPER_ALARM_END)
        self._ctx.lockouts.expire(now)
        self._enrolment.expire()
        if self._dev.pairing_until is not None and now >= self._dev.pairing_until:
            self._dev.pairing_until = None
        if self._dev.dual_pending is not None and now >= self._dev.dual_pending.until:
            self._dev.dual_pending = None
        self._links.expire()  # R-SYN-1: countdown over, not confirmed at the door
