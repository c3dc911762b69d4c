"""Issue 11, item 4 (R-MOD-4 with R-LCK-2) on the emulator: the inside button in passage
mode locks and ends passage mode, and a battery swap (SIGKILL, restart on the same state
directory) opens nothing; passage mode left on still holds the door open after one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ble_lock.peripheral.panel_client import AsyncPanelClient
from ble_lock.sim.harness import BleHarness
from ble_lock.testing.emulator import RunningLock, start_lock
from ble_lock.wire import messages as m
from tests.e2e._env import phone, start_in_pairing_mode

pytestmark = pytest.mark.timeout(120)


async def _bolt(panel: AsyncPanelClient) -> str:
    reply: dict[str, Any] = await panel.call("status")
    return str(reply["display"]["bolt"])


async def _battery_swap(ble: BleHarness, lock: RunningLock, panel: AsyncPanelClient
                        ) -> tuple[RunningLock, AsyncPanelClient]:
    await panel.close()
    lock.proc.proc.kill()
    assert await lock.proc.proc.wait() == -9
    assert ble.sim is not None
    ble.sim.drop_links(ble.host(0), ble.host(1))  # the lock lost power: links drop
    restarted = await start_lock(ble, lock.state)
    return restarted, await restarted.panel()


@pytest.mark.ble_sim(adapters=(1, 1))
async def test_r_mod_4_r_lck_2_inside_button_ends_passage_across_battery_swap(
        ble_sim: BleHarness, tmp_path: Path) -> None:
    lock, panel, qr = await start_in_pairing_mode(ble_sim, tmp_path / "lock")
    async with await phone(ble_sim, lock, tmp_path / "owner") as owner:
        await owner.claim_qr(qr)
        await owner.set_settings(m.SettingsSet(passage_mode=True))
        assert await _bolt(panel) == "unlocked"
        lock, panel = await _battery_swap(ble_sim, lock, panel)
        assert await _bolt(panel) == "unlocked"  # passage mode holds across a restart

        await panel.call("inside_button")  # R-LCK-2: locks, and ends passage mode
        assert await _bolt(panel) == "locked"
        assert (await owner.settings()).passage_mode is False
        lock, panel = await _battery_swap(ble_sim, lock, panel)
        assert await _bolt(panel) == "locked"  # no door that unlocks by itself
        assert (await owner.settings()).passage_mode is False
    await panel.close()
