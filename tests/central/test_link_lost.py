"""Issue 14, item 2: a lock that goes away is reported at once, as a ``LinkLostError``
(docs/central.md, "A lock that goes away"). In memory, no clock and no sleep: the link
drop is the MemoryLink's disconnect callback, a dead lock behind a live link is a link
whose writes vanish and whose reads fail, and the keeper's probe is called directly.

A lost link gets one new-link attempt (a glitch is retried with the same request id,
issue 5); if the lock is not there, the request fails with ``LinkLostError``, the link
listeners hear it once, and later requests fail at once without another attempt until
``connect()``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from ble_lock.central.client import LockClient
from ble_lock.central.keystore import Keystore
from ble_lock.central.linkkeeper import LinkLostError
from ble_lock.central.transport import Connector, DisconnectCallback, GattLink, NotifyCallback
from ble_lock.core.errors import ErrorCode, TransportError
from ble_lock.testing.memory_lock import MemoryLink, MemoryLock
from ble_lock.testing.waiting import yield_to_loop
from ble_lock.wire import messages as m


class DeadAppLink:
    """A MemoryLink whose lock process died while the link stayed up (BlueZ keeps an
    emulator's link when the process dies): writes vanish, reads fail."""

    def __init__(self, inner: MemoryLink, radio: Radio) -> None:
        self._inner = inner
        self._radio = radio

    @property
    def mtu(self) -> int:
        return self._inner.mtu

    @property
    def address(self) -> str:
        return self._inner.address

    @property
    def connected(self) -> bool:
        return self._inner.connected

    async def write(self, frame: bytes) -> None:
        if self._radio.dead:
            self._radio.lost_writes += 1
            self._radio.written.set()
            return  # write without response: nobody tells the phone
        await self._inner.write(frame)

    async def read_info(self) -> bytes:
        return await self._read(self._inner.read_info)

    async def read_fresh(self) -> bytes:
        return await self._read(self._inner.read_fresh)

    async def _read(self, read: Callable[[], Awaitable[bytes]]) -> bytes:
        await yield_to_loop()
        self._radio.reads += 1
        if self._radio.dead:
            raise TransportError("read failed: Invalid Handle", code=ErrorCode.DISCONNECTED)
        return await read()

    async def close(self) -> None:
        await self._inner.close()


class Radio:
    """The lock's side of the air: up, gone (no connection possible), or its app dead."""

    def __init__(self, lock: MemoryLock) -> None:
        self.lock = lock
        self.gone = False
        self.dead = False
        self.connects = 0
        self.reads = 0
        self.lost_writes = 0
        self.written = asyncio.Event()
        self._inner = lock.connector()

    def connector(self) -> Connector:
        async def connect(on_notify: NotifyCallback, on_disconnect: DisconnectCallback
                          ) -> GattLink:
            self.connects += 1
            if self.gone:
                raise TransportError("no lock advertising there",
                                     code=ErrorCode.CONNECTION_FAILED)
            inner = await self._inner(on_notify, on_disconnect)
            assert isinstance(inner, MemoryLink)
            return DeadAppLink(inner, self)

        return connect

    def link(self) -> MemoryLink:
        return self.lock.links[-1]


async def _owner(radio: Radio, tmp_path: Path) -> LockClient:
    client = LockClient(radio.connector(), keystore=Keystore(tmp_path / "owner"),
                        lock_id=radio.lock.lock_id, timeout=5.0, retry_delay=0.0)
    client.engine.probe_interval = None  # the test probes by hand: no sleeping supervisor
    await client.connect()
    await client.claim(radio.lock.setup_code, lock_fingerprint=radio.lock.fingerprint)
    return client


async def test_a_drop_while_the_lock_is_gone_fails_the_request_with_link_lost_at_once(
        tmp_path: Path) -> None:
    radio = Radio(MemoryLock())
    owner = await _owner(radio, tmp_path)
    told: list[LinkLostError] = []
    owner.on_link_lost(told.append)
    try:
        await owner.whoami()  # a session is up
        radio.gone = True  # the lock is switched off ...
        radio.link().drop_after(1)  # ... and the link drops under the next request
        connects = radio.connects
        with pytest.raises(LinkLostError) as err:
            await owner.add_user("Carl")
        assert err.value.code is ErrorCode.DISCONNECTED
        assert "lost the link to lock" in err.value.message
        assert radio.connects == connects + 1  # one new-link attempt, not a retry loop
        assert [e.code for e in told] == [ErrorCode.DISCONNECTED]

        # gone: later requests fail at once, without trying to connect
        with pytest.raises(LinkLostError):
            await owner.whoami()
        assert radio.connects == connects + 1
        assert len(told) == 1

        # back: connect() tries again, and the client works
        radio.gone = False
        await owner.connect()
        me = await owner.whoami()
        assert me.user_number == 1
        assert owner.engine.gone is None
    finally:
        await owner.close()


async def test_a_drop_with_the_lock_still_there_is_retried_on_one_new_link(
        tmp_path: Path) -> None:
    """Issue 5's retry is kept: the lock is there, the one new link works."""
    radio = Radio(MemoryLock())
    owner = await _owner(radio, tmp_path)
    try:
        await owner.whoami()
        radio.link().drop_after(1)
        connects = radio.connects
        carl = await owner.add_user("Carl")
        assert radio.connects == connects + 1
        assert [u.name for u in await owner.list_users()].count("Carl") == 1
        assert carl.name == "Carl"
        assert owner.engine.gone is None
    finally:
        await owner.close()


async def test_a_lock_that_died_behind_a_live_link_is_found_by_one_probe(
        tmp_path: Path) -> None:
    radio = Radio(MemoryLock())
    owner = await _owner(radio, tmp_path)
    try:
        await owner.whoami()
        radio.dead = radio.gone = True  # the emulator died: its link stays, nothing answers
        request = asyncio.ensure_future(owner.add_user("Carl"))
        await radio.written.wait()  # the request went out (into nothing)
        reads = radio.reads
        assert await owner.engine.check_link()  # whoami's answer was heard since the start
        assert radio.reads == reads  # no probe for that look
        assert not await owner.engine.check_link()  # silent since: one probe ...
        assert radio.reads == reads + 1
        with pytest.raises(LinkLostError) as err:  # ... fails the request at once
            await request
        assert "stopped answering" in err.value.message
        assert owner.engine.losses == 1
    finally:
        await owner.close()


async def test_no_probe_on_a_link_that_spoke_or_that_nobody_waits_on(tmp_path: Path) -> None:
    radio = Radio(MemoryLock())
    owner = await _owner(radio, tmp_path)
    try:
        await owner.whoami()
        reads = radio.reads
        assert await owner.engine.check_link()  # the answer to whoami was heard
        assert await owner.engine.check_link()  # silent since, but nobody waits
        assert radio.reads == reads
        owner.on_event(lambda _body: None)  # a listener waits on pushes from now on
        assert await owner.engine.check_link()  # a wait that just began: not yet
        assert radio.reads == reads
        assert await owner.engine.check_link()  # it spanned a silent interval: probe
        assert (radio.reads, owner.engine.probes) == (reads + 1, 1)
    finally:
        await owner.close()


async def test_an_enrolment_waiting_for_steps_ends_when_the_lock_goes_away(
        tmp_path: Path) -> None:
    radio = Radio(MemoryLock())
    owner = await _owner(radio, tmp_path)
    try:
        async def enrol_until_the_lock_goes() -> None:
            async with owner.enrol(1, m.CredentialKind.PALM) as run:
                radio.gone = True
                radio.link().drop()  # the supervision timeout: bleak's disconnect callback
                await run.next_step()

        with pytest.raises(LinkLostError):
            await enrol_until_the_lock_goes()
        assert radio.lock.lock.enrolling is not None  # not cancelled over a dead link
    finally:
        await owner.close()
