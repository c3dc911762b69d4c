"""The transport messages carried by the framing layer (``docs/protocol.md``, "Messages
of the secure transport"). One ``construct`` declaration per message, used to parse and
to build; the first byte of every message is its type.

=====  ==========  =========  ==========================================================
type   name        direction  body
=====  ==========  =========  ==========================================================
0x01   HS1         phone->    version u8, fresh[16], e[32], enc_s[48], enc_payload[>=24]
0x02   HS2         ->phone    e[32], enc_payload[>=34]
0x03   DATA        both       ciphertext[>=16] (AEAD, implicit per-direction counter)
0x10   PAIR1       phone->    version u8, code_ref (u8 length + <=16), sid[16], Ya[32]
0x11   PAIR2       ->phone    Yb[32], confirm_lock[48]
0x12   PAIR3       phone->    confirm_phone[48]
0x13   PAIR4       ->phone    done[17]
0x7F   CLOSE       both       error code u8 (unauthenticated: it only ends a channel);
                              after a PAIR1 refused with LOCKED_OUT also retry_after u16,
                              pairing_mode_left u16 (advice for the user, never trusted)
=====  ==========  =========  ==========================================================
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from construct import (
    Bytes,
    ConstructError,
    GreedyBytes,
    Int8ub,
    Int16ub,
    Optional,
    Prefixed,
    Struct,
)

from ble_lock.wire.errors import (
    FramingError,
    LocalProtocolError,
    UnknownMessageError,
    UnsupportedVersionError,
)

__all__ = [
    "DATA_OVERHEAD",
    "FRESH_LEN",
    "HS1_OVERHEAD",
    "HS2_OVERHEAD",
    "NO_PAIRING_MODE",
    "PROTOCOL_VERSION",
    "Close",
    "Data",
    "Hs1",
    "Hs2",
    "Message",
    "MsgType",
    "Pair1",
    "Pair2",
    "Pair3",
    "Pair4",
    "check_payload",
    "decode",
    "encode",
]

PROTOCOL_VERSION = 2
FRESH_LEN = 16  # the lock's freshness value in HS1 (freshness.py)
MAX_CODE_REF = 16
# Bytes a message adds around an application payload of n bytes (see the table above).
HS1_OVERHEAD = 1 + 1 + FRESH_LEN + 32 + 48 + 8 + 16
HS2_OVERHEAD = 1 + 32 + 1 + FRESH_LEN + 1 + 16
DATA_OVERHEAD = 1 + 16


def check_payload(payload: bytes, overhead: int, max_message: int) -> None:
    """Refuse (locally) an application payload that would not fit one message, before
    any cipher state is touched."""
    if len(payload) + overhead > max_message:
        raise LocalProtocolError(
            f"payload of {len(payload)} bytes exceeds {max_message - overhead} bytes")


class MsgType(IntEnum):
    HS1 = 0x01
    HS2 = 0x02
    DATA = 0x03
    PAIR1 = 0x10
    PAIR2 = 0x11
    PAIR3 = 0x12
    PAIR4 = 0x13
    CLOSE = 0x7F


@dataclass(frozen=True, slots=True, kw_only=True)
class Hs1:
    version: int
    fresh: bytes  # the lock's freshness value, in clear (also in the Noise prologue)
    e: bytes
    enc_s: bytes
    enc_payload: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Hs2:
    e: bytes
    enc_payload: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Data:
    ciphertext: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Pair1:
    version: int
    code_ref: bytes
    sid: bytes
    ya: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Pair2:
    yb: bytes
    confirm: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Pair3:
    confirm: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Pair4:
    done: bytes


NO_PAIRING_MODE = 0xFFFF
"""``Close.pairing_mode_left`` when the refused pairing needs no pairing mode."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Close:
    """``retry_after`` and ``pairing_mode_left`` (seconds, both or neither) only with
    ``LOCKED_OUT`` refusing a PAIR1: when the pairing lockout ends, and how long the
    pairing mode a claim needs still runs (0: off; :data:`NO_PAIRING_MODE`: not needed)."""

    code: int
    retry_after: int | None = None
    pairing_mode_left: int | None = None


Message = Hs1 | Hs2 | Data | Pair1 | Pair2 | Pair3 | Pair4 | Close

