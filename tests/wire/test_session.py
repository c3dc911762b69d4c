"""In-memory phone <-> lock: pairing, sessions, 1-RTT request/response, resync,
several channels at once, at MTU 23 and 247."""

from __future__ import annotations

import pytest

from ble_lock.core.errors import ErrorCode
from ble_lock.testing.testbed import Testbed
from ble_lock.wire.endpoints.directory import InMemoryDirectory, InMemoryPeer
from ble_lock.wire.endpoints.phone import PhoneState
from ble_lock.wire.errors import LocalProtocolError, UnknownPeerError
from ble_lock.wire.events import (
    MessageReceived,
    PairingCompleted,
    PairingRequested,
    PairingSucceeded,
    RequestReceived,
    SessionEstablished,
    SessionOpened,
)
from ble_lock.wire.link.transport_messages import DATA_OVERHEAD, HS1_OVERHEAD, HS2_OVERHEAD
from ble_lock.wire.security.crypto import KeyPair


def _directory(bed: Testbed) -> InMemoryDirectory:
    assert isinstance(bed.directory, InMemoryDirectory)
    return bed.directory


def test_claim_a_fresh_lock_with_the_setup_code(bed: Testbed) -> None:
    p = bed.pairing()
    p.start(0.0)
    stats = bed.link.run([p], 0.0)
    assert stats.round_trips == 2
    assert [type(e) for e in bed.link.lock_events] == [PairingRequested, PairingCompleted]
    done = bed.link.lock_events[1]
    assert isinstance(done, PairingCompleted)
    assert done.peer_key == bed.phone_key.public
    assert bed.link.phone_events[p.channel] == [
        PairingSucceeded(channel=p.channel, lock_public=bed.lock_key.public)]
    assert bed.phone_key.public in _directory(bed).peers
    assert p.state is PhoneState.DONE


def test_second_phone_enrols_with_an_invite_code(paired: Testbed) -> None:
    bed = paired
    _directory(bed).add_invite(b"inv1", "ABCD-2345")
    second = KeyPair.generate(bed.rng)
    bed.pair(phone=second, code="abcd2345", code_ref=b"inv1", now=5.0)
    peer = _directory(bed).peers[second.public]
    assert peer.label == "invite:" + b"inv1".hex()
    assert b"inv1" not in _directory(bed).invites  # single use
    s = bed.session(counter=1, phone=second)
    s.start(b"hello", 6.0)
    bed.link.run([s], 6.0)
    assert bed.link.phone_events[s.channel][-1] == MessageReceived(channel=s.channel,
                                                                  payload=b"ok:hello")


def test_unlock_takes_one_round_trip(paired: Testbed) -> None:
    bed = paired
    s = bed.session(counter=1)
    s.start(b"unlock-door-req-0001", 10.0)
    stats = bed.link.run([s], 10.0)
    assert stats.round_trips == 1
    events = bed.link.phone_events[s.channel]
    assert events == [SessionEstablished(channel=s.channel, resynced=False, lock_counter=None),
                      MessageReceived(channel=s.channel, payload=b"ok:unlock-door-req-0001")]
    opened, request = bed.link.lock_events[-2:]
    assert isinstance(opened, SessionOpened)
    assert opened.peer_key == bed.phone_key.public
    assert isinstance(request, RequestReceived)
    assert request.in_handshake
    assert request.payload == b"unlock-door-req-0001"


def test_further_requests_and_pushed_events_in_the_session(paired: Testbed) -> None:
    bed = paired
    s = bed.session(counter=1)
    s.start(b"", 1.0)
    bed.link.run([s], 1.0)
    assert bed.link.phone_events[s.channel] == [
        SessionEstablished(channel=s.channel, resynced=False, lock_counter=None)]
    for i in range(3):
        s.send(b"req%d" % i)
        assert bed.link.run([s], 2.0 + i).round_trips == 1
    bed.lock.push(s.channel, b"door-opened")
    bed.link.run([s], 9.0)
    payloads = [e.payload for e in bed.link.phone_events[s.channel]
                if isinstance(e, MessageReceived)]
    assert payloads == [b"ok:req0", b"ok:req1", b"ok:req2", b"door-opened"]
    assert bed.lock.sessions() == [(s.channel, _directory(bed).peers[bed.phone_key.public])]


