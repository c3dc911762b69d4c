"""Issue 5: SIGKILL the emulator right after acknowledged changes, restart it on the same
state directory: everything acknowledged is there (SQLite, synchronous=FULL; the lock
notifies an answer only after its transaction committed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ble_lock.sim.harness import BleHarness
from ble_lock.testing.emulator import start_lock
from ble_lock.wire import messages as m
from tests.e2e._env import phone

pytestmark = pytest.mark.timeout(120)


@pytest.mark.ble_sim(adapters=(1, 2))
async def test_sigkill_after_acknowledged_changes_loses_nothing(
        ble_sim: BleHarness, tmp_path: Path) -> None:
    state = tmp_path / "lock"
    lock = await start_lock(ble_sim, state)
    assert lock.qr is not None
    panel = await lock.panel()
    await panel.call("set_button")
    async with await phone(ble_sim, lock, tmp_path / "owner") as owner, \
            await phone(ble_sim, lock, tmp_path / "guest", adapter="hci1") as guest:
        await owner.claim_qr(lock.qr)
        carl = await owner.add_user("Carl")
        await owner.add_pin(carl.user_number, "135790")
        key = await owner.issue_key(carl.user_number)
        await guest.redeem(key.invite_id, key.code, lock_fingerprint=owner.fingerprint)
        assert await guest.unlock() == carl.user_number
        await owner.set_settings(m.SettingsSet(volume=1, auto_lock_on_close=False))
        dora = await owner.add_user("Dora")  # the last acknowledged change
        before = await owner.events()
        await panel.close()

        # SIGKILL: no shutdown code runs
        lock.proc.proc.kill()
        assert await lock.proc.proc.wait() == -9
        # a lock that loses power drops its links; the simulator's adapter outlives the
        # process (it is the host's, not the emulator's), so the test drops them
        assert ble_sim.sim is not None
        ble_sim.sim.drop_links(ble_sim.host(0), ble_sim.host(1))
        restarted = await start_lock(ble_sim, state)
        assert restarted.lock_id == lock.lock_id
        assert restarted.qr is None  # not a first start: no new label

        # the phones reconnect by themselves and their keys still open sessions
        users = {u.user_number: u.name for u in await owner.list_users()}
        assert users[carl.user_number] == "Carl"
        assert users[dora.user_number] == "Dora"
        settings = await owner.settings()
        assert (settings.volume, settings.auto_lock_on_close) == (1, False)
        assert await guest.unlock() == carl.user_number
        after = await owner.events()
        assert after[:len(before)] == before
        assert owner.engine.reconnects >= 1
        panel = await restarted.panel()
        reply = await panel.call("keypad", keys="135790#")
        assert (reply["outcome"], reply["user"]) == ("granted", carl.user_number)
        await panel.close()
