"""h11's fuzz contract: whatever bytes arrive, only RemoteProtocolError subtypes escape
(from both the lock endpoint and the phone objects), and nothing reaches the app."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ble_lock.testing.testbed import Testbed, make_testbed
from ble_lock.wire.endpoints.phone import PhonePairing, PhoneSession
from ble_lock.wire.errors import RemoteProtocolError
from ble_lock.wire.events import RequestReceived
from ble_lock.wire.link.framing import START, Reassembler, parse_frame
from ble_lock.wire.link.transport_messages import decode

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def _bed() -> Testbed:
    """A lock that has already seen the recorded exchange (so replays do nothing)."""
    bed = make_testbed(seed=b"fuzz")
    bed.pair()
    bed.pair(code="4711-0815", now=0.5)
    s = bed.session(counter=1)
    s.start(b"UNLOCK door=1 req=0001", 1.0)
    bed.link.run([s], 1.0)
    s.send(b"STATUS")
    bed.link.run([s], 2.0)
    s.close()
    bed.link.run([s], 2.0)
    return bed


def _valid_messages() -> tuple[list[bytes], list[bytes]]:
    """Reassembled messages of a real exchange: (phone -> lock, lock -> phone)."""
    bed = _bed()
    up, down = Reassembler(), Reassembler()
    ups: list[bytes] = []
    downs: list[bytes] = []
    for direction, frame in bed.link.transcript:
        r, out = (up, ups) if direction == "up" else (down, downs)
        m = r.feed(parse_frame(frame), 0.0)
        if m is not None:
            out.append(m)
    return ups, downs


UP, DOWN = _valid_messages()


@st.composite
def mutated(draw: st.DrawFn, messages: list[bytes]) -> bytes:
    msg = bytearray(draw(st.sampled_from(messages)))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        pos = draw(st.integers(0, max(0, len(msg) - 1)))
        if op == "flip" and msg:
            msg[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            msg[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and len(msg) > 1:
            del msg[pos]
        elif op == "truncate" and len(msg) > 1:
            del msg[pos + 1:]
    return bytes(msg)


@st.composite
def framed(draw: st.DrawFn, message: bytes, channel: int) -> list[bytes]:
    """Split ``message`` at random boundaries, with a (sometimes lying) header."""
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(message) - 1)), max_size=8))))
    chunks = [message[a:b] for a, b in zip([0, *cuts], [*cuts, len(message)], strict=True)]
    total = draw(st.one_of(st.just(len(message)), st.integers(0, 0xFFFF)))
    frames = [bytes([channel, START]) + total.to_bytes(2, "big") + chunks[0]]
    frames += [bytes([channel, i & 0x7F]) + c for i, c in enumerate(chunks[1:], 1)]
    return [f for f in frames if len(f) > 2]


def _lock_survives(bed: Testbed, frames: list[bytes]) -> None:
    for frame in frames:
        try:
            for e in bed.lock.receive_data(frame, 1.0):
                assert not isinstance(e, RequestReceived)
        except RemoteProtocolError:
            pass
    bed.lock.handle_timer(1000.0)
    assert bed.lock.next_timer() is None


@FUZZ
@given(frames=st.lists(st.binary(max_size=40), max_size=12))
def test_random_bytes_into_the_lock(frames: list[bytes]) -> None:
    _lock_survives(_bed(), frames)


@FUZZ
@given(data=st.data())
def test_mutated_valid_messages_into_the_lock(data: st.DataObject) -> None:
    message = data.draw(mutated(UP))
    frames = data.draw(framed(message, data.draw(st.integers(1, 255))))
    _lock_survives(_bed(), frames)


def _phone_survives(phone: PhoneSession | PhonePairing, frames: list[bytes]) -> None:
    for frame in frames:
        with contextlib.suppress(RemoteProtocolError):
            phone.receive_data(frame, 1.0)
    with contextlib.suppress(RemoteProtocolError):
        phone.handle_timer(1000.0)


@FUZZ
@given(frames=st.lists(st.binary(max_size=40), max_size=12), pairing=st.booleans())
def test_random_bytes_into_the_phone(frames: list[bytes], pairing: bool) -> None:
    bed = make_testbed(seed=b"fuzz-phone")
    phone: PhoneSession | PhonePairing
    phone = bed.pairing(channel=5) if pairing else bed.session(counter=1, channel=5)
    if isinstance(phone, PhonePairing):
        phone.start(0.0)
    else:
        phone.start(b"UNLOCK", 0.0)
    _phone_survives(phone, [bytes([5]) + f for f in frames])


@FUZZ
@given(data=st.data(), pairing=st.booleans())
def test_mutated_valid_messages_into_the_phone(data: st.DataObject, pairing: bool) -> None:
    bed = make_testbed(seed=b"fuzz-phone")
    phone: PhoneSession | PhonePairing
    if pairing:
        phone = bed.pairing(channel=5)
        phone.start(0.0)
    else:
        phone = bed.session(counter=1, channel=5)
        phone.start(b"UNLOCK", 0.0)
    message = data.draw(mutated(DOWN))
    _phone_survives(phone, data.draw(framed(message, 5)))


@FUZZ
@given(message=st.binary(min_size=1, max_size=200))
def test_decoder_only_raises_protocol_errors(message: bytes) -> None:
    with contextlib.suppress(RemoteProtocolError):
        decode(message)
