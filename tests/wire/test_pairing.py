"""Pairing properties (issue 3): passive recordings reveal nothing and allow no offline
guessing, an active attacker gets one guess per attempt and every failure counts toward
the lockout (R-LOCKOUT), a man in the middle is caught with the QR fingerprint."""

from __future__ import annotations

import base64

import pytest

from ble_lock.core.errors import ErrorCode, InvalidInputError
from ble_lock.core.hashing import derive_code_secret, invite_context, setup_context
from ble_lock.core.hashing import normalize_code as core_normalize_code
from ble_lock.testing.loopback import Loopback
from ble_lock.testing.testbed import TEST_LOCK_ID, TEST_SETUP_CODE, Testbed, make_testbed
from ble_lock.wire.endpoints.directory import InMemoryDirectory
from ble_lock.wire.endpoints.lock import LockEndpoint
from ble_lock.wire.errors import (
    ChannelBusyError,
    DecryptError,
    IdentityMismatchError,
    LocalProtocolError,
    PairingError,
    SessionTimeoutError,
)
from ble_lock.wire.events import PairingCompleted, SessionClosed
from ble_lock.wire.link.framing import Reassembler, parse_frame
from ble_lock.wire.link.transport_messages import PROTOCOL_VERSION, MsgType, Pair1, Pair2, decode
from ble_lock.wire.security.cpace import calculate_generator, isk_ir, scalar_mult
from ble_lock.wire.security.crypto import CipherState, KeyPair, fingerprint, hkdf
from ble_lock.wire.security.pairing import (
    QrPayload,
    invite_transport_code,
    normalize_code,
    pairing_secret,
    setup_transport_code,
    transport_code,
)


def _dir(bed: Testbed) -> InMemoryDirectory:
    assert isinstance(bed.directory, InMemoryDirectory)
    return bed.directory


def _messages(frames: list[bytes]) -> list[bytes]:
    r = Reassembler()
    out = []
    for f in frames:
        m = r.feed(parse_frame(f), 0.0)
        if m is not None:
            out.append(m)
    return out


def _wrong_code_attempt(bed: Testbed, now: float) -> None:
    p = bed.pairing(code="0000-0000", phone=KeyPair.generate(bed.rng))
    p.start(now)
    with pytest.raises(PairingError) as info:
        bed.link.run([p], now)
    assert info.value.code is ErrorCode.PAIRING_FAILED
    bed.link.run([p], now)  # deliver the phone's CLOSE


def test_wrong_code_fails_and_counts_once(bed: Testbed) -> None:
    _wrong_code_attempt(bed, 1.0)
    assert _dir(bed).failure_log == [b""]
    assert not _dir(bed).peers
    closed = [e for e in bed.link.lock_events if isinstance(e, SessionClosed)]
    assert len(closed) == 1
    assert closed[0].error is not None
    assert closed[0].error.code is ErrorCode.PAIRING_FAILED


def test_lockout_after_repeated_failures_refuses_even_the_right_code(bed: Testbed) -> None:
    for i in range(5):
        _wrong_code_attempt(bed, float(i))
    p = bed.pairing()
    p.start(10.0)
    with pytest.raises(PairingError) as info:
        bed.link.run([p], 10.0)
    assert info.value.code is ErrorCode.LOCKED_OUT
    assert len(_dir(bed).failure_log) == 5  # a refused attempt makes no guess
    bed.pair(now=10.0 + 180.0)  # the lockout ends


def test_attempt_abandoned_after_the_locks_answer_counts_as_a_failure(bed: Testbed) -> None:
    """An attacker who takes PAIR2 and walks away has made its one guess."""
    p = bed.pairing(code="9999-9999")
    p.start(0.0)
    for frame in p.data_to_send():
        bed.lock.receive_data(frame, 0.0)
    assert bed.lock.data_to_send()  # PAIR2 is out
    assert _dir(bed).failure_log == []
    events = bed.lock.handle_timer(30.0)
    assert isinstance(events[0], SessionClosed)
    assert isinstance(events[0].error, SessionTimeoutError)
    assert _dir(bed).failure_log == [b""]


def test_one_pairing_at_a_time(bed: Testbed) -> None:
    first = bed.pairing(channel=1)
    first.start(0.0)
    for frame in first.data_to_send():
        bed.lock.receive_data(frame, 0.0)
    bed.lock.data_to_send()
    second = bed.pairing(channel=2)
    second.start(0.0)
    events = [e for f in second.data_to_send() for e in bed.lock.receive_data(f, 0.0)]
    assert isinstance(events[-1], SessionClosed)
    assert isinstance(events[-1].error, ChannelBusyError)


