"""An unmodified third-party Noise library (``noiseprotocol``, public API only) is the
phone: it opens a session with our real lock (core ``Lock`` + ``LockServer``), unlocks in
HS1, then exchanges DATA both ways. Only the outer bytes around Noise's own messages are
built here, from ``docs/protocol.md`` ("Transport messages", "Sessions", "Freshness"):
the type byte, the clear header of HS1 (version, the lock's freshness value), the Noise
prologue, the HS1 payload's counter and HS2's status byte and freshness value.

If this test breaks, a phone built on a standard Noise library no longer works with the
lock: the spec changed in a way such a phone cannot follow.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from ble_lock.core.errors import ErrorCode
from ble_lock.testing.memory_lock import MemoryLock
from ble_lock.testing.phone import LOCK_ID, Phone, claimed_world
from ble_lock.wire import messages as m
from ble_lock.wire.link.framing import Reassembler, fragment, parse_frame
from ble_lock.wire.link.gatt import FreshValue
from ble_lock.wire.link.transport_messages import FRESH_LEN, PROTOCOL_VERSION, MsgType
from ble_lock.wire.security.handshake import prologue

noise_connection = pytest.importorskip("noise.connection")
NoiseConnection = noise_connection.NoiseConnection
Keypair = noise_connection.Keypair

CHANNEL = 0x42
PROTOCOL = b"Noise_IK_25519_ChaChaPoly_SHA256"


def _read_fresh(world: MemoryLock) -> bytes:
    """What the phone reads from the fresh characteristic (17 bytes: value, seconds)."""
    value, fresh_for = world.server.endpoint.freshness(world.now)
    read = FreshValue.decode(FreshValue(fresh=value, fresh_for=fresh_for).encode())
    return read.fresh


def _noise_phone(world: MemoryLock, phone: Phone, fresh: bytes) -> Any:
    assert phone.lock_public is not None
    conn = NoiseConnection.from_name(PROTOCOL)
    conn.set_as_initiator()
    conn.set_keypair_from_private_bytes(Keypair.STATIC, phone.key.private_bytes())
    conn.set_keypair_from_public_bytes(Keypair.REMOTE_STATIC, phone.lock_public)
    conn.set_prologue(prologue(LOCK_ID, fresh))
    conn.start_handshake()
    return conn


def _hs1(fresh: bytes, noise_message: bytes) -> bytes:
    """HS1 = type 0x01, version, the lock's freshness value[16], then Noise IK message 1
    (e, enc(s), enc(payload1))."""
    return bytes([MsgType.HS1, PROTOCOL_VERSION]) + fresh + noise_message


def _payload2(data: bytes) -> tuple[int, bytes, int, bytes]:
    """HS2's payload: status u8, the lock's freshness value[16], valid_for u8, the rest."""
    return data[0], data[1:1 + FRESH_LEN], data[1 + FRESH_LEN], data[2 + FRESH_LEN:]


class Radio:
    """The phone's end of the air: frames up to the lock, messages of our channel down."""

    def __init__(self, world: MemoryLock, channel: int = CHANNEL) -> None:
        self.world = world
        self.channel = channel
        self.reassembler = Reassembler()

    def exchange(self, message: bytes) -> list[bytes]:
        """Send one transport message; return the lock's complete messages on our channel."""
        for frame in fragment(self.channel, message, self.world.mtu):
            self.world.server.receive_data(frame, self.world.now)
        out = []
        for frame in self.world.server.data_to_send():
            parsed = parse_frame(frame)
            if parsed.channel != self.channel:
                continue
            got = self.reassembler.feed(parsed, self.world.now)
            if got is not None:
                out.append(got)
        return out


def _request(request_id: bytes, body: m.RequestBody) -> bytes:
    return m.encode(m.Request(request_id=request_id, body=body))


def _responses(payloads: list[bytes]) -> dict[bytes, m.Response]:
    out = {}
    for p in payloads:
        msg = m.decode_from_lock(p)
        if isinstance(msg, m.Response):
            out[msg.request_id] = msg
    return out


