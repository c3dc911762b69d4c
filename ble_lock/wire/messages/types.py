"""The application message catalogue's own enums, bounds and base classes (no construct).

Every request body names its opcode (``OPCODE``) and the body type of its success
response (``RESPONSE``); the bodies are in ``bodies.py``, the byte layouts in
``codec.py``, the tables in ``docs/protocol.md`` (## Messages). Roles, credential
kinds, unlock methods and event kinds travel as the core's own enums (``core.model``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from ble_lock.core.model import MAX_SCHEDULES

__all__ = [
    "ALWAYS",
    "MAX_CREDENTIALS_PER_PAGE",
    "MAX_EVENTS_PER_PAGE",
    "MAX_INVITES_PER_PAGE",
    "MAX_SCHEDULES",
    "MAX_USERS_PER_PAGE",
    "EventBody",
    "EventType",
    "LockState",
    "Opcode",
    "RequestBody",
    "ResponseBody",
    "Schedule",
    "Validity",
]

# Bounds of every list on the wire (DESIGN: every parser is bounded). The worst case of each
# page fits MAX_MESSAGE_SIZE; tests/wire/test_messages.py checks it.
MAX_USERS_PER_PAGE = 8
MAX_CREDENTIALS_PER_PAGE = 16
MAX_EVENTS_PER_PAGE = 8
MAX_INVITES_PER_PAGE = 16


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Validity:
    """A validity window in unix seconds (R-USR-7); ``None`` ends are open."""

    valid_from: int | None = None
    valid_until: int | None = None


ALWAYS = Validity()
"""No validity window: valid at all times."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """A weekday schedule (Matter-style): ``days_mask`` bit 0 = Sunday ... bit 6 = Saturday;
    the daily window [start_minute, end_minute) in minutes after local midnight."""

    days_mask: int
    start_minute: int
    end_minute: int


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


class ResponseBody:
    """Base of success response bodies."""

    __slots__ = ()


class EventBody:
    """Base of lock-pushed event bodies: ``EVENT`` is the event type on the wire."""

    __slots__ = ()
    EVENT: ClassVar[EventType]