def test_unknown_invite_id_looks_like_a_wrong_code_and_counts(bed: Testbed) -> None:
    p = bed.pairing(code="ABCD-EFGH", code_ref=b"nope")
    p.start(0.0)
    with pytest.raises(PairingError) as info:
        bed.link.run([p], 0.0)
    assert info.value.code is ErrorCode.PAIRING_FAILED
    bed.link.run([p], 0.0)  # deliver the phone's CLOSE
    assert _dir(bed).failure_log == [b"nope"]


class _DenyingDirectory(InMemoryDirectory):
    """The code is right but the core denies the binding (e.g. capacity full)."""

    def complete_pairing(self, code_ref: bytes, phone_key: bytes) -> object:
        return ErrorCode.CAPACITY_FULL


def test_denied_binding_is_reported_without_counting_a_guess() -> None:
    directory = _DenyingDirectory(setup_code=TEST_SETUP_CODE)
    bed = make_testbed(directory=directory)
    p = bed.pairing()
    p.start(1.0)
    with pytest.raises(PairingError) as info:
        bed.link.run([p], 1.0)
    assert info.value.code is ErrorCode.CAPACITY_FULL
    assert directory.failure_log == []
    assert not directory.peers


def test_man_in_the_middle_is_detected_with_the_qr_fingerprint() -> None:
    """The attacker knows the code (e.g. read the screen) and runs its own 'lock'."""
    bed = make_testbed()
    mitm = LockEndpoint(lock_id=TEST_LOCK_ID, static_key=KeyPair.generate(bed.rng),
                        directory=InMemoryDirectory(setup_code=TEST_SETUP_CODE), rng=bed.rng)
    link = Loopback(lock=mitm)
    p = bed.pairing()  # expects the real lock's fingerprint (from the QR)
    p.start(0.0)
    with pytest.raises(IdentityMismatchError) as info:
        link.run([p], 0.0)
    assert info.value.code is ErrorCode.IDENTITY_MISMATCH
    link.run([p], 0.0)  # the phone's CLOSE: it never sent its key to the impostor
    assert not any(isinstance(e, PairingCompleted) for e in link.lock_events)
    # Without the fingerprint the phone could not tell (why the QR carries it).
    blind = bed.pairing(check_fp=False)
    blind.start(1.0)
    link.run([blind], 1.0)
    assert blind.lock_public != bed.lock_key.public


def _record_pairing(code: str, seed: bytes) -> tuple[Testbed, list[bytes]]:
    bed = make_testbed(seed=seed)
    _dir(bed).setup_code = code
    p = bed.pairing(code=code, check_fp=False)
    p.start(0.0)
    bed.link.run([p], 0.0)
    return bed, [f for _, f in bed.link.transcript]


def test_passive_recording_contains_no_code_or_key() -> None:
    bed, frames = _record_pairing(TEST_SETUP_CODE, b"rec")
    blob = b"".join(frames)
    secrets = [TEST_SETUP_CODE.encode(), normalize_code(TEST_SETUP_CODE).encode(),
               pairing_secret(TEST_SETUP_CODE), bed.phone_key.private_bytes(),
               bed.lock_key.private_bytes(), bed.phone_key.public, bed.lock_key.public]
    for secret in secrets:
        assert secret not in blob
    # Not even the code-derived generator (which would allow a dictionary check).
    for msg in _messages([f for d, f in bed.link.transcript if d == "up"]):
        p1 = decode(msg)
        if isinstance(p1, Pair1):
            g = calculate_generator(pairing_secret(TEST_SETUP_CODE), b"BLELOCK1 pairing"
                                    + TEST_LOCK_ID, p1.sid)
            assert g not in blob


def test_passive_observer_cannot_test_code_guesses_offline() -> None:
    """Everything a passive observer can compute from the recording is the same
    computation for the right and for a wrong code: there is no check that succeeds only
    for the right one. (The argument: docs/protocol.md, "Security".)"""
    bed, _ = _record_pairing(TEST_SETUP_CODE, b"passive")
    up = [decode(m) for m in _messages([f for d, f in bed.link.transcript if d == "up"])]
    down = [decode(m) for m in _messages([f for d, f in bed.link.transcript if d == "down"])]
    p1, p2 = up[0], down[0]
    assert isinstance(p1, Pair1)
    assert isinstance(p2, Pair2)
    ci = b"BLELOCK1 pairing" + TEST_LOCK_ID
    for guess in (TEST_SETUP_CODE, "1111-2222", "4711-0816"):
        g = calculate_generator(pairing_secret(guess), ci, p1.sid)
        # Without a scalar, the best an observer can try: the points themselves and
        # their "products" with the guessed generator as keys. None opens the box.
        for k in (p1.ya, p2.yb, g, scalar_mult(p1.ya[:32], p2.yb)):
            isk = isk_ir(p1.sid, k, p1.ya, p1.code_ref, p2.yb, TEST_LOCK_ID)
            recv = CipherState(hkdf(b"", isk, 64, info=b"BLELOCK1 pairing keys")[:32])
            with pytest.raises(DecryptError):
                recv.decrypt(bytes([MsgType.PAIR2]), p2.confirm)


