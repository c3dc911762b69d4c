"""Event log records (R-APP-6) and unlock methods; re-exported by :mod:`ble_lock.core.model`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from ble_lock.core.errors import ErrorCode

__all__ = ["ALARM_KINDS", "Event", "EventKind", "EventPage", "UnlockMethod"]


class UnlockMethod(IntEnum):
    """How the door was opened (event log, decisions)."""

    PIN = 1
    FINGERPRINT = 2
    CARD = 3
    FACE = 4
    PALM = 5
    BLUETOOTH = 6
    REMOTE_CONTROL = 7
    MECHANICAL_KEY = 8
    VISITOR_CODE = 9
    SYNC = 10
    INSIDE = 11
    DUAL_AUTH = 12


class EventKind(IntEnum):
    """R-APP-6: everything the event log records (values are stable: they go on the wire).

    ``UNLOCK`` covers every opening except a sync unlock, logged as ``SYNC_UNLOCK``
    (R-SYN-4: visible as such); ``SYNC_TRIGGER`` asks the emulator to send a sync
    statement to the linked lock named (hex id) in ``detail``; ``ENROLMENT_STEP`` is one
    accepted capture (``detail`` = "captured/needed")."""

    UNLOCK = 1
    UNLOCK_FAILED = 2
    LOCKED = 3
    LOCKOUT = 4
    LOCKOUT_LIFTED = 5
    DURESS_ALARM = 6
    TAMPER_ALARM = 7
    TAMPER_ALARM_END = 8
    LOW_BATTERY = 9
    DOOR_OPENED = 10
    DOOR_CLOSED = 11
    USER_ADDED = 12
    USER_UPDATED = 13
    USER_DELETED = 14
    CREDENTIAL_ADDED = 15
    CREDENTIAL_DELETED = 16
    SETTINGS_CHANGED = 17
    FACTORY_RESET = 18
    CLAIMED = 19
    KEY_ISSUED = 20
    KEY_REVOKED = 21
    SYNC_UNLOCK = 22
    SYNC_RELOCK = 23
    SYNC_TRIGGER = 24
    TIME_SET = 25
    PAIRING_MODE = 26
    AUTH_FAILED = 27
    DUAL_AUTH_PENDING = 28
    DOOR_AJAR = 29
    LINK_CHANGED = 30
    ENROLMENT_STEP = 31


ALARM_KINDS = frozenset(
    {
        EventKind.DURESS_ALARM,
        EventKind.TAMPER_ALARM,
        EventKind.LOCKOUT,
        EventKind.LOW_BATTERY,
        EventKind.DOOR_OPENED,
        EventKind.SYNC_TRIGGER,
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One entry of the event log: strictly increasing ``seq`` across the lock's life
    (factory resets included). ``detail`` is free text that never holds a secret."""

    seq: int
    timestamp: float
    kind: EventKind
    user_number: int | None = None
    method: UnlockMethod | None = None
    duress: bool = False
    reason: ErrorCode | None = None
    credential_id: int | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventPage:
    """A page of events after a cursor; ``dropped`` counts entries the bounded log lost."""

    events: tuple[Event, ...]
    next_cursor: int
    dropped: int
    more: bool
