"""Event log records (R-APP-6), their typed details and unlock methods; re-exported by
:mod:`ble_lock.core.model`.

A :class:`LockEvent` carries what happened as typed fields; data that belongs to one kind
of event (the peer of a link change, an enrolment's progress, a battery level) is a typed
detail record (:data:`EventDetail`), never text to parse. The wire renders a detail to
text at the boundary (:mod:`ble_lock.wire.messages.details`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from ble_lock.core.errors import ErrorCode

__all__ = [
    "ALARM_KINDS",
    "BatteryLevel",
    "ByUser",
    "ClockSet",
    "EnrolmentProgress",
    "EventDetail",
    "EventKind",
    "InviteIssued",
    "LinkAdded",
    "LinkConfirmed",
    "LinkExpired",
    "LinkPending",
    "LockEvent",
    "LockEventPage",
    "LockoutStarted",
    "Note",
    "SyncSource",
    "SyncTarget",
    "Unlinked",
    "UnlockMethod",
]


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
    REMOTE = 13  # R-APP-5: a remote unlock (a remote-only user's key, e.g. a gateway)


class EventKind(IntEnum):
    """R-APP-6: everything the event log records (values are stable: they go on the wire).

    ``UNLOCK`` covers every opening except a sync unlock, logged as ``SYNC_UNLOCK``
    (R-SYN-4: visible as such); ``SYNC_TRIGGER`` asks the emulator to send a sync
    statement to the linked lock named by its :class:`SyncTarget` detail; ``ENROLMENT_STEP``
    is one accepted capture (:class:`EnrolmentProgress`)."""

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
    MAINTENANCE_WINDOW = 32  # R-APP-8: an admin opened firmware update (its duration)


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


# -- typed details: one record per kind of data an event carries. ``TAG`` names the
# record in a stored log (core.store.codec); it never changes once written.


@dataclass(frozen=True, slots=True, kw_only=True)
class Note:
    """Free text for a person (a path or credential kind name); never a secret, never
    parsed back."""

    TAG: ClassVar[str] = "note"
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ByUser:
    """A user record added, changed or deleted by user ``number`` (``None``: an actor
    without a user record)."""

    TAG: ClassVar[str] = "by_user"
    number: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrolmentProgress:
    """ENROLMENT_STEP: ``captured`` of ``needed`` captures accepted."""

    TAG: ClassVar[str] = "enrolment"
    captured: int
    needed: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BatteryLevel:
    """LOW_BATTERY: the reported charge in percent."""

    TAG: ClassVar[str] = "battery"
    percent: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LockoutStarted:
    """LOCKOUT: the input ``path`` (its person-readable name) is locked out for
    ``duration_s`` seconds (R-SEC-3)."""

    TAG: ClassVar[str] = "lockout"
    path: str
    duration_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockSet:
    """TIME_SET: the wall clock was set to ``unix_time``."""

    TAG: ClassVar[str] = "clock_set"
    unix_time: float


@dataclass(frozen=True, slots=True, kw_only=True)
class InviteIssued:
    """KEY_ISSUED for an invite: its id (never its code)."""

    TAG: ClassVar[str] = "invite"
    invite_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class _PeerDetail:
    """A detail naming one linked lock, ``peer`` (its lock id; not a secret)."""

    peer: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkAdded(_PeerDetail):
    """LINK_CHANGED: a sync link with ``peer`` (lock id) is in force (R-SYN-1)."""

    TAG: ClassVar[str] = "link"


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkPending(_PeerDetail):
    """LINK_CHANGED: a link with ``peer`` waits ``confirm_s`` seconds for an admin
    credential at this door (R-SYN-1)."""

    TAG: ClassVar[str] = "link_pending"
    confirm_s: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkConfirmed(_PeerDetail):
    """LINK_CHANGED: the pending link with ``peer`` was confirmed at this door."""

    TAG: ClassVar[str] = "link_confirmed"


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkExpired(_PeerDetail):
    """LINK_CHANGED: the pending link with ``peer`` was not confirmed in time."""

    TAG: ClassVar[str] = "link_expired"


@dataclass(frozen=True, slots=True, kw_only=True)
class Unlinked(_PeerDetail):
    """LINK_CHANGED: the link with ``peer`` was removed."""

    TAG: ClassVar[str] = "unlink"


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncTarget(_PeerDetail):
    """SYNC_TRIGGER: send a sync statement to linked lock ``peer`` (R-SYN-2)."""

    TAG: ClassVar[str] = "sync_target"


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncSource(_PeerDetail):
    """SYNC_UNLOCK: opened by a sync statement from linked lock ``peer`` (R-SYN-4)."""

    TAG: ClassVar[str] = "sync_source"


EventDetail = (Note | ByUser | EnrolmentProgress | BatteryLevel | LockoutStarted | ClockSet
               | InviteIssued | LinkAdded | LinkPending | LinkConfirmed | LinkExpired | Unlinked
               | SyncTarget | SyncSource)
"""What an event carries beyond its common fields; ``None`` on a :class:`LockEvent` = nothing."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LockEvent:
    """One entry of the lock's event log: strictly increasing ``seq`` across the lock's life
    (factory resets included). ``detail`` is typed (:data:`EventDetail`) and never holds a
    secret."""

    seq: int
    timestamp: float
    kind: EventKind
    user_number: int | None = None
    method: UnlockMethod | None = None
    duress: bool = False
    reason: ErrorCode | None = None
    credential_id: int | None = None
    detail: EventDetail | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LockEventPage:
    """A page of events after a cursor; ``dropped`` counts entries the bounded log lost."""

    events: tuple[LockEvent, ...]
    next_cursor: int
    dropped: int
    more: bool
