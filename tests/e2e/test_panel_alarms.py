"""Issue 5: a duress PIN opens and pushes a duress alarm to a subscribed central; five
wrong PINs lock the keypad and the panel reports the time left (manual clock, no waits).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from ble_lock.sim.harness import BleHarness
from ble_lock.testing.emulator import start_lock
from ble_lock.wire import messages as m
from tests.e2e._env import phone

pytestmark = pytest.mark.timeout(120)


class Pushes:
    """Everything pushed to one phone, in order; ``wait_for`` blocks until one matches."""

    def __init__(self) -> None:
        self.seen: list[m.EventBody] = []
        self._changed = asyncio.Event()

    def __call__(self, body: m.EventBody) -> None:
        self.seen.append(body)
        self._changed.set()

    async def wait_for(self, match: Callable[[m.EventBody], bool],
                       timeout: float = 5.0) -> m.EventBody:
        async with asyncio.timeout(timeout):
            while True:
                for body in self.seen:
                    if match(body):
                        return body
                self._changed.clear()
                await self._changed.wait()


def alarm(kind: m.EventKind) -> Callable[[m.EventBody], bool]:
    return lambda b: isinstance(b, m.Alarm) and b.record.kind is kind


async def test_duress_pin_opens_and_alarms_and_wrong_pins_lock_the_keypad(
        ble_sim: BleHarness, tmp_path: Path) -> None:
    """R-CRD-6 (duress: opens, alarm), R-SEC-1 (5 wrong entries lock the keypad for 3
    minutes; the panel says how long), R-APP-6 (pushes to a connected admin)."""
    lock = await start_lock(ble_sim, tmp_path / "lock")
    assert lock.qr is not None
    panel = await lock.panel()
    await panel.call("set_button")
    async with await phone(ble_sim, lock, tmp_path / "owner") as owner:
        await owner.claim_qr(lock.qr)
        dora = await owner.add_user("Dora")
        await owner.add_pin(dora.user_number, "246813", duress=True)
        pushes = Pushes()
        owner.on_event(pushes)
        await owner.listen()

        # the duress PIN opens, like any PIN, and raises a silent alarm
        reply = await panel.call("keypad", keys="246813#")
        assert (reply["outcome"], reply["user"], reply["duress"]) == (
            "granted", dora.user_number, True)
        duress = await pushes.wait_for(alarm(m.EventKind.DURESS_ALARM))
        assert isinstance(duress, m.Alarm)
        assert duress.record.user_number == dora.user_number
        opened = await pushes.wait_for(lambda b: isinstance(b, m.StateChanged))
        assert isinstance(opened, m.StateChanged)
        assert (opened.state, opened.user_number, opened.method) == (
            m.LockState.UNLOCKED, dora.user_number, m.UnlockMethod.PIN)

        # five wrong PINs: the keypad locks, the panel tells the time left
        for attempt in range(5):
            reply = await panel.call("keypad", keys="975310#")
            assert reply["outcome"] == "denied", attempt
        await pushes.wait_for(alarm(m.EventKind.LOCKOUT))
        status = await panel.call("status")
        assert status["display"]["lockout_s"] == pytest.approx(180, abs=1)
        reply = await panel.call("keypad", keys="246813#")  # even a valid PIN now
        assert (reply["outcome"], reply["reason"]) == ("denied", "LOCKED_OUT")
        assert reply["retry_after"] == pytest.approx(180, abs=1)
        # the manual clock, not a real wait: 100 s later the panel counts down ...
        await panel.call("clock.advance", seconds=100)
        reply = await panel.call("keypad", keys="246813#")
        assert reply["reason"] == "LOCKED_OUT"
        assert reply["retry_after"] == pytest.approx(80, abs=1)
        # ... and after the window the PIN opens again
        await panel.call("clock.advance", seconds=81)
        reply = await panel.call("keypad", keys="246813#")
        assert reply["outcome"] == "granted"

        kinds = [r.kind for r in await owner.events()]
        assert m.EventKind.DURESS_ALARM in kinds
        assert kinds.count(m.EventKind.UNLOCK_FAILED) >= 5
        assert m.EventKind.LOCKOUT in kinds
    await panel.close()
