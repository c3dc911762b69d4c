"""The emulator process: state across restarts, SIGTERM, SIGKILL, the CLI entry point."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from ble_lock.core.errors import ErrorCode
from ble_lock.peripheral.panel_client import AsyncPanelClient
from ble_lock.sim.harness import BleHarness
from ble_lock.testing.emulator import start_lock
from ble_lock.wire import messages as m
from ble_lock.wire.errors import IdentityMismatchError
from ble_lock.wire.link.gatt import SERVICE_UUID
from tests.peripheral._phone import BlePhone

PIN = "246802"


async def _claim_and_add_carl(ble: BleHarness, lock_id: bytes, qr: str) -> tuple[BlePhone, int]:
    central = ble.central(host=1)
    device = await central.find(service_uuid=SERVICE_UUID)
    client = central.client(device)
    await client.connect()
    phone = BlePhone(client)
    await phone.subscribe()
    await phone.claim(qr)
    user = await phone.request(lock_id, m.UserAdd(role=m.Role.NORMAL, name="Carl"), m.UserInfo)
    await phone.request(lock_id, m.PinAdd(user_number=user.user_number, pin=PIN),
                        m.CredentialInfo)
    return phone, user.user_number


async def _users(phone: BlePhone, lock_id: bytes) -> list[str]:
    page = await phone.request(lock_id, m.UserList(after=0), m.UserPage)
    return [u.name for u in page.users]


async def _reconnect(ble: BleHarness, phone: BlePhone) -> None:
    """A new connection for the same phone key (the lock restarted)."""
    await phone.client.disconnect()
    central = ble.central(host=1)
    device = await central.find(service_uuid=SERVICE_UUID)
    phone.client = central.client(device)
    await phone.client.connect()
    phone.link = None
    phone.inbox = asyncio.Queue()
    await phone.subscribe()


async def test_restart_keeps_users_keys_and_counters(ble_sim: BleHarness,
                                                     tmp_path: Path) -> None:
    state = tmp_path / "lock"
    first = await start_lock(ble_sim, state, profile=None)
    assert first.qr is not None
    assert first.setup_code is not None
    phone, carl = await _claim_and_add_carl(ble_sim, first.lock_id, first.qr)
    assert await first.proc.stop() == 0
    assert first.proc.stderr == ""
    assert first.proc.lines[-1] == "stopped"
    second = await start_lock(ble_sim, state, profile=None)
    assert second.lock_id == first.lock_id
    assert second.setup_code is None  # the code is printed at the first start only
    assert not any(first.setup_code in line for line in second.proc.lines)
    await _reconnect(ble_sim, phone)
    assert await _users(phone, second.lock_id) == ["admin", "Carl"]  # same key, new session
    async with await AsyncPanelClient.connect(state) as panel:
        reply = await panel.keypad(PIN + "#")
        assert (reply["outcome"], reply["user"]) == ("granted", carl)
        label = await panel.call("label")
        assert label["setup_code"] == first.setup_code
    await phone.client.disconnect()


async def test_sigkill_loses_nothing_acknowledged(ble_sim: BleHarness, tmp_path: Path) -> None:
    state = tmp_path / "lock"
    first = await start_lock(ble_sim, state, profile=None)
    assert first.qr is not None
    phone, carl = await _claim_and_add_carl(ble_sim, first.lock_id, first.qr)
    settings = await phone.request(first.lock_id, m.SettingsSet(volume=0), m.LockSettings)
    assert settings.volume == 0
    dan = await phone.request(first.lock_id, m.UserAdd(role=m.Role.NORMAL, name="Dan"),
                              m.UserInfo)
    # Dan's answer reached the phone: kill at once, no chance to flush anything later.
    first.proc.proc.kill()
    assert await first.proc.proc.wait() == -signal.SIGKILL
    second = await start_lock(ble_sim, state, profile=None)
    await _reconnect(ble_sim, phone)
    assert await _users(phone, second.lock_id) == ["admin", "Carl", "Dan"]
    got = await phone.request(second.lock_id, m.SettingsGet(), m.LockSettings)
    assert got.volume == 0
    assert dan.user_number == 3
    events = await phone.request(second.lock_id, m.EventsGet(after=0, limit=8), m.EventPage)
    kinds = [e.kind for e in events.events]
    assert m.EventKind.CLAIMED in kinds
    assert kinds.count(m.EventKind.USER_ADDED) >= 2
    async with await AsyncPanelClient.connect(state) as panel:
        assert (await panel.keypad(PIN + "#"))["user"] == carl
    await phone.client.disconnect()


async def test_sigterm_exits_cleanly_through_the_cli(ble_sim: BleHarness,
                                                     tmp_path: Path) -> None:
    """``python -m ble_lock.peripheral``: exit 0, nothing on stderr, advertising stopped,
    panel socket gone."""
    state = tmp_path / "lock"
    host = ble_sim.host(0)
    env = {**os.environ, **host.env(), "BLE_ADAPTER": "hci0", "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ble_lock.peripheral", "--state-dir", str(state),
        "--profile", "face-palm", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env)
    assert proc.stdout is not None
    assert proc.stderr is not None
    lines = []
    while not lines or not lines[-1].startswith("ready "):
        raw = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert raw, (await proc.stderr.read()).decode()
        lines.append(raw.decode().strip())
    assert lines[0].startswith("setup-code ")
    assert lines[1].startswith("qr BLELOCK1:")
    assert "profile=face-palm" in lines[-1]
    assert "mfr_data=1" in lines[-1]
    adapter = host.adapter("hci0")
    await adapter.wait_advertising(5)
    assert (state / "panel.sock").exists()
    proc.send_signal(signal.SIGTERM)
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0
    assert err.decode() == ""
    assert out.decode().strip().endswith("stopped")
    assert not adapter.is_advertising()
    assert not (state / "panel.sock").exists()
    assert not (state / "panel.addr").exists()
    for name in ("lock.db", "lock_key", "label.json", "factory.json"):
        assert os.stat(state / name).st_mode & 0o777 == 0o600, name


async def test_profile_is_fixed_once_provisioned(ble_sim: BleHarness, tmp_path: Path) -> None:
    state = tmp_path / "lock"
    lock = await start_lock(ble_sim, state)
    assert lock.ready["profile"] == "face-palm"
    await lock.proc.stop()
    proc = await ble_sim.spawn("ble_lock.peripheral.process:main", "--state-dir", str(state),
                               "--profile", "dl20vc", host=0)
    with pytest.raises(Exception, match="face-palm"):
        await proc.expect("ready", 20)
    assert proc.proc.returncode == int(ErrorCode.INVALID_ARGUMENT)
    assert "error [INVALID_ARGUMENT]" in proc.stderr
    assert not any(line.startswith("stopped") for line in proc.lines)
    again = await start_lock(ble_sim, state, profile=None)  # no --profile: the stored one
    assert again.ready["profile"] == "face-palm"


async def test_factory_reset_from_a_phone_makes_a_new_identity(ble_sim: BleHarness,
                                                              tmp_path: Path) -> None:
    """R-SEC-5 + key schedule: after FACTORY_RESET the old QR (old fingerprint) no longer
    matches; the label's new QR claims the lock again with the same setup code."""
    state = tmp_path / "lock"
    lock = await start_lock(ble_sim, state, profile=None)
    assert lock.qr is not None
    phone, _ = await _claim_and_add_carl(ble_sim, lock.lock_id, lock.qr)
    await phone.request(lock.lock_id, m.FactoryReset(), m.Done)
    async with await AsyncPanelClient.connect(state) as panel:
        label = await panel.call("label")
        assert label["qr"] != lock.qr
        assert label["setup_code"] == lock.setup_code
        assert (await panel.status())["display"]["claimed"] is False
    newcomer = BlePhone(phone.client)
    newcomer.inbox = phone.inbox
    with pytest.raises(IdentityMismatchError):
        await newcomer.claim(lock.qr)
    await newcomer.claim(label["qr"])
    assert (await newcomer.request(lock.lock_id, m.WhoAmI(), m.UserInfo)).user_number == 1
    await phone.client.disconnect()


async def test_a_second_emulator_on_the_same_state_is_refused(ble_sim: BleHarness,
                                                             tmp_path: Path) -> None:
    state = tmp_path / "lock"
    running = await start_lock(ble_sim, state, profile=None)
    proc = await ble_sim.spawn("ble_lock.peripheral.process:main", "--state-dir", str(state),
                               host=0, adapter="hci0")
    assert await asyncio.wait_for(proc.proc.wait(), 20) == int(ErrorCode.CHANNEL_BUSY)
    await proc.stop()
    assert "already running" in proc.stderr
    async with await AsyncPanelClient.connect(state) as panel:  # the first one is unharmed
        assert (await panel.status())["lock_id"] == running.ready["lock_id"]
