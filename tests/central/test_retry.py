"""The client's retry logic against a real lock in this process: link drops at every ATT
operation, channel collisions between two phones, a counter resync, giving up."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from ble_lock.central.engine import RETRYABLE_CODES
from ble_lock.central.keystore import Keystore
from ble_lock.central.transport import Connector, DisconnectCallback, GattLink, NotifyCallback
from ble_lock.core.errors import ErrorCode, TransportError
from ble_lock.testing.memory_lock import MemoryLock
from ble_lock.wire.endpoints.phone import random_channel
from ble_lock.wire.security.crypto import os_rng
from tests.central._phones import phones_for

pytestmark = pytest.mark.timeout(60)


def _ops_of(lock: MemoryLock, since: int) -> int:
    return sum(1 for op in lock.trace[since:] if op.op in ("write", "notify"))


@pytest.mark.parametrize("shape", ["hs1", "data"])
async def test_a_drop_at_every_att_operation_adds_exactly_one_user(tmp_path: Path,
                                                                  shape: str) -> None:
    """Same request id after reconnecting: the lock applies it once (docs/protocol.md,
    "Retry after a lost link"). MTU 23: request and answer are several frames each."""
    lock = MemoryLock(mtu=23)
    async with phones_for(lock, tmp_path) as phones:
        owner = await phones.owner()

        async def prepare() -> None:
            if shape == "hs1":
                await owner.end_session()
            else:
                await owner.whoami()

        await prepare()
        before = len(lock.trace)
        await owner.add_user("probe")
        n = _ops_of(lock, before)
        assert n >= 4
        for k in range(n):
            await prepare()
            reconnects = owner.engine.reconnects
            lock.links[-1].drop_after(k)
            user = await owner.add_user(f"user {k}")
            assert owner.engine.reconnects == reconnects + 1, k
            names = [u.name for u in await owner.list_users()]
            assert names.count(f"user {k}") == 1, (k, names)
            assert user.name == f"user {k}"
        # abandoned channels were closed on the new links: the lock holds at most 8
        assert len(lock.server.endpoint._channels) <= 2


async def test_a_channel_collision_is_retried_on_a_fresh_channel(tmp_path: Path) -> None:
    """Two phones pick the same channel at once (docs/protocol.md, "Channels"): both
    sessions are garbled and closed; each retries on a new random channel and succeeds."""
    lock = MemoryLock(mtu=23)  # several frames per HS1, so the two interleave
    async with phones_for(lock, tmp_path) as phones:
        owner = await phones.owner()
        carl = await owner.add_user("Carl")
        guest = await phones.invited(owner, "guest", carl.user_number)
        for phone in (owner, guest):
            await phone.end_session()
            picks = itertools.chain([7], iter(lambda: random_channel(os_rng), None))
            phone.engine._pick_channel = picks.__next__

        got = await asyncio.gather(owner.unlock(), guest.unlock())
        assert got == [1, carl.user_number]
        assert owner.engine.retries + guest.engine.retries >= 1
        assert owner.engine.reconnects == guest.engine.reconnects == 0


async def test_a_stale_counter_resyncs_and_the_keystore_is_raised(tmp_path: Path) -> None:
    """A keystore restored from an old backup: the lock answers RESYNC, the request is
    sent again inside the session, and the stored counter jumps past the lock's."""
    lock = MemoryLock()
    async with phones_for(lock, tmp_path) as phones:
        owner = await phones.owner()
        for _ in range(3):
            await owner.end_session()
            await owner.unlock()
        ks = Keystore(tmp_path / "owner")
        used = _counter(ks)
        ks.update("0BADC0DE", counter=0)
        # the app restarts on the restored file: the block of counters it had reserved in
        # memory is gone with it (issue 15: counters are reserved in blocks)
        owner.engine.keystore = Keystore(tmp_path / "owner")
        await owner.end_session()
        assert await owner.unlock() == 1
        assert _counter(ks) >= used
        await owner.end_session()
        assert await owner.unlock() == 1  # no second resync needed
        assert _counter(ks) > used


def _counter(ks: Keystore) -> int:
    record = ks.get("0BADC0DE")
    assert record is not None
    return record.counter


