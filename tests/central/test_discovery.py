"""Discovery: what a scan report says about a lock (docs/protocol.md, "Advertisement")."""

from __future__ import annotations

import pytest

from ble_lock.central.discovery import LockAdvert, matches, parse_advert
from ble_lock.wire.link.gatt import COMPANY_ID, SERVICE_UUID, Advertisement, StateFlags
from ble_lock.wire.link.transport_messages import PROTOCOL_VERSION

LOCK_ID = bytes.fromhex("0badc0de")
ADV = Advertisement(lock_id=LOCK_ID, flags=StateFlags.FACTORY_FRESH | StateFlags.PAIRING_MODE)


def test_manufacturer_data_with_our_service_gives_id_flags_and_version() -> None:
    advert = parse_advert(address="AA:BB:CC:DD:EE:FF", name=None,
                          manufacturer_data={COMPANY_ID: ADV.manufacturer_payload()},
                          service_uuids=[SERVICE_UUID.upper()], rssi=-60)
    assert advert == LockAdvert(lock_id=LOCK_ID, address="AA:BB:CC:DD:EE:FF", name=None,
                                flags=StateFlags.FACTORY_FRESH | StateFlags.PAIRING_MODE,
                                version=PROTOCOL_VERSION, rssi=-60)
    assert advert.lock_hex == "0BADC0DE"


def test_name_alone_identifies_a_lock_emulated_on_macos() -> None:
    """A macOS peripheral advertises only its name and service UUIDs."""
    advert = parse_advert(address="X", name="BLELOCK-0BADC0DE", manufacturer_data={},
                          service_uuids=[SERVICE_UUID])
    assert advert is not None
    assert (advert.lock_id, advert.flags, advert.version) == (LOCK_ID, None, None)


def test_malformed_manufacturer_data_falls_back_to_the_name() -> None:
    advert = parse_advert(address="X", name="BLELOCK-0BADC0DE",
                          manufacturer_data={COMPANY_ID: b"\x01\x02"},
                          service_uuids=[SERVICE_UUID])
    assert advert is not None
    assert advert.lock_id == LOCK_ID
    assert advert.flags is None


@pytest.mark.parametrize(("name", "mfr", "uuids"), [
    (None, {}, [SERVICE_UUID]),                                       # nothing names a lock
    ("Kitchen speaker", {0x004C: b"\x02\x15"}, []),                   # someone else's device
    (None, {COMPANY_ID: ADV.manufacturer_payload()}, []),             # 0xFFFF test data, not ours
    ("BLELOCK-XYZ", {}, [SERVICE_UUID]),                              # not a lock id
])
def test_other_devices_are_not_locks(name: str | None, mfr: dict[int, bytes],
                                     uuids: list[str]) -> None:
    assert parse_advert(address="X", name=name, manufacturer_data=mfr,
                        service_uuids=uuids) is None


def test_manufacturer_data_without_service_uuid_counts_when_the_name_agrees() -> None:
    advert = parse_advert(address="X", name="BLELOCK-0BADC0DE",
                          manufacturer_data={COMPANY_ID: ADV.manufacturer_payload()})
    assert advert is not None
    assert advert.flags == ADV.flags


def test_matches_every_given_criterion() -> None:
    advert = LockAdvert(lock_id=LOCK_ID, address="aa:bb:cc:dd:ee:ff", name="BLELOCK-0BADC0DE")
    assert matches(advert, address="AA:BB:CC:DD:EE:FF")
    assert matches(advert, lock_id=LOCK_ID, name="BLELOCK-0BADC0DE")
    assert not matches(advert, lock_id=bytes(4))
    assert not matches(advert, name="front door")
    assert not matches(advert, address="AA:BB:CC:DD:EE:00", lock_id=LOCK_ID)
