"""Secrets stay out of reprs; timers; error codes; the directory contract."""

from __future__ import annotations

import pytest

from ble_lock.core.errors import ErrorCode, LockError
from ble_lock.testing.testbed import TEST_SETUP_CODE, Testbed
from ble_lock.wire.endpoints.directory import InMemoryDirectory
from ble_lock.wire.errors import (
    IdentityMismatchError,
    PairingError,
    RemoteProtocolError,
    SessionClosedError,
    SessionTimeoutError,
    remote_error_for_code,
)
from ble_lock.wire.events import MessageReceived, RequestReceived, SessionClosed
from ble_lock.wire.security.crypto import DeterministicRng, KeyPair
from ble_lock.wire.security.handshake import FirstPayload, HsStatus, ReplyPayload


def test_secrets_do_not_appear_in_reprs(paired: Testbed) -> None:
    bed = paired
    key = KeyPair.from_private_bytes(bytes(range(32)))
    assert bytes(range(32)).hex() not in repr(key)
    assert str(bytes(range(32))) not in repr(key)
    directory = InMemoryDirectory(setup_code="9876-5432")
    directory.add_invite(b"i", "SECRET99")
    assert "9876" not in repr(directory)
    assert "SECRET99" not in repr(directory)
    for obj in (RequestReceived(channel=1, peer=None, payload=b"PIN=1234"),
                MessageReceived(channel=1, payload=b"PIN=1234"),
                FirstPayload(counter=1, payload=b"PIN=1234"),
                ReplyPayload(status=HsStatus.OK, fresh=bytes(16), fresh_for=30,
                                 payload=b"PIN=1234")):
        assert "1234" not in repr(obj)
    s = bed.session(counter=1)
    s.start(b"PIN=1234", 0.0)
    bed.link.run([s], 0.0)
    text = repr(bed.lock) + repr(s) + repr(bed.link.lock_events) + repr(vars(s))
    assert bed.lock_key.private_bytes().hex() not in text
    assert "1234" not in text
    assert TEST_SETUP_CODE not in repr(bed.pairing())


def test_protocol_errors_are_lock_errors_with_protocol_codes() -> None:
    err = remote_error_for_code(int(ErrorCode.IDENTITY_MISMATCH), "x")
    assert isinstance(err, IdentityMismatchError)
    assert isinstance(err, LockError)
    denial = remote_error_for_code(int(ErrorCode.LOCKED_OUT), "x", PairingError)
    assert type(denial) is PairingError
    assert denial.code is ErrorCode.LOCKED_OUT
    unknown = remote_error_for_code(250, "x")
    assert isinstance(unknown, SessionClosedError)
    for code in (ErrorCode.UNKNOWN_PEER, ErrorCode.CHANNEL_BUSY, ErrorCode.SESSION_TIMEOUT):
        assert 60 <= code < 80
        assert isinstance(remote_error_for_code(int(code), "x"), RemoteProtocolError)


def test_handshake_and_idle_timeouts_close_channels(paired: Testbed) -> None:
    bed = paired
    s = bed.session(counter=1)
    s.start(b"", 10.0)
    bed.link.run([s], 10.0)
    assert bed.lock.next_timer() == 130.0  # idle timeout of an established session
    events = bed.lock.handle_timer(130.0)
    assert isinstance(events[0], SessionClosed)
    assert isinstance(events[0].error, SessionTimeoutError)
    assert bed.lock.sessions() == []
    # The app never answered a request: the handshake timer frees the channel.
    bed.link.app = None
    s2 = bed.session(counter=2, now=200.0)
    s2.start(b"UNLOCK", 200.0)
    bed.link.run([s2], 200.0)
    assert s2.next_timer() == 230.0
    assert isinstance(bed.lock.handle_timer(230.0)[0], SessionClosed)
    with pytest.raises(SessionTimeoutError):
        s2.handle_timer(230.0)


def test_in_memory_directory_counter_is_strictly_increasing() -> None:
    d = InMemoryDirectory(setup_code="1234")
    peer = d.complete_pairing(b"", b"k" * 32)
    assert d.find_peer(b"k" * 32) is peer
    assert d.advance_counter(peer, 5)
    assert not d.advance_counter(peer, 5)
    assert not d.advance_counter(peer, 4)
    assert d.current_counter(peer) == 5
    assert d.complete_pairing(b"missing", b"j" * 32) is ErrorCode.CODE_ALREADY_USED


def test_deterministic_rng_is_reproducible() -> None:
    a, b = DeterministicRng(b"s"), DeterministicRng(b"s")
    assert [a.token_bytes(7), a.token_bytes(40)] == [b.token_bytes(7), b.token_bytes(40)]
    assert DeterministicRng(b"t").token_bytes(8) != DeterministicRng(b"s").token_bytes(8)
