"""The envelope of every application message (docs/protocol.md, ## Messages)::

    request   01 | request_id[8] | opcode u8 | body
    response  02 | request_id[8] | opcode u8 | status u8 | text_len u8 | text | body
    event     03 | event_type u8 | body

The body stays encoded here (``codec.py`` reads it once the opcode is known).
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Any

import construct as c

from ble_lock.wire.messages.fields import U8, CodecError, why

__all__ = [
    "KIND_EVENT",
    "KIND_REQUEST",
    "KIND_RESPONSE",
    "MAX_TEXT",
    "REQUEST_ID_SIZE",
    "Envelope",
    "pack",
    "unpack",
]

MAX_TEXT = 120
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
    fast = _pack_by_hand(env)
    return fast if fast is not None else _pack_declared(env)


def _pack_declared(env: Envelope) -> bytes:
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
        raise CodecError(f"envelope: {why(exc)}") from None
    return data


# Every message goes through the envelope: the hot path writes and reads the layouts
# above by hand (``tests/wire/test_messages_compiled.py`` pins both to ``_HEADS``). Any
# value out of range goes to construct, which raises the declared error.


def _pack_by_hand(env: Envelope) -> bytes | None:
    kind, body = env.kind, env.body
    if type(body) is not bytes:
        return None
    if kind == KIND_EVENT:
        return bytes((KIND_EVENT, env.event)) + body if 0 <= env.event < 256 else None
    rid = env.request_id
    if type(rid) is not bytes or len(rid) != REQUEST_ID_SIZE or not 0 <= env.opcode < 256:
        return None
    if kind == KIND_REQUEST:
        return bytes((KIND_REQUEST,)) + rid + bytes((env.opcode,)) + body
    if kind != KIND_RESPONSE or type(env.text) is not str or not 0 <= env.status < 256:
        return None
    try:
        text = env.text.encode("utf-8")
    except UnicodeEncodeError:
        return None
    if len(text) > MAX_TEXT:
        return None
    return (bytes((KIND_RESPONSE,)) + rid + bytes((env.opcode, env.status, len(text))) + text
            + body)


def _unpack_by_hand(data: bytes) -> Envelope | None:
    size = len(data)
    kind = data[0] if size else 0
    if kind == KIND_REQUEST and size >= _HEAD_SIZE[KIND_REQUEST]:
        return Envelope(kind=kind, request_id=data[1:9], opcode=data[9], body=data[10:])
    if kind == KIND_EVENT and size >= _HEAD_SIZE[KIND_EVENT]:
        return Envelope(kind=kind, event=data[1], body=data[2:])
    if kind == KIND_RESPONSE and size >= _HEAD_SIZE[KIND_RESPONSE]:
        end = 12 + data[11]
        if data[11] > MAX_TEXT or end > size:
            return None
        try:
            text = data[12:end].decode("utf-8")
        except UnicodeDecodeError:
            return None
        return Envelope(kind=kind, request_id=data[1:9], opcode=data[9], status=data[10],
                        text=text, body=data[end:])
    return None


def unpack(data: bytes) -> Envelope:
    fast = _unpack_by_hand(data) if type(data) is bytes else None
    return fast if fast is not None else _unpack_declared(data)


def _unpack_declared(data: bytes) -> Envelope:
    layout = _HEADS.get(data[0]) if data else None
    if layout is None:
        raise CodecError("envelope: unknown message kind")
    try:
        parsed = layout.parse(data)
    except (c.ConstructError, ValueError, TypeError, OverflowError, struct.error) as exc:
        # compiled layouts report a short buffer as struct.error
        raise CodecError(f"envelope: {why(exc)}") from None
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
