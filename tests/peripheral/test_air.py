"""What phones see on the air: advertisement flags, pushes, several centrals, MTU."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from bleak import BleakScanner

from ble_lock.peripheral.panel_client import AsyncPanelClient
from ble_lock.sim.harness import BleHarness, Central
from ble_lock.testing.emulator import start_lock
from ble_lock.wire import messages as m
from ble_lock.wire.link.framing import START as FRAME_START
from ble_lock.wire.link.gatt import COMPANY_ID, SERVICE_UUID, Advertisement, StateFlags
from tests.peripheral._phone import BlePhone

PIN = "135790"
DURESS = "864200"


async def _advert(central: Central, want: StateFlags, timeout: float = 10.0) -> Advertisement:
    """Scan until our advertisement shows flags ``want`` (exactly)."""
    found: asyncio.Future[Advertisement] = asyncio.get_running_loop().create_future()

    def seen(_device: Any, adv: Any) -> None:
        payload = adv.manufacturer_data.get(COMPANY_ID)
        if payload is None or found.done():
            return
        parsed = Advertisement.from_manufacturer_payload(bytes(payload))
        if parsed.flags == want:
            found.set_result(parsed)

    scanner = BleakScanner(seen, service_uuids=[SERVICE_UUID], bluez=central.bluez)
    await scanner.start()
    try:
        return await asyncio.wait_for(found, timeout)
    finally:
        await scanner.stop()


async def _connect(central: Central) -> BlePhone:
    device = await central.find(service_uuid=SERVICE_UUID)
    client = central.client(device)
    await client.connect()
    phone = BlePhone(client)
    await phone.subscribe()
    return phone


async def test_advertised_flags_follow_the_state(ble_sim: BleHarness, tmp_path: Path) -> None:
    lock = await start_lock(ble_sim, tmp_path / "lock", profile=None)
    assert lock.ready["mfr_data"] == "1"
    central = ble_sim.central(host=1)
    fresh = await _advert(central, StateFlags.FACTORY_FRESH | StateFlags.PAIRING_MODE)
    assert fresh.lock_id == lock.lock_id
    assert fresh.local_name() == lock.name
    phone = await _connect(central)
    assert lock.qr is not None
    await phone.claim(lock.qr)
    await phone.client.disconnect()
    claimed = await _advert(central, StateFlags.PAIRED)
    assert claimed.lock_id == lock.lock_id
    async with await AsyncPanelClient.connect(tmp_path / "lock") as panel:
        await panel.call("battery", percent=5)
        await _advert(central, StateFlags.PAIRED | StateFlags.LOW_BATTERY)
        await panel.call("set_button")  # R-APP-1: pairing mode, ends after 120 s
        await _advert(central, StateFlags.PAIRED | StateFlags.LOW_BATTERY
                      | StateFlags.PAIRING_MODE)
        await panel.advance(121)
        await _advert(central, StateFlags.PAIRED | StateFlags.LOW_BATTERY)


async def test_face_palm_fresh_lock_needs_set_for_pairing_r_app_1(ble_sim: BleHarness,
                                                                  tmp_path: Path) -> None:
    await start_lock(ble_sim, tmp_path / "lock")
    central = ble_sim.central(host=1)
    await _advert(central, StateFlags.FACTORY_FRESH)
    async with await AsyncPanelClient.connect(tmp_path / "lock") as panel:
        await panel.call("set_button")
    await _advert(central, StateFlags.FACTORY_FRESH | StateFlags.PAIRING_MODE)


async def test_duress_pin_pushes_an_alarm_and_lockout_reports_time_left_r_crd_6_r_sec_1(
        ble_sim: BleHarness, tmp_path: Path) -> None:
    lock = await start_lock(ble_sim, tmp_path / "lock", profile=None)
    assert lock.qr is not None
    phone = await _connect(ble_sim.central(host=1))
    await phone.claim(lock.qr)
    carl = await phone.request(lock.lock_id, m.UserAdd(role=m.Role.NORMAL, name="Carl"),
                               m.UserInfo)
    await phone.request(lock.lock_id, m.PinAdd(user_number=carl.user_number, pin=PIN),
                        m.CredentialInfo)
    await phone.request(lock.lock_id, m.PinAdd(user_number=carl.user_number, pin=DURESS,
                                               duress=True), m.CredentialInfo)
    async with await AsyncPanelClient.connect(tmp_path / "lock") as panel:
        opened = await panel.keypad(DURESS + "#")
        assert (opened["outcome"], opened["duress"], opened["user"]) == (
            "granted", True, carl.user_number)
        await phone.drain(lock.lock_id, 1.0)
        alarms = [p for p in phone.pushes if isinstance(p, m.Alarm)]
        assert [a.record.kind for a in alarms] == [m.EventKind.DURESS_ALARM]
        assert alarms[0].record.user_number == carl.user_number
        states = [p for p in phone.pushes if isinstance(p, m.StateChanged)]
        assert states[0].state is m.LockState.UNLOCKED
        assert states[0].method is m.UnlockMethod.PIN
        phone.pushes.clear()
        for _ in range(5):
            assert (await panel.keypad("000000#"))["reason"] == "NO_MATCH"
        locked = await panel.keypad(PIN + "#")
        assert locked["reason"] == "LOCKED_OUT"
        assert locked["retry_after"] == pytest.approx(180, abs=1)
        await phone.drain(lock.lock_id, 1.0)
        lockouts = [p for p in phone.pushes if isinstance(p, m.Alarm)
                    and p.record.kind is m.EventKind.LOCKOUT]
        assert len(lockouts) == 1
        await panel.advance(181)
        assert (await panel.keypad(PIN + "#"))["outcome"] == "granted"
    await phone.client.disconnect()


@pytest.mark.ble_sim(adapters=(1, 4))
async def test_four_centrals_at_once_each_unlock_and_read_events(ble_sim: BleHarness,
                                                                 tmp_path: Path) -> None:
    lock = await start_lock(ble_sim, tmp_path / "lock", profile=None)
    assert lock.qr is not None
    centrals = [ble_sim.central(host=1, adapter=f"hci{i}") for i in range(4)]
    phones = [await _connect(c) for c in centrals]
    owner, guests = phones[0], phones[1:]
    await owner.claim(lock.qr)
    for i, guest in enumerate(guests):
        invite = await owner.request(lock.lock_id, m.KeyInvite(name=f"guest{i}"), m.Invite)
        await owner.close_session()  # so that the guest's channel cannot collide with it
        await guest.redeem(lock.qr, invite)
    # Every phone opens a fresh session, all at the same time (a channel collision, about
    # 4*3/510, costs one retry on a fresh channel).
    unlocked = await asyncio.gather(*(p.request(lock.lock_id, m.Unlock(), m.Unlocked)
                                      for p in phones))
    assert sorted(u.user_number for u in unlocked) == [1, 2, 3, 4]
    pages = await asyncio.gather(*(p.request(lock.lock_id, m.EventsGet(after=0, limit=8),
                                             m.EventPage) for p in phones[:1]))
    assert pages[0].events
    whoami = await asyncio.gather(*(p.request(lock.lock_id, m.WhoAmI(), m.UserInfo)
                                    for p in phones))
    assert [w.user_number for w in whoami] == [u.user_number for u in unlocked]
    assert sum(p.retries for p in phones) <= 2  # at most one collision (both phones retry)
    for phone in phones:
        await phone.client.disconnect()


async def test_answers_use_the_phones_mtu(ble_sim: BleHarness, tmp_path: Path) -> None:
    """A phone on a 517 MTU writes HS1 in one frame; the lock answers HS2 in one."""
    lock = await start_lock(ble_sim, tmp_path / "lock", profile=None)
    assert lock.qr is not None
    phone = await _connect(ble_sim.central(host=1))
    assert phone.mtu == 517
    await phone.claim(lock.qr)
    phone.received.clear()
    await phone.request(lock.lock_id, m.Unlock(), m.Unlocked)
    mine = [f for f in phone.received if f[0] == phone.link.channel]  # type: ignore[union-attr]
    assert mine[0][1] == FRAME_START  # a START frame...
    assert int.from_bytes(mine[0][2:4], "big") == len(mine[0]) - 4  # ...holding all of HS2
    await phone.client.disconnect()


@pytest.mark.ble_sim(mtu=23)
async def test_minimum_mtu_works(ble_sim: BleHarness, tmp_path: Path) -> None:
    lock = await start_lock(ble_sim, tmp_path / "lock", profile=None)
    assert lock.qr is not None
    phone = await _connect(ble_sim.central(host=1))
    assert phone.mtu == 23
    await phone.claim(lock.qr)
    assert (await phone.request(lock.lock_id, m.Unlock(), m.Unlocked)).user_number == 1
    assert max(len(f) for f in phone.received) <= 20
    await phone.client.disconnect()


async def test_enrolment_driven_by_a_phone_captured_at_the_panel_r_crd_4(
        ble_sim: BleHarness, tmp_path: Path) -> None:
    """ENROL_BEGIN from the admin's phone, six captures at the panel's sensor: each one is
    pushed to the phone as ENROL_STEP, the last with the new credential; then the finger
    opens the door."""
    lock = await start_lock(ble_sim, tmp_path / "lock", profile=None)
    assert lock.qr is not None
    phone = await _connect(ble_sim.central(host=1))
    await phone.claim(lock.qr)
    begun = await phone.request(lock.lock_id, m.EnrolBegin(
        user_number=1, kind=m.CredentialKind.FINGERPRINT), m.Enrolment)
    assert (begun.captured, begun.captures_needed) == (0, 6)
    template = "5a" * 16
    async with await AsyncPanelClient.connect(tmp_path / "lock") as panel:
        for i in range(6):
            reply = await panel.call("biometric", kind="fingerprint", template=template)
            assert reply["capture"]["captured"] == i + 1
        assert reply["capture"]["done"] is True
        await phone.drain(lock.lock_id, 1.0)
        steps = [p.enrolment for p in phone.pushes if isinstance(p, m.EnrolStep)]
        assert [s.captured for s in steps] == [1, 2, 3, 4, 5, 6]
        assert steps[-1].state is m.EnrolmentState.DONE
        assert steps[-1].credential_id == reply["capture"]["credential"]
        opened = await panel.call("biometric", kind="fingerprint", template=template)
        assert (opened["outcome"], opened["method"], opened["user"]) == (
            "granted", "FINGERPRINT", 1)
    await phone.client.disconnect()
