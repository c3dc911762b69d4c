"""The emulator on two hosts (simulated, or real adapters with --ble-adapter): advertise,
info, claim, requests, the panel, a push."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ble_lock.peripheral.panel_client import AsyncPanelClient
from ble_lock.sim.harness import BleHarness
from ble_lock.wire import messages as m
from ble_lock.wire.link.gatt import INFO_UUID, SERVICE_UUID, LockInfo, StateFlags
from tests.peripheral._phone import BlePhone

TARGET = "ble_lock.peripheral.process:main"


async def _start(ble: BleHarness, state: Path, *args: str) -> tuple[dict[str, str], str | None]:
    proc = await ble.start_peripheral(TARGET, "--state-dir", str(state), *args, host=0,
                                      ready="ready")
    qr = next((line.split(" ", 1)[1] for line in proc.lines if line.startswith("qr ")), None)
    ready = next(line for line in proc.lines if line.startswith("ready "))
    fields = dict(item.split("=", 1) for item in ready.split()[1:])
    return fields, qr


async def test_claim_unlock_and_keypad_over_the_air(ble_hosts: BleHarness,
                                                          tmp_path: Path) -> None:
    state = tmp_path / "lock"
    ready, qr = await _start(ble_hosts, state, "--manual-clock", "1700000000")
    assert qr is not None
    assert qr.startswith("BLELOCK1:" + ready["lock_id"])
    lock_id = bytes.fromhex(ready["lock_id"])
    central = ble_hosts.central(host=1)
    device = await central.find(service_uuid=SERVICE_UUID)
    async with central.client(device) as client:
        info = LockInfo.decode(bytes(await client.read_gatt_char(INFO_UUID)))
        assert info.lock_id == lock_id
        assert StateFlags.FACTORY_FRESH in info.flags
        phone = BlePhone(client)
        await phone.subscribe()
        await phone.claim(qr)
        user = await phone.request(lock_id, m.UserAdd(role=m.Role.NORMAL, name="Carl"),
                                   m.UserInfo)
        await phone.request(lock_id, m.PinAdd(user_number=user.user_number, pin="135790",
                                              duress=False), m.CredentialInfo)
        info = LockInfo.decode(bytes(await client.read_gatt_char(INFO_UUID)))
        assert info.flags & StateFlags.PAIRED
        assert not info.flags & StateFlags.FACTORY_FRESH
        async with await AsyncPanelClient.connect(state) as panel:
            reply = await panel.keypad("99135790#")
            assert reply["outcome"] == "granted"
            assert reply["user"] == user.user_number
            await phone.drain(lock_id, 0.5)
        assert any(isinstance(p, m.StateChanged) and p.state is m.LockState.UNLOCKED
                   for p in phone.pushes)
    await asyncio.sleep(0)
