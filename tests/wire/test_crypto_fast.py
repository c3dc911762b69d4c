"""The crypto fast path (issue 15, item 3) pinned to the reference it replaced.

* the one-exponentiation Elligator2 map (RFC 9380 G.2.1) equals the textbook map with
  two exponentiations (a Fermat inversion and a Legendre symbol) that it replaced;
* the lock's ephemeral key prepared while idle is used by the next HS2 / PAIR2 and
  never twice;
* the handshake payloads, read and written by hand, equal their declared layouts.
"""

from __future__ import annotations

import struct

import pytest
from construct import ConstructError
from hypothesis import given
from hypothesis import strategies as st

from ble_lock.testing.loopback import Loopback
from ble_lock.testing.testbed import TEST_LOCK_ID, TEST_SETUP_CODE, echo_app
from ble_lock.wire.endpoints.directory import InMemoryDirectory
from ble_lock.wire.endpoints.lock import LockEndpoint
from ble_lock.wire.endpoints.phone import PhonePairing, PhoneSession
from ble_lock.wire.errors import FramingError, HandshakeError
from ble_lock.wire.events import MessageReceived
from ble_lock.wire.security.cpace import elligator2_curve25519, map_to_curve_elligator2_curve25519
from ble_lock.wire.security.crypto import DeterministicRng, KeyPair, fingerprint
from ble_lock.wire.security.handshake import (
    _COUNTER,
    _FIRST,
    _REPLY,
    FirstPayload,
    HsStatus,
    ReplyPayload,
)

P = 2**255 - 19
A = 486662