def _always_dropping(lock: MemoryLock) -> Connector:
    base = lock.connector()

    async def connect(on_notify: NotifyCallback, on_disconnect: DisconnectCallback) -> GattLink:
        link = await base(on_notify, on_disconnect)
        lock.links[-1].drop_after(1)  # every link dies after its first ATT operation
        return link

    return connect


async def test_the_client_gives_up_after_max_retries(tmp_path: Path) -> None:
    lock = MemoryLock()
    async with phones_for(lock, tmp_path) as phones:
        owner = await phones.owner()
        await owner.end_session()
        owner.engine._connector = _always_dropping(lock)
        lock.links[-1].drop()
        with pytest.raises(TransportError) as info:
            await owner.add_user("never")
        assert info.value.code is ErrorCode.DISCONNECTED
        assert owner.engine.retries == owner.engine.max_retries


def test_retryable_codes_are_channel_failures_not_denials() -> None:
    assert ErrorCode.DECRYPT_FAILED in RETRYABLE_CODES  # a garbled (collided) channel
    assert ErrorCode.BAD_FRAGMENT in RETRYABLE_CODES
    assert ErrorCode.CHANNEL_BUSY in RETRYABLE_CODES
    for final in (ErrorCode.UNKNOWN_PEER, ErrorCode.PAIRING_FAILED, ErrorCode.KEY_REVOKED,
                  ErrorCode.IDENTITY_MISMATCH, ErrorCode.UNSUPPORTED_VERSION,
                  ErrorCode.LOCKED_OUT):
        assert final not in RETRYABLE_CODES


@pytest.mark.parametrize("ops", [0, 1])
async def test_a_claim_survives_a_drop_before_the_lock_binds_the_key(tmp_path: Path,
                                                                   ops: int) -> None:
    """A drop before PAIR3 reaches the lock: the pairing is simply run again (the lost
    attempt counts as one wrong guess at the lock, R-SEC-1, far from the lockout)."""
    lock = MemoryLock()
    async with phones_for(lock, tmp_path) as phones:
        phone = await phones.new("owner")
        lock.links[-1].drop_after(ops)
        rec = await phone.claim(lock.setup_code, lock_fingerprint=lock.fingerprint)
        assert (rec.user_no, rec.role) == (1, "admin")
        assert phone.engine.reconnects == 1
        assert await phone.unlock() == 1


async def test_closing_the_client_ends_a_call_in_flight(tmp_path: Path) -> None:
    """A request waiting for an answer ends with DISCONNECTED when the client closes,
    rather than waiting for its timeout."""
    lock = MemoryLock()
    async with phones_for(lock, tmp_path) as phones:
        owner = await phones.owner()
        await owner.end_session()
        sent = asyncio.Event()
        base = lock.connector()

        async def deaf(on_notify: NotifyCallback, on_disconnect: DisconnectCallback
                       ) -> GattLink:
            def hear_nothing(data: bytes) -> None:
                sent.set()  # the lock answered: the request is out, the answer is lost

            return await base(hear_nothing, on_disconnect)

        owner.engine._connector = deaf
        lock.links[-1].drop()
        call = asyncio.ensure_future(owner.unlock())
        await sent.wait()
        await owner.close()
        with pytest.raises(TransportError) as info:
            await call
        assert info.value.code is ErrorCode.DISCONNECTED


async def test_a_drop_right_after_the_fresh_read_is_retried_in_one_round_trip(
        tmp_path: Path) -> None:
    """Issue 10: the phone reads the lock's freshness value, the link dies before its
    HS1 left; the retry on a new link may still carry the request in HS1 (none was
    sent), so the unlock stays one HS1 and one round trip."""
    lock = MemoryLock()
    async with phones_for(lock, tmp_path) as phones:
        owner = await phones.owner()
        await owner.end_session()
        owner.engine.forget_fresh()
        reconnects, early = owner.engine.reconnects, owner.engine.early_requests
        reads = owner.engine.fresh_reads
        lock.links[-1].drop_after(1)  # the fresh read is the next ATT operation
        assert await owner.unlock() == 1
        assert owner.engine.reconnects == reconnects + 1
        assert owner.engine.fresh_reads == reads + 2  # once per link
        assert owner.engine.early_requests == early + 1
