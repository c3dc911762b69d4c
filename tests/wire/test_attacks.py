"""Attacks on the air (issue 3, "Attack tests"): replay of a whole session and of a lone
first message, a bit flip in every byte of a recorded exchange, secrets in recordings,
garbage flooding. The lock must never pass a request up that the phone did not send
in this session, and every tampered frame closes the session."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ble_lock.core.errors import ErrorCode
from ble_lock.testing.testbed import TEST_SETUP_CODE, Testbed, make_testbed
from ble_lock.wire.endpoints.directory import InMemoryDirectory, InMemoryPeer
from ble_lock.wire.endpoints.phone import PhoneSession, PhoneState
from ble_lock.wire.errors import ChannelBusyError, DecryptError, RemoteProtocolError
from ble_lock.wire.events import (
    EndpointEvent,
    MessageReceived,
    RequestReceived,
    SessionClosed,
    SessionOpened,
)
from ble_lock.wire.link.framing import Reassembler, fragment, parse_frame
from ble_lock.wire.link.transport_messages import Hs1, Hs2, decode
from ble_lock.wire.security.crypto import dh
from ble_lock.wire.security.handshake import FirstPayload, SymmetricState, prologue

UNLOCK = b"UNLOCK door=1 req=0001"  # 22 bytes, a realistic request size
SECOND = b"STATUS req=0002"
SEED = b"attack"


def _peer(bed: Testbed) -> InMemoryPeer:
    assert isinstance(bed.directory, InMemoryDirectory)
    return bed.directory.peers[bed.phone_key.public]


def _requests(events: list[EndpointEvent]) -> list[bytes]:
    return [e.payload for e in events if isinstance(e, RequestReceived)]


@dataclass(frozen=True, slots=True, kw_only=True)
class Recording:
    hs1: list[bytes]
    hs2: list[bytes]
    data_up: list[bytes]
    data_down: list[bytes]


def _fresh_session() -> tuple[Testbed, PhoneSession]:
    bed = make_testbed(seed=SEED)
    bed.pair()
    return bed, bed.session(counter=1)


def _run_session(bed: Testbed, s: PhoneSession) -> None:
    s.start(UNLOCK, 1.0)
    bed.link.run([s], 1.0)
    s.send(SECOND)
    bed.link.run([s], 2.0)


def _recording() -> Recording:
    bed, s = _fresh_session()
    start = len(bed.link.transcript)
    s.start(UNLOCK, 1.0)
    bed.link.run([s], 1.0)
    first = bed.link.transcript[start:]
    mid = len(bed.link.transcript)
    s.send(SECOND)
    bed.link.run([s], 2.0)
    second = bed.link.transcript[mid:]
    return Recording(hs1=[f for d, f in first if d == "up"],
                     hs2=[f for d, f in first if d == "down"],
                     data_up=[f for d, f in second if d == "up"],
                     data_down=[f for d, f in second if d == "down"])


REC = _recording()


def test_recording_is_deterministic_and_complete() -> None:
    assert _recording() == REC
    assert len(REC.hs1) > 1  # MTU 23: HS1 is fragmented
    assert REC.hs2
    assert REC.data_up
    assert REC.data_down


def test_replayed_whole_session_does_nothing() -> None:
    bed, s = _fresh_session()
    _run_session(bed, s)
    assert _requests(bed.link.lock_events) == [UNLOCK, SECOND]
    counter = _peer(bed).counter
    replayed: list[EndpointEvent] = []
    for frame in REC.hs1 + REC.data_up:  # the attacker's recording, played back later
        replayed += bed.lock.receive_data(frame, 50.0)
    replayed += bed.lock.handle_timer(500.0)
    assert _requests(replayed) == []
    assert not any(isinstance(e, SessionOpened) for e in replayed)
    assert any(isinstance(e, SessionClosed) for e in replayed)
    assert _peer(bed).counter == counter
    assert bed.lock.sessions() == []


def test_replayed_lone_first_message_does_nothing() -> None:
    bed, s = _fresh_session()
    s.start(UNLOCK, 1.0)
    bed.link.run([s], 1.0)
    assert _requests(bed.link.lock_events) == [UNLOCK]
    s.close()
    bed.link.run([s], 2.0)
    for when in (3.0, 3600.0):
        replayed = [e for f in REC.hs1 for e in bed.lock.receive_data(f, when)]
        assert replayed == []  # not even a SessionOpened: a replay is invisible to the app
        assert bed.lock.data_to_send()  # an HS2 resync only the real phone could read
        bed.lock.close(s.channel)  # (the channel id is taken by the replayed session)
    assert _peer(bed).counter == 1


def test_replay_to_a_lock_that_never_saw_the_phone_session_is_refused() -> None:
    """A recording taken before a factory reset (or from another lock) is useless."""
    bed = make_testbed(seed=b"other lock")
    bed.pair()
    events = [e for f in REC.hs1 for e in bed.lock.receive_data(f, 1.0)]
    assert _requests(events) == []
    closed = [e for e in events if isinstance(e, SessionClosed)]
    assert closed
    assert closed[0].error is not None
    assert closed[0].error.code is ErrorCode.DECRYPT_FAILED


def _flip(frames: list[bytes], index: int) -> list[bytes]:
    out, pos = [], index
    for f in frames:
        if 0 <= pos < len(f):
            f = f[:pos] + bytes([f[pos] ^ 0x01]) + f[pos + 1:]
        pos -= len(f)
        out.append(f)
    return out


def _lock_closed(events: list[EndpointEvent], channel: int) -> bool:
    return any(isinstance(e, SessionClosed) and e.channel == channel for e in events)


HS1_BYTES = sum(map(len, REC.hs1))
DATA_UP_BYTES = sum(map(len, REC.data_up))
HS2_BYTES = sum(map(len, REC.hs2))
DATA_DOWN_BYTES = sum(map(len, REC.data_down))


@pytest.mark.parametrize("index", range(HS1_BYTES))
def test_bit_flip_in_first_message_closes_without_action(index: int) -> None:
    bed, s = _fresh_session()
    s.start(UNLOCK, 1.0)
    assert s.data_to_send() == REC.hs1
    events = [e for f in _flip(REC.hs1, index) for e in bed.lock.receive_data(f, 1.0)]
    events += bed.lock.handle_timer(100.0)
    assert _requests(events) == []
    assert _lock_closed(events, s.channel)
    assert bed.lock.sessions() == []
    assert _peer(bed).counter == 0


@pytest.mark.parametrize("index", range(DATA_UP_BYTES))
def test_bit_flip_in_session_request_closes_without_action(index: int) -> None:
    bed, s = _fresh_session()
    s.start(UNLOCK, 1.0)
    bed.link.run([s], 1.0)
    s.send(SECOND)
    assert s.data_to_send() == REC.data_up
    events = [e for f in _flip(REC.data_up, index) for e in bed.lock.receive_data(f, 2.0)]
    events += bed.lock.handle_timer(1000.0)
    assert _requests(events) == []
    assert _lock_closed(events, s.channel)


def _phone_rejects(s: PhoneSession, frames: list[bytes], now: float) -> list[EndpointEvent]:
    got: list[EndpointEvent] = []
    try:
        for f in frames:
            got += s.receive_data(f, now)
        got += s.handle_timer(now + 1000.0)
    except RemoteProtocolError:
        pass
    assert s.state is PhoneState.CLOSED
    return got


@pytest.mark.parametrize("index", range(HS2_BYTES))
def test_bit_flip_in_lock_answer_is_rejected_by_the_phone(index: int) -> None:
    bed, s = _fresh_session()
    s.start(UNLOCK, 1.0)
    for f in s.data_to_send():
        bed.link.lock_events.extend(bed.lock.receive_data(f, 1.0))
    bed.lock.respond(s.channel, b"ok:" + UNLOCK)
    assert bed.lock.data_to_send() == REC.hs2
    got = _phone_rejects(s, _flip(REC.hs2, index), 1.0)
    assert not any(isinstance(e, MessageReceived) for e in got)


@pytest.mark.parametrize("index", range(DATA_DOWN_BYTES))
def test_bit_flip_in_lock_data_is_rejected_by_the_phone(index: int) -> None:
    bed, s = _fresh_session()
    s.start(UNLOCK, 1.0)
    bed.link.run([s], 1.0)
    s.send(SECOND)
    for f in s.data_to_send():
        bed.lock.receive_data(f, 2.0)
    bed.lock.respond(s.channel, b"ok:" + SECOND)
    assert bed.lock.data_to_send() == REC.data_down
    got = _phone_rejects(s, _flip(REC.data_down, index), 2.0)
    assert not any(isinstance(e, MessageReceived) for e in got)


def test_recorded_traffic_contains_no_secret_in_clear() -> None:
    bed = make_testbed(seed=b"secrets")
    bed.pair()
    s = bed.session(counter=1)
    pin_request = b"ADD_PIN user=3 pin=48291576"
    s.start(pin_request, 1.0)
    bed.link.run([s], 1.0)
    s.send(b"card=0xDEADBEEF42")
    bed.link.run([s], 2.0)
    blob = b"".join(f for _, f in bed.link.transcript)
    for secret in (TEST_SETUP_CODE.encode(), TEST_SETUP_CODE.replace("-", "").encode(),
                   b"48291576", b"DEADBEEF42", bed.phone_key.private_bytes(),
                   bed.lock_key.private_bytes(), bed.phone_key.public, bed.lock_key.public):
        assert secret not in blob
    assert s.handshake_hash is not None
    assert s.handshake_hash not in blob


def test_garbage_flood_is_bounded_and_the_lock_recovers() -> None:
    """v2: 8 half-sent messages fill the table; a valid phone's START evicts the one
    quiet longest (CLOSE(CHANNEL_BUSY) to it) instead of being refused, and the rest
    still expire by the reassembly timer."""
    bed = make_testbed(seed=b"flood")
    bed.pair()
    for cid in range(100, 108):  # 8 half-sent messages hold every channel slot
        bed.lock.receive_data(fragment(cid, bytes(300), 23)[0], 0.0)
    s = bed.session(counter=1, channel=7)
    s.start(UNLOCK, 0.5)
    bed.link.run([s], 0.5)
    assert _requests(bed.link.lock_events) == [UNLOCK]
    evicted = [e for e in bed.link.lock_events if isinstance(e, SessionClosed)]
    assert [(e.channel, type(e.error)) for e in evicted] == [(100, ChannelBusyError)]
    assert bed.lock.evictions == 1
    bed.link.lock_events.extend(bed.lock.handle_timer(5.0))  # the half messages expire
    assert [cid for cid, _ in bed.lock.sessions()] == [7]


def test_static_key_compromise_reveals_only_the_first_request() -> None:
    """Forward secrecy, and its documented 0-RTT exception (docs/protocol.md): with
    both static private keys an attacker reads the recorded HS1 payload, but not HS2 nor
    any DATA, which also depend on the ephemeral-ephemeral DH."""
    bed = make_testbed(seed=SEED)

    def message(frames: list[bytes]) -> bytes:
        r = Reassembler()
        out = [m for f in frames if (m := r.feed(parse_frame(f), 0.0)) is not None]
        return out[0]

    hs1, hs2 = decode(message(REC.hs1)), decode(message(REC.hs2))
    assert isinstance(hs1, Hs1)
    assert isinstance(hs2, Hs2)
    lock_s, phone_s = bed.lock_key.private, bed.phone_key.private
    st = SymmetricState(prologue(bed.lock.lock_id, hs1.fresh), bed.lock_key.public)
    st.mix_hash(hs1.e)
    st.mix_key(dh(lock_s, hs1.e))
    phone_pub = st.decrypt_and_hash(hs1.enc_s)
    st.mix_key(dh(lock_s, phone_pub))
    assert FirstPayload.decode(st.decrypt_and_hash(hs1.enc_payload)).payload == UNLOCK
    st.mix_hash(hs2.e)
    se = dh(phone_s, hs2.e)  # computable from the phone's static key
    for ee_guess in (dh(lock_s, hs1.e), dh(phone_s, hs1.e), dh(lock_s, hs2.e), se):
        trial = SymmetricState(b"", b"")
        trial.h, trial.ck = st.h, st.ck
        trial.mix_key(ee_guess)
        trial.mix_key(se)
        with pytest.raises(DecryptError):
            trial.decrypt_and_hash(hs2.enc_payload)
