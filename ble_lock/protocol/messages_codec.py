"""Byte layouts of the application messages, declared once with ``construct``.

Construct objects never leave this module: callers get :func:`encode_body` /
:func:`decode_body` over the dataclasses of :mod:`messages_bodies`. Every field is
bounded, every encoding canonical (booleans are 0/1, optional fields carry a 0/1
presence byte), and a body must be consumed exactly (trailing bytes are an error).
Integers are big-endian. See docs/protocol.md (## Messages) for the tables.
"""

from __future__ import annotations

import dataclasses
import struct
from enum import IntEnum
from typing import Any, TypeVar

import construct as c

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
from ble_lock.protocol import messages_bodies as b
from ble_lock.protocol.messages_types import (
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
    "KIND_EVENT",
    "KIND_REQUEST",
    "KIND_RESPONSE",
    "MAX_TEXT",
    "REQUEST_ID_SIZE",
    "CodecError",
    "Envelope",
    "decode_body",
    "encode_body",
    "event_type",
    "pack",
    "request_type",
    "response_type",
    "unpack",
]

T = TypeVar("T")

MAX_NAME = 32
MAX_LABEL = 16
MAX_LANGUAGE = 16
MAX_DETAIL = 64
MAX_INVITE_CODE = 32
MAX_TEXT = 120
MAX_LOCK_ID = 32
MAX_LINKS = 4



class CodecError(Exception):
    """A body does not parse (peer input) or does not fit its layout (local misuse)."""


# ------------------------------------------------------------------ field adapters


class _Bool(c.Adapter):  # type: ignore[misc]  # construct is untyped
    def __init__(self) -> None:
        super().__init__(c.Int8ub)

    def _decode(self, obj: int, ctx: Any, path: str) -> bool:
        if obj not in (0, 1):
            raise c.ValidationError(f"boolean must be 0 or 1, got {obj}", path=path)
        return obj == 1

    def _encode(self, obj: bool, ctx: Any, path: str) -> int:
        if not isinstance(obj, bool):
            raise c.ValidationError("expected a bool", path=path)
        return int(obj)


class _Enum(c.Adapter):  # type: ignore[misc]  # construct is untyped
    def __init__(self, enum: type[IntEnum], sub: Any = c.Int8ub) -> None:
        super().__init__(sub)
        self._enum = enum

    def _decode(self, obj: int, ctx: Any, path: str) -> IntEnum:
        try:
            return self._enum(obj)
        except ValueError:
            raise c.ValidationError(f"unknown {self._enum.__name__} {obj}", path=path) from None

    def _encode(self, obj: IntEnum, ctx: Any, path: str) -> int:
        if not isinstance(obj, self._enum):
            raise c.ValidationError(f"expected a {self._enum.__name__}", path=path)
        return int(obj)


class _Bytes(c.Adapter):  # type: ignore[misc]  # construct is untyped
    """Length-prefixed (u8) bytes of ``low``..``high`` bytes."""

    def __init__(self, low: int, high: int) -> None:
        super().__init__(c.Prefixed(c.Int8ub, c.GreedyBytes))
        self._low, self._high = low, high

    def _check(self, obj: bytes, path: str) -> bytes:
        if not isinstance(obj, bytes) or not self._low <= len(obj) <= self._high:
            raise c.ValidationError(f"need {self._low}..{self._high} bytes", path=path)
        return obj

    def _decode(self, obj: bytes, ctx: Any, path: str) -> bytes:
        return self._check(obj, path)

    def _encode(self, obj: bytes, ctx: Any, path: str) -> bytes:
        return self._check(obj, path)


class _Text(c.Adapter):  # type: ignore[misc]  # construct is untyped
    """Length-prefixed (u8) strict UTF-8 of at most ``high`` bytes; ``digits`` = ASCII 0-9."""

    def __init__(self, high: int, *, low: int = 0, digits: bool = False) -> None:
        super().__init__(_Bytes(low, high))
        self._digits = digits

    def _decode(self, obj: bytes, ctx: Any, path: str) -> str:
        try:
            text = obj.decode("utf-8", errors="strict")
        except UnicodeDecodeError:
            raise c.ValidationError("invalid UTF-8", path=path) from None
        if self._digits and not (text.isascii() and text.isdigit()):
            raise c.ValidationError("expected decimal digits", path=path)
        return text

    def _encode(self, obj: str, ctx: Any, path: str) -> bytes:
        if not isinstance(obj, str):
            raise c.ValidationError("expected a str", path=path)
        if self._digits and not (obj.isascii() and obj.isdigit()):
            raise c.ValidationError("expected decimal digits", path=path)
        return obj.encode("utf-8")


