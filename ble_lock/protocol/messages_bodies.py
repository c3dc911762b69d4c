"""Request, response and event bodies of the application protocol.

One frozen, slotted, keyword-only dataclass per body. A request body's ``OPCODE`` is its
wire opcode and ``RESPONSE`` the body type of its success response; an error response has
no body. Byte layouts: :mod:`ble_lock.protocol.messages_codec`.
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
from ble_lock.protocol.messages_types import (
    ALWAYS,
    MAX_EVENTS_PER_PAGE,
    EventBody,
    EventType,
    LockState,
    Opcode,
    RequestBody,
    ResponseBody,
    Schedule,
    Validity,
)

__all__ = [
    "Alarm",
    "CardAdd",
    "CredentialClear",
    "CredentialDelete",
    "CredentialDeleteKind",
    "CredentialInfo",
    "CredentialList",
    "CredentialPage",
    "Deleted",
    "Done",
    "EnrolBegin",
    "EnrolCancel",
    "EnrolStatus",
    "EnrolStep",
    "Enrolment",
    "EventPage",
    "EventRecord",
    "EventsGet",
    "FactoryReset",
    "Invite",
    "InviteCancel",
    "InviteInfo",
    "InviteList",
    "InvitePage",
    "KeyInvite",
    "KeyList",
    "KeyRevoke",
    "KindCount",
    "Lock",
    "LockSettings",
    "LockoutLift",
    "PinAdd",
    "RemoteAdd",
    "SettingsGet",
    "SettingsSet",
    "StateChanged",
    "SyncLinkDelete",
    "SyncLinkInfo",
    "SyncLinkList",
    "SyncLinkSet",
    "SyncLinks",
    "SyncStatement",
    "SyncStatementRelay",
    "SystemInfo",
    "SystemInfoGet",
    "TimeSet",
    "Unlock",
    "Unlocked",
    "UserAdd",
    "UserDelete",
    "UserGet",
    "UserInfo",
    "UserList",
    "UserPage",
    "UserUpdate",
    "VisitorSecret",
    "VisitorSecretGet",
    "WhoAmI",
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
    """A linked lock (R-SYN-1): its id, its static public key, the open window."""

    peer_lock_id: bytes
    peer_public_key: bytes
    window_s: int


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


# ---------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True, kw_only=True)
class Unlock(RequestBody):
    OPCODE = Opcode.UNLOCK
    RESPONSE = Unlocked


@dataclass(frozen=True, slots=True, kw_only=True)
class Lock(RequestBody):
    OPCODE = Opcode.LOCK
    RESPONSE = Done


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemInfoGet(RequestBody):
    OPCODE = Opcode.SYSTEM_INFO
    RESPONSE = SystemInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeSet(RequestBody):
    OPCODE = Opcode.TIME_SET
    RESPONSE = Done
    now_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class EventsGet(RequestBody):
    """Events with ``seq > after``, at most ``limit`` (capped by the page bound)."""

    OPCODE = Opcode.EVENTS_GET
    RESPONSE = EventPage
    after: int = 0
    limit: int = MAX_EVENTS_PER_PAGE


@dataclass(frozen=True, slots=True, kw_only=True)
class UserAdd(RequestBody):
    OPCODE = Opcode.USER_ADD
    RESPONSE = UserInfo
    role: Role
    name: str
    validity: Validity = ALWAYS
    schedules: tuple[Schedule, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class UserUpdate(RequestBody):
    """Fields left ``None`` are unchanged; ``schedules=()`` clears the schedules."""

    OPCODE = Opcode.USER_UPDATE
    RESPONSE = UserInfo
    user_number: int
    name: str | None = None
    role: Role | None = None
    validity: Validity | None = None
    schedules: tuple[Schedule, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UserDelete(RequestBody):
    OPCODE = Opcode.USER_DELETE
    RESPONSE = Done
    user_number: int


@dataclass(frozen=True, slots=True, kw_only=True)
class UserGet(RequestBody):
    """One user: admins see anyone, a user sees themself."""

    OPCODE = Opcode.USER_GET
    RESPONSE = UserInfo
    user_number: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WhoAmI(RequestBody):
    """The requesting phone's own user, after every check the lock makes."""

    OPCODE = Opcode.WHOAMI
    RESPONSE = UserInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class UserList(RequestBody):
    """Users with a number above ``after``, one page."""

    OPCODE = Opcode.USER_LIST
    RESPONSE = UserPage
    after: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class PinAdd(RequestBody):
    OPCODE = Opcode.PIN_ADD
    RESPONSE = CredentialInfo
    user_number: int
    pin: str = field(repr=False)
    duress: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class CardAdd(RequestBody):
    """R-CRD-5: the first card sets the card security code; later cards must repeat it."""

    OPCODE = Opcode.CARD_ADD
    RESPONSE = CredentialInfo
    user_number: int
    card_uid: bytes = field(repr=False)
    card_code: str = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrolBegin(RequestBody):
    """Start a biometric enrolment at the lock (R-APP-2, R-CRD-4)."""

    OPCODE = Opcode.ENROL_BEGIN
    RESPONSE = Enrolment
    user_number: int
    kind: CredentialKind
    duress: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrolStatus(RequestBody):
    OPCODE = Opcode.ENROL_STATUS
    RESPONSE = Enrolment
    session_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrolCancel(RequestBody):
    """Abandon an enrolment: nothing is stored (R-CRD-4)."""

    OPCODE = Opcode.ENROL_CANCEL
    RESPONSE = Enrolment
    session_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteAdd(RequestBody):
    """Pair a Bluetooth remote-control accessory to a user (R-CRD-1, R-APP-7)."""

    OPCODE = Opcode.REMOTE_ADD
    RESPONSE = CredentialInfo
    user_number: int
    remote_id: bytes = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class CredentialDelete(RequestBody):
    OPCODE = Opcode.CREDENTIAL_DELETE
    RESPONSE = Done
    credential_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CredentialDeleteKind(RequestBody):
    """R-CRD-7: delete all credentials of one kind of one user."""

    OPCODE = Opcode.CREDENTIAL_DELETE_KIND
    RESPONSE = Deleted
    user_number: int
    kind: CredentialKind
    duress_only: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class CredentialClear(RequestBody):
    """R-CRD-7: clear one kind lock-wide, sparing the requesting admin's own."""

    OPCODE = Opcode.CREDENTIAL_CLEAR
    RESPONSE = Deleted
    kind: CredentialKind


