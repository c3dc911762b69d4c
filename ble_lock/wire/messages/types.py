"""The application message catalogue's own enums, bounds and field types.

Every request body names its opcode (``OPCODE``) and the body type of its success
response (``RESPONSE``); the bodies are in ``bodies.py`` and ``records.py``, each
declared once with :func:`~ble_lock.wire.messages.declare.wire`, which derives its byte
layout from the field types below (``UInt16``, ``Name``...: ``Annotated[T, layout]``).
The tables in ``docs/protocol.md`` (## Messages) are generated from those declarations.
Roles, credential kinds, unlock methods and event kinds travel as the core's own enums
(``core.model``).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated, ClassVar, Generic, TypeVar

import construct as c

from ble_lock.core.model import MAX_NAME, MAX_SCHEDULES, LockBody
from ble_lock.wire.messages.fields import U8, U16, U32, U64, BytesField, EnumField, Text

__all__ = [
    "MAX_CREDENTIALS_PER_PAGE",
    "MAX_DETAIL",
    "MAX_EVENTS_PER_PAGE",
    "MAX_INVITES_PER_PAGE",
    "MAX_INVITE_CODE",
    "MAX_LABEL",
    "MAX_LANGUAGE",
    "MAX_LOCK_ID",
    "MAX_SCHEDULES",
    "MAX_USERS_PER_PAGE",
    "EventBody",
    "EventType",
    "LockState",
    "Opcode",
    "RequestBody",
    "RequestOf",
    "ResponseBody",
]
# The field types (UInt8, Name, ...) are not re-exported: they are how a body is
# declared, imported by bodies.py and records.py from here.

# Bounds of every list on the wire (DESIGN: every parser is bounded). The worst case of each
# page fits MAX_MESSAGE_SIZE; tests/wire/test_messages.py checks it.
MAX_USERS_PER_PAGE = 8
MAX_CREDENTIALS_PER_PAGE = 16
MAX_EVENTS_PER_PAGE = 8
MAX_INVITES_PER_PAGE = 16
# Bounds of the texts and byte strings on the wire (MAX_NAME is the core's).
MAX_LABEL = 16
MAX_LANGUAGE = 16
MAX_DETAIL = 64
MAX_INVITE_CODE = 32
MAX_LOCK_ID = 32

# ------------------------------------------------------------------ field types
# ``Annotated[T, layout]``: the Python type of a field and its byte layout, in one name.

UInt8 = Annotated[int, U8]
UInt16 = Annotated[int, U16]
UInt32 = Annotated[int, U32]
UInt64 = Annotated[int, U64]
Int16 = Annotated[int, c.Int16sb]
UserNumber = Annotated[int, U16]
CredentialId = Annotated[int, U32]
Name = Annotated[str, Text(MAX_NAME)]
Label = Annotated[str, Text(MAX_LABEL)]
LockId = Annotated[bytes, BytesField(1, MAX_LOCK_ID)]
PublicKey = Annotated[bytes, c.Bytes(32)]
Language = Annotated[str, Text(MAX_LANGUAGE)]
LockBodyType = Annotated[LockBody, EnumField(LockBody, U16)]


class Opcode(IntEnum):
    """Request opcodes; a response echoes the opcode of its request."""

    UNLOCK = 0x01
    LOCK = 0x02
    SYSTEM_INFO = 0x03
    TIME_SET = 0x04
    EVENTS_GET = 0x05
    USER_ADD = 0x10
    USER_UPDATE = 0x11
    USER_DELETE = 0x12
    USER_LIST = 0x13
    USER_GET = 0x14
    WHOAMI = 0x15
    PIN_ADD = 0x20
    CARD_ADD = 0x21
    ENROL_BEGIN = 0x22
    ENROL_CANCEL = 0x23
    CREDENTIAL_DELETE = 0x24
    CREDENTIAL_DELETE_KIND = 0x25
    CREDENTIAL_CLEAR = 0x26
    CREDENTIAL_LIST = 0x27
    ENROL_STATUS = 0x28
    REMOTE_ADD = 0x29
    KEY_INVITE = 0x30
    KEY_LIST = 0x31
    KEY_REVOKE = 0x32
    INVITE_CANCEL = 0x33
    INVITE_LIST = 0x34
    SETTINGS_GET = 0x40
    SETTINGS_SET = 0x41
    LOCKOUT_LIFT = 0x42
    FACTORY_RESET = 0x43
    VISITOR_SECRET_GET = 0x44
    MAINTENANCE_OPEN = 0x45
    SYNC_LINK_SET = 0x50
    SYNC_LINK_DELETE = 0x51
    SYNC_LINK_LIST = 0x52
    SYNC_STATEMENT = 0x53


class EventType(IntEnum):
    """Lock-pushed events."""

    STATE_CHANGED = 1
    ALARM = 2
    ENROL_STEP = 3
    SYNC_STATEMENT = 4


class LockState(IntEnum):
    """The bolt, as pushed in STATE_CHANGED and reported by SYSTEM_INFO."""

    LOCKED = 1
    UNLOCKED = 2


class ResponseBody:
    """Base of success response bodies."""

    __slots__ = ()


class RequestBody:
    """Base of request bodies: ``OPCODE`` and the type of the success response body.

    ``SECRET``: the request carries a secret (a PIN, a card code, a credential id). Such a
    request never rides in a handshake's first message, which has no forward secrecy
    (docs/protocol.md, 0-RTT): the client refuses to put it there and the lock refuses to
    apply it from there.
    """

    __slots__ = ()
    OPCODE: ClassVar[Opcode]
    RESPONSE: ClassVar[type[ResponseBody]]
    SECRET: ClassVar[bool] = False


R = TypeVar("R", bound=ResponseBody)


class RequestOf(RequestBody, Generic[R]):
    """Base of a declared request body: ``R`` is the body of its success response.

    :func:`wire` sets ``RESPONSE = R``; a client types its call by it
    (:func:`response_of`)."""

    __slots__ = ()


class EventBody:
    """Base of lock-pushed event bodies: ``EVENT`` is the event type on the wire."""

    __slots__ = ()
    EVENT: ClassVar[EventType]