class _Opt(c.Adapter):  # type: ignore[misc]  # construct is untyped
    """A 0/1 presence byte, then the value if present; ``None`` when absent."""

    def __init__(self, sub: Any) -> None:
        super().__init__(c.Struct("present" / _Bool(), "value" / c.If(c.this.present, sub)))
        self._inner = sub

    def _decode(self, obj: Any, ctx: Any, path: str) -> Any:
        return obj.value if obj.present else None

    def _encode(self, obj: Any, ctx: Any, path: str) -> dict[str, Any]:
        return {"present": obj is not None, "value": obj}


class _List(c.Adapter):  # type: ignore[misc]  # construct is untyped
    """A u8 count (at most ``high``), then the items; decoded as a tuple."""

    def __init__(self, sub: Any, high: int) -> None:
        super().__init__(c.PrefixedArray(c.Int8ub, sub))
        self._item = sub
        self._high = high

    def _check(self, obj: Any, path: str) -> tuple[Any, ...]:
        if not isinstance(obj, (list, tuple)) or len(obj) > self._high:
            raise c.ValidationError(f"at most {self._high} items", path=path)
        return tuple(obj)

    def _decode(self, obj: Any, ctx: Any, path: str) -> tuple[Any, ...]:
        return self._check(obj, path)

    def _encode(self, obj: Any, ctx: Any, path: str) -> list[Any]:
        return list(self._check(obj, path))


class _Record(c.Adapter):  # type: ignore[misc]  # construct is untyped
    """A Struct whose field names are the dataclass's fields, in order."""

    def __init__(self, cls: type[Any], *fields: Any) -> None:
        names = [f.name for f in dataclasses.fields(cls)]
        declared = [f.name for f in fields]
        if names != declared:
            raise TypeError(f"{cls.__name__}: layout {declared} != fields {names}")
        super().__init__(c.Struct(*fields))
        self._cls = cls
        self._names = names

    def _decode(self, obj: Any, ctx: Any, path: str) -> Any:
        return self._cls(**{n: obj[n] for n in self._names})

    def _encode(self, obj: Any, ctx: Any, path: str) -> dict[str, Any]:
        if not isinstance(obj, self._cls):
            raise c.ValidationError(f"expected a {self._cls.__name__}", path=path)
        return {n: getattr(obj, n) for n in self._names}


# ------------------------------------------------------------------ shared layouts

U8, U16, U32, U64 = c.Int8ub, c.Int16ub, c.Int32ub, c.Int64ub
S16 = c.Int16sb
UserNumber = U16
CredentialId = U32
Name = _Text(MAX_NAME)
LockId = _Bytes(1, MAX_LOCK_ID)
PublicKey = c.Bytes(32)

