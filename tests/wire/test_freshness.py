"""Issue 10, item 1: every state-changing request is bound to a value the lock chose
recently (docs/protocol.md, "Freshness"). A first message (HS1) captured before it
reached the lock -- by a fake lock, a jammer, a relay that holds it -- applies nothing
once its freshness value has expired (at most 30 s) or the lock has restarted; the
per-phone counter still refuses what the lock has already seen.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ble_lock.central.app import LockLink
from ble_lock.core.errors import ErrorCode
from ble_lock.core.model import EventKind
from ble_lock.lockapp.service import LockServer
from ble_lock.testing.memory_lock import MemoryLock
from ble_lock.testing.phone import Phone, claimed_world
from ble_lock.testing.testbed import Testbed
from ble_lock.wire import messages as m
from ble_lock.wire.endpoints.phone import PhoneState
from ble_lock.wire.events import SessionClosed, SessionEstablished
from ble_lock.wire.link.framing import Reassembler, fragment, parse_frame
from ble_lock.wire.link.transport_messages import Close, Hs1, Pair1, decode, encode
from ble_lock.wire.security.crypto import DeterministicRng
from ble_lock.wire.security.freshness import MAX_AGE, ROTATION, Freshness

UNLOCK = b"UNLOCK"


def _unlocks(world: MemoryLock) -> int:
    page = world.lock.read_events(limit=1000)
    return sum(1 for e in page.events if e.kind is EventKind.UNLOCK)


def _capture(owner: Phone) -> tuple[LockLink, bytes, list[bytes]]:
    """The owner taps "unlock"; the HS1 never reaches the lock (a fake lock or a jammer
    took it). Returns the link, the request id and the captured frames."""
    link = owner.link()
    request_id = link.start(m.Unlock(), owner.world.now)
    assert request_id is not None
    owner.counter = link.next_counter  # the phone persisted its counter before sending
    return link, request_id, link.data_to_send()


def _replay(world: MemoryLock, frames: list[bytes]) -> list[object]:
    events: list[object] = []
    for frame in frames:
        events.extend(world.server.receive_data(frame, world.now))
    world.transcript.extend(world.server.data_to_send())
    return events


# -- the freshness values themselves ------------------------------------------------


def test_a_value_is_accepted_for_at_most_30_seconds_after_it_was_first_shown() -> None:
    fresh = Freshness(DeterministicRng(b"f"))
    value, valid_for = fresh.current(100.0)
    assert valid_for == int(MAX_AGE)
    assert fresh.accepts(value, 100.0 + ROTATION)  # now the previous value
    assert fresh.current(100.0 + ROTATION)[0] != value
    assert fresh.accepts(value, 100.0 + MAX_AGE - 0.001)
    assert not fresh.accepts(value, 100.0 + MAX_AGE)


def test_a_clock_that_goes_backwards_ends_every_value() -> None:
    fresh = Freshness(DeterministicRng(b"f"))
    value, _ = fresh.current(100.0)
    assert not fresh.accepts(value, 99.0)


def test_a_new_freshness_state_accepts_nothing_from_before() -> None:
    """What a lock restart does: the values are random, nothing is stored."""
    before = Freshness(DeterministicRng(b"boot 1"))
    value, _ = before.current(0.0)
    after = Freshness(DeterministicRng(b"boot 2"))
    assert not after.accepts(value, 0.0)


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.floats(0.0, 40.0, allow_nan=False), min_size=1, max_size=30))
def test_no_value_is_ever_accepted_more_than_30_s_after_it_was_shown(
        steps: list[float]) -> None:
    fresh = Freshness(DeterministicRng(b"prop"))
    now, shown = 0.0, {}
    for step in steps:
        now += step
        value, valid_for = fresh.current(now)
        shown.setdefault(value, now)
        assert ROTATION <= valid_for <= MAX_AGE
        for old, at in shown.items():
            if fresh.accepts(old, now):
                assert now - at < MAX_AGE


# -- a captured HS1 ------------------------------------------------------------------


@pytest.mark.parametrize("mtu", [23, 247])
def test_captured_hs1_replayed_after_its_fresh_value_expired_applies_nothing(mtu: int) -> None:
    """R-SEC-1 / issue 10: the RollJam replay. The lock answers STALE (encrypted to the
    phone, unreadable to the attacker), the unlock is never applied, the counter is not
    moved, and the lock announces no session."""
    world, owner = claimed_world(mtu=mtu)
    before = _unlocks(world)
    _, _, frames = _capture(owner)
    world.clock.advance(MAX_AGE)  # the lock's link clock is the fake clock here
    events = _replay(world, frames)
    assert _unlocks(world) == before
    assert not any(type(e).__name__ in ("SessionOpened", "RequestReceived") for e in events)
    # The phone that holds the keys can read why: STALE (the attacker cannot).
    assert world.server.endpoint.sessions() == []
    # and the owner's next tap still works, in one round trip
    assert owner.call(m.Unlock(), m.Unlocked)
    assert _unlocks(world) == before + 1


def test_captured_hs1_within_its_lifetime_is_the_relay_residual() -> None:
    """Documented residual: within 30 s the captured HS1 is as good as a live relay."""
    world, owner = claimed_world()
    before = _unlocks(world)
    _, _, frames = _capture(owner)
    world.clock.advance(ROTATION + 1)  # the previous value is still accepted
    _replay(world, frames)
    assert _unlocks(world) == before + 1
    _replay(world, frames)  # and only once: the counter refuses the second copy
    assert _unlocks(world) == before + 1


def test_captured_hs1_replayed_after_a_lock_restart_applies_nothing() -> None:
    world, owner = claimed_world()
    before = _unlocks(world)
    _, _, frames = _capture(owner)
    # The lock restarts (power cut, firmware update): same core and store, new endpoint.
    world.server = LockServer.create(world.lock, static_key=world.key,
                                     rng=DeterministicRng(b"after restart"), mtu=world.mtu)
    _replay(world, frames)
    assert _unlocks(world) == before
    assert world.server.endpoint.sessions() == []


def test_stale_value_costs_the_phone_one_round_trip_never_an_unlock(paired: Testbed) -> None:
    """A phone whose value expired (it kept it too long, or the lock restarted) gets an
    authenticated STALE with the current value; its request goes inside the session
    and is applied once; the next HS1 uses the value from HS2 in one round trip."""
    bed = paired
    old, _ = bed.lock.freshness(0.0)
    s = bed.session(counter=1, fresh=old)
    s.start(UNLOCK, MAX_AGE + 5)
    stats = bed.link.run([s], MAX_AGE + 5)
    assert stats.round_trips == 2
    assert s.first_dropped
    (est,) = [e for e in bed.link.phone_events[s.channel] if isinstance(e, SessionEstablished)]
    assert not est.resynced
    requests = [e.payload for e in bed.link.lock_events if type(e).__name__ == "RequestReceived"]
    assert requests == [UNLOCK]
    assert s.lock_fresh is not None
    assert s.lock_fresh[0] == bed.lock.freshness(MAX_AGE + 5)[0]
    s2 = bed.session(counter=s.next_counter, fresh=s.lock_fresh[0])
    s2.start(UNLOCK, MAX_AGE + 6)
    assert bed.link.run([s2], MAX_AGE + 6).round_trips == 1


def test_a_stale_empty_hs1_still_opens_a_session_for_pushes(paired: Testbed) -> None:
    """With no request to re-send, the phone proves the session live with an empty DATA,
    so the lock announces it (a listening gateway keeps hearing pushes)."""
    bed = paired
    old, _ = bed.lock.freshness(0.0)
    s = bed.session(counter=1, fresh=old)
    s.start(b"", 100.0)
    bed.link.run([s], 100.0)
    assert s.state is PhoneState.ESTABLISHED
    assert [cid for cid, _ in bed.lock.sessions()] == [s.channel]
    assert not [e for e in bed.link.lock_events if type(e).__name__ == "RequestReceived"]


def test_hs1_with_a_forged_fresh_value_does_not_decrypt(paired: Testbed) -> None:
    """The value is in the prologue: an attacker who swaps a captured HS1's stale value
    for the current one breaks the AEAD (HANDSHAKE/DECRYPT failure, nothing applied)."""
    bed = paired
    s = bed.session(counter=1, fresh=bed.lock.freshness(0.0)[0])
    s.start(UNLOCK, 0.0)
    r = Reassembler()
    (raw,) = [msg for f in s.data_to_send() if (msg := r.feed(parse_frame(f), 0.0)) is not None]
    hs1 = decode(raw)
    assert isinstance(hs1, Hs1)
    current, _ = bed.lock.freshness(MAX_AGE + 1)
    forged = Hs1(version=hs1.version, fresh=current, e=hs1.e, enc_s=hs1.enc_s,
                 enc_payload=hs1.enc_payload)
    events = []
    for frame in fragment(9, encode(forged), bed.mtu):
        events.extend(bed.lock.receive_data(frame, MAX_AGE + 1))
    (closed,) = [e for e in events if isinstance(e, SessionClosed)]
    assert closed.error is not None
    assert closed.error.code in (ErrorCode.DECRYPT_FAILED, ErrorCode.HANDSHAKE_FAILED)
    assert not [e for e in events if type(e).__name__ == "RequestReceived"]


# -- version 1 peers -------------------------------------------------------------------


def _v1(message: bytes) -> bytes:
    return message[:1] + b"\x01" + message[2:]


def test_a_version_1_hs1_gets_close_unsupported_version(bed: Testbed) -> None:
    """A v1 phone's HS1 (no freshness value, another prologue) is answered with
    CLOSE(UNSUPPORTED_VERSION), never left hanging."""
    hs1 = bytes([1, 1]) + bytes(32 + 48 + 24)  # the v1 layout: type, version 1, e, s, payload
    events = []
    for frame in fragment(3, hs1, bed.mtu):
        events.extend(bed.lock.receive_data(frame, 0.0))
    (closed,) = events
    assert isinstance(closed, SessionClosed)
    assert closed.error is not None
    assert closed.error.code is ErrorCode.UNSUPPORTED_VERSION
    r = Reassembler()
    (answer,) = [msg for f in bed.lock.data_to_send()
                 if (msg := r.feed(parse_frame(f), 0.0)) is not None]
    assert decode(answer) == Close(code=int(ErrorCode.UNSUPPORTED_VERSION))


def test_a_version_1_pair1_gets_close_unsupported_version(bed: Testbed) -> None:
    pair1 = encode(Pair1(version=2, code_ref=b"", sid=bytes(16), ya=bytes(32)))
    events = []
    for frame in fragment(4, _v1(pair1), bed.mtu):
        events.extend(bed.lock.receive_data(frame, 0.0))
    (closed,) = events
    assert isinstance(closed, SessionClosed)
    assert closed.error is not None
    assert closed.error.code is ErrorCode.UNSUPPORTED_VERSION
