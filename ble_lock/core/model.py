"""The lock's records: users, credentials, settings, events, decisions.

All records are frozen, slotted, keyword-only dataclasses. Secrets never live here in
plaintext: a credential holds only ``digest``, a keyed hash of its secret material
(``ble_lock.core.hashing``). Times are unix seconds (float) on the lock's own clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, IntEnum

from ble_lock.core.errors import ErrorCode
from ble_lock.core.events import (
    ALARM_KINDS,
    BatteryLevel,
    ByUser,
    ClockSet,
    EnrolmentProgress,
    EventDetail,
    EventKind,
    InviteIssued,
    LinkAdded,
    LinkConfirmed,
    LinkExpired,
    LinkPending,
    LockEvent,
    LockEventPage,
    LockoutStarted,
    Note,
    SyncSource,
    SyncTarget,
    Unlinked,
    UnlockMethod,
)

__all__ = [
    "ALARM_KINDS",
    "BIOMETRIC_KINDS",
    "DURESS_KINDS",
    "LOCK_ID_LEN",
    "MAX_LINKS",
    "MAX_NAME",
    "MAX_SCHEDULES",
    "Actor",
    "ActorKind",
    "BatteryLevel",
    "BoltState",
    "ByUser",
    "CaptureResult",
    "ClockSet",
    "Credential",
    "CredentialKind",
    "Decision",
    "DoorDirection",
    "DoorState",
    "EnrolmentProgress",
    "EnrolmentSession",
    "EnrolmentState",
    "EventDetail",
    "EventKind",
    "FactoryData",
    "Invite",
    "InviteIssued",
    "IssuedInvite",
    "LinkAdded",
    "LinkConfirmed",
    "LinkExpired",
    "LinkPending",
    "LockBody",
    "LockEvent",
    "LockEventPage",
    "LockoutStarted",
    "Note",
    "PhoneInfo",
    "Role",
    "Settings",
    "SyncLink",
    "SyncSource",
    "SyncTarget",
    "SystemInfo",
    "Trigger",
    "Unlinked",
    "UnlockMethod",
    "User",
    "WeekdaySchedule",
    "auto_lock_default",
]

#: Longest user name or key label in characters (the wire's ``Name`` field too).
MAX_NAME = 32
#: Week-day schedules per user (R-USR-7; Matter's limit).
MAX_SCHEDULES = 7
#: Sync links per lock (R-SYN-1).
MAX_LINKS = 4

#: Bytes in a lock id (advertisement, info characteristic, QR, pairing context).
LOCK_ID_LEN = 4


class Role(IntEnum):
    """R-USR-1 / R-USR-8: admin ("master"), normal user, dual-auth user (DL20VC)."""

    ADMIN = 1
    NORMAL = 2
    DUAL_AUTH = 3
    #: R-APP-5: a remote-only user (Matter's RemoteOnly user type), e.g. a gateway: its
    #: Bluetooth key opens only as a remote unlock (the lock's "remote unlock" setting,
    #: off by default, decides), manages nothing, and may read the event log to carry
    #: alarms off the radio (R-APP-6).
    REMOTE_ONLY = 4


class CredentialKind(IntEnum):
    """R-CRD-1: electronic credential kinds (the mechanical key is only an event)."""

    PIN = 1
    FINGERPRINT = 2
    CARD = 3
    FACE = 4
    PALM = 5
    BLUETOOTH_KEY = 6
    REMOTE_CONTROL = 7


BIOMETRIC_KINDS = frozenset({CredentialKind.FINGERPRINT, CredentialKind.FACE, CredentialKind.PALM})
#: R-CRD-6: the kinds that can be duress ("anti-hijack") keys.
DURESS_KINDS = frozenset({CredentialKind.PIN, CredentialKind.FINGERPRINT})


class ActorKind(IntEnum):
    """Who calls the management API: a paired phone, or a user logged in at the panel."""

    PHONE = 1
    PANEL = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """The caller of a management operation, as established by the protocol or panel.

    Only an identity: the lock looks up the role, validity and revocation itself on every
    call (DESIGN: roles are never trusted from the central). The protocol builds
    ``Actor.phone(key)`` from the key its session authenticated, never from message
    content; ``Actor.panel`` is for the front panel after ``panel_admin_login``.
    """

    kind: ActorKind
    phone_key: bytes | None = None
    user_number: int | None = None

    @classmethod
    def phone(cls, public_key: bytes) -> Actor:
        """A phone authenticated by the protocol with its X25519 static public key."""
        return cls(kind=ActorKind.PHONE, phone_key=bytes(public_key))

    @classmethod
    def panel(cls, user_number: int) -> Actor:
        """A user who verified at the front panel to enter the admin menu."""
        return cls(kind=ActorKind.PANEL, user_number=user_number)

    def identity(self) -> bytes:
        """A stable byte string naming this actor (idempotency records are per actor)."""
        if self.kind is ActorKind.PHONE:
            return b"P" + (self.phone_key or b"")
        return b"U" + str(self.user_number).encode()


@dataclass(frozen=True, slots=True, kw_only=True)
class WeekdaySchedule:
    """Matter-style week-day schedule: days mask (bit 0 = Sunday ... bit 6 = Saturday)
    and a daily window [start_minute, end_minute) in minutes after local midnight."""

    days_mask: int
    start_minute: int
    end_minute: int


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """A user (R-USR-*). ``number`` is the keypad's user number (001...; R-USR-3)."""

    number: int
    name: str
    role: Role
    valid_from: float | None = None
    valid_until: float | None = None
    schedules: tuple[WeekdaySchedule, ...] = ()
    created_at: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Credential:
    """A credential attached to a user.

    ``digest`` is the keyed hash of the secret material (PIN digits, card UID, template,
    remote id, phone public key) and is what 1:N matching looks up. ``public_key`` is set
    only for Bluetooth keys (an X25519 public key, not secret). ``revoked`` and
    ``valid_until`` apply to Bluetooth keys (invite validity).
    """

    id: int
    kind: CredentialKind
    user_number: int
    digest: bytes = field(repr=False)
    duress: bool = False
    label: str = ""
    length: int = 0
    public_key: bytes | None = None
    revoked: bool = False
    valid_from: float | None = None
    valid_until: float | None = None
    created_at: float = 0.0


