"""Byte layouts of the application messages, declared once with ``construct``.

Construct objects never leave this module: callers get :func:`encode_body` /
:func:`decode_body` over the dataclasses of ``bodies.py``. Every field is
bounded, every encoding canonical (booleans are 0/1, optional fields carry a 0/1
presence byte), and a body must be consumed exactly (trailing bytes are an error).
Integers are big-endian. See docs/protocol.md (## Messages) for the tables.
"""

from __future__ import annotations

from typing import Any, TypeVar

import construct as c

from ble_lock.core.model import (
    MAX_LINKS,
    MAX_NAME,
    CredentialKind,
    DoorDirection,
    EnrolmentState,
    EventKind,
    LockBody,
    Role,
    Trigger,
    UnlockMethod,
)
from ble_lock.wire.messages import bodies as b
from ble_lock.wire.messages import records as r
from ble_lock.wire.messages.fields import (
    U8,
    U16,
    U32,
    U64,
    Bool,
    BytesField,
    CodecError,
    EnumField,
    ListOf,
    Opt,
    Record,
    Text,
    why,
)
from ble_lock.wire.messages.types import (
    MAX_CREDENTIALS_PER_PAGE,
    MAX_EVENTS_PER_PAGE,
    MAX_INVITES_PER_PAGE,
    MAX_SCHEDULES,
    MAX_USERS_PER_PAGE,
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
    "MAX_DETAIL",
    "CodecError",
    "decode_body",
    "encode_body",
    "event_type",
    "request_type",
    "response_type",
]

T = TypeVar("T")

MAX_LABEL = 16
MAX_LANGUAGE = 16
MAX_DETAIL = 64
MAX_INVITE_CODE = 32
MAX_LOCK_ID = 32



# ------------------------------------------------------------------ shared layouts

S16 = c.Int16sb
UserNumber = U16
CredentialId = U32
Name = Text(MAX_NAME)
LockId = BytesField(1, MAX_LOCK_ID)
PublicKey = c.Bytes(32)

VALIDITY = Record(Validity, "valid_from" / Opt(U64), "valid_until" / Opt(U64))
SCHEDULE = Record(Schedule, "days_mask" / U8, "start_minute" / U16, "end_minute" / U16)
SCHEDULES = ListOf(SCHEDULE, MAX_SCHEDULES)
STATEMENT = Record(
    r.SyncStatement,
    "issuer_lock_id" / LockId,
    "target_lock_id" / LockId,
    "at_ms" / U64,
    "nonce" / c.Bytes(16),
    "proof" / BytesField(16, 64),
)
USER_INFO = Record(
    r.UserInfo,
    "user_number" / UserNumber,
    "role" / EnumField(Role),
    "name" / Name,
    "validity" / VALIDITY,
    "schedules" / SCHEDULES,
)
CREDENTIAL_INFO = Record(
    r.CredentialInfo,
    "credential_id" / CredentialId,
    "user_number" / UserNumber,
    "kind" / EnumField(CredentialKind),
    "duress" / Bool(),
    "label" / Text(MAX_LABEL),
    "revoked" / Bool(),
    "validity" / VALIDITY,
)
ENROLMENT = Record(
    r.Enrolment,
    "session_id" / U32,
    "kind" / EnumField(CredentialKind),
    "user_number" / UserNumber,
    "captured" / U8,
    "captures_needed" / U8,
    "next_step" / Text(MAX_LABEL),
    "state" / EnumField(EnrolmentState),
    "credential_id" / Opt(CredentialId),
)
EVENT_RECORD = Record(
    r.EventRecord,
    "seq" / U64,
    "at_ms" / U64,
    "kind" / EnumField(EventKind),
    "user_number" / Opt(UserNumber),
    "method" / Opt(EnumField(UnlockMethod)),
    "duress" / Bool(),
    "reason" / Opt(U8),
    "credential_id" / Opt(CredentialId),
    "detail" / Text(MAX_DETAIL),
)
# Settings: one layout per field, used as is by LockSettings and optional by SettingsSet.
_SETTINGS_FIELDS: tuple[tuple[str, Any], ...] = (
    ("anti_lock", Bool()),
    ("privacy_mode", Bool()),
    ("dual_auth_mode", Bool()),
    ("passage_mode", Bool()),
    ("active_card_detection", Bool()),
    ("volume", U8),
    ("doorbell_volume", U8),
    ("door_direction", EnumField(DoorDirection)),
    ("lock_body", EnumField(LockBody, U16)),
    ("language", Text(MAX_LANGUAGE)),
    ("keypad_sleep_s", U16),
    ("face_trigger", EnumField(Trigger)),
    ("palm_trigger", EnumField(Trigger)),
    ("countdown_lock", Bool()),
    ("countdown_s", U16),
    ("auto_lock_on_close", Bool()),
    ("lockout_enabled", Bool()),
    ("sync_unlock", Bool()),
    ("sync_window_s", U16),
    ("utc_offset_min", S16),
)

