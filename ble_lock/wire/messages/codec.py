"""Encoding and decoding of the application message bodies.

The layouts are not written here: each body is declared once, its byte layout derived
from its field annotations by :func:`~ble_lock.wire.messages.declare.wire` (see
``declare.py``, ``bodies.py``, ``records.py``). This module looks a body type up by
opcode or event type and runs its layout. Construct objects never leave the message
modules: callers get :func:`encode_body` / :func:`decode_body` over the dataclasses.
Every field is bounded, every encoding canonical (booleans are 0/1, optional fields carry
a 0/1 presence byte), and a body must be consumed exactly (trailing bytes are an error).
Integers are big-endian. See docs/protocol.md (## Messages) for the tables.
"""

from __future__ import annotations

from typing import TypeVar

import construct as c

# Importing the catalogue declares (registers) every body.
from ble_lock.wire.messages import bodies as _bodies  # noqa: F401
from ble_lock.wire.messages import records as _records  # noqa: F401
from ble_lock.wire.messages.declare import body_layout, event_classes, request_classes
from ble_lock.wire.messages.fields import CodecError, why
from ble_lock.wire.messages.types import (
    MAX_DETAIL,
    EventBody,
    EventType,
    Opcode,
    RequestBody,
    ResponseBody,
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

_REQUEST_BY_OPCODE: dict[Opcode, type[RequestBody]] = request_classes()
_EVENT_BY_TYPE: dict[EventType, type[EventBody]] = event_classes()


def request_type(opcode: Opcode) -> type[RequestBody]:
    """The request body declared with ``opcode``."""
    return _REQUEST_BY_OPCODE[opcode]


def response_type(opcode: Opcode) -> type[ResponseBody]:
    """The success response body of the request declared with ``opcode``."""
    return _REQUEST_BY_OPCODE[opcode].RESPONSE


def event_type(kind: EventType) -> type[EventBody]:
    """The event body declared with ``kind``."""
    return _EVENT_BY_TYPE[kind]


def encode_body(body: object) -> bytes:
    """Build a body; :class:`CodecError` if a value does not fit its layout."""
    try:
        layout = body_layout(type(body))
    except KeyError:
        raise CodecError(f"not a message body: {type(body).__name__}") from None
    try:
        data: bytes = layout.build(body)
    except (c.ConstructError, ValueError, TypeError, OverflowError) as exc:
        raise CodecError(f"{type(body).__name__}: {why(exc)}") from None
    return data


def decode_body(cls: type[T], data: bytes) -> T:
    """Parse a body of type ``cls``; :class:`CodecError` on anything malformed."""
    try:
        body: T = body_layout(cls).parse(data)
    except (c.ConstructError, ValueError, TypeError, OverflowError) as exc:
        raise CodecError(f"{cls.__name__}: {why(exc)}") from None
    return body