class DoorDirection(IntEnum):
    LEFT = 1
    RIGHT = 2


class LockBody(IntEnum):
    """R-MOD-7: 6068 has a door sensor, 5085 has none."""

    BODY_6068 = 6068
    BODY_5085 = 5085


class Trigger(IntEnum):
    """R-MOD-9: face/palm recognition on approach, or after touching the keypad."""

    AUTOMATIC = 1
    MANUAL = 2


def auto_lock_default(body: LockBody) -> bool:
    """R-LCK-4: the door locks by itself after it closes, by default, with the sensor lock
    body (6068: "門鎖在關閉後會自動上鎖（僅支援帶有感應鎖體的門鎖）"); never with 5085."""
    return body is LockBody.BODY_6068


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Modes and settings (R-MOD-*, R-LCK-3/4, R-SEC-1, R-SYN-3). Defaults = factory."""

    anti_lock: bool = False
    privacy_mode: bool = False
    dual_auth_mode: bool = False
    passage_mode: bool = False
    active_card_detection: bool = True
    volume: int = 2
    doorbell_volume: int = 2
    door_direction: DoorDirection = DoorDirection.LEFT
    lock_body: LockBody = LockBody.BODY_6068
    language: str = "zh-TW"
    keypad_sleep_s: int = 20
    face_trigger: Trigger = Trigger.AUTOMATIC
    palm_trigger: Trigger = Trigger.AUTOMATIC
    countdown_lock: bool = False
    countdown_s: int = 10
    #: R-LCK-4: on by default with the sensor lock body (6068), see ``auto_lock_default``
    auto_lock_on_close: bool = True
    lockout_enabled: bool = True
    sync_unlock: bool = False
    sync_window_s: int = 10
    #: R-APP-5: remote unlock ("設定 > 解鎖設定 > 遠端解鎖"), off by default.
    remote_unlock: bool = False
    time_offset: float = 0.0
    utc_offset_min: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The lock's answer to an unlock attempt: a value, never an exception.

    ``reason`` is the :class:`ErrorCode` of a denial (``NO_MATCH``, ``LOCKED_OUT``...);
    ``retry_after`` is the seconds left in a lockout (R-SEC-1).
    """

    granted: bool
    reason: ErrorCode | None = None
    retry_after: float | None = None
    user_number: int | None = None
    method: UnlockMethod | None = None
    duress: bool = False
    low_battery: bool = False
    credential_id: int | None = None