_LAYOUTS: dict[MsgType, Any] = {
    MsgType.HS1: Struct("version" / Int8ub, "fresh" / Bytes(FRESH_LEN), "e" / Bytes(32),
                        "enc_s" / Bytes(48),
                        "enc_payload" / GreedyBytes),
    MsgType.HS2: Struct("e" / Bytes(32), "enc_payload" / GreedyBytes),
    MsgType.DATA: Struct("ciphertext" / GreedyBytes),
    MsgType.PAIR1: Struct("version" / Int8ub, "code_ref" / Prefixed(Int8ub, GreedyBytes),
                          "sid" / Bytes(16), "ya" / Bytes(32)),
    MsgType.PAIR2: Struct("yb" / Bytes(32), "confirm" / Bytes(48)),
    MsgType.PAIR3: Struct("confirm" / Bytes(48)),
    MsgType.PAIR4: Struct("done" / Bytes(17)),
    MsgType.CLOSE: Struct("code" / Int8ub, "retry_after" / Optional(Int16ub),
                          "pairing_mode_left" / Optional(Int16ub)),
}
_COMPILED = {t: s.compile() for t, s in _LAYOUTS.items()}
_CLASSES: dict[MsgType, type[Message]] = {
    MsgType.HS1: Hs1, MsgType.HS2: Hs2, MsgType.DATA: Data, MsgType.PAIR1: Pair1,
    MsgType.PAIR2: Pair2, MsgType.PAIR3: Pair3, MsgType.PAIR4: Pair4, MsgType.CLOSE: Close,
}
_TYPES = {cls: t for t, cls in _CLASSES.items()}
_VERSIONED = frozenset({MsgType.HS1, MsgType.PAIR1})
# Minimum sizes of the variable parts: a tag (16) plus the fixed plaintext fields.
_MIN_GREEDY = {MsgType.HS1: 16 + 8, MsgType.HS2: 16 + 1 + FRESH_LEN + 1, MsgType.DATA: 16}


def decode(message: bytes) -> Message:
    """Parse one reassembled message; unknown types and malformed bodies raise typed
    :class:`~ble_lock.wire.errors.RemoteProtocolError` subtypes."""
    if not message:
        raise FramingError("empty message")
    try:
        mtype = MsgType(message[0])
    except ValueError as exc:
        raise UnknownMessageError(f"unknown message type 0x{message[0]:02x}") from exc
    body = message[1:]
    if mtype in _VERSIONED and body and body[0] != PROTOCOL_VERSION:
        # Before the layout: an older or newer peer's message has another shape, and it
        # must hear UNSUPPORTED_VERSION, not a parse error (docs/protocol.md, versions).
        raise UnsupportedVersionError(
            f"protocol version {body[0]} (we speak {PROTOCOL_VERSION})")
    try:
        parsed = _COMPILED[mtype].parse(body)
    except (ConstructError, struct.error) as exc:
        raise FramingError(f"malformed {mtype.name} message") from exc
    fields = {k: v for k, v in parsed.items() if not k.startswith("_")}
    msg = _CLASSES[mtype](**fields)
    _check(mtype, msg, body)
    return msg


def _check(mtype: MsgType, msg: Message, body: bytes) -> None:
    if mtype not in _MIN_GREEDY and len(_COMPILED[mtype].build(_fields(msg))) != len(body):
        raise FramingError(f"trailing bytes after {mtype.name} message")
    version = getattr(msg, "version", PROTOCOL_VERSION)
    if version != PROTOCOL_VERSION:
        raise UnsupportedVersionError(f"protocol version {version} (we speak {PROTOCOL_VERSION})")
    minimum = _MIN_GREEDY.get(mtype)
    if minimum is not None:
        greedy = msg.ciphertext if isinstance(msg, Data) else getattr(msg, "enc_payload", b"")
        if len(greedy) < minimum:
            raise FramingError(f"{mtype.name} ciphertext too short")
    if isinstance(msg, Close) and (msg.retry_after is None) != (msg.pairing_mode_left is None):
        raise FramingError("CLOSE wait fields come both or neither")
    if isinstance(msg, Pair1) and len(msg.code_ref) > MAX_CODE_REF:
        raise FramingError(f"code reference longer than {MAX_CODE_REF} bytes")


_FIELD_NAMES = {cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in _TYPES}


def _fields(msg: Message) -> dict[str, Any]:
    return {name: getattr(msg, name) for name in _FIELD_NAMES[type(msg)]}


def encode(msg: Message) -> bytes:
    mtype = _TYPES[type(msg)]
    return bytes([mtype]) + bytes(_COMPILED[mtype].build(_fields(msg)))