# ------------------------------------------------------------------ request bodies

_EMPTY: tuple[Any, ...] = ()
_REQUESTS: dict[type[RequestBody], Any] = {
    b.Unlock: _EMPTY,
    b.Lock: _EMPTY,
    b.SystemInfoGet: _EMPTY,
    b.TimeSet: ("now_ms" / U64,),
    b.EventsGet: ("after" / U64, "limit" / U8),
    b.UserAdd: (
        "role" / EnumField(Role), "name" / Name, "validity" / VALIDITY, "schedules" / SCHEDULES,
    ),
    b.UserUpdate: (
        "user_number" / UserNumber,
        "name" / Opt(Name),
        "role" / Opt(EnumField(Role)),
        "validity" / Opt(VALIDITY),
        "schedules" / Opt(SCHEDULES),
    ),
    b.UserDelete: ("user_number" / UserNumber,),
    b.UserList: ("after" / UserNumber,),
    b.UserGet: ("user_number" / UserNumber,),
    b.WhoAmI: _EMPTY,
    b.PinAdd: (
        "user_number" / UserNumber, "pin" / Text(20, low=1, digits=True), "duress" / Bool(),
    ),
    b.CardAdd: (
        "user_number" / UserNumber,
        "card_uid" / BytesField(4, 16),
        "card_code" / Text(12, low=1, digits=True),
    ),
    b.RemoteAdd: ("user_number" / UserNumber, "remote_id" / BytesField(4, 16)),
    b.EnrolBegin: (
        "user_number" / UserNumber, "kind" / EnumField(CredentialKind), "duress" / Bool(),
    ),
    b.EnrolStatus: ("session_id" / U32,),
    b.EnrolCancel: ("session_id" / U32,),
    b.CredentialDelete: ("credential_id" / CredentialId,),
    b.CredentialDeleteKind: (
        "user_number" / UserNumber, "kind" / EnumField(CredentialKind), "duress_only" / Bool(),
    ),
    b.CredentialClear: ("kind" / EnumField(CredentialKind),),
    b.CredentialList: (
        "user_number" / Opt(UserNumber),
        "kind" / Opt(EnumField(CredentialKind)),
        "after" / CredentialId,
    ),
    b.KeyInvite: (
        "user_number" / Opt(UserNumber),
        "name" / Name,
        "role" / EnumField(Role),
        "expires_at" / Opt(U64),
        "validity" / VALIDITY,
    ),
    b.InviteCancel: ("invite_id" / U32,),
    b.InviteList: ("after" / U32,),
    b.KeyList: ("after" / CredentialId,),
    b.KeyRevoke: ("credential_id" / CredentialId,),
    b.SettingsGet: _EMPTY,
    b.SettingsSet: tuple(name / Opt(layout) for name, layout in _SETTINGS_FIELDS),
    b.LockoutLift: _EMPTY,
    b.FactoryReset: _EMPTY,
    b.VisitorSecretGet: _EMPTY,
    b.SyncLinkSet: (
        "peer_lock_id" / LockId, "peer_public_key" / PublicKey, "window_s" / U16,
        "confirm_s" / U16,
    ),
    b.SyncLinkDelete: ("peer_lock_id" / LockId,),
    b.SyncLinkList: _EMPTY,
    b.SyncStatementRelay: ("statement" / STATEMENT,),
}

# ------------------------------------------------------------------ response bodies