@dataclass(frozen=True, slots=True, kw_only=True)
class CredentialList(RequestBody):
    """Credentials with an id above ``after``, of one user or all; one page."""

    OPCODE = Opcode.CREDENTIAL_LIST
    RESPONSE = CredentialPage
    user_number: int | None = None
    kind: CredentialKind | None = None
    after: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyInvite(RequestBody):
    """R-APP-3: an invite code for a Bluetooth key. For ``user_number``, or (None) for a
    new user created with ``name`` and ``role`` — ``role=ADMIN`` enrols a further admin
    phone. ``validity`` bounds the key; ``expires_at`` (default 24 h) the invite."""

    OPCODE = Opcode.KEY_INVITE
    RESPONSE = Invite
    user_number: int | None = None
    name: str = ""
    role: Role = Role.NORMAL
    expires_at: int | None = None
    validity: Validity = ALWAYS


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyList(RequestBody):
    """Bluetooth keys (phones included) with an id above ``after``."""

    OPCODE = Opcode.KEY_LIST
    RESPONSE = CredentialPage
    after: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyRevoke(RequestBody):
    OPCODE = Opcode.KEY_REVOKE
    RESPONSE = Done
    credential_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class InviteCancel(RequestBody):
    OPCODE = Opcode.INVITE_CANCEL
    RESPONSE = Done
    invite_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class InviteList(RequestBody):
    """Pending invites with an id above ``after`` (never their codes)."""

    OPCODE = Opcode.INVITE_LIST
    RESPONSE = InvitePage
    after: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SettingsGet(RequestBody):
    OPCODE = Opcode.SETTINGS_GET
    RESPONSE = LockSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class SettingsSet(RequestBody):
    """Change some settings; fields left ``None`` are unchanged. Answers the new settings."""

    OPCODE = Opcode.SETTINGS_SET
    RESPONSE = LockSettings
    anti_lock: bool | None = None
    privacy_mode: bool | None = None
    dual_auth_mode: bool | None = None
    passage_mode: bool | None = None
    active_card_detection: bool | None = None
    volume: int | None = None
    doorbell_volume: int | None = None
    door_direction: DoorDirection | None = None
    lock_body: LockBody | None = None
    language: str | None = None
    keypad_sleep_s: int | None = None
    face_trigger: Trigger | None = None
    palm_trigger: Trigger | None = None
    countdown_lock: bool | None = None
    countdown_s: int | None = None
    auto_lock_on_close: bool | None = None
    lockout_enabled: bool | None = None
    sync_unlock: bool | None = None
    sync_window_s: int | None = None
    utc_offset_min: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LockoutLift(RequestBody):
    """R-SEC-1: the app lifts a running lockout (switching it off is a setting)."""

    OPCODE = Opcode.LOCKOUT_LIFT
    RESPONSE = Done


@dataclass(frozen=True, slots=True, kw_only=True)
class FactoryReset(RequestBody):
    """R-SEC-5: erase all users and configuration."""

    OPCODE = Opcode.FACTORY_RESET
    RESPONSE = Done


@dataclass(frozen=True, slots=True, kw_only=True)
class VisitorSecretGet(RequestBody):
    OPCODE = Opcode.VISITOR_SECRET_GET
    RESPONSE = VisitorSecret


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncLinkSet(RequestBody):
    """R-SYN-1: link this lock to a peer lock, known by its id and static public key."""

    OPCODE = Opcode.SYNC_LINK_SET
    RESPONSE = Done
    peer_lock_id: bytes
    peer_public_key: bytes
    window_s: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncLinkDelete(RequestBody):
    OPCODE = Opcode.SYNC_LINK_DELETE
    RESPONSE = Done
    peer_lock_id: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncLinkList(RequestBody):
    OPCODE = Opcode.SYNC_LINK_LIST
    RESPONSE = SyncLinks


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


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncStatementRelay(RequestBody):
    OPCODE = Opcode.SYNC_STATEMENT
    RESPONSE = Done
    statement: SyncStatement
