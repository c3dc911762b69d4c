"""Timers, sans-IO: the caller runs ``tick()`` at ``next_deadline()`` (or any time).

Deadlines are on the injected clock: countdown lock (R-LCK-3), sync relock (R-SYN-3),
keypad sleep (R-MOD-8, ends a one-time mute R-MOD-6), tamper alarm end (R-SEC-2),
lockout end (R-SEC-1), enrolment timeout (R-CRD-4), pairing mode end (R-APP-1),
dual-auth window (R-USR-8), pending sync link countdown (R-SYN-1).
"""

from __future__ import annotations

from ble_lock.core.admin import AdminMixin
from ble_lock.core.decision import Path, Verdict
from ble_lock.core.model import BoltState, DoorState, EventKind

__all__ = ["TimersMixin"]


class TimersMixin(AdminMixin):
    """``tick`` and ``next_deadline``."""

    def next_deadline(self) -> float | None:
        """The earliest time (injected clock) at which ``tick`` has something to do."""
        candidates = [
            self._relock_at if self._bolt is BoltState.UNLOCKED else None,
            self._sync_relock_at,
            self._keypad.awake_until,
            self._tamper_until,
            self._lockout.next_end(),
            self._enrolment_deadline(),
            self._pairing_until,
            self._dual_pending.until if self._dual_pending is not None else None,
            self._links_deadline(),
        ]
        times = [t for t in candidates if t is not None]
        return min(times) if times else None

    def tick(self) -> None:
        """Run every timer that is due at the injected clock's now."""
        now = self._mono()
        if self._sync_relock_at is not None and now >= self._sync_relock_at:
            self._sync_relock_at = None
            # R-SYN-3: not opened in time; R-MOD-4: passage mode holds the door open
            if self._door is DoorState.CLOSED and self._lock_path(
                    Path.SYNC_RELOCK, "sync window over").verdict is Verdict.LOCK:
                self._emit(EventKind.SYNC_RELOCK)
        if self._relock_at is not None and now >= self._relock_at:
            self._relock_at = None
            if self._bolt is BoltState.UNLOCKED:
                self._lock_path(Path.COUNTDOWN, "countdown")  # R-LCK-3, R-MOD-4
        pad = self._keypad
        if pad.awake_until is not None and now >= pad.awake_until:  # R-MOD-8
            pad.awake_until = None
            pad.digits.clear()
            pad.muted_once = False
            pad.confirm_lit = False
        if self._tamper_until is not None and now >= self._tamper_until:
            self._tamper_until = None
            self._emit(EventKind.TAMPER_ALARM_END)
        self._lockout.expire(now)
        self._expire_enrolment()
        if self._pairing_until is not None and now >= self._pairing_until:
            self._pairing_until = None
        if self._dual_pending is not None and now >= self._dual_pending.until:
            self._dual_pending = None
        self._expire_links()  # R-SYN-1: countdown over, not confirmed at the door
