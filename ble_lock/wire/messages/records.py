"""Response bodies, the records inside them, and lock-pushed event bodies.

One frozen, slotted, keyword-only dataclass each, declared with ``@wire``: the field
annotations are the byte layout (:mod:`ble_lock.wire.messages.declare`). Nothing here
holds a secret except the fields marked ``repr=False`` (an invite code, the visitor
secret, the verification code).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import construct as c

from ble_lock.core.model import (
    MAX_LINKS,
    MAX_SCHEDULES,
    CredentialKind,
    DoorDirection,
    EnrolmentState,
    EventKind,
    Role,
    Trigger,
    UnlockMethod,
)
from ble_lock.wire.messages.declare import layout_of, wire
from ble_lock.wire.messages.fields import BytesField, ListOf, Text
from ble_lock.wire.messages.types import (
    MAX_CREDENTIALS_PER_PAGE,
    MAX_DETAIL,
    MAX_EVENTS_PER_PAGE,
    MAX_INVITE_CODE,
    MAX_INVITES_PER_PAGE,
    MAX_USERS_PER_PAGE,
    CredentialId,
    EventBody,
    EventType,
    Int16,
    Label,
    Language,
    LockBodyType,
    LockId,
    LockState,
    Name,
    PublicKey,
    ResponseBody,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    UserNumber,
)

__all__ = [
    "ALWAYS",

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
    "Schedule",
    "StateChanged",
    "SyncLinkInfo",
    "SyncLinks",
    "SyncStatement",
    "SystemInfo",
    "Unlocked",
    "UserInfo",
    "UserPage",
    "Validity",
    "VisitorSecret",
]

# ---------------------------------------------------------------- records of several bodies


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class Validity:
    """A validity window in unix seconds (R-USR-7); ``None`` ends are open."""

    valid_from: UInt64 | None = None
    valid_until: UInt64 | None = None


ALWAYS = Validity()
"""No validity window: valid at all times."""


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """A weekday schedule (Matter-style): ``days_mask`` bit 0 = Sunday ... bit 6 = Saturday;
    the daily window [start_minute, end_minute) in minutes after local midnight."""

    days_mask: UInt8
    start_minute: UInt16
    end_minute: UInt16


Schedules = Annotated[tuple[Schedule, ...], ListOf(layout_of(Schedule), MAX_SCHEDULES)]


# ---------------------------------------------------------------- response bodies


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class Done(ResponseBody):
    """A success without data."""


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class Unlocked(ResponseBody):
    """The bolt was drawn for ``user_number`` (R-CRD-6: a duress unlock looks the same)."""

    user_number: UserNumber


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class UserInfo(ResponseBody):
    """A user (R-USR-*); also the answer to an add or an update."""

    user_number: UserNumber
    role: Role
    name: Name
    validity: Validity = ALWAYS
    schedules: Schedules = ()


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class UserPage(ResponseBody):
    users: Annotated[tuple[UserInfo, ...], ListOf(layout_of(UserInfo), MAX_USERS_PER_PAGE)]
    more: bool


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class CredentialInfo(ResponseBody):
    """A credential without its secret; ``validity``/``revoked`` matter for Bluetooth keys."""

    credential_id: CredentialId
    user_number: UserNumber
    kind: CredentialKind
    duress: bool = False
    label: Label = ""
    revoked: bool = False
    validity: Validity = ALWAYS


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class CredentialPage(ResponseBody):
    credentials: Annotated[tuple[CredentialInfo, ...],
                           ListOf(layout_of(CredentialInfo), MAX_CREDENTIALS_PER_PAGE)]
    more: bool


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class Enrolment(ResponseBody):
    """A biometric enrolment run by the lock (R-CRD-4); progress comes as EnrolStep."""

    session_id: UInt32
    kind: CredentialKind
    user_number: UserNumber
    captured: UInt8
    captures_needed: UInt8
    next_step: Label
    state: EnrolmentState
    credential_id: CredentialId | None = None


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class Deleted(ResponseBody):
    count: UInt16


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class Invite(ResponseBody):
    """An invite code for a Bluetooth key or a further phone (R-APP-3); a phone redeems
    it in a pairing run (docs/protocol.md, Pairing)."""

    invite_id: UInt32
    user_number: UserNumber
    code: Annotated[str, Text(MAX_INVITE_CODE, low=1)] = field(repr=False)
    expires_at: UInt64


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class InviteInfo:
    """A pending invite, without its code."""

    invite_id: UInt32
    user_number: UserNumber
    expires_at: UInt64
    validity: Validity = ALWAYS


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class InvitePage(ResponseBody):
    invites: Annotated[tuple[InviteInfo, ...], ListOf(layout_of(InviteInfo), MAX_INVITES_PER_PAGE)]
    more: bool


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class LockSettings(ResponseBody):
    """Modes and settings (R-MOD-*, R-LCK-3/4, R-SEC-1, R-SYN-3)."""

    anti_lock: bool
    privacy_mode: bool
    dual_auth_mode: bool
    passage_mode: bool
    active_card_detection: bool
    volume: UInt8
    doorbell_volume: UInt8
    door_direction: DoorDirection
    lock_body: LockBodyType
    language: Language
    keypad_sleep_s: UInt16
    face_trigger: Trigger
    palm_trigger: Trigger
    countdown_lock: bool
    countdown_s: UInt16
    auto_lock_on_close: bool
    lockout_enabled: bool
    sync_unlock: bool
    sync_window_s: UInt16
    utc_offset_min: Int16
    remote_unlock: bool = False  # R-APP-5, off by default


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class KindCount:
    kind: CredentialKind
    count: UInt16
    capacity: UInt16


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class SystemInfo(ResponseBody):
    """R-APP-8 and a status summary; the verification code is the owner's secret."""

    serial: Name
    verification_code: Name = field(repr=False)
    firmware_version: Name
    model: Name
    battery_percent: UInt8
    low_battery: bool
    claimed: bool
    state: LockState
    users: UInt16
    credentials: Annotated[tuple[KindCount, ...],
                           ListOf(layout_of(KindCount), len(CredentialKind))]
    now_ms: UInt64


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class VisitorSecret(ResponseBody):
    """The secret from which admins derive visitor codes offline (R-APP-4)."""

    secret: Annotated[bytes, BytesField(16, 64)] = field(repr=False)


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class SyncLinkInfo:
    """A linked lock (R-SYN-1): its id, its static public key, the open window, and
    its state: ``pending`` (not yet confirmed by an admin credential at this door;
    ``confirm_left_s`` seconds of the countdown left, rounded up) or confirmed
    (``confirmed_by``: the admin user who confirmed it at the door, or None when the
    admin's session on this lock authorised it)."""

    peer_lock_id: LockId
    peer_public_key: PublicKey
    window_s: UInt16
    pending: bool = False
    confirm_left_s: UInt16 = 0
    confirmed_by: UserNumber | None = None


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class SyncLinks(ResponseBody):
    links: Annotated[tuple[SyncLinkInfo, ...], ListOf(layout_of(SyncLinkInfo), MAX_LINKS)]


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class EventRecord:
    """One entry of the event log (R-APP-6); never carries a secret."""

    seq: UInt64
    at_ms: UInt64
    kind: EventKind
    user_number: UserNumber | None = None
    method: UnlockMethod | None = None
    duress: bool = False
    reason: UInt8 | None = None
    credential_id: CredentialId | None = None
    detail: Annotated[str, Text(MAX_DETAIL)] = ""


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class EventPage(ResponseBody):
    """Events after a cursor; ``dropped`` counts entries the bounded log lost."""

    events: Annotated[tuple[EventRecord, ...], ListOf(layout_of(EventRecord), MAX_EVENTS_PER_PAGE)]
    next_cursor: UInt64
    dropped: UInt32
    more: bool


# ---------------------------------------------------------------- events


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class StateChanged(EventBody):
    """The bolt moved (R-APP-6)."""

    EVENT = EventType.STATE_CHANGED
    state: LockState
    at_ms: UInt64
    method: UnlockMethod | None = None
    user_number: UserNumber | None = None


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class Alarm(EventBody):
    """An alarm push (R-APP-6): duress, tamper, lockout, low battery, door; the event
    log's entry as is."""

    EVENT = EventType.ALARM
    record: EventRecord


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class EnrolStep(EventBody):
    """R-CRD-4 progress of the running enrolment."""

    EVENT = EventType.ENROL_STEP
    enrolment: Enrolment


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class SyncStatement(EventBody):
    """R-SYN-2: "I was unlocked from outside", authenticated for the linked lock; the
    phone that receives it relays it (``SyncStatementRelay``). ``proof`` is opaque here:
    the core makes and checks it."""

    EVENT = EventType.SYNC_STATEMENT
    issuer_lock_id: LockId
    target_lock_id: LockId
    at_ms: UInt64
    nonce: Annotated[bytes, c.Bytes(16)]
    proof: Annotated[bytes, BytesField(16, 64)]
