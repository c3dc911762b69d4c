"""Discovery over the simulator: the emulator's advertisement parsed by the central."""

from __future__ import annotations

from pathlib import Path

import pytest

from ble_lock.central.client import LockClient
from ble_lock.central.discovery import find_lock, scan
from ble_lock.central.keystore import Keystore
from ble_lock.core.errors import ErrorCode, TransportError
from ble_lock.sim.harness import BleHarness
from ble_lock.testing.emulator import start_lock
from ble_lock.wire.link.gatt import StateFlags

pytestmark = pytest.mark.timeout(60)


async def test_scan_lists_the_lock_and_find_works_by_id_name_and_address(
        ble_sim: BleHarness, tmp_path: Path) -> None:
    lock = await start_lock(ble_sim, tmp_path / "lock")
    central = ble_sim.central(host=1)
    (seen,) = await scan(adapter=central.adapter, timeout=10.0, stop_after=1)
    assert seen.lock_id == lock.lock_id
    assert seen.name == lock.name == f"BLELOCK-{lock.lock_id.hex().upper()}"
    assert seen.address == ble_sim.address(0)
    assert seen.flags is not None
    assert StateFlags.FACTORY_FRESH in seen.flags
    assert seen.rssi is not None
    found = [await find_lock(lock_id=lock.lock_id, adapter=central.adapter),
             await find_lock(name=lock.name, adapter=central.adapter),
             await find_lock(address=ble_sim.address(0).lower(), adapter=central.adapter)]
    assert {advert.lock_id for _, advert in found} == {lock.lock_id}
    with pytest.raises(TransportError) as missing:
        await find_lock(lock_id=bytes(4), adapter=central.adapter, timeout=0.3)
    assert missing.value.code is ErrorCode.LOCK_NOT_FOUND
    # the info characteristic confirms the id after connecting
    client = await LockClient.find(name=lock.name, adapter=central.adapter,
                                   keystore=Keystore(tmp_path / "phone"))
    async with client:
        assert client.info is not None
        assert client.info.lock_id == lock.lock_id
        assert StateFlags.FACTORY_FRESH in client.info.flags