def _open_with_unlock(world: MemoryLock, owner: Phone
                      ) -> tuple[Any, Radio, m.Response, list[m.PushedEvent]]:
    fresh = _read_fresh(world)
    conn = _noise_phone(world, owner, fresh)
    radio = Radio(world)
    payload1 = owner.counter.to_bytes(8, "big") + _request(b"U" * 8, m.Unlock())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a production-like initiator: no preset ephemeral
        msg1 = bytes(conn.write_message(payload1))
    hs2, *pushed = radio.exchange(_hs1(fresh, msg1))
    assert hs2[0] == MsgType.HS2
    status, fresh2, valid_for, rest = _payload2(bytes(conn.read_message(hs2[1:])))
    assert conn.handshake_finished
    assert status == 0  # status OK: the request was accepted
    assert (fresh2, valid_for) == world.server.endpoint.freshness(world.now)
    response = m.decode_from_lock(rest)
    assert isinstance(response, m.Response)
    assert all(d[0] == MsgType.DATA for d in pushed)
    events = [m.decode_from_lock(conn.decrypt(d[1:]))
              for d in pushed]
    assert all(isinstance(e, m.PushedEvent) for e in events)
    return conn, radio, response, [e for e in events if isinstance(e, m.PushedEvent)]


def test_third_party_noise_phone_unlocks_in_hs1_and_talks_in_data() -> None:
    world, owner = claimed_world()
    conn, radio, unlocked, pushed = _open_with_unlock(world, owner)
    assert unlocked.request_id == b"U" * 8
    assert unlocked.ok
    assert unlocked.body == m.Unlocked(user_number=1)
    assert not world.lock.locked
    # HS2 told this phone the bolt is open: the lock pushes it no StateChanged on top
    # (issue 15: no redundant push to the session that asked). The DATA the library
    # opens in the lock -> phone direction is checked with the responses below.
    assert pushed == []

    # DATA: standard Noise transport messages (empty associated data, implicit nonce).
    data = conn.encrypt(_request(b"W" * 8, m.WhoAmI()))
    down = radio.exchange(bytes([MsgType.DATA]) + data)
    assert down
    assert all(d[0] == MsgType.DATA for d in down)
    plain = [conn.decrypt(d[1:]) for d in down]
    whoami = _responses(plain)[b"W" * 8]
    assert whoami.ok
    assert isinstance(whoami.body, m.UserInfo)
    assert whoami.body.user_number == 1

    # And another request after the lock's pushes: the nonces stay in step.
    data = conn.encrypt(_request(b"L" * 8, m.LockDoor()))
    down = radio.exchange(bytes([MsgType.DATA]) + data)
    plain = [conn.decrypt(d[1:]) for d in down]
    assert _responses(plain)[b"L" * 8].ok
    assert world.lock.locked

    # The phone's normal end: CLOSE(SESSION_CLOSED); the lock answers nothing.
    assert radio.exchange(bytes([MsgType.CLOSE, ErrorCode.SESSION_CLOSED])) == []
    assert world.server.endpoint.sessions() == []


def test_tampered_data_closes_with_decrypt_failed() -> None:
    """A DATA whose tag does not verify closes the session with DECRYPT_FAILED (63)."""
    world, owner = claimed_world()
    conn, radio, _, _ = _open_with_unlock(world, owner)
    good = conn.encrypt(_request(b"W" * 8, m.WhoAmI()))
    tampered = bytes([MsgType.DATA]) + good[:-1] + bytes([good[-1] ^ 1])
    assert radio.exchange(tampered) == [bytes([MsgType.CLOSE, ErrorCode.DECRYPT_FAILED])]
    assert world.server.endpoint.sessions() == []


