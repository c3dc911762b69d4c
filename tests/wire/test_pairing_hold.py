"""Two-phase pairing, sans-IO (issue 14 item 1; docs/protocol.md "Interrupted pairing"):
``PhonePairing(hold=True)`` stops after PAIR2 with the lock's key and sends PAIR3 - the
message that makes the lock bind the phone - only on ``commit()``; a ``close()`` instead
leaves the lock with nothing bound and one failed attempt counted."""

from __future__ import annotations

import pytest

from ble_lock.testing.testbed import TEST_SETUP_CODE, Testbed, make_testbed
from ble_lock.wire.endpoints.directory import InMemoryDirectory
from ble_lock.wire.endpoints.phone import PhonePairing, PhoneState
from ble_lock.wire.errors import LocalProtocolError
from ble_lock.wire.events import PairingCompleted, PairingKeyReceived, PairingSucceeded
from ble_lock.wire.security.crypto import fingerprint


def _held(bed: Testbed) -> PhonePairing:
    pairing = PhonePairing(lock_id=bed.lock.lock_id, code=TEST_SETUP_CODE,
                           phone=bed.phone_key, rng=bed.rng, mtu=bed.mtu,
                           expected_fingerprint=fingerprint(bed.lock_key.public), hold=True)
    pairing.start(0.0)
    return pairing


def _directory(bed: Testbed) -> InMemoryDirectory:
    assert isinstance(bed.directory, InMemoryDirectory)
    return bed.directory


def test_a_held_pairing_reports_the_key_and_sends_nothing_until_commit() -> None:
    bed = make_testbed()
    pairing = _held(bed)
    bed.link.run([pairing], 0.0)
    (event,) = bed.link.phone_events[pairing.channel]
    assert event == PairingKeyReceived(channel=pairing.channel,
                                       lock_public=bed.lock_key.public)
    assert pairing.state is PhoneState.HELD
    assert pairing.next_timer() is None  # the lock's handshake timeout bounds the wait
    assert _directory(bed).peers == {}  # nothing bound: PAIR3 not sent
    assert not any(isinstance(e, PairingCompleted) for e in bed.link.lock_events)

    pairing.commit(1.0)
    bed.link.run([pairing], 1.0)
    assert pairing.state is PhoneState.DONE
    assert isinstance(bed.link.phone_events[pairing.channel][-1], PairingSucceeded)
    assert bed.phone_key.public in _directory(bed).peers
    with pytest.raises(LocalProtocolError):
        pairing.commit(2.0)  # once


def test_closing_a_held_pairing_binds_nothing_and_counts_one_attempt() -> None:
    bed = make_testbed()
    pairing = _held(bed)
    bed.link.run([pairing], 0.0)
    pairing.close()
    bed.link.run([pairing], 0.0)
    assert _directory(bed).peers == {}
    assert _directory(bed).failure_log == [b""]  # R-SEC-1's pairing limiter: one guess
    again = _held(bed)  # the lock's one pairing slot is free at once
    bed.link.run([again], 0.0)
    assert again.state is PhoneState.HELD


def test_commit_before_the_lock_answered_is_refused() -> None:
    bed = make_testbed()
    pairing = _held(bed)  # PAIR1 queued, no PAIR2 yet
    with pytest.raises(LocalProtocolError):
        pairing.commit(0.0)