class EnrolmentState(IntEnum):
    CAPTURING = 1
    DONE = 2
    CANCELLED = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrolmentSession:
    """R-CRD-4: an enrolment started by the app, captured at the lock."""

    id: int
    kind: CredentialKind
    user_number: int
    duress: bool
    captures_needed: int
    captured: int
    next_step: str | None
    state: EnrolmentState
    credential_id: int | None = None
    started_at: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureResult:
    """What the panel reports after one biometric capture during enrolment."""

    session_id: int
    accepted: bool
    captured: int
    captures_needed: int
    done: bool
    credential_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Invite:
    """A Bluetooth-key invite (R-APP-3). Only a derived secret is kept. ``redeemed_by``
    (a phone's public key) marks an invite already redeemed, kept until it expires so that
    the phone holding its code hears ``INVITE_USED``, not "wrong code"."""

    id: int
    user_number: int
    secret: bytes = field(repr=False)
    nonce: bytes = field(repr=False)
    expires_at: float
    key_valid_from: float | None = None
    key_valid_until: float | None = None
    issued_by: int | None = None
    created_at: float = 0.0
    redeemed_by: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedInvite:
    """Returned once to the admin who issued an invite: ``code`` goes to the guest."""

    invite_id: int
    user_number: int
    code: str = field(repr=False)
    expires_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PhoneInfo:
    """What the protocol learns about a phone public key (R-APP-3)."""

    credential_id: int
    user_number: int
    role: Role
    revoked: bool
    valid_from: float | None
    valid_until: float | None
    user_valid_from: float | None
    user_valid_until: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncLink:
    """R-SYN-1..3: a linked lock (its id and static public key) and the open window.

    R-SYN-1: ``confirm_by`` is set while the link is *pending*: the deadline (injected
    clock, like every timer) by which an admin must unlock this door with a credential
    at the door; a pending link opens nothing and triggers nothing. ``None``: confirmed
    (``confirmed_by`` is the admin user who confirmed it at the door, ``None`` when the
    admin's session on this lock authorised it)."""

    peer_lock_id: bytes
    peer_public_key: bytes
    window_s: int = 10
    created_at: float = 0.0
    confirm_by: float | None = None
    confirmed_by: int | None = None

    @property
    def pending(self) -> bool:
        return self.confirm_by is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class FactoryData:
    """Printed on the lock at manufacture. ``setup_code`` is returned once by
    provisioning (for the label/QR) and never stored in plaintext. ``lock_id`` is the
    lock's public identity on the air (advertisement, info characteristic, QR)."""

    serial: str
    lock_id: bytes
    verification_code: str = field(repr=False)
    setup_code: str = field(repr=False)
    firmware_version: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemInfo:
    """R-APP-8: serial, verification code, firmware, and a status summary."""

    serial: str
    verification_code: str = field(repr=False)
    firmware_version: str
    model: str
    battery_percent: int
    low_battery: bool
    video_available: bool
    claimed: bool
    users: int
    credentials: dict[CredentialKind, int]
    capacities: dict[CredentialKind, int]


class BoltState(Enum):
    LOCKED = "locked"
    UNLOCKED = "unlocked"


class DoorState(Enum):
    CLOSED = "closed"
    OPEN = "open"
