"""GATT layout, the information characteristic and the advertisement (``docs/protocol.md``,
"GATT" and "Advertisement").

One primary service with four characteristics:

==========  =====================================  =================================
name        UUID                                   properties
==========  =====================================  =================================
command     4b1e0c01-7a3d-4e59-9c1b-2f6d8a0e5b71   write, write-without-response
response    4b1e0c02-7a3d-4e59-9c1b-2f6d8a0e5b71   notify
info        4b1e0c03-7a3d-4e59-9c1b-2f6d8a0e5b71   read
fresh       4b1e0c04-7a3d-4e59-9c1b-2f6d8a0e5b71   read (v2: the freshness value)
==========  =====================================  =================================

The advertisement (legacy, 31 bytes) holds flags, the 128-bit service UUID and
manufacturer data (company 0xFFFF, the Bluetooth SIG's id for tests and internal use)
with the protocol version, lock id and state flags; the scan response holds the name
``BLELOCK-<lock id hex>``. A macOS peripheral can advertise only its name and service
UUIDs, so the info characteristic repeats everything (no secrets in either).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from enum import IntFlag

from construct import (
    Bytes,
    Const,
    ConstructError,
    GreedyBytes,
    GreedyRange,
    Int8ub,
    Int16ub,
    Int16ul,
    PascalString,
    Prefixed,
    Struct,
)

from ble_lock.wire.errors import FramingError, LocalProtocolError, UnsupportedVersionError
from ble_lock.wire.link.framing import Limits
from ble_lock.wire.link.transport_messages import FRESH_LEN, PROTOCOL_VERSION
from ble_lock.wire.security.pairing import LOCK_ID_LEN

__all__ = [
    "COMMAND_UUID",
    "COMPANY_ID",
    "FRESH_UUID",
    "GATT_TABLE",
    "INFO_UUID",
    "RESPONSE_UUID",
    "SERVICE_UUID",
    "Advertisement",
    "CharacteristicSpec",
    "FreshValue",
    "LockInfo",
    "StateFlags",
    "lock_id_from_name",
]

SERVICE_UUID = "4b1e0c00-7a3d-4e59-9c1b-2f6d8a0e5b71"
COMMAND_UUID = "4b1e0c01-7a3d-4e59-9c1b-2f6d8a0e5b71"
RESPONSE_UUID = "4b1e0c02-7a3d-4e59-9c1b-2f6d8a0e5b71"
INFO_UUID = "4b1e0c03-7a3d-4e59-9c1b-2f6d8a0e5b71"
FRESH_UUID = "4b1e0c04-7a3d-4e59-9c1b-2f6d8a0e5b71"
COMPANY_ID = 0xFFFF
NAME_PREFIX = "BLELOCK-"
MAX_PROFILE = 24
LEGACY_ADV_MAX = 31

AD_FLAGS = 0x01
AD_UUID128_COMPLETE = 0x07
AD_NAME_COMPLETE = 0x09
AD_MANUFACTURER = 0xFF
FLAGS_LE_GENERAL_NO_BREDR = 0x06


class StateFlags(IntFlag):
    """docs/protocol.md, "GATT": exactly one of FACTORY_FRESH and PAIRED is set."""

    FACTORY_FRESH = 0x01  # no users (new or factory reset): the setup code claims it
    PAIRING_MODE = 0x02  # accepting a PAIR1 now (setup code or invites)
    PAIRED = 0x04  # claimed: has users (the complement of FACTORY_FRESH)
    LOW_BATTERY = 0x08


@dataclass(frozen=True, slots=True, kw_only=True)
class CharacteristicSpec:
    name: str
    uuid: str
    properties: tuple[str, ...]  # BlueZ/bless flag names


GATT_TABLE = (
    CharacteristicSpec(name="command", uuid=COMMAND_UUID,
                       properties=("write", "write-without-response")),
    CharacteristicSpec(name="response", uuid=RESPONSE_UUID, properties=("notify",)),
    CharacteristicSpec(name="info", uuid=INFO_UUID, properties=("read",)),
    CharacteristicSpec(name="fresh", uuid=FRESH_UUID, properties=("read",)),
)

_INFO = Struct(
    "magic" / Const(b"BL"),
    "version" / Int8ub,
    "lock_id" / Bytes(LOCK_ID_LEN),
    "flags" / Int8ub,
    "max_message" / Int16ub,
    "profile" / PascalString(Int8ub, "utf8"),
)
_FRESH = Struct("fresh" / Bytes(FRESH_LEN), "fresh_for" / Int8ub)
_INFO_HEAD = Struct("magic" / Const(b"BL"), "version" / Int8ub)
_MANUFACTURER = Struct("version" / Int8ub, "lock_id" / Bytes(LOCK_ID_LEN), "flags" / Int8ub)
_AD_STRUCTURES = GreedyRange(Prefixed(Int8ub, Struct("type" / Int8ub, "data" / GreedyBytes)))


def _check_lock_id(lock_id: bytes) -> None:
    if len(lock_id) != LOCK_ID_LEN:
        raise LocalProtocolError(f"lock id must be {LOCK_ID_LEN} bytes")


@dataclass(frozen=True, slots=True, kw_only=True)
class LockInfo:
    """The value of the info characteristic (read, unauthenticated, no secrets)."""

    lock_id: bytes
    flags: StateFlags
    profile: str
    version: int = PROTOCOL_VERSION
    max_message: int = Limits().max_message

    def encode(self) -> bytes:
        _check_lock_id(self.lock_id)
        if len(self.profile.encode()) > MAX_PROFILE:
            raise LocalProtocolError(f"model profile name longer than {MAX_PROFILE} bytes")
        return bytes(_INFO.build({"version": self.version, "lock_id": self.lock_id,
                                  "flags": int(self.flags), "max_message": self.max_message,
                                  "profile": self.profile}))

    @classmethod
    def decode(cls, data: bytes) -> LockInfo:
        try:
            head = _INFO_HEAD.parse(data)
        except ConstructError as exc:
            raise FramingError("malformed info characteristic") from exc
        if head.version != PROTOCOL_VERSION:  # before the layout: it differs per version
            raise UnsupportedVersionError(
                f"the lock speaks protocol version {head.version}; this side speaks "
                f"version {PROTOCOL_VERSION}: update the older side")
        try:
            parsed = _INFO.parse(data)
        except (ConstructError, UnicodeDecodeError) as exc:
            raise FramingError("malformed info characteristic") from exc
        if len(_INFO.build(parsed)) != len(data):
            raise FramingError("trailing bytes in info characteristic")
        return cls(lock_id=parsed.lock_id, flags=StateFlags(parsed.flags & 0x0F),
                   profile=parsed.profile, version=parsed.version,
                   max_message=parsed.max_message)


@dataclass(frozen=True, slots=True, kw_only=True)
class FreshValue:
    """The value of the fresh characteristic: the lock's current freshness value and
    the whole seconds it stays accepted from the moment of the read (docs/protocol.md,
    Freshness). 17 bytes: one ATT Read even at the minimum MTU of 23."""

    fresh: bytes
    fresh_for: int

    def encode(self) -> bytes:
        if len(self.fresh) != FRESH_LEN or not 0 <= self.fresh_for <= 255:
            raise LocalProtocolError(f"a freshness value has {FRESH_LEN} bytes and 0-255 s")
        return bytes(_FRESH.build({"fresh": self.fresh, "fresh_for": self.fresh_for}))

    @classmethod
    def decode(cls, data: bytes) -> FreshValue:
        if len(data) != _FRESH.sizeof():
            raise FramingError("the fresh characteristic has the wrong length")
        parsed = _FRESH.parse(data)
        return cls(fresh=bytes(parsed.fresh), fresh_for=int(parsed.fresh_for))


@dataclass(frozen=True, slots=True, kw_only=True)
class Advertisement:
    """What a scanning central learns before connecting."""

    lock_id: bytes
    flags: StateFlags
    version: int = PROTOCOL_VERSION

    def local_name(self) -> str:
        return NAME_PREFIX + self.lock_id.hex().upper()

    def manufacturer_payload(self) -> bytes:
        """The bytes after the company id (bless/bleak: ``{COMPANY_ID: payload}``)."""
        _check_lock_id(self.lock_id)
        return bytes(_MANUFACTURER.build({"version": self.version, "lock_id": self.lock_id,
                                          "flags": int(self.flags)}))

    def advertising_data(self) -> bytes:
        """The legacy advertising PDU payload: exactly 31 bytes."""
        out = _ad(AD_FLAGS, bytes([FLAGS_LE_GENERAL_NO_BREDR]))
        out += _ad(AD_UUID128_COMPLETE, uuid.UUID(SERVICE_UUID).bytes[::-1])
        out += _ad(AD_MANUFACTURER, Int16ul.build(COMPANY_ID) + self.manufacturer_payload())
        assert len(out) <= LEGACY_ADV_MAX
        return out

    def scan_response(self) -> bytes:
        return _ad(AD_NAME_COMPLETE, self.local_name().encode("ascii"))

    @classmethod
    def from_manufacturer_payload(cls, payload: bytes) -> Advertisement:
        try:
            parsed = _MANUFACTURER.parse(payload)
        except ConstructError as exc:
            raise FramingError("malformed manufacturer data") from exc
        if len(payload) != _MANUFACTURER.sizeof():
            raise FramingError("manufacturer data has the wrong length")
        return cls(lock_id=parsed.lock_id, flags=StateFlags(parsed.flags & 0x0F),
                   version=parsed.version)

    @classmethod
    def parse(cls, data: bytes) -> Advertisement:
        """Find our service UUID and manufacturer data among the AD structures."""
        try:
            structures = _AD_STRUCTURES.parse(data)
        except ConstructError as exc:
            raise FramingError("malformed advertising data") from exc
        uuids = b"".join(s.data for s in structures if s.type == AD_UUID128_COMPLETE)
        if uuid.UUID(SERVICE_UUID).bytes[::-1] not in uuids:
            raise FramingError("not a ble-lock advertisement (service UUID missing)")
        for s in structures:
            if s.type == AD_MANUFACTURER and s.data[:2] == Int16ul.build(COMPANY_ID):
                return cls.from_manufacturer_payload(s.data[2:])
        raise FramingError("ble-lock advertisement without manufacturer data")


def lock_id_from_name(name: str) -> bytes | None:
    """The lock id in a local name ``BLELOCK-XXXXXXXX`` (what macOS centrals see)."""
    m = re.fullmatch(NAME_PREFIX + r"([0-9A-Fa-f]{8})", name)
    return bytes.fromhex(m.group(1)) if m else None


def _ad(ad_type: int, data: bytes) -> bytes:
    return bytes([len(data) + 1, ad_type]) + data
