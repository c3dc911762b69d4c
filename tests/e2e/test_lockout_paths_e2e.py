"""Issue 10 item 2 and issue 11 item 8 over the simulated radio, with the real emulator
and client: a stranger's bogus pairing attempts lock out nothing but pairing, and
R-SEC-1 counts failures per input path (a guest's Bluetooth unlock between keypad
guesses does not reset the keypad's run).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ble_lock.core.errors import ErrorCode, LockError
from ble_lock.sim.harness import BleHarness
from tests.e2e._env import phone, start_in_pairing_mode

pytestmark = pytest.mark.timeout(180)


@pytest.mark.ble_sim(adapters=(1, 2))
async def test_bogus_pairing_locks_nothing_and_keypad_runs_survive_bluetooth_unlocks(
        ble_sim: BleHarness, tmp_path: Path) -> None:
    lock, panel, qr = await start_in_pairing_mode(ble_sim, tmp_path / "lock")
    async with await phone(ble_sim, lock, tmp_path / "owner") as owner, \
            await phone(ble_sim, lock, tmp_path / "stranger", adapter="hci1") as stranger:
        await owner.claim_qr(qr)
        ann = await owner.add_user("Ann")
        await owner.add_pin(ann.user_number, "135790")

        # six strangers' attempts with invite ids that do not exist: the sixth is not
        # even tried (the pairing limiter), and nothing else is locked
        codes = []
        for attempt in range(6):
            with pytest.raises(LockError) as info:
                await stranger.redeem(9000 + attempt, f"{attempt:010d}")
            codes.append(info.value.code)
        assert codes[-1] is ErrorCode.LOCKED_OUT
        assert ErrorCode.PAIRING_FAILED in codes
        reply = await panel.call("keypad", keys="135790#")
        assert reply["outcome"] == "granted"
        assert await owner.unlock() == 1

        # R-SEC-1 per path: the owner's Bluetooth unlocks between wrong PINs do not
        # reset the keypad's run; the fifth wrong PIN locks the system
        for attempt in range(4):
            reply = await panel.call("keypad", keys="975310#")
            assert (reply["outcome"], reply["reason"]) == ("denied", "NO_MATCH"), attempt
            assert await owner.unlock() == 1
        reply = await panel.call("keypad", keys="975310#")
        assert reply["retry_after"] == pytest.approx(180, abs=1)
        reply = await panel.call("keypad", keys="135790#")
        assert (reply["outcome"], reply["reason"]) == ("denied", "LOCKED_OUT")
    await panel.close()