def test_active_attacker_gets_one_guess_per_attempt(bed: Testbed) -> None:
    """An attacker playing the phone commits to one guess in Ya. With the lock's answer
    in hand it cannot test any other code offline -- not even the right one."""
    attacker_ya = bytes(range(32))
    ci = b"BLELOCK1 pairing" + TEST_LOCK_ID
    sid = bytes(16)
    g_guess = calculate_generator(pairing_secret("1234-0000"), ci, sid)
    pair1 = Pair1(version=PROTOCOL_VERSION, code_ref=b"", sid=sid,
                  ya=scalar_mult(attacker_ya, g_guess))
    from ble_lock.wire.link.framing import fragment
    from ble_lock.wire.link.transport_messages import encode
    for frame in fragment(5, encode(pair1), 23):
        bed.lock.receive_data(frame, 0.0)
    (pair2,) = [decode(m) for m in _messages(bed.lock.data_to_send())]
    assert isinstance(pair2, Pair2)
    for guess in ("1234-0000", TEST_SETUP_CODE, "1234-0001"):
        k = scalar_mult(attacker_ya, pair2.yb)
        isk = isk_ir(sid, k, pair1.ya, b"", pair2.yb, TEST_LOCK_ID)
        recv = CipherState(hkdf(b"", isk, 64, info=b"BLELOCK1 pairing keys")[:32])
        with pytest.raises(DecryptError):
            recv.decrypt(bytes([MsgType.PAIR2]), pair2.confirm)
        del guess  # the attacker's scalar fixes its guess; varying it changes nothing
    bed.lock.handle_timer(60.0)
    assert _dir(bed).failure_log == [b""]


def test_qr_payload_round_trip_and_redaction() -> None:
    key = KeyPair.from_private_bytes(bytes(range(32)))
    qr = QrPayload(lock_id=TEST_LOCK_ID, setup_code="4711-0815",
                   fingerprint=fingerprint(key.public))
    text = qr.to_text()
    assert text == "BLELOCK1:0BADC0DE:47110815:" + fingerprint(key.public).hex().upper()
    assert QrPayload.parse(text) == QrPayload(lock_id=TEST_LOCK_ID, setup_code="47110815",
                                              fingerprint=fingerprint(key.public))
    assert "4711" not in repr(qr)
    for bad in ("BLELOCK2:0BADC0DE:47110815:" + "00" * 16, "BLELOCK1:0BAD:47110815:" + "00" * 16,
                "BLELOCK1:0BADC0DE:47110815", "BLELOCK1:0BADC0DE:4!:" + "00" * 16):
        with pytest.raises(LocalProtocolError):
            QrPayload.parse(bad)


def test_one_code_normalisation_rule_for_every_use() -> None:
    """docs/protocol.md "Codes": spaces, tabs, CR, LF and '-' are deleted, ASCII letters
    upper-cased; 4-32 of 0-9 A-Z or refused. The same function serves the derived secret,
    the transport code, the PRS and the QR text."""
    assert core_normalize_code is normalize_code
    assert normalize_code(" 4711-08\t15\n") == "47110815"
    assert normalize_code("ab-cd") == "ABCD"
    for bad in ("471", "x" * 33, "4711_0815", "straße1", "ａｂｃｄ", "4711.0815"):
        with pytest.raises(InvalidInputError):
            normalize_code(bad)
    context = setup_context(TEST_LOCK_ID)
    assert derive_code_secret("4711-0815", context) == derive_code_secret("47 11 08 15", context)
    assert setup_transport_code("4711-0815", TEST_LOCK_ID) == setup_transport_code(
        "47110815", TEST_LOCK_ID)
    assert pairing_secret("ab-cd") == b"BLELOCK1 code ABCD"
    with pytest.raises(LocalProtocolError) as info:
        setup_transport_code("straße1", TEST_LOCK_ID)
    assert info.value.code is ErrorCode.INVALID_ARGUMENT


def test_transport_code_is_32_base32_letters_without_padding() -> None:
    code = transport_code(bytes(range(32)))
    assert len(code) == 32
    assert set(code) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert code == base64.b32encode(bytes(range(20))).decode()
    assert invite_transport_code(7, "8301927465") == transport_code(
        derive_code_secret("8301927465", invite_context(7)))
