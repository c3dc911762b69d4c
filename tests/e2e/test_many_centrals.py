"""Issue 5: four centrals connected at once (four adapters of host 1, four links to the
emulator) each unlock and read events; the lock tells their sessions apart by channel."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from pathlib import Path

import pytest

from ble_lock.sim.harness import BleHarness
from ble_lock.testing.emulator import start_lock
from ble_lock.wire import messages as m
from ble_lock.wire.endpoints.phone import random_channel
from ble_lock.wire.security.crypto import os_rng
from tests.e2e._env import phone

pytestmark = pytest.mark.timeout(120)


@pytest.mark.ble_sim(adapters=(1, 4))
async def test_four_centrals_at_once_each_unlock_and_read_events(
        ble_sim: BleHarness, tmp_path: Path) -> None:
    assert ble_sim.sim is not None
    lock = await start_lock(ble_sim, tmp_path / "lock")
    assert lock.qr is not None
    panel = await lock.panel()
    await panel.call("set_button")
    async with contextlib.AsyncExitStack() as stack:
        owner = await stack.enter_async_context(
            await phone(ble_sim, lock, tmp_path / "p0", adapter="hci0"))
        await owner.claim_qr(lock.qr)
        clients = [owner]
        for i in (1, 2, 3):
            invite = await owner.enrol_phone(name=f"admin {i}")
            client = await stack.enter_async_context(
                await phone(ble_sim, lock, tmp_path / f"p{i}", adapter=f"hci{i}"))
            await client.redeem(invite.invite_id, invite.code,
                                lock_fingerprint=owner.fingerprint)
            clients.append(client)
        # four links up at the same time, one per adapter
        links = ble_sim.sim.links()
        assert len(links) == 4
        assert len({lk.central.address for lk in links}) == 4
        users = [(await c.whoami()).user_number for c in clients]
        assert len(set(users)) == 4

        for c in clients:
            await c.end_session()  # each unlock opens its own session, all at once
        unlocked = await asyncio.gather(*(c.unlock() for c in clients))
        assert unlocked == users
        pages = await asyncio.gather(*(c.events() for c in clients))
        for records in pages:
            openers = {r.user_number for r in records
                       if r.kind is m.EventKind.UNLOCK
                       and r.method is m.UnlockMethod.BLUETOOTH}
            assert openers == set(users)
        assert all(len(p) == len(pages[0]) for p in pages)
    await panel.close()


@pytest.mark.ble_sim(adapters=(1, 2), mtu=23)
async def test_two_phones_on_the_same_channel_both_get_through(
        ble_sim: BleHarness, tmp_path: Path) -> None:
    """docs/protocol.md, "Channels": two phones that pick the same random channel at the
    same time garble each other's frames; both retry on fresh channels and succeed."""
    lock = await start_lock(ble_sim, tmp_path / "lock")
    assert lock.qr is not None
    panel = await lock.panel()
    await panel.call("set_button")
    async with contextlib.AsyncExitStack() as stack:
        owner = await stack.enter_async_context(
            await phone(ble_sim, lock, tmp_path / "p0", adapter="hci0"))
        await owner.claim_qr(lock.qr)
        carl = await owner.add_user("Carl")
        key = await owner.issue_key(carl.user_number)
        guest = await stack.enter_async_context(
            await phone(ble_sim, lock, tmp_path / "p1", adapter="hci1"))
        await guest.redeem(key.invite_id, key.code, lock_fingerprint=owner.fingerprint)
        for client in (owner, guest):
            await client.end_session()
            picks = itertools.chain([7], iter(lambda: random_channel(os_rng), None))
            client.engine._pick_channel = picks.__next__
        got = await asyncio.gather(owner.unlock(), guest.unlock())
        assert got == [1, carl.user_number]
        assert owner.engine.retries + guest.engine.retries >= 1
    await panel.close()
