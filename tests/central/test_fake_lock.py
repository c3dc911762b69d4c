"""Issue 10, item 1: a fake lock collects at most one HS1 per user action, and none of
what it collected works later (docs/protocol.md, "Freshness").

The v1 break: a fake lock that copied the real one's advertisement and info answered
every HS1 with CLOSE(CHANNEL_BUSY); the client re-sent its unlock in a new HS1 each time,
so one tap gave the attacker four working unlocks to replay whenever it liked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ble_lock.central.client import LockClient
from ble_lock.central.keystore import Keystore
from ble_lock.central.transport import DisconnectCallback, GattLink, NotifyCallback
from ble_lock.core.errors import ErrorCode, LockError
from ble_lock.core.model import EventKind
from ble_lock.testing.memory_lock import MemoryLock
from ble_lock.testing.waiting import yield_to_loop
from ble_lock.wire.link.framing import Reassembler, fragment, parse_frame
from ble_lock.wire.link.transport_messages import Close, Hs1, decode, encode
from ble_lock.wire.security.crypto import DeterministicRng
from ble_lock.wire.security.freshness import MAX_AGE
from ble_lock.wire.security.handshake import ResponderHandshake
from tests.central._phones import phones_for


class FakeLink:
    """The fake lock's side of one connection: it shows the real lock's info and fresh
    values (read live: the attacker relays them) and answers every message with
    CLOSE(code)."""

    def __init__(self, fake: FakeLock, on_notify: NotifyCallback) -> None:
        self._fake = fake
        self._on_notify = on_notify
        self._reassemblers: dict[int, Reassembler] = {}
        self.mtu = 247
        self.address = fake.real.address
        self.connected = True

    async def write(self, frame: bytes) -> None:
        await yield_to_loop()
        self._fake.frames.append(frame)
        r = self._reassemblers.setdefault(frame[0], Reassembler())
        message = r.feed(parse_frame(frame), 0.0)
        if message is None:
            return
        del self._reassemblers[frame[0]]
        self._fake.messages.append((frame[0], message))
        if message[0] != 0x7F:  # not the phone's own CLOSE
            for note in fragment(frame[0], encode(Close(code=int(self._fake.code))), self.mtu):
                self._on_notify(note)

    async def read_info(self) -> bytes:
        await yield_to_loop()
        return self._fake.real.info().encode()

    async def read_fresh(self) -> bytes:
        await yield_to_loop()
        self._fake.fresh_reads += 1
        return self._fake.real.fresh().encode()

    async def close(self) -> None:
        self.connected = False


class FakeLock:
    def __init__(self, real: MemoryLock, code: ErrorCode = ErrorCode.CHANNEL_BUSY) -> None:
        self.real = real
        self.code = code
        self.frames: list[bytes] = []
        self.messages: list[tuple[int, bytes]] = []
        self.fresh_reads = 0

    async def connect(self, on_notify: NotifyCallback, on_disconnect: DisconnectCallback
                      ) -> GattLink:
        return FakeLink(self, on_notify)

    def hs1_frames(self) -> list[list[bytes]]:
        """Every HS1 the phone wrote, as the frames to replay (on its own channel)."""
        return [fragment(cid, msg, 247) for cid, msg in self.messages if msg[0] == 0x01]

    def early_requests(self) -> int:
        """HS1s that carried a request (decrypted with the real lock's key: the test
        may, the attacker may not)."""
        count = 0
        for _, msg in self.messages:
            hs1 = decode(msg)
            if isinstance(hs1, Hs1):
                hs = ResponderHandshake(lock_id=self.real.lock_id, lock=self.real.key,
                                        rng=DeterministicRng(b"x"), fresh=hs1.fresh)
                _, first = hs.read_msg1(hs1)
                count += bool(first.payload)
        return count


def _unlocks(real: MemoryLock) -> int:
    return sum(1 for e in real.lock.read_events(limit=1000).events if e.kind is EventKind.UNLOCK)


def _replay(real: MemoryLock, fake: FakeLock) -> None:
    for frames in fake.hs1_frames():
        for frame in frames:
            real.server.receive_data(frame, real.clock.now())
        real.server.data_to_send()


async def _tap_unlock_at_the_fake(fake: FakeLock, home: Path) -> None:
    victim = LockClient(fake.connect, keystore=Keystore(home), lock_id=fake.real.lock_id,
                        timeout=5.0, max_retries=3, retry_delay=0.0)
    async with victim:
        with pytest.raises(LockError) as refused:
            await victim.unlock()
        assert refused.value.code is fake.code
        assert victim.engine.early_requests == 1
        assert victim.engine.sessions_opened == 4  # the first try and three retries


@pytest.mark.parametrize("code", [ErrorCode.CHANNEL_BUSY, ErrorCode.DECRYPT_FAILED,
                                  ErrorCode.SESSION_TIMEOUT])
async def test_a_fake_lock_gets_at_most_one_hs1_per_user_action(
        tmp_path: Path, code: ErrorCode) -> None:
    real = MemoryLock()
    async with phones_for(real, tmp_path) as phones:
        await phones.owner()
    fake = FakeLock(real, code)
    for _ in range(3):  # three taps
        await _tap_unlock_at_the_fake(fake, tmp_path / "owner")
    assert len(fake.hs1_frames()) == 12
    assert fake.early_requests() == 3  # one per tap; the retries' HS1s are empty
    assert fake.fresh_reads == 12  # every attempt read a fresh value first


async def _one_tap_at_a_fake_lock(tmp_path: Path) -> tuple[MemoryLock, FakeLock]:
    """A claimed lock, and a fake lock that collected the owner's one unlock tap."""
    real = MemoryLock()
    async with phones_for(real, tmp_path) as phones:
        await phones.owner()
    fake = FakeLock(real)
    await _tap_unlock_at_the_fake(fake, tmp_path / "owner")
    return real, fake


async def test_nothing_a_fake_lock_collected_works_later(tmp_path: Path) -> None:
    real, fake = await _one_tap_at_a_fake_lock(tmp_path)
    before = _unlocks(real)
    real.clock.advance(MAX_AGE)  # the attacker waits until the owner has left
    _replay(real, fake)
    assert _unlocks(real) == before
    assert real.server.endpoint.sessions() == []


async def test_within_30_s_a_fake_lock_can_relay_one_unlock_never_four(tmp_path: Path) -> None:
    """The documented relay residual, bounded: one tap, at most one unlock."""
    real, fake = await _one_tap_at_a_fake_lock(tmp_path)
    before = _unlocks(real)
    _replay(real, fake)
    assert _unlocks(real) == before + 1
