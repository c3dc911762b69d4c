"""Issue 6, visitor codes (R-APP-4) over the simulator: the admin's client fetches the
visitor secret once; codes are then made with no connection to the lock (no link up on
the radio) and typed at the emulator's keypad; the lock clock is its manual clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from ble_lock.central.keystore import Keystore
from ble_lock.central.visitor import one_time_code, periodic_code, stored_secret
from ble_lock.core.errors import ErrorCode, LockError
from ble_lock.sim.harness import BleHarness
from ble_lock.testing import START
from ble_lock.testing.emulator import start_lock
from ble_lock.wire import messages as m
from tests.flows._env import claim, phone

pytestmark = pytest.mark.timeout(120)

HOUR = 3600


def _tampered(code: str) -> str:
    """The same payload with a wrong MAC digit: not a valid code."""
    return code[:-1] + str((int(code[-1]) + 1) % 10)


@pytest.mark.ble_sim(hosts=2)
async def test_visitor_codes_made_offline_open_at_the_keypad(ble_sim: BleHarness,
                                                             tmp_path: Path) -> None:
    """R-APP-4: a one-time code opens once; a periodic code opens only inside its window
    (again and again); both made while no link is up; wrong codes count toward the
    lockout (R-SEC-1)."""
    assert ble_sim.sim is not None
    lock = await start_lock(ble_sim, tmp_path / "lock", host=0)
    panel = await lock.panel()
    keystore = Keystore(tmp_path / "admin")
    with pytest.raises(LockError) as none_yet:
        stored_secret(keystore, lock.lock_id)
    assert none_yet.value.code is ErrorCode.NOT_PAIRED
    async with await phone(ble_sim, lock, keystore, host=1) as admin:
        await claim(admin, lock, panel)
        secret = await admin.visitor_secret()
    assert ble_sim.sim.links() == []  # disconnected: everything below is offline
    assert stored_secret(keystore, lock.lock_id) == secret
    assert secret.hex() not in repr(keystore.get(lock.lock_id.hex().upper()))

    once = one_time_code(keystore, lock.lock_id, now=START, nonce=3)
    window_from, window_until = START + 2 * HOUR, START + 4 * HOUR
    periodic = periodic_code(keystore, lock.lock_id, valid_from=window_from,
                             valid_until=window_until)
    assert len(once) == len(periodic) == 16
    assert ble_sim.sim.links() == []

    reply = await panel.call("keypad", keys=once + "#")
    assert (reply["outcome"], reply["method"]) == ("granted", "VISITOR_CODE")
    reply = await panel.call("keypad", keys=once + "#")
    assert reply["outcome"] == "denied"  # once only

    reply = await panel.call("keypad", keys=periodic + "#")
    assert reply["outcome"] == "denied"  # before its window
    await panel.call("clock.advance", seconds=2 * HOUR)
    for _ in range(2):
        reply = await panel.call("keypad", keys=periodic + "#")
        assert (reply["outcome"], reply["method"]) == ("granted", "VISITOR_CODE")
    await panel.call("clock.advance", seconds=2 * HOUR)
    reply = await panel.call("keypad", keys=periodic + "#")
    assert reply["outcome"] == "denied"  # after its window

    # wrong codes are keypad failures: five in a row lock the keypad out (R-SEC-1)
    fresh = periodic_code(keystore, lock.lock_id, valid_from=START + 4 * HOUR,
                          valid_until=START + 6 * HOUR)
    reasons = [(await panel.call("keypad", keys=_tampered(fresh) + "#"))["reason"]
               for _ in range(5)]
    assert reasons[:4] == ["NO_MATCH"] * 4
    reply = await panel.call("keypad", keys=fresh + "#")
    assert (reply["outcome"], reply["reason"]) == ("denied", "LOCKED_OUT")
    await panel.call("clock.advance", seconds=181)
    reply = await panel.call("keypad", keys=fresh + "#")
    assert reply["outcome"] == "granted"

    async with await phone(ble_sim, lock, keystore, host=1) as admin:
        records = await admin.events()
    visitor = [r for r in records if r.method is m.UnlockMethod.VISITOR_CODE]
    assert [r.kind for r in visitor if r.kind is m.EventKind.UNLOCK] == [
        m.EventKind.UNLOCK] * 4
    await panel.close()