VALIDITY = _Record(Validity, "valid_from" / _Opt(U64), "valid_until" / _Opt(U64))
SCHEDULE = _Record(Schedule, "days_mask" / U8, "start_minute" / U16, "end_minute" / U16)
SCHEDULES = _List(SCHEDULE, MAX_SCHEDULES)
STATEMENT = _Record(
    b.SyncStatement,
    "issuer_lock_id" / LockId,
    "target_lock_id" / LockId,
    "at_ms" / U64,
    "nonce" / c.Bytes(16),
    "proof" / _Bytes(16, 64),
)
USER_INFO = _Record(
    b.UserInfo,
    "user_number" / UserNumber,
    "role" / _Enum(Role),
    "name" / Name,
    "validity" / VALIDITY,
    "schedules" / SCHEDULES,
)
CREDENTIAL_INFO = _Record(
    b.CredentialInfo,
    "credential_id" / CredentialId,
    "user_number" / UserNumber,
    "kind" / _Enum(CredentialKind),
    "duress" / _Bool(),
    "label" / _Text(MAX_LABEL),
    "revoked" / _Bool(),
    "validity" / VALIDITY,
)
ENROLMENT = _Record(
    b.Enrolment,
    "session_id" / U32,
    "kind" / _Enum(CredentialKind),
    "user_number" / UserNumber,
    "captured" / U8,
    "captures_needed" / U8,
    "next_step" / _Text(MAX_LABEL),
    "state" / _Enum(EnrolmentState),
    "credential_id" / _Opt(CredentialId),
)
EVENT_RECORD = _Record(
    b.EventRecord,
    "seq" / U64,
    "at_ms" / U64,
    "kind" / _Enum(EventKind),
    "user_number" / _Opt(UserNumber),
    "method" / _Opt(_Enum(UnlockMethod)),
    "duress" / _Bool(),
    "reason" / _Opt(U8),
    "credential_id" / _Opt(CredentialId),
    "detail" / _Text(MAX_DETAIL),
)
# Settings: one layout per field, used as is by LockSettings and optional by SettingsSet.
_SETTINGS_FIELDS: tuple[tuple[str, Any], ...] = (
    ("anti_lock", _Bool()),
    ("privacy_mode", _Bool()),
    ("dual_auth_mode", _Bool()),
    ("passage_mode", _Bool()),
    ("active_card_detection", _Bool()),
    ("volume", U8),
    ("doorbell_volume", U8),
    ("door_direction", _Enum(DoorDirection)),
    ("lock_body", _Enum(LockBody, U16)),
    ("language", _Text(MAX_LANGUAGE)),
    ("keypad_sleep_s", U16),
    ("face_trigger", _Enum(Trigger)),
    ("palm_trigger", _Enum(Trigger)),
    ("countdown_lock", _Bool()),
    ("countdown_s", U16),
    ("auto_lock_on_close", _Bool()),
    ("lockout_enabled", _Bool()),
    ("sync_unlock", _Bool()),
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
        "role" / _Enum(Role), "name" / Name, "validity" / VALIDITY, "schedules" / SCHEDULES,
    ),
    b.UserUpdate: (
        "user_number" / UserNumber,
        "name" / _Opt(Name),
        "role" / _Opt(_Enum(Role)),
        "validity" / _Opt(VALIDITY),
        "schedules" / _Opt(SCHEDULES),
    ),
    b.UserDelete: ("user_number" / UserNumber,),
    b.UserList: ("after" / UserNumber,),
    b.UserGet: ("user_number" / UserNumber,),
    b.WhoAmI: _EMPTY,
    b.PinAdd: (
        "user_number" / UserNumber, "pin" / _Text(20, low=1, digits=True), "duress" / _Bool(),
    ),
    b.CardAdd: (
        "user_number" / UserNumber,
        "card_uid" / _Bytes(4, 16),
        "card_code" / _Text(12, low=1, digits=True),
    ),
    b.RemoteAdd: ("user_number" / UserNumber, "remote_id" / _Bytes(4, 16)),
    b.EnrolBegin: (
        "user_number" / UserNumber, "kind" / _Enum(CredentialKind), "duress" / _Bool(),
    ),
    b.EnrolStatus: ("session_id" / U32,),
    b.EnrolCancel: ("session_id" / U32,),
    b.CredentialDelete: ("credential_id" / CredentialId,),
    b.CredentialDeleteKind: (
        "user_number" / UserNumber, "kind" / _Enum(CredentialKind), "duress_only" / _Bool(),
    ),
    b.CredentialClear: ("kind" / _Enum(CredentialKind),),
    b.CredentialList: (
        "user_number" / _Opt(UserNumber),
        "kind" / _Opt(_Enum(CredentialKind)),
        "after" / CredentialId,
    ),
    b.KeyInvite: (
        "user_number" / _Opt(UserNumber),
        "name" / Name,
        "role" / _Enum(Role),
        "expires_at" / _Opt(U64),
        "validity" / VALIDITY,
    ),
    b.InviteCancel: ("invite_id" / U32,),
    b.InviteList: ("after" / U32,),
    b.KeyList: ("after" / CredentialId,),
    b.KeyRevoke: ("credential_id" / CredentialId,),
    b.SettingsGet: _EMPTY,
    b.SettingsSet: tuple(name / _Opt(layout) for name, layout in _SETTINGS_FIELDS),
    b.LockoutLift: _EMPTY,
    b.FactoryReset: _EMPTY,
    b.VisitorSecretGet: _EMPTY,
    b.SyncLinkSet: (
        "peer_lock_id" / LockId, "peer_public_key" / PublicKey, "window_s" / U16,
    ),
    b.SyncLinkDelete: ("peer_lock_id" / LockId,),
    b.SyncLinkList: _EMPTY,
    b.SyncStatementRelay: ("statement" / STATEMENT,),
}

