"""Request bodies of the application protocol.

One frozen, slotted, keyword-only dataclass per request, declared once with ``@wire``:
``RequestOf[R]`` names ``R``, the body type of its success response (an error response
has no body; ``@wire`` sets ``RESPONSE = R``), ``OPCODE`` is its wire opcode and the
field annotations are its byte layout
(:mod:`ble_lock.wire.messages.declare`). Response, record and event bodies are in
``records.py``. Everything is re-exported by :mod:`ble_lock.wire.messages`.
CONTRIBUTING.md walks through adding a request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from ble_lock.core.model import (
    CredentialKind,
    DoorDirection,
    Role,
    Trigger,
)
from ble_lock.wire.messages.declare import wire
from ble_lock.wire.messages.fields import BytesField, Text
from ble_lock.wire.messages.records import (
    ALWAYS,
    CredentialInfo,
    CredentialPage,
    Deleted,
    Done,
    Enrolment,
    EventPage,
    Invite,
    InvitePage,
    LockSettings,
    Schedules,
    SyncLinks,
    SyncStatement,
    SystemInfo,
    Unlocked,
    UserInfo,
    UserPage,
    Validity,
    VisitorSecret,
)
from ble_lock.wire.messages.types import (
    MAX_EVENTS_PER_PAGE,
    CredentialId,
    Int16,
    Language,
    LockBodyType,
    LockId,
    Name,
    Opcode,
    PublicKey,
    RequestOf,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    UserNumber,
)

__all__ = [
    "CardAdd",
    "CredentialClear",
    "CredentialDelete",
    "CredentialDeleteKind",
    "CredentialList",
    "EnrolBegin",
    "EnrolCancel",
    "EnrolStatus",
    "EventsGet",
    "FactoryReset",
    "InviteCancel",
    "InviteList",
    "KeyInvite",
    "KeyList",
    "KeyRevoke",
    "LockDoor",
    "LockoutLift",
    "MaintenanceOpen",
    "PinAdd",
    "RemoteAdd",
    "SettingsGet",
    "SettingsSet",
    "SyncLinkDelete",
    "SyncLinkList",
    "SyncLinkSet",
    "SyncStatementRelay",
    "SystemInfoGet",
    "TimeSet",
    "Unlock",
    "UserAdd",
    "UserDelete",
    "UserGet",
    "UserList",
    "UserUpdate",
    "VisitorSecretGet",
    "WhoAmI",
]


# ---------------------------------------------------------------- requests


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class Unlock(RequestOf[Unlocked]):
    OPCODE = Opcode.UNLOCK


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class LockDoor(RequestOf[Done]):
    OPCODE = Opcode.LOCK


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class SystemInfoGet(RequestOf[SystemInfo]):
    OPCODE = Opcode.SYSTEM_INFO


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class TimeSet(RequestOf[Done]):
    OPCODE = Opcode.TIME_SET
    now_ms: UInt64


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class EventsGet(RequestOf[EventPage]):
    """Events with ``seq > after``, at most ``limit`` (capped by the page bound)."""

    OPCODE = Opcode.EVENTS_GET
    after: UInt64 = 0
    limit: UInt8 = MAX_EVENTS_PER_PAGE


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class UserAdd(RequestOf[UserInfo]):
    OPCODE = Opcode.USER_ADD
    role: Role
    name: Name
    validity: Validity = ALWAYS
    schedules: Schedules = ()


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class UserUpdate(RequestOf[UserInfo]):
    """Fields left ``None`` are unchanged; ``schedules=()`` clears the schedules."""

    OPCODE = Opcode.USER_UPDATE
    user_number: UserNumber
    name: Name | None = None
    role: Role | None = None
    validity: Validity | None = None
    schedules: Schedules | None = None


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class UserDelete(RequestOf[Done]):
    OPCODE = Opcode.USER_DELETE
    user_number: UserNumber


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class UserGet(RequestOf[UserInfo]):
    """One user: admins see anyone, a user sees themself."""

    OPCODE = Opcode.USER_GET
    user_number: UserNumber


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class WhoAmI(RequestOf[UserInfo]):
    """The requesting phone's own user, after every check the lock makes."""

    OPCODE = Opcode.WHOAMI


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class UserList(RequestOf[UserPage]):
    """Users with a number above ``after``, one page."""

    OPCODE = Opcode.USER_LIST
    after: UserNumber = 0


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class PinAdd(RequestOf[CredentialInfo]):
    OPCODE = Opcode.PIN_ADD
    SECRET = True
    user_number: UserNumber
    pin: Annotated[str, Text(20, low=1, digits=True)] = field(repr=False)
    duress: bool = False


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class CardAdd(RequestOf[CredentialInfo]):
    """R-CRD-5: the first card sets the card security code; later cards must repeat it."""

    OPCODE = Opcode.CARD_ADD
    SECRET = True
    user_number: UserNumber
    card_uid: Annotated[bytes, BytesField(4, 16)] = field(repr=False)
    card_code: Annotated[str, Text(12, low=1, digits=True)] = field(repr=False)


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class EnrolBegin(RequestOf[Enrolment]):
    """Start a biometric enrolment at the lock (R-APP-2, R-CRD-4)."""

    OPCODE = Opcode.ENROL_BEGIN
    user_number: UserNumber
    kind: CredentialKind
    duress: bool = False


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class EnrolStatus(RequestOf[Enrolment]):
    OPCODE = Opcode.ENROL_STATUS
    session_id: UInt32


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class EnrolCancel(RequestOf[Enrolment]):
    """Abandon an enrolment: nothing is stored (R-CRD-4)."""

    OPCODE = Opcode.ENROL_CANCEL
    session_id: UInt32


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteAdd(RequestOf[CredentialInfo]):
    """Pair a Bluetooth remote-control accessory to a user (R-CRD-1, R-APP-7)."""

    OPCODE = Opcode.REMOTE_ADD
    SECRET = True
    user_number: UserNumber
    remote_id: Annotated[bytes, BytesField(4, 16)] = field(repr=False)


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class CredentialDelete(RequestOf[Done]):
    OPCODE = Opcode.CREDENTIAL_DELETE
    credential_id: CredentialId


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class CredentialDeleteKind(RequestOf[Deleted]):
    """R-CRD-7: delete all credentials of one kind of one user."""

    OPCODE = Opcode.CREDENTIAL_DELETE_KIND
    user_number: UserNumber
    kind: CredentialKind
    duress_only: bool = False


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class CredentialClear(RequestOf[Deleted]):
    """R-CRD-7: clear one kind lock-wide, sparing the requesting admin's own."""

    OPCODE = Opcode.CREDENTIAL_CLEAR
    kind: CredentialKind


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class CredentialList(RequestOf[CredentialPage]):
    """Credentials with an id above ``after``, of one user or all; one page."""

    OPCODE = Opcode.CREDENTIAL_LIST
    user_number: UserNumber | None = None
    kind: CredentialKind | None = None
    after: CredentialId = 0


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class KeyInvite(RequestOf[Invite]):
    """R-APP-3: an invite code for a Bluetooth key. For ``user_number``, or (None) for a
    new user created with ``name`` and ``role`` — ``role=ADMIN`` enrols a further admin
    phone. ``validity`` bounds the key; ``expires_at`` (default 24 h) the invite."""

    OPCODE = Opcode.KEY_INVITE
    user_number: UserNumber | None = None
    name: Name = ""
    role: Role = Role.NORMAL
    expires_at: UInt64 | None = None
    validity: Validity = ALWAYS


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class KeyList(RequestOf[CredentialPage]):
    """Bluetooth keys (phones included) with an id above ``after``."""

    OPCODE = Opcode.KEY_LIST
    after: CredentialId = 0


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class KeyRevoke(RequestOf[Done]):
    OPCODE = Opcode.KEY_REVOKE
    credential_id: CredentialId


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class InviteCancel(RequestOf[Done]):
    OPCODE = Opcode.INVITE_CANCEL
    invite_id: UInt32


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class InviteList(RequestOf[InvitePage]):
    """Pending invites with an id above ``after`` (never their codes)."""

    OPCODE = Opcode.INVITE_LIST
    after: UInt32 = 0


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class SettingsGet(RequestOf[LockSettings]):
    OPCODE = Opcode.SETTINGS_GET


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class SettingsSet(RequestOf[LockSettings]):
    """Change some settings; fields left ``None`` are unchanged. Answers the new settings."""

    OPCODE = Opcode.SETTINGS_SET
    anti_lock: bool | None = None
    privacy_mode: bool | None = None
    dual_auth_mode: bool | None = None
    passage_mode: bool | None = None
    active_card_detection: bool | None = None
    volume: UInt8 | None = None
    doorbell_volume: UInt8 | None = None
    door_direction: DoorDirection | None = None
    lock_body: LockBodyType | None = None
    language: Language | None = None
    keypad_sleep_s: UInt16 | None = None
    face_trigger: Trigger | None = None
    palm_trigger: Trigger | None = None
    countdown_lock: bool | None = None
    countdown_s: UInt16 | None = None
    auto_lock_on_close: bool | None = None
    lockout_enabled: bool | None = None
    sync_unlock: bool | None = None
    sync_window_s: UInt16 | None = None
    utc_offset_min: Int16 | None = None
    remote_unlock: bool | None = None  # R-APP-5


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class LockoutLift(RequestOf[Done]):
    """R-SEC-1: the app lifts a running lockout (switching it off is a setting)."""

    OPCODE = Opcode.LOCKOUT_LIFT


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class MaintenanceOpen(RequestOf[Done]):
    """R-APP-8: an admin opens the maintenance window for ``duration_s`` seconds (0 closes
    it); inside it the lock accepts firmware management over SMP (docs/firmware.md)."""

    OPCODE = Opcode.MAINTENANCE_OPEN
    duration_s: UInt16


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class FactoryReset(RequestOf[Done]):
    """R-SEC-5: erase all users and configuration."""

    OPCODE = Opcode.FACTORY_RESET


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class VisitorSecretGet(RequestOf[VisitorSecret]):
    OPCODE = Opcode.VISITOR_SECRET_GET


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class SyncLinkSet(RequestOf[Done]):
    """R-SYN-1: link this lock to a peer lock, known by its id and static public key.

    ``confirm_s`` 10..300: the link is pending until an admin unlocks this door with a
    credential at the door within that many seconds (the linked door, B); 0: confirmed
    by this admin session (the lock where the admin enabled sync unlock, A)."""

    OPCODE = Opcode.SYNC_LINK_SET
    peer_lock_id: LockId
    peer_public_key: PublicKey
    window_s: UInt16
    confirm_s: UInt16


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class SyncLinkDelete(RequestOf[Done]):
    OPCODE = Opcode.SYNC_LINK_DELETE
    peer_lock_id: LockId


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class SyncLinkList(RequestOf[SyncLinks]):
    OPCODE = Opcode.SYNC_LINK_LIST


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class SyncStatementRelay(RequestOf[Done]):
    OPCODE = Opcode.SYNC_STATEMENT
    statement: SyncStatement
