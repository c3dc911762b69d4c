"""The phone's timeouts are the protocol's own (issue 13, "Time"): the sans-IO
:class:`LockLink` runs a timer per awaited answer next to the session's handshake and
reassembly timers, and the engine only drives them (``next_timer``/``handle_timer``, like
aioquic); it keeps no timeout of its own. Fake clocks throughout: nothing here waits."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from ble_lock.central.app import AppClient, LockLink
from ble_lock.central.client import LockClient
from ble_lock.central.keystore import Keystore
from ble_lock.central.transport import DisconnectCallback, GattLink, NotifyCallback
from ble_lock.core.errors import ErrorCode, TransportError
from ble_lock.testing.memory_lock import MemoryLock
from ble_lock.testing.testbed import Testbed, make_testbed
from ble_lock.testing.waiting import yield_to_loop
from ble_lock.wire import messages as m
from ble_lock.wire.endpoints.lock import LockEndpoint
from ble_lock.wire.endpoints.phone import ANSWER_TIMEOUT, PhoneState
from ble_lock.wire.errors import SessionTimeoutError
from ble_lock.wire.events import EndpointEvent, RequestReceived
from ble_lock.wire.link.framing import Reassembler, parse_frame
from ble_lock.wire.link.transport_messages import Close, decode
from tests.central._phones import phones_for

TIMEOUT = ANSWER_TIMEOUT  # the sessions' default


def _pump(bed: Testbed, lk: LockLink, now: float) -> list[object]:
    """Move bytes between the phone's link and the lock until both are quiet."""
    events: list[object] = []
    while True:
        up = lk.data_to_send()
        for frame in up:
            for event in bed.lock.receive_data(frame, now):
                if bed.link.app is not None:
                    bed.link.app(bed.lock, event)
        down = bed.lock.data_to_send()
        for frame in down:
            events.extend(lk.receive_data(frame, now))
        if not up and not down:
            return events


def _established(bed: Testbed, now: float = 0.0) -> LockLink:
    bed.pair(now=now)
    lk = LockLink(app=AppClient(rng=bed.rng),
                  session=bed.session(counter=1, now=now))
    lk.start(None, now)
    _pump(bed, lk, now)
    assert lk.session.state is PhoneState.ESTABLISHED
    return lk


def _answer_unlock(endpoint: LockEndpoint, event: EndpointEvent) -> None:
    if isinstance(event, RequestReceived):
        request = m.decode(event.payload)
        assert isinstance(request, m.Request)
        endpoint.respond(event.channel, m.encode(m.Response(
            request_id=request.request_id, opcode=m.Opcode.UNLOCK,
            body=m.Unlocked(user_number=1))))


def test_an_unanswered_request_times_out_on_the_links_own_timer() -> None:
    bed = make_testbed(app=None)  # the lock runs sessions but answers no request
    lk = _established(bed)
    assert lk.next_timer() is None  # nothing awaited: no timer
    request_id = lk.send(m.Unlock())
    lk.expect_answer(request_id, 5.0)
    _pump(bed, lk, 5.0)
    assert lk.next_timer() == 5.0 + TIMEOUT
    assert lk.handle_timer(5.0 + TIMEOUT - 0.5) == []  # not yet
    with pytest.raises(SessionTimeoutError):
        lk.handle_timer(5.0 + TIMEOUT)
    assert lk.session.state is PhoneState.CLOSED
    (close,) = lk.data_to_send()  # the lock is told the channel is free
    assert isinstance(decode(Reassembler().feed(parse_frame(close), 0.0) or b""), Close)
    assert lk.next_timer() is None


def test_an_answer_stops_its_timer() -> None:
    bed = make_testbed(app=_answer_unlock)
    lk = _established(bed)
    request_id = lk.send(m.Unlock())
    lk.expect_answer(request_id, 1.0)
    assert lk.next_timer() == 1.0 + TIMEOUT
    events = _pump(bed, lk, 2.0)
    assert [type(e).__name__ for e in events] == ["Succeeded"]
    assert lk.next_timer() is None
    assert lk.handle_timer(1.0 + 10 * TIMEOUT) == []  # long after: nothing fires
    assert lk.session.state is PhoneState.ESTABLISHED


class _SilentLink:
    """A lock that shows its info and freshness values but never answers a frame."""

    def __init__(self, real: MemoryLock, frames: list[bytes]) -> None:
        self._real = real
        self._frames = frames
        self.mtu = 247
        self.address = real.address
        self.connected = True

    async def write(self, frame: bytes) -> None:
        await yield_to_loop()
        self._frames.append(frame)

    async def read_info(self) -> bytes:
        return self._real.info().encode()

    async def read_fresh(self) -> bytes:
        return self._real.fresh().encode()

    async def close(self) -> None:
        self.connected = False


async def test_the_engine_times_out_on_the_phones_timer_not_its_own(tmp_path: Path) -> None:
    """The default timeout (the protocol's) passes on the injected clock, which jumps a
    whole timeout per reading: the call fails with TIMEOUT after one HS1, and the CLOSE
    that follows is the one the phone's own timer queued (code SESSION_TIMEOUT; an engine
    timing out on its own closed with SESSION_CLOSED)."""
    real = MemoryLock()
    async with phones_for(real, tmp_path) as phones:
        await phones.owner()
    frames: list[bytes] = []

    async def connect(on_notify: NotifyCallback, on_disconnect: DisconnectCallback
                      ) -> GattLink:
        return _SilentLink(real, frames)

    readings = itertools.count(0.0, ANSWER_TIMEOUT + 1.0)
    client = LockClient(connect, keystore=Keystore(tmp_path / "owner"), lock_id=real.lock_id,
                        retry_delay=0.0, clock=lambda: next(readings))
    async with client:
        with pytest.raises(TransportError) as err:
            await asyncio.wait_for(client.unlock(), 60)
    assert err.value.code is ErrorCode.TIMEOUT
    assert client.engine.sessions_opened == 1
    messages = [Reassembler().feed(parse_frame(f), 0.0) for f in frames]
    hs1, close = (msg for msg in messages if msg is not None)
    assert hs1[0] == 0x01
    assert decode(close) == Close(code=int(ErrorCode.SESSION_TIMEOUT))
