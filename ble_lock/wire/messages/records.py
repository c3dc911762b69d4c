"""Response bodies, the records inside them, and lock-pushed event bodies.

One frozen, slotted, keyword-only dataclass each; byte layouts in
:mod:`ble_lock.wire.messages.codec`. Nothing here holds a secret except the fields
marked ``repr=False`` (an invite code, the visitor secret, the verification code).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ble_lock.core.model import (
    CredentialKind,
    DoorDirection,
    EnrolmentState,
    EventKind,
    LockBody,
    Role,
    Trigger,
    UnlockMethod,
)
from ble_lock.wire.messages.types import (
    ALWAYS,
    EventBody,
    EventType,
    LockState,
    ResponseBody,
    Schedule,
    Validity,
)

__all__ = [
    "Alarm",
    "CredentialInfo",
    "CredentialPage",
    "Deleted",
    "Done",
    "EnrolStep",
    "Enrolment",
    "EventPage",
    "EventRecord",
    "Invite",
    "InviteInfo",
    "InvitePage",
    "KindCount",
    "LockSettings",
    "StateChanged",
    "SyncLinkInfo",
    "SyncLinks",
    "SyncStatement",
    "SystemInfo",
    "Unlocked",
    "UserInfo",
    "UserPage",
    "VisitorSecret",
]


# ---------------------------------------------------------------- response bodies


@dataclass(frozen=True, slots=True, kw_only=True)
class Done(ResponseBody):
    """A success without data."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Unlocked(ResponseBody):
    """The bolt was drawn for ``user_number`` (R-CRD-6: a duress unlock looks the same)."""

    user_number: int


@dataclass(frozen=True, slots=True, kw_only=True)
class UserInfo(ResponseBody):
    """A user (R-USR-*); also the answer to an add or an update."""

    user_number: int
    role: Role
    name: str
    validity: Validity = ALWAYS
    schedules: tuple[Schedule, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class UserPage(ResponseBody):
    users: tuple[UserInfo, ...]
    more: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CredentialInfo(ResponseBody):
    """A credential without its secret; ``validity``/``revoked`` matter for Bluetooth keys."""

    credential_id: int
    user_number: int
    kind: CredentialKind
    duress: bool = False
    label: str = ""
    revoked: bool = False
    validity: Validity = ALWAYS


@dataclass(frozen=True, slots=True, kw_only=True)
class CredentialPage(ResponseBody):
    credentials: tuple[CredentialInfo, ...]
    more: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Enrolment(ResponseBody):
    """A biometric enrolment run by the lock (R-CRD-4); progress comes as EnrolStep."""

    session_id: int
    kind: CredentialKind
    user_number: int
    captured: int
    captures_needed: int
    next_step: str
    state: EnrolmentState
    credential_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Deleted(ResponseBody):
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Invite(ResponseBody):
    """An invite code for a Bluetooth key or a further phone (R-APP-3); a phone redeems
    it in a pairing run (docs/protocol.md, Pairing)."""

    invite_id: int
    user_number: int
    code: str = field(repr=False)
    expires_at: int


@dataclass(frozen=True, slots=True, kw_only=True)
class InviteInfo:
    """A pending invite, without its code."""

    invite_id: int
    user_number: int
    expires_at: int
    validity: Validity = ALWAYS


@dataclass(frozen=True, slots=True, kw_only=True)
class InvitePage(ResponseBody):
    invites: tuple[InviteInfo, ...]
    more: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class LockSettings(ResponseBody):
    """Modes and settings (R-MOD-*, R-LCK-3/4, R-SEC-1, R-SYN-3)."""

    anti_lock: bool
    privacy_mode: bool
    dual_auth_mode: bool
    passage_mode: bool
    active_card_detection: bool
    volume: int
    doorbell_volume: int
    door_direction: DoorDirection
    lock_body: LockBody
    language: str
    keypad_sleep_s: int
    face_trigger: Trigger
    palm_trigger: Trigger
    countdown_lock: bool
    countdown_s: int
    auto_lock_on_close: bool
    lockout_enabled: bool
    sync_unlock: bool
    sync_window_s: int
    utc_offset_min: int


@dataclass(frozen=True, slots=True, kw_only=True)
class KindCount:
    kind: CredentialKind
    count: int
    capacity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemInfo(ResponseBody):
    """R-APP-8 and a status summary; the verification code is the owner's secret."""

    serial: str
    verification_code: str = field(repr=False)
    firmware_version: str
    model: str
    battery_percent: int
    low_battery: bool
    claimed: bool
    state: LockState
    users: int
    credentials: tuple[KindCount, ...]
    now_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class VisitorSecret(ResponseBody):
    """The secret from which admins derive visitor codes offline (R-APP-4)."""

    secret: bytes = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncLinkInfo:
    """A linked lock (R-SYN-1): its id, its static public key, the open window, and
    its state: ``pending`` (not yet confirmed by an admin credential at this door;
    ``confirm_left_s`` seconds of the countdown left, rounded up) or confirmed
    (``confirmed_by``: the admin user who confirmed it at the door, or None when the
    admin's session on this lock authorised it)."""

    peer_lock_id: bytes
    peer_public_key: bytes
    window_s: int
    pending: bool = False
    confirm_left_s: int = 0
    confirmed_by: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncLinks(ResponseBody):
    links: tuple[SyncLinkInfo, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRecord:
    """One entry of the event log (R-APP-6); never carries a secret."""

    seq: int
    at_ms: int
    kind: EventKind
    user_number: int | None = None
    method: UnlockMethod | None = None
    duress: bool = False
    reason: int | None = None
    credential_id: int | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventPage(ResponseBody):
    """Events after a cursor; ``dropped`` counts entries the bounded log lost."""

    events: tuple[EventRecord, ...]
    next_cursor: int
    dropped: int
    more: bool


# ---------------------------------------------------------------- events


@dataclass(frozen=True, slots=True, kw_only=True)
class StateChanged(EventBody):
    """The bolt moved (R-APP-6)."""

    EVENT = EventType.STATE_CHANGED
    state: LockState
    at_ms: int
    method: UnlockMethod | None = None
    user_number: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Alarm(EventBody):
    """An alarm push (R-APP-6): duress, tamper, lockout, low battery, door; the event
    log's entry as is."""

    EVENT = EventType.ALARM
    record: EventRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrolStep(EventBody):
    """R-CRD-4 progress of the running enrolment."""

    EVENT = EventType.ENROL_STEP
    enrolment: Enrolment


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncStatement(EventBody):
    """R-SYN-2: "I was unlocked from outside", authenticated for the linked lock; the
    phone that receives it relays it (``SyncStatementRelay``). ``proof`` is opaque here:
    the core makes and checks it."""

    EVENT = EventType.SYNC_STATEMENT
    issuer_lock_id: bytes
    target_lock_id: bytes
    at_ms: int
    nonce: bytes
    proof: bytes