_RESPONSES: dict[type[ResponseBody], Any] = {
    r.Done: _EMPTY,
    r.Unlocked: ("user_number" / UserNumber,),
    r.UserInfo: USER_INFO,
    r.UserPage: ("users" / ListOf(USER_INFO, MAX_USERS_PER_PAGE), "more" / Bool()),
    r.CredentialInfo: CREDENTIAL_INFO,
    r.CredentialPage: (
        "credentials" / ListOf(CREDENTIAL_INFO, MAX_CREDENTIALS_PER_PAGE),
        "more" / Bool(),
    ),
    r.Enrolment: ENROLMENT,
    r.Deleted: ("count" / U16,),
    r.Invite: (
        "invite_id" / U32,
        "user_number" / UserNumber,
        "code" / Text(MAX_INVITE_CODE, low=1),
        "expires_at" / U64,
    ),
    r.InvitePage: (
        "invites"
        / ListOf(
            Record(
                r.InviteInfo,
                "invite_id" / U32,
                "user_number" / UserNumber,
                "expires_at" / U64,
                "validity" / VALIDITY,
            ),
            MAX_INVITES_PER_PAGE,
        ),
        "more" / Bool(),
    ),
    r.LockSettings: tuple(name / layout for name, layout in _SETTINGS_FIELDS),
    r.SystemInfo: (
        "serial" / Name,
        "verification_code" / Name,
        "firmware_version" / Name,
        "model" / Name,
        "battery_percent" / U8,
        "low_battery" / Bool(),
        "claimed" / Bool(),
        "state" / EnumField(LockState),
        "users" / U16,
        "credentials"
        / ListOf(
            Record(
                r.KindCount, "kind" / EnumField(CredentialKind), "count" / U16, "capacity" / U16
            ),
            len(CredentialKind),
        ),
        "now_ms" / U64,
    ),
    r.VisitorSecret: ("secret" / BytesField(16, 64),),
    r.SyncLinks: (
        "links"
        / ListOf(
            Record(
                r.SyncLinkInfo,
                "peer_lock_id" / LockId,
                "peer_public_key" / PublicKey,
                "window_s" / U16,
                "pending" / Bool(),
                "confirm_left_s" / U16,
                "confirmed_by" / Opt(UserNumber),
            ),
            MAX_LINKS,
        ),
    ),
    r.EventPage: (
        "events" / ListOf(EVENT_RECORD, MAX_EVENTS_PER_PAGE),
        "next_cursor" / U64,
        "dropped" / U32,
        "more" / Bool(),
    ),
}

# ------------------------------------------------------------------ event bodies

_EVENTS: dict[type[EventBody], Any] = {
    r.StateChanged: (
        "state" / EnumField(LockState),
        "at_ms" / U64,
        "method" / Opt(EnumField(UnlockMethod)),
        "user_number" / Opt(UserNumber),
    ),
    r.Alarm: ("record" / EVENT_RECORD,),
    r.EnrolStep: ("enrolment" / ENROLMENT,),
    r.SyncStatement: STATEMENT,
}


def _whole(cls: type[Any], layout: Any) -> Any:
    """A top-level body: the record, then end of input (no trailing bytes)."""
    record = layout if isinstance(layout, Record) else Record(cls, *layout)
    return c.FocusedSeq("body", "body" / record, c.Terminated)


_BODY: dict[type[Any], Any] = {
    cls: _whole(cls, layout)
    for table in (_REQUESTS, _RESPONSES, _EVENTS)
    for cls, layout in table.items()
}
_REQUEST_BY_OPCODE: dict[Opcode, type[RequestBody]] = {cls.OPCODE: cls for cls in _REQUESTS}
_EVENT_BY_TYPE: dict[EventType, type[EventBody]] = {cls.EVENT: cls for cls in _EVENTS}


def request_type(opcode: Opcode) -> type[RequestBody]:
    return _REQUEST_BY_OPCODE[opcode]


def response_type(opcode: Opcode) -> type[ResponseBody]:
    return _REQUEST_BY_OPCODE[opcode].RESPONSE


def event_type(kind: EventType) -> type[EventBody]:
    return _EVENT_BY_TYPE[kind]


def encode_body(body: object) -> bytes:
    """Build a body; :class:`CodecError` if a value does not fit its layout."""
    layout = _BODY.get(type(body))
    if layout is None:
        raise CodecError(f"not a message body: {type(body).__name__}")
    try:
        data: bytes = layout.build(body)
    except (c.ConstructError, ValueError, TypeError, OverflowError) as exc:
        raise CodecError(f"{type(body).__name__}: {why(exc)}") from None
    return data


def decode_body(cls: type[T], data: bytes) -> T:
    """Parse a body of type ``cls``; :class:`CodecError` on anything malformed."""
    try:
        body: T = _BODY[cls].parse(data)
    except (c.ConstructError, ValueError, TypeError, OverflowError) as exc:
        raise CodecError(f"{cls.__name__}: {why(exc)}") from None
    return body
