"""The simulator advertises as BlueZ and the Linux kernel do (docs/testing.md, "What the
simulator models"): kernel advertising instances, what a connection does to them, and the
issue-12 regression: a lock that changed its advertisement while a phone was connected
must still be connectable after the phone left."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from ble_lock.sim.adapter import _scan_response_name
from ble_lock.sim.advertising import AdvertisingController
from ble_lock.sim.harness import BleHarness
from ble_lock.sim.radio import Advertisement
from tests.e2e._env import phone, start_lock

PUBLIC = "00:AA:00:00:00:01"
ADV_A = Advertisement(local_name="A", manufacturer_data={0xFFFF: b"\x01"})
ADV_B = Advertisement(local_name="B", manufacturer_data={0xFFFF: b"\x02"})


class _Air:
    """What the controller published, in order."""

    def __init__(self) -> None:
        self.seen: list[Advertisement | None] = []
        self.changed = asyncio.Event()

    def __call__(self, adv: Advertisement | None) -> None:
        self.seen.append(adv)
        self.changed.set()

    async def next(self) -> Advertisement | None:
        self.changed.clear()
        await asyncio.wait_for(self.changed.wait(), 5)
        return self.seen[-1]


def _controller(air: _Air, *, rotation_s: float = 60.0) -> AdvertisingController:
    return AdvertisingController(PUBLIC, rotation_s=lambda: rotation_s, publish=air,
                                 max_instances=5, rng=random.Random(7))


def _is_nrpa(address: str) -> bool:
    return int(address.split(":")[0], 16) >> 6 == 0


async def test_removed_instance_comes_back_non_connectable_from_a_private_address() -> None:
    """hci_disconn_complete_evt re-enables conn->adv_instance; removed, its flags are 0."""
    air = _Air()
    ctl = _controller(air)
    ctl.add(1, ADV_A)
    assert ctl.on_air is not None
    assert ctl.on_air.connectable
    assert ctl.on_air.address == PUBLIC
    instance = ctl.connected()  # a phone connects through instance 1
    assert instance == 1
    assert ctl.on_air is None
    ctl.add(2, ADV_B)  # what the old emulator did while the phone was connected...
    ctl.remove(1)  # ...and then this
    ctl.disconnected(instance)
    after = ctl.on_air
    assert after is not None
    assert not after.connectable
    assert after.address is not None
    assert after.address != PUBLIC
    assert _is_nrpa(after.address)
    assert after.address_type == "random"
    assert after.manufacturer_data == ADV_B.manufacturer_data  # the controller's last data
    ctl.close()


async def test_instance_refreshed_in_place_stays_connectable_after_the_disconnect() -> None:
    air = _Air()
    ctl = _controller(air)
    ctl.add(1, ADV_A)
    instance = ctl.connected()
    ctl.add(1, ADV_B)  # PropertiesChanged -> refresh_advertisement: same instance
    assert ctl.on_air is not None
    assert ctl.on_air.connectable
    ctl.disconnected(instance)
    assert ctl.on_air is not None
    assert ctl.on_air.connectable
    assert ctl.on_air.address == PUBLIC
    assert ctl.on_air.manufacturer_data == ADV_B.manufacturer_data
    ctl.close()


async def test_rotation_timer_re_enables_the_only_instance_after_a_connection() -> None:
    air = _Air()
    ctl = _controller(air, rotation_s=0.01)
    ctl.add(1, ADV_A)
    ctl.connected()
    assert ctl.on_air is None
    back = await air.next()  # adv_timeout_expire -> the same instance, HCI_LE_ADV clear
    assert back is not None
    assert back.connectable
    assert back.address == PUBLIC
    ctl.close()


async def test_a_second_instance_waits_for_the_rotation_then_both_alternate() -> None:
    air = _Air()
    ctl = _controller(air, rotation_s=0.01)
    ctl.add(1, ADV_A)
    ctl.add(2, ADV_B)
    assert ctl.on_air is not None
    assert ctl.on_air.local_name == "A"
    names = set()
    while len(names) < 2:
        adv = await air.next()
        assert adv is not None
        names.add(adv.local_name)
    assert names == {"A", "B"}
    ctl.close()


async def test_broadcast_instance_uses_a_fresh_private_address_each_time() -> None:
    air = _Air()
    ctl = _controller(air)
    ctl.add(1, Advertisement(local_name="X", connectable=False))
    first = ctl.on_air
    ctl.add(1, Advertisement(local_name="X", connectable=False))
    second = ctl.on_air
    assert first is not None
    assert second is not None
    assert not first.connectable
    assert first.address
    assert _is_nrpa(first.address)
    assert second.address != first.address
    ctl.close()


def test_instance_numbers_are_lowest_free_and_the_table_is_bounded() -> None:
    air = _Air()
    ctl = AdvertisingController(PUBLIC, rotation_s=lambda: 60.0, publish=air,
                                max_instances=2)
    assert ctl.free_instance() == 1
    ctl.instances[1] = ADV_A
    assert ctl.free_instance() == 2
    ctl.instances[2] = ADV_B
    assert ctl.free_instance() is None  # RegisterAdvertisement -> NotPermitted


def test_a_long_name_is_cut_to_the_scan_response() -> None:
    assert _scan_response_name("BLELOCK-0123ABCD") == "BLELOCK-0123ABCD"
    long = "a-rather-long-emulated-lock-name-for-a-door"
    assert _scan_response_name(long) == long[:29]
    assert _scan_response_name("é" * 20) == "é" * 14  # whole characters only


@pytest.mark.timeout(180)
@pytest.mark.ble_sim(adapters=(1, 1))
async def test_lock_stays_connectable_after_a_claim_changed_its_advertisement(
        ble_sim: BleHarness, tmp_path: Path) -> None:
    """Issue 12: claim (the flags change while the phone is connected), the phone leaves,
    then a new session must find and connect to the lock (R-SEC-1's claimed lock is
    useless if no phone can reach it)."""
    lock = await start_lock(ble_sim, tmp_path / "lock")
    assert lock.qr is not None
    panel = await lock.panel()
    await panel.call("set_button")  # pairing mode: the advertised flags change once more
    await panel.close()
    async with await phone(ble_sim, lock, tmp_path / "owner") as owner:
        await owner.claim_qr(lock.qr)
    adapter = ble_sim.host(0).adapter("hci0")
    on_air = adapter.advertising.on_air
    assert on_air is not None
    assert on_air.connectable, f"after the claim the lock advertises {on_air}"
    assert on_air.address == adapter.address
    async with await phone(ble_sim, lock, tmp_path / "owner", timeout=10.0) as again:
        assert await again.unlock() >= 0