def reference_elligator2(r: int) -> int:
    """The map as it was (RFC 9380 6.7.1, generic form): x1 = -A / (1 + 2 r^2) by a
    Fermat inversion, then a Legendre symbol of g(x1) by Euler's criterion."""
    tv = (1 + 2 * r * r) % P
    x1 = (-A * pow(tv, P - 2, P)) % P
    if x1 == 0:
        x1 = -A % P
    gx1 = (x1 * x1 * x1 + A * x1 * x1 + x1) % P
    if pow(gx1, (P - 1) // 2, P) in (0, 1):
        return x1
    return (-x1 - A) % P


field_elements = st.one_of(st.integers(min_value=0, max_value=P - 1),
                           st.sampled_from([0, 1, 2, P - 1, P - 2, (P - 1) // 2]))


@given(field_elements)
def test_one_exponentiation_map_equals_the_two_exponentiation_map(r: int) -> None:
    assert elligator2_curve25519(r) == reference_elligator2(r)


@given(field_elements)
def test_straight_line_map_gives_a_point_on_curve25519(r: int) -> None:
    xn, xd, y = map_to_curve_elligator2_curve25519(r)
    x = xn * pow(xd, -1, P) % P
    assert y * y % P == (x * x * x + A * x * x + x) % P
    # RFC 9380 6.7.1: sgn0(y) is 1 exactly when x is x1 (g(x1) square) -- the sign fix.
    gx1_square = x == reference_x1(r)
    assert (y & 1 == 1) == gx1_square or y == 0


def reference_x1(r: int) -> int:
    tv = (1 + 2 * r * r) % P
    return (-A * pow(tv, P - 2, P)) % P or (-A % P)


class CountingRng:
    """The lock's RNG, counting the bytes it hands out."""

    def __init__(self, seed: bytes) -> None:
        self._rng = DeterministicRng(seed)
        self.drawn = 0

    def token_bytes(self, n: int) -> bytes:
        self.drawn += n
        return self._rng.token_bytes(n)


def _lock_and_link(rng: CountingRng) -> tuple[LockEndpoint, Loopback, KeyPair]:
    phone_rng = DeterministicRng(b"phone")
    lock_key = KeyPair.generate(phone_rng)  # test keys; the lock's RNG counts only its own
    lock = LockEndpoint(lock_id=TEST_LOCK_ID, static_key=lock_key, rng=rng, mtu=247,
                        directory=InMemoryDirectory(setup_code=TEST_SETUP_CODE))
    return lock, Loopback(lock=lock, app=echo_app), lock_key


def test_prepared_ephemeral_takes_key_generation_off_the_unlock_turn() -> None:
    rng = CountingRng(b"lock")
    lock, link, lock_key = _lock_and_link(rng)
    phone_rng = DeterministicRng(b"phone2")
    phone = KeyPair.generate(phone_rng)
    pairing = PhonePairing(lock_id=TEST_LOCK_ID, code=TEST_SETUP_CODE, code_ref=b"", phone=phone,
                           rng=phone_rng, mtu=247,
                           expected_fingerprint=fingerprint(lock_key.public))
    assert lock.prepare_idle() is True
    assert lock.prepare_idle() is False  # one is ready: nothing more to do
    pairing.start(0.0)
    before = rng.drawn
    link.run([pairing], 0.0)
    assert pairing.lock_public == lock_key.public  # PAIR2's yb was the prepared key
    assert rng.drawn == before  # no randomness drawn while the phone waited

    publics = []
    for counter in (1, 2):
        assert lock.prepare_idle() is True  # the last one was consumed
        session = PhoneSession(lock_id=TEST_LOCK_ID, lock_public=lock_key.public, phone=phone,
                               counter=counter, rng=phone_rng, mtu=247, channel=4 + counter,
                               fresh=lock.freshness(1.0)[0])
        session.start(b"open", 1.0)
        before = rng.drawn
        link.transcript.clear()
        link.run([session], 1.0)
        assert rng.drawn == before
        got = [e for e in link.phone_events.get(session.channel, [])
               if isinstance(e, MessageReceived)]
        assert [e.payload for e in got] == [b"ok:open"]
        hs2 = next(f for d, f in link.transcript if d == "down")
        publics.append(hs2)
        session.close()
        link.run([session], 1.0)
    assert publics[0] != publics[1]  # a fresh ephemeral per session


def test_without_preparation_the_turn_draws_its_own_key() -> None:
    rng = CountingRng(b"lock")
    _lock, link, lock_key = _lock_and_link(rng)
    phone_rng = DeterministicRng(b"phone2")
    phone = KeyPair.generate(phone_rng)
    pairing = PhonePairing(lock_id=TEST_LOCK_ID, code=TEST_SETUP_CODE, code_ref=b"", phone=phone,
                           rng=phone_rng, mtu=247, expected_fingerprint=None)
    pairing.start(0.0)
    before = rng.drawn
    link.run([pairing], 0.0)
    assert pairing.lock_public == lock_key.public
    assert rng.drawn == before + 32  # yb drawn in the turn


# -- the handshake payloads: read and written by hand, pinned to their declared layouts


@given(counter=st.integers(0, 2**64 - 1), payload=st.binary(max_size=40))
def test_first_payload_by_hand_equals_its_layout(counter: int, payload: bytes) -> None:
    data = FirstPayload(counter=counter, payload=payload).encode()
    assert data == _FIRST.build({"counter": counter, "payload": payload})
    parsed = _FIRST.parse(data)
    assert FirstPayload.decode(data) == FirstPayload(counter=parsed.counter,
                                                     payload=parsed.payload)


@given(st.binary(max_size=12))
def test_short_first_payloads_are_refused_like_the_layout(data: bytes) -> None:
    try:
        _FIRST.parse(data)
    except (ConstructError, struct.error):
        with pytest.raises(FramingError):
            FirstPayload.decode(data)
    else:
        assert FirstPayload.decode(data).counter == _FIRST.parse(data).counter


@given(status=st.sampled_from(HsStatus), fresh=st.binary(min_size=16, max_size=16),
       fresh_for=st.integers(0, 255), counter=st.integers(0, 2**64 - 1),
       payload=st.binary(max_size=40))
def test_reply_payload_by_hand_equals_its_layout(status: HsStatus, fresh: bytes,
                                                 fresh_for: int, counter: int,
                                                 payload: bytes) -> None:
    resync = status is HsStatus.RESYNC
    reply = ReplyPayload(status=status, fresh=fresh, fresh_for=fresh_for,
                         lock_counter=counter if resync else None, payload=payload)
    rest = (_COUNTER.build({"counter": counter}) if resync else b"") + payload
    data = reply.encode()
    assert data == _REPLY.build({"status": status, "fresh": fresh, "fresh_for": fresh_for,
                                 "rest": rest})
    assert ReplyPayload.decode(data) == reply


@given(st.binary(max_size=30))
def test_any_reply_bytes_are_judged_like_the_layout(data: bytes) -> None:
    try:
        parsed = _REPLY.parse(data)
        status = HsStatus(parsed.status)
    except (ConstructError, struct.error, ValueError):
        with pytest.raises(HandshakeError):
            ReplyPayload.decode(data)
        return
    if status is HsStatus.RESYNC and len(parsed.rest) < 8:
        with pytest.raises(FramingError):
            ReplyPayload.decode(data)
        return
    got = ReplyPayload.decode(data)
    assert (got.status, got.fresh, got.fresh_for) == (status, parsed.fresh, parsed.fresh_for)
    assert got.payload == (parsed.rest[8:] if status is HsStatus.RESYNC else parsed.rest)
