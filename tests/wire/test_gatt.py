"""GATT table, info characteristic and advertisement codecs."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ble_lock.wire.errors import FramingError, UnsupportedVersionError
from ble_lock.wire.link.gatt import (
    GATT_TABLE,
    SERVICE_UUID,
    Advertisement,
    FreshValue,
    LockInfo,
    StateFlags,
    lock_id_from_name,
)

LOCK_ID = bytes.fromhex("0badc0de")


def test_gatt_table_has_the_four_characteristics() -> None:
    by_name = {c.name: c for c in GATT_TABLE}
    assert set(by_name) == {"command", "response", "info", "fresh"}
    assert by_name["fresh"].properties == ("read",)
    assert set(by_name["command"].properties) == {"write", "write-without-response"}
    assert by_name["response"].properties == ("notify",)
    assert by_name["info"].properties == ("read",)
    uuids = {uuid.UUID(c.uuid) for c in GATT_TABLE} | {uuid.UUID(SERVICE_UUID)}
    assert len(uuids) == 5


@settings(max_examples=30, deadline=None)
@given(flags=st.integers(0, 15), lock_id=st.binary(min_size=4, max_size=4))
def test_advertisement_fits_legacy_31_bytes_and_round_trips(flags: int, lock_id: bytes) -> None:
    adv = Advertisement(lock_id=lock_id, flags=StateFlags(flags))
    data = adv.advertising_data()
    assert len(data) <= 31
    assert Advertisement.parse(data) == adv
    assert Advertisement.parse(adv.scan_response() + data) == adv
    assert Advertisement.from_manufacturer_payload(adv.manufacturer_payload()) == adv


def test_advertisement_bytes_are_as_documented() -> None:
    adv = Advertisement(lock_id=LOCK_ID, flags=StateFlags.FACTORY_FRESH | StateFlags.PAIRING_MODE)
    assert adv.advertising_data().hex() == (
        "020106" "1107715b0e8a6d2f1b9c594e3d7a000c1e4b" "09ffffff020badc0de03")
    assert adv.scan_response() == b"\x11\x09BLELOCK-0BADC0DE"
    assert lock_id_from_name("BLELOCK-0BADC0DE") == LOCK_ID
    assert lock_id_from_name("Other") is None


def test_info_characteristic_repeats_the_advertisement() -> None:
    info = LockInfo(lock_id=LOCK_ID, flags=StateFlags.PAIRED | StateFlags.LOW_BATTERY,
                    profile="DL30")
    raw = info.encode()
    assert raw.hex() == "424c02" "0badc0de" "0c" "0800" "04444c3330"
    assert LockInfo.decode(raw) == info


@pytest.mark.parametrize("raw", [b"", b"BL", b"XX\x02\x0b\xad\xc0\xde\x00\x08\x00\x00",
                                 b"BL\x02\x0b\xad\xc0\xde\x00\x08\x00\x05ab",
                                 b"BL\x02\x0b\xad\xc0\xde\x00\x08\x00\x00extra"])
def test_bad_info_values_are_typed_errors(raw: bytes) -> None:
    with pytest.raises(FramingError):
        LockInfo.decode(raw)


def test_fresh_characteristic_fits_one_att_read_at_the_minimum_mtu() -> None:
    """17 bytes <= ATT_MTU 23 - 1: no long read (bless cannot serve read offsets)."""
    value = FreshValue(fresh=bytes(range(16)), fresh_for=27)
    raw = value.encode()
    assert raw == bytes(range(16)) + b"\x1b"
    assert len(raw) <= 23 - 1
    assert FreshValue.decode(raw) == value
    for bad in (raw[:-1], raw + b"\x00", b""):
        with pytest.raises(FramingError):
            FreshValue.decode(bad)


@pytest.mark.parametrize("version", [1, 3])
def test_other_protocol_versions_are_reported_before_the_layout(version: int) -> None:
    """A v1 lock's info value (no freshness value, a shorter layout) is reported as a
    version mismatch, not as garbage."""
    v1 = b"BL\x01\x0b\xad\xc0\xde\x0c\x08\x00\x04DL30"
    raw = bytes([*v1[:2], version, *v1[3:]])
    with pytest.raises(UnsupportedVersionError, match=f"version {version}"):
        LockInfo.decode(raw)


@pytest.mark.parametrize("raw", [b"", b"\x02\x01\x06", b"\x05\xff\xff\xff", b"\x20\x07"])
def test_foreign_advertisements_are_rejected(raw: bytes) -> None:
    with pytest.raises(FramingError):
        Advertisement.parse(raw)
