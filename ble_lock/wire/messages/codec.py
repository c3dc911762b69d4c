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

from typing import Any, TypeVar, cast

import construct as c

# Importing the catalogue declares (registers) every body.
from ble_lock.wire.messages import bodies as _bodies  # noqa: F401
from ble_lock.wire.messages import compiled
from ble_lock.wire.messages import records as _records  # noqa: F401
from ble_lock.wire.messages.declare import (
    body_layout,
    event_classes,
    layout_of,
    request_classes,
)
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
        return _ENCODERS[type(body)](body)  # the generated codec: the hot path
    except Exception:  # noqa: S110 -- first use, or construct (the definition) decides
        pass
    return _encode_declared(body)


def decode_body(cls: type[T], data: bytes) -> T:
    """Parse a body of type ``cls``; :class:`CodecError` on anything malformed."""
    if type(data) is not bytes:
        data = bytes(data)  # the generated code slices: fields come out as bytes
    try:
        return cast(T, _DECODERS[cls](data))
    except Exception:  # noqa: S110 -- first use, or construct (the definition) decides
        pass
    return _decode_declared(cls, data)


# The generated codec of each top-level body (``compiled.py``), made at first use. It
# accepts exactly what the construct layout accepts and returns the same; on anything
# else it gives up (raises) and the layout itself runs, for the canonical error.


def _encode_declared(body: object) -> bytes:
    cls = type(body)
    try:
        layout = body_layout(cls)
    except KeyError:
        raise CodecError(f"not a message body: {cls.__name__}") from None
    if cls not in _ENCODERS:
        _ENCODERS[cls] = compiled.encoder(layout_of(cls)) or _declared_only
        return encode_body(body)
    try:
        data: bytes = layout.build(body)
    except (c.ConstructError, ValueError, TypeError, OverflowError) as exc:
        raise CodecError(f"{cls.__name__}: {why(exc)}") from None
    return data


def _decode_declared(cls: type[T], data: bytes) -> T:
    try:
        layout = body_layout(cls)
    except KeyError:
        raise CodecError(f"not a message body: {cls.__name__}") from None
    if cls not in _DECODERS:
        _DECODERS[cls] = compiled.decoder(layout_of(cls)) or _declared_only
        return decode_body(cls, data)
    try:
        body: T = layout.parse(data)
    except (c.ConstructError, ValueError, TypeError, OverflowError) as exc:
        raise CodecError(f"{cls.__name__}: {why(exc)}") from None
    return body


def _declared_only(_: object) -> Any:
    """The entry of a body the generator does not cover: construct does it all."""
    raise compiled.Mismatch


_ENCODERS: dict[type[Any], compiled.Encoder] = {}
_DECODERS: dict[type[Any], compiled.Decoder] = {}


def _is_body(cls: type[Any]) -> bool:
    """A declared top-level body (a record alone is not a message body)."""
    try:
        body_layout(cls)
    except KeyError:
        return False
    return True
