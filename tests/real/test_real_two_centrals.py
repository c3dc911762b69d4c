"""Notifications with two centrals connected, on real BlueZ (issue 12): the owner's phone
and a second phone, each on its own adapter, stay connected to the lock at once and unlock
at the same moment. bless notifies every subscribed central, so each phone also receives
the other's frames and must keep to its own channel.

Needs three adapters (``--ble-adapter`` three times: the lock, two phones); the real-BlueZ
lane runs it on three bumble controllers (its pass B, docs/testing.md), because BlueZ's
btvirt cannot give a peripheral two links at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from ble_lock.central.client import LockClient
from ble_lock.sim.harness import BleHarness
from tests.real.test_real_story import OP, Steps, _connect, _start_lock, claim_after_set

pytestmark = [pytest.mark.ble_adapter, pytest.mark.timeout(5400)]


@pytest.mark.usefixtures("slow_radio")
async def test_two_centrals_get_their_own_answers(ble_hosts: BleHarness, ble_adapters: list[str],
                                                  tmp_path: Path) -> None:
    """advertise, connect, claim, a second phone on its own adapter through an invite,
    then both unlock at once while both stay connected."""
    if len(ble_adapters) < 3:
        pytest.skip("two centrals connected at once need a third --ble-adapter")
    phone_a, phone_b = ble_adapters[1], ble_adapters[2]
    state = tmp_path / "lock"
    steps = Steps()
    stack = contextlib.AsyncExitStack()
    async with stack:
        _, fields = await steps.run("advertise (emulator started, advertising)",
                                    lambda: _start_lock(ble_hosts, state))
        lock_id = bytes.fromhex(fields["lock_id"])
        owner = await steps.run("connect", lambda: _connect(stack, phone_a, lock_id,
                                                            tmp_path / "owner"))

        await steps.run("claim", lambda: claim_after_set(state, owner, fields["qr"]))

        async def second_phone() -> None:
            invite = await asyncio.wait_for(owner.enrol_phone(name="second"), OP)
            guest = await _connect(stack, phone_b, lock_id, tmp_path / "guest")
            await asyncio.wait_for(guest.redeem(invite.invite_id, invite.code,
                                                lock_fingerprint=owner.fingerprint), OP)
            both_connected.append(guest)

        both_connected: list[LockClient] = []
        await steps.run("second phone on its own adapter through an invite", second_phone)
        guest = both_connected[0]

        async def both() -> None:
            await owner.end_session()
            await guest.end_session()
            users = await asyncio.wait_for(asyncio.gather(owner.unlock(), guest.unlock()), OP)
            assert len(set(users)) == 2, users  # each phone got its own answer

        await steps.run("notifications with two centrals connected", both)
    print("\n".join(["", "real-BlueZ two centrals:", *steps.report]), flush=True)