# ------------------------------------------------------------------ response bodies

_RESPONSES: dict[type[ResponseBody], Any] = {
    b.Done: _EMPTY,
    b.Unlocked: ("user_number" / UserNumber,),
    b.UserInfo: USER_INFO,
    b.UserPage: ("users" / _List(USER_INFO, MAX_USERS_PER_PAGE), "more" / _Bool()),
    b.CredentialInfo: CREDENTIAL_INFO,
    b.CredentialPage: (
        "credentials" / _List(CREDENTIAL_INFO, MAX_CREDENTIALS_PER_PAGE),
        "more" / _Bool(),
    ),
    b.Enrolment: ENROLMENT,
    b.Deleted: ("count" / U16,),
    b.Invite: (
        "invite_id" / U32,
        "user_number" / UserNumber,
        "code" / _Text(MAX_INVITE_CODE, low=1),
        "expires_at" / U64,
    ),
    b.InvitePage: (
        "invites"
        / _List(
            _Record(
                b.InviteInfo,
                "invite_id" / U32,
                "user_number" / UserNumber,
                "expires_at" / U64,
                "validity" / VALIDITY,
            ),
            MAX_INVITES_PER_PAGE,
        ),
        "more" / _Bool(),
    ),
    b.LockSettings: tuple(name / layout for name, layout in _SETTINGS_FIELDS),
    b.SystemInfo: (
        "serial" / Name,
        "verification_code" / Name,
        "firmware_version" / Name,
        "model" / Name,
        "battery_percent" / U8,
        "low_battery" / _Bool(),
        "claimed" / _Bool(),
        "state" / _Enum(LockState),
        "users" / U16,
        "credentials"
        / _List(
            _Record(
                b.KindCount, "kind" / _Enum(CredentialKind), "count" / U16, "capacity" / U16
            ),
            len(CredentialKind),
        ),
        "now_ms" / U64,
    ),
    b.VisitorSecret: ("secret" / _Bytes(16, 64),),
    b.SyncLinks: (
        "links"
        / _List(
            _Record(
                b.SyncLinkInfo,
                "peer_lock_id" / LockId,
                "peer_public_key" / PublicKey,
                "window_s" / U16,
            ),
            MAX_LINKS,
        ),
    ),
    b.EventPage: (
        "events" / _List(EVENT_RECORD, MAX_EVENTS_PER_PAGE),
        "next_cursor" / U64,
        "dropped" / U32,
        "more" / _Bool(),
    ),
}

# ------------------------------------------------------------------ event bodies

_EVENTS: dict[type[EventBody], Any] = {
    b.StateChanged: (
        "state" / _Enum(LockState),
        "at_ms" / U64,
        "method" / _Opt(_Enum(UnlockMethod)),
        "user_number" / _Opt(UserNumber),
    ),
    b.Alarm: ("record" / EVENT_RECORD,),
    b.EnrolStep: ("enrolment" / ENROLMENT,),
    b.SyncStatement: STATEMENT,
}


def _whole(cls: type[Any], layout: Any) -> Any:
    """A top-level body: the record, then end of input (no trailing bytes)."""
    record = layout if isinstance(layout, _Record) else _Record(cls, *layout)
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
        raise CodecError(f"{type(body).__name__}: {_why(exc)}") from None
    return data