def test_stale_counter_gets_an_authenticated_resync_and_retries_in_session(
        paired: Testbed) -> None:
    bed = paired
    first = bed.session(counter=7)
    first.start(b"unlock", 1.0)
    bed.link.run([first], 1.0)
    behind = bed.session(counter=3)  # e.g. restored from an old backup
    behind.start(b"unlock", 2.0)
    stats = bed.link.run([behind], 2.0)
    assert stats.round_trips == 2
    events = bed.link.phone_events[behind.channel]
    assert events == [SessionEstablished(channel=behind.channel, resynced=True, lock_counter=7),
                      MessageReceived(channel=behind.channel, payload=b"ok:unlock")]
    assert behind.next_counter == 8
    last = bed.link.lock_events[-1]
    assert isinstance(last, RequestReceived)
    assert not last.in_handshake
    peer = _directory(bed).peers[bed.phone_key.public]
    assert isinstance(peer, InMemoryPeer)
    assert peer.counter == 7


def test_several_phones_hold_sessions_at_once(paired: Testbed) -> None:
    bed = paired
    others = [KeyPair.generate(bed.rng) for _ in range(2)]
    for i, key in enumerate(others):
        _directory(bed).add_invite(b"i%d" % i, f"CODE{i:04d}")
        bed.pair(phone=key, code=f"CODE{i:04d}", code_ref=b"i%d" % i)
    sessions = [bed.session(counter=1, channel=10 + i, phone=k)
                for i, k in enumerate([bed.phone_key, *others])]
    for i, s in enumerate(sessions):
        s.start(b"from-%d" % i, 1.0)
    # All three handshakes interleave on the air: writes of every phone go first.
    bed.link.run(sessions, 1.0)
    for i, s in enumerate(sessions):
        assert bed.link.phone_events[s.channel][-1] == MessageReceived(
            channel=s.channel, payload=b"ok:from-%d" % i)
    assert sorted(c for c, _ in bed.lock.sessions()) == [10, 11, 12]


def test_unpaired_phone_is_refused(paired: Testbed) -> None:
    bed = paired
    stranger = bed.session(counter=1, phone=KeyPair.generate(bed.rng))
    stranger.start(b"unlock", 1.0)
    with pytest.raises(UnknownPeerError) as info:
        bed.link.run([stranger], 1.0)
    assert info.value.code is ErrorCode.UNKNOWN_PEER
    assert not any(isinstance(e, RequestReceived) for e in bed.link.lock_events)


def test_local_misuse_is_a_local_error(paired: Testbed) -> None:
    s = paired.session(counter=1)
    with pytest.raises(LocalProtocolError):
        s.send(b"too early")
    with pytest.raises(LocalProtocolError):
        paired.lock.push(99, b"nobody there")


def test_largest_payloads_fit_and_larger_ones_are_refused_locally(paired: Testbed) -> None:
    bed = paired
    biggest_first = bytes(2048 - HS1_OVERHEAD)
    s = bed.session(counter=1)
    with pytest.raises(LocalProtocolError):
        s.start(biggest_first + b"x", 1.0)
    s.start(biggest_first, 1.0)
    bed.link.app = None
    bed.link.run([s], 1.0)
    request = bed.link.lock_events[-1]
    assert isinstance(request, RequestReceived)
    assert request.payload == biggest_first
    with pytest.raises(LocalProtocolError):
        bed.lock.respond(s.channel, bytes(2048 - HS2_OVERHEAD + 1))
    bed.lock.respond(s.channel, bytes(2048 - HS2_OVERHEAD))  # the channel is still usable
    bed.link.run([s], 1.0)
    with pytest.raises(LocalProtocolError):
        bed.lock.push(s.channel, bytes(2048 - DATA_OVERHEAD + 1))
    bed.lock.push(s.channel, bytes(2048 - DATA_OVERHEAD))
    with pytest.raises(LocalProtocolError):
        s.send(bytes(2048 - DATA_OVERHEAD + 1))
    s.send(b"still in sync")
    bed.link.run([s], 2.0)
    got = [e.payload for e in bed.link.phone_events[s.channel] if isinstance(e, MessageReceived)]
    assert got == [bytes(2048 - HS2_OVERHEAD), bytes(2048 - DATA_OVERHEAD)]
    assert _requests_in(bed)[-1] == b"still in sync"


def _requests_in(bed: Testbed) -> list[bytes]:
    return [e.payload for e in bed.link.lock_events if isinstance(e, RequestReceived)]
