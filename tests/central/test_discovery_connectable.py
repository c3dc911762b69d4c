"""Discovery connects only to connectable advertisers (issue 12): a lock's data seen from a
non-resolvable private address (how Linux advertises non-connectably) is skipped, and the
address the keystore knows for a lock is accepted even without the lock's data."""

from __future__ import annotations

from pathlib import Path

import pytest

from ble_lock.central.discovery import find_lock, is_non_resolvable_private, parse_advert, scan
from ble_lock.core.errors import ErrorCode, TransportError
from ble_lock.sim.harness import BleHarness
from ble_lock.wire.link.gatt import COMPANY_ID, SERVICE_UUID, Advertisement, StateFlags

LOCK_ID = bytes.fromhex("0badc0de")
ADV = Advertisement(lock_id=LOCK_ID, flags=StateFlags.PAIRING_MODE)
HERE = Path(__file__).resolve().parent.parent / "sim"
DECOY = f"{HERE / 'broadcast_peripheral.py'}:main"
ECHO = f"{HERE / 'echo_peripheral.py'}:main"


@pytest.mark.parametrize(("address", "kind", "expected"), [
    ("19:4A:68:F4:EE:52", "random", True),   # top bits 00: non-resolvable private
    ("00:00:00:00:00:01", "random", True),
    ("59:4A:68:F4:EE:52", "random", False),  # 01: resolvable private
    ("D9:4A:68:F4:EE:52", "random", False),  # 11: static random
    ("19:4A:68:F4:EE:52", "public", False),
    ("19:4A:68:F4:EE:52", None, False),      # not BlueZ: unknown, assume connectable
    ("not-an-address", "random", False),
])
def test_non_resolvable_private_addresses(address: str, kind: str | None,
                                          expected: bool) -> None:
    assert is_non_resolvable_private(address, kind) is expected


def test_a_lock_advertised_from_a_private_address_is_not_connectable() -> None:
    advert = parse_advert(address="19:4A:68:F4:EE:52", name=None,
                          manufacturer_data={COMPANY_ID: ADV.manufacturer_payload()},
                          service_uuids=[SERVICE_UUID], address_type="random")
    assert advert is not None
    assert advert.lock_id == LOCK_ID
    assert not advert.connectable
    public = parse_advert(address="00:AA:01:00:00:01", name=None,
                          manufacturer_data={COMPANY_ID: ADV.manufacturer_payload()},
                          service_uuids=[SERVICE_UUID], address_type="public")
    assert public is not None
    assert public.connectable


@pytest.mark.timeout(90)
@pytest.mark.ble_sim(hosts=3)
async def test_find_skips_a_non_connectable_lock_and_takes_the_known_address(
        ble_sim: BleHarness) -> None:
    # the lock's data, but broadcast (non-connectable, private address): host 0
    await ble_sim.start_peripheral(DECOY, ADV.manufacturer_payload().hex(), host=0,
                                   ready="ready")
    # a connectable device without the lock's data, at the address the phone knows: host 1
    await ble_sim.start_peripheral(ECHO, "Plain", host=1, ready="ready")
    central = ble_sim.central(host=2)
    assert await scan(adapter=central.adapter, timeout=1.0) == []
    with pytest.raises(TransportError) as missing:
        await find_lock(lock_id=LOCK_ID, adapter=central.adapter, timeout=1.0)
    assert missing.value.code is ErrorCode.LOCK_NOT_FOUND
    known = ble_sim.address(1)
    device, advert = await find_lock(lock_id=LOCK_ID, adapter=central.adapter, timeout=10.0,
                                     known_address=known.lower())
    assert device.address == known
    assert advert.lock_id == LOCK_ID
    assert advert.flags is None  # nothing advertised: the info characteristic will tell