def decode_body(cls: type[T], data: bytes) -> T:
    """Parse a body of type ``cls``; :class:`CodecError` on anything malformed."""
    try:
        body: T = _BODY[cls].parse(data)
    except (c.ConstructError, ValueError, TypeError, OverflowError) as exc:
        raise CodecError(f"{cls.__name__}: {_why(exc)}") from None
    return body


def _why(exc: Exception) -> str:
    # Our own ValidationError texts carry no field values; for anything else say only where
    # it failed, so that a secret being built can never leak through an error message.
    path = getattr(exc, "path", None) or ""
    if isinstance(exc, c.ValidationError):
        return " ".join(str(exc).split())[:160]
    return f"{type(exc).__name__} {path}".strip()[:160]


# ------------------------------------------------------------------ envelope

KIND_REQUEST, KIND_RESPONSE, KIND_EVENT = 0x01, 0x02, 0x03
REQUEST_ID_SIZE = 8

# The envelope is on the path of every unlock: its three fixed layouts are compiled
# (construct generates plain Python for them), about ten times faster than interpreted.
_RID = c.Bytes(REQUEST_ID_SIZE)
_HEADS: dict[int, Any] = {
    KIND_REQUEST: c.Struct(
        "kind" / c.Const(KIND_REQUEST, U8), "request_id" / _RID, "opcode" / U8,
        "body" / c.GreedyBytes,
    ).compile(),
    KIND_RESPONSE: c.Struct(
        "kind" / c.Const(KIND_RESPONSE, U8), "request_id" / _RID, "opcode" / U8,
        "status" / U8, "text" / c.PascalString(U8, "utf8"), "body" / c.GreedyBytes,
    ).compile(),
    KIND_EVENT: c.Struct(
        "kind" / c.Const(KIND_EVENT, U8), "event" / U8, "body" / c.GreedyBytes,
    ).compile(),
}
_HEAD_SIZE = {
    KIND_REQUEST: 1 + REQUEST_ID_SIZE + 1,
    KIND_RESPONSE: 1 + REQUEST_ID_SIZE + 1 + 1 + 1,
    KIND_EVENT: 1 + 1,
}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    """The outer layer of a message; ``body`` still encoded. Internal to the codec users."""

    kind: int
    body: bytes
    request_id: bytes = b""
    opcode: int = 0
    status: int = 0
    text: str = ""
    event: int = 0


def pack(env: Envelope) -> bytes:
    layout = _HEADS.get(env.kind)
    if layout is None:
        raise CodecError(f"envelope: unknown kind {env.kind}")
    if len(env.text.encode("utf-8")) > MAX_TEXT:
        raise CodecError(f"envelope: text longer than {MAX_TEXT} bytes")
    fields = {"request_id": env.request_id, "opcode": env.opcode, "status": env.status,
              "text": env.text, "event": env.event, "body": env.body}
    try:
        data: bytes = layout.build(fields)
    except (c.ConstructError, ValueError, TypeError, OverflowError) as exc:
        raise CodecError(f"envelope: {_why(exc)}") from None
    return data


def unpack(data: bytes) -> Envelope:
    layout = _HEADS.get(data[0]) if data else None
    if layout is None:
        raise CodecError("envelope: unknown message kind")
    try:
        parsed = layout.parse(data)
    except (c.ConstructError, ValueError, TypeError, OverflowError, struct.error) as exc:
        # compiled layouts report a short buffer as struct.error
        raise CodecError(f"envelope: {_why(exc)}") from None
    text = parsed.get("text", "")
    raw_text = len(text.encode("utf-8"))
    if raw_text > MAX_TEXT:
        raise CodecError(f"envelope: text longer than {MAX_TEXT} bytes")
    # Compiled layouts do not check that a read got all its bytes: check the declared
    # text length and the total.
    head = _HEAD_SIZE[parsed.kind]
    declared = data[head - 1] if parsed.kind == KIND_RESPONSE else 0
    if raw_text != declared or len(data) != head + raw_text + len(parsed.body):
        raise CodecError("envelope: truncated")
    return Envelope(
        kind=parsed.kind,
        body=parsed.body,
        request_id=parsed.get("request_id", b""),
        opcode=parsed.get("opcode", 0),
        status=parsed.get("status", 0),
        text=text,
        event=parsed.get("event", 0),
    )