def test_handshake_failed_versus_decrypt_failed() -> None:
    """docs/protocol.md, "CLOSE codes": a tag that does not verify is
    DECRYPT_FAILED, in HS1 as in DATA; HANDSHAKE_FAILED is a handshake that fails
    without a tag check (here: a low-order ephemeral key)."""
    world, owner = claimed_world()
    fresh = _read_fresh(world)
    conn = _noise_phone(world, owner, fresh)
    msg1 = bytes(conn.write_message(owner.counter.to_bytes(8, "big")))
    flipped = msg1[:-1] + bytes([msg1[-1] ^ 1])
    assert Radio(world).exchange(_hs1(fresh, flipped)) == [
        bytes([MsgType.CLOSE, ErrorCode.DECRYPT_FAILED])]
    low_order = bytes(32) + msg1[32:]  # e = 0: X25519 gives the all-zero secret
    assert Radio(world).exchange(_hs1(fresh, low_order)) == [
        bytes([MsgType.CLOSE, ErrorCode.HANDSHAKE_FAILED])]


def test_third_party_noise_phone_follows_a_resync() -> None:
    """A stale counter gets HS2 status RESYNC: 75 bytes, the lock's freshness value and
    counter, no response; the library's session is established all the same and the
    request goes in DATA."""
    world, owner = claimed_world()
    _open_with_unlock(world, owner)  # counter 1 is now used
    fresh = _read_fresh(world)
    conn = _noise_phone(world, owner, fresh)
    radio = Radio(world, channel=CHANNEL + 1)
    payload1 = (1).to_bytes(8, "big") + _request(b"X" * 8, m.WhoAmI())
    hs2, *rest = radio.exchange(_hs1(fresh, bytes(conn.write_message(payload1))))
    assert rest == []  # the dropped request was not passed up, nothing was pushed
    assert hs2[0] == MsgType.HS2
    assert len(hs2) == 75
    status, fresh2, valid_for, tail = _payload2(bytes(conn.read_message(hs2[1:])))
    assert (status, tail) == (1, (1).to_bytes(8, "big"))  # RESYNC, lock counter 1
    assert (fresh2, valid_for) == world.server.endpoint.freshness(world.now)
    down = radio.exchange(bytes([MsgType.DATA]) + conn.encrypt(_request(b"X" * 8, m.WhoAmI())))
    whoami = _responses([conn.decrypt(d[1:]) for d in down])[b"X" * 8]
    assert whoami.ok


def test_third_party_noise_phone_follows_a_stale() -> None:
    """R-SEC-1 (issue 10): an HS1 naming an expired freshness value gets HS2 status
    STALE: 67 bytes, the lock's current value, no response, the request never applied.
    The library's session is established all the same; the request goes in DATA."""
    world, owner = claimed_world()
    old = _read_fresh(world)
    world.clock.advance(31.0)  # past the value's 30 s: the lock no longer accepts it
    conn = _noise_phone(world, owner, old)
    radio = Radio(world)
    payload1 = owner.counter.to_bytes(8, "big") + _request(b"U" * 8, m.Unlock())
    hs2, *rest = radio.exchange(_hs1(old, bytes(conn.write_message(payload1))))
    assert rest == []  # nothing applied, nothing pushed
    assert world.lock.locked
    assert hs2[0] == MsgType.HS2
    assert len(hs2) == 67
    status, fresh, valid_for, tail = _payload2(bytes(conn.read_message(hs2[1:])))
    assert conn.handshake_finished
    assert (status, tail) == (2, b"")  # STALE, no response
    assert fresh != old
    assert (fresh, valid_for) == world.server.endpoint.freshness(world.now)
    down = radio.exchange(bytes([MsgType.DATA]) + conn.encrypt(_request(b"U" * 8, m.Unlock())))
    unlocked = _responses([conn.decrypt(d[1:]) for d in down])[b"U" * 8]
    assert unlocked.ok
    assert not world.lock.locked


def test_channel_zero_is_never_a_channel() -> None:
    """A write on channel 0 is refused with a typed error and answered by nothing: there is
    no channel to send a CLOSE on (docs/protocol.md, "Channels")."""
    from ble_lock.wire.errors import FramingError

    world, _ = claimed_world()
    hs1_start = fragment(1, _hs1(bytes(FRESH_LEN), bytes(80)), world.mtu)[0]
    with pytest.raises(FramingError):
        world.server.receive_data(b"\x00" + hs1_start[1:], world.now)
    with pytest.raises(FramingError):
        world.server.receive_data(b"", world.now)
    assert world.server.data_to_send() == []
    assert world.server.endpoint.sessions() == []
