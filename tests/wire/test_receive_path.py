"""Issue 10, item 2: nothing a peer sends lets anything but the protocol error type
escape the lock's receive path -- storage failures and bugs behind the directory
included -- and every failure closes its channel (docs/protocol.md, "Security"). At the
endpoint, with a directory that raises; out-of-range counters through the real core
directory are in test_counter_range.py.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

import pytest

from ble_lock.core.errors import ErrorCode
from ble_lock.testing.testbed import TEST_SETUP_CODE, make_testbed
from ble_lock.wire.endpoints.directory import InMemoryDirectory
from ble_lock.wire.errors import RemoteProtocolError
from ble_lock.wire.events import SessionClosed

FAILURES: list[type[Exception]] = [OverflowError, sqlite3.OperationalError, RuntimeError,
                                   KeyError, AssertionError, ValueError, MemoryError,
                                   ZeroDivisionError]


@dataclass(slots=True, kw_only=True)
class FlakyDirectory(InMemoryDirectory):
    """A directory whose ``broken`` methods raise ``failure`` (a full disk, a bug)."""

    broken: set[str] = field(default_factory=set)
    failure: type[Exception] = RuntimeError

    def _maybe(self, name: str) -> None:
        if name in self.broken:
            raise self.failure(f"{name} failed with secret=4711")

    def find_peer(self, phone_key: bytes) -> object | None:
        self._maybe("find_peer")
        return InMemoryDirectory.find_peer(self, phone_key)

    def advance_counter(self, peer: object, counter: int) -> bool:
        self._maybe("advance_counter")
        return InMemoryDirectory.advance_counter(self, peer, counter)

    def pairing_refusal(self, code_ref: bytes, now: float) -> ErrorCode | None:
        self._maybe("pairing_refusal")
        return InMemoryDirectory.pairing_refusal(self, code_ref, now)

    def complete_pairing(self, code_ref: bytes, phone_key: bytes) -> object:
        self._maybe("complete_pairing")
        return InMemoryDirectory.complete_pairing(self, code_ref, phone_key)

    def record_pairing_failure(self, code_ref: bytes, now: float) -> None:
        self._maybe("record_pairing_failure")
        InMemoryDirectory.record_pairing_failure(self, code_ref, now)


@pytest.mark.parametrize("method", ["find_peer", "advance_counter"])
def test_eight_failing_peers_in_a_row_leave_bluetooth_working(
        method: str, caplog: pytest.LogCaptureFixture) -> None:
    """The v1 break: eight exceptions escaping ``receive_data`` left eight dead channels
    and Bluetooth refused everyone until a restart. Now each is a typed CLOSE(INTERNAL)
    on its own channel, logged without its text, and the ninth phone gets in."""
    directory = FlakyDirectory(setup_code=TEST_SETUP_CODE)
    bed = make_testbed(directory=directory)
    bed.pair()
    directory.broken.add(method)
    for i, failure in enumerate(FAILURES):
        directory.failure = failure
        s = bed.session(counter=10 + i, channel=20 + i)
        s.start(b"UNLOCK", 0.0)
        with pytest.raises(RemoteProtocolError) as closed:
            bed.link.run([s], 0.0)  # the phone hears CLOSE(INTERNAL)
        assert closed.value.code is ErrorCode.INTERNAL
    assert bed.lock.internal_errors == len(FAILURES)
    assert bed.lock.sessions() == []
    closes = [e for e in bed.link.lock_events if isinstance(e, SessionClosed)]
    assert len(closes) == len(FAILURES)
    assert all(e.error is not None and e.error.code is ErrorCode.INTERNAL for e in closes)
    assert "secret=4711" not in caplog.text
    directory.broken.clear()
    s = bed.session(counter=100, channel=99)
    s.start(b"UNLOCK", 1.0)
    bed.link.run([s], 1.0)
    assert [cid for cid, _ in bed.lock.sessions()] == [99]


def test_a_failing_pairing_store_closes_only_that_channel() -> None:
    directory = FlakyDirectory(setup_code=TEST_SETUP_CODE, broken={"complete_pairing"})
    bed = make_testbed(directory=directory)
    p = bed.pairing(channel=5)
    p.start(0.0)
    with pytest.raises(RemoteProtocolError) as closed:
        bed.link.run([p], 0.0)
    assert closed.value.code is ErrorCode.INTERNAL
    directory.broken = {"record_pairing_failure"}  # even settling the attempt may fail
    p2 = bed.pairing(code="0000-0000", channel=6)
    p2.start(1.0)
    with pytest.raises(RemoteProtocolError):
        bed.link.run([p2], 1.0)  # a wrong code: the phone gives up after PAIR2
    for frame in p2.data_to_send():  # its CLOSE settles the attempt on the lock
        assert bed.lock.receive_data(frame, 1.0)
    assert bed.lock.internal_errors == 2
    directory.broken.clear()
    bed.pair(now=2.0)
    assert bed.lock.next_timer() is None  # no channel left behind

