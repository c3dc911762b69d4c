"""The lock's side of the secure transport: one endpoint, many channels (sans-IO).

The BLE adapter feeds every write to the command characteristic into
:meth:`LockEndpoint.receive_data` and notifies every value of
:meth:`LockEndpoint.data_to_send` on the response characteristic. Each channel (the
first byte of a frame, picked at random by the phone) runs its own state machine; a
failure closes that channel only (a CLOSE message with the error code is sent, a
:class:`~ble_lock.wire.events.SessionClosed` event returned) and never raises.

State table (``_TABLE``): every (state, message type) pair not listed closes the
channel with :class:`~ble_lock.wire.errors.UnknownMessageError`.

Freshness (``docs/protocol.md``, "Freshness"): the endpoint keeps the lock's freshness
values (:class:`~ble_lock.wire.security.freshness.Freshness`, a new one every 15 s, the
current and the previous accepted); :meth:`LockEndpoint.freshness` is what the fresh
characteristic shows. An HS1 naming a value no longer accepted gets an authenticated
HS2 ``STALE`` and its request is dropped unapplied.

Flood bound ("Channels"): a channel counts as *authenticated* once its session is
announced (a fresh HS1 accepted, or a valid DATA); every other channel (reassembling,
pairing, or a session after ``STALE``/``RESYNC`` that has not proven itself yet) is
unauthenticated and ends within the handshake timeout. When the table is full, a new
START evicts the unauthenticated channel that has been quiet longest (never a session,
never the one pairing in progress).

Receive path: whatever the directory or a bug raises while a frame is handled becomes a
``RemoteProtocolError`` with code ``INTERNAL`` for that channel (CLOSE sent, channel
dropped, logged without its text); other channels go on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum, auto

from ble_lock.core.errors import ErrorCode, InternalError
from ble_lock.wire.endpoints.directory import PairingWait, PeerDirectory
from ble_lock.wire.errors import (
    ChannelBusyError,
    FramingError,
    LocalProtocolError,
    PairingError,
    RemoteProtocolError,
    SessionTimeoutError,
    UnknownMessageError,
    UnknownPeerError,
    remote_error_for_code,
)
from ble_lock.wire.events import (
    EndpointEvent,
    PairingCompleted,
    PairingRequested,
    RequestReceived,
    SessionClosed,
    SessionOpened,
)
from ble_lock.wire.link.framing import Limits, Reassembler, check_mtu, fragment, parse_frame
from ble_lock.wire.link.transport_messages import (
    DATA_OVERHEAD,
    HS2_OVERHEAD,
    NO_PAIRING_MODE,
    Close,
    Data,
    Hs1,
    Message,
    Pair1,
    Pair3,
    check_payload,
    decode,
    encode,
)
from ble_lock.wire.security.crypto import DATA_AD, KeyPair, Rng
from ble_lock.wire.security.freshness import Freshness
from ble_lock.wire.security.handshake import (
    HsStatus,
    ReplyPayload,
    ResponderHandshake,
    SsCache,
    TransportKeys,
)
from ble_lock.wire.security.pairing import LOCK_ID_LEN, PairingResponder

__all__ = ["ChannelState", "LockEndpoint", "Timeouts"]

_log = logging.getLogger(__name__)

_DATA_AD = DATA_AD  # wire-spec: DATA is sealed as Noise transport messages


def _seconds(value: float) -> int:
    """Seconds for a CLOSE wait field: rounded up, below :data:`NO_PAIRING_MODE`."""
    whole = int(value) + (value > int(value))
    return max(0, min(whole, NO_PAIRING_MODE - 1))

class ChannelState(Enum):
    IDLE = auto()  # nothing yet (or a message being reassembled)
    PAIRING = auto()  # PAIR2 sent, waiting for PAIR3
    RESPONDING = auto()  # HS1 accepted, the app owes the response that goes into HS2
    ESTABLISHED = auto()  # transport keys in both directions


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    handshake: float = 30.0  # PAIRING / RESPONDING must end within this
    idle: float = 120.0  # an ESTABLISHED session with no incoming message


@dataclass(slots=True, kw_only=True)
class _Channel:
    cid: int
    reassembler: Reassembler
    mtu: int
    state: ChannelState = ChannelState.IDLE
    deadline: float | None = None
    last_now: float = 0.0
    pairing: PairingResponder | None = field(default=None, repr=False)
    code_ref: bytes = b""
    guess_counted: bool = False  # True once a pairing attempt has been settled
    handshake: ResponderHandshake | None = field(default=None, repr=False)
    keys: TransportKeys | None = field(default=None, repr=False)
    peer: object | None = None
    peer_key: bytes = b""
    announced: bool = False  # SessionOpened emitted: the channel is authenticated
    touched: int = 0  # sequence number of its last frame (eviction: quiet longest first)

    @property
    def evictable(self) -> bool:
        """Unauthenticated, and not the one pairing in progress (docs: Channels)."""
        return not self.announced and self.state is not ChannelState.PAIRING


class LockEndpoint:
    """Sans-IO lock endpoint. ``now`` is a monotonic time in seconds from the caller."""

    def __init__(self, *, lock_id: bytes, static_key: KeyPair, directory: PeerDirectory,
                 rng: Rng, mtu: int = 23, limits: Limits | None = None,
                 timeouts: Timeouts | None = None, max_channels: int = 8,
                 freshness: Freshness | None = None) -> None:
        if len(lock_id) != LOCK_ID_LEN:
            raise LocalProtocolError(f"lock id must be {LOCK_ID_LEN} bytes")
        self.lock_id = lock_id
        self._static = static_key
        self._directory = directory
        self._rng = rng
        self._mtu = check_mtu(mtu)
        self._limits = limits or Limits()
        self._timeouts = timeouts or Timeouts()
        self._max_channels = max_channels
        self._channels: dict[int, _Channel] = {}
        self._pairing_channel: int | None = None
        self._out: list[bytes] = []
        self._ss_cache: SsCache = {}
        self._spare_key: KeyPair | None = None  # prepare_idle(): the next ephemeral
        self._fresh = freshness if freshness is not None else Freshness(rng)
        self._seq = 0
        self.internal_errors = 0
        """Frames whose handling raised something else than a protocol error (a storage
        failure, a bug): each closed its channel with ``INTERNAL``."""
        self.evictions = 0
        """Unauthenticated channels closed to make room for a new one (a flood)."""

    # -- the byte interface ---------------------------------------------------------

    def receive_data(self, data: bytes, now: float, *,
                     mtu: int | None = None) -> list[EndpointEvent]:
        """One ATT write to the command characteristic. Errors close the channel they
        came on (CLOSE sent, SessionClosed returned). Only a write too short to name a
        channel raises (:class:`~ble_lock.wire.errors.FramingError`).

        ``mtu``: the ATT MTU of the link this write came over, when the adapter knows (or
        infers) it; the write's channel - one this write opens included - answers at it
        from now on. None keeps the channel's MTU (new channels: :meth:`set_mtu`'s)."""
        if not data or data[0] == 0:
            raise FramingError("a frame must start with a channel id (1-255)")
        if mtu is not None:
            check_mtu(mtu)
        events: list[EndpointEvent] = []
        ch = self._channels.get(data[0])
        try:
            frame = parse_frame(data)
            if ch is None:
                ch = self._open_channel(frame.channel, frame.start, now, events)
            if mtu is not None:
                ch.mtu = mtu
            self._seq += 1
            ch.last_now, ch.touched = now, self._seq
            message = ch.reassembler.feed(frame, now)
            if message is not None:
                self._dispatch(ch, decode(message), now, events)
        except RemoteProtocolError as err:
            self._fail(data[0], ch, err, events, send_close=True)
        except Exception as exc:  # the receive path's contract: see above
            self._fail(data[0], ch, self._internal(data[0], exc), events, send_close=True)
        return events

    def freshness(self, now: float) -> tuple[bytes, int]:
        """The lock's current freshness value and the whole seconds it stays accepted
        (15-30): what the fresh characteristic shows (docs/protocol.md, Freshness)."""
        return self._fresh.current(now)

    def data_to_send(self) -> list[bytes]:
        """Notifications to send, each at most the channel's MTU-3 bytes, in order."""
        out, self._out = self._out, []
        return out

    def prepare_idle(self) -> bool:
        """Generate the lock's next ephemeral key now, off the critical path: the IO
        layer calls this when it has nothing else to do (after sending a turn's frames).
        The next HS2 (its ``e``) or PAIR2 (CPace's ``yb``) uses it, once, instead of
        generating one while the phone waits. Returns False if one is already ready."""
        if self._spare_key is not None:
            return False
        self._spare_key = KeyPair.generate(self._rng)
        return True

    def _take_key(self) -> KeyPair:
        """The prepared ephemeral key (consumed: never used twice), or a new one."""
        key, self._spare_key = self._spare_key, None
        return key if key is not None else KeyPair.generate(self._rng)

    def set_mtu(self, mtu: int, channel: int | None = None) -> None:
        """The ATT MTU for new channels, or for one channel. Notifications reach every
        subscriber, so without per-link knowledge use the smallest MTU of all links."""
        check_mtu(mtu)
        if channel is None:
            self._mtu = mtu
        elif channel in self._channels:
            self._channels[channel].mtu = mtu

    def next_timer(self) -> float | None:
        times = [t for ch in self._channels.values()
                 for t in (ch.deadline, ch.reassembler.deadline) if t is not None]
        return min(times, default=None)

    def handle_timer(self, now: float) -> list[EndpointEvent]:
        events: list[EndpointEvent] = []
        for cid, ch in list(self._channels.items()):
            ch.last_now = max(ch.last_now, now)
            try:
                ch.reassembler.check_timer(now)
                if ch.deadline is not None and now >= ch.deadline:
                    raise SessionTimeoutError(f"channel {cid} timed out in {ch.state.name}")
            except RemoteProtocolError as err:
                self._fail(cid, ch, err, events, send_close=True)
            except Exception as exc:  # e.g. the directory failing
                self._fail(cid, ch, self._internal(cid, exc), events, send_close=True)
        return events

    # -- the application interface --------------------------------------------------

    def respond(self, channel: int, payload: bytes) -> None:
        """Answer a request on ``channel``: in HS2 if it came in HS1, else in DATA."""
        ch = self._channels.get(channel)
        if ch is not None and ch.state is ChannelState.RESPONDING:
            check_payload(payload, HS2_OVERHEAD, self._limits.max_message)
            self._send_hs2(ch, self._reply(HsStatus.OK, ch.last_now, payload=payload))
            self._establish(ch)
        else:
            self.push(channel, payload)

    def push(self, channel: int, payload: bytes) -> None:
        """Send an application message (a pushed lock event) on an established channel."""
        ch = self._channels.get(channel)
        if ch is None or ch.state is not ChannelState.ESTABLISHED or ch.keys is None:
            raise LocalProtocolError(f"channel {channel} has no established session")
        check_payload(payload, DATA_OVERHEAD, self._limits.max_message)
        self._send(ch, Data(ciphertext=ch.keys.send.encrypt(_DATA_AD, payload)))

    def close(self, channel: int, code: ErrorCode = ErrorCode.SESSION_CLOSED) -> None:
        """Close a channel from the lock's side (e.g. its key was just revoked)."""
        ch = self._channels.get(channel)
        if ch is None:
            return
        try:
            self._settle_pairing(ch, failed=True)
        except Exception as exc:  # the channel ends regardless
            self._internal(channel, exc)
        self._send(ch, Close(code=int(code)))
        self._drop(channel)

    def sessions(self) -> list[tuple[int, object]]:
        """``(channel, peer)`` of every established session (to push lock events)."""
        return [(cid, ch.peer) for cid, ch in self._channels.items()
                if ch.state is ChannelState.ESTABLISHED and ch.announced]

    # -- channel bookkeeping ----------------------------------------------------------

    def _open_channel(self, cid: int, start: bool, now: float, events: list[EndpointEvent]
                      ) -> _Channel:
        if start and len(self._channels) >= self._max_channels:
            victims = [ch for ch in self._channels.values() if ch.evictable]
            if not victims:
                raise ChannelBusyError(f"already {self._max_channels} channels open")
            victim = min(victims, key=lambda ch: ch.touched)
            self.evictions += 1
            self._fail(victim.cid, victim, ChannelBusyError(
                "an unauthenticated channel made room for a new one"), events,
                send_close=True)
        ch = _Channel(cid=cid, reassembler=Reassembler(self._limits), mtu=self._mtu,
                      last_now=now)
        self._channels[cid] = ch
        return ch

    def _internal(self, cid: int, exc: Exception) -> InternalError:
        """A failure that is not the peer's protocol error (storage, a bug): logged by
        type only (its text may hold what the peer sent), counted, typed."""
        self.internal_errors += 1
        _log.error("channel %d: %s while handling a frame; channel closed", cid,
                   type(exc).__name__)
        return InternalError("the lock failed to handle the message")

    def _fail(self, cid: int, ch: _Channel | None, err: RemoteProtocolError | InternalError,
              events: list[EndpointEvent], *, send_close: bool) -> None:
        peer = None
        if ch is not None:
            try:
                self._settle_pairing(ch, failed=True)
            except Exception as exc:  # the channel ends regardless
                self._internal(cid, exc)
            peer = ch.peer if ch.announced else None
            if self._channels.get(cid) is ch:
                self._drop(cid)
        if send_close:
            mtu = ch.mtu if ch is not None else self._mtu
            self._out.extend(fragment(cid, encode(Close(code=int(err.code))), mtu, self._limits))
        events.append(SessionClosed(channel=cid, peer=peer, error=err))

    def _drop(self, cid: int) -> None:
        del self._channels[cid]
        if self._pairing_channel == cid:
            self._pairing_channel = None

    def _settle_pairing(self, ch: _Channel, *, failed: bool) -> None:
        """R-LOCKOUT: a pairing attempt that got the lock's answer (PAIR2) and did not
        complete counts as one failed guess, however it ended."""
        if ch.state is ChannelState.PAIRING and not ch.guess_counted:
            ch.guess_counted = True
            if failed:
                self._directory.record_pairing_failure(ch.code_ref, ch.last_now)

    def _send(self, ch: _Channel, msg: Message) -> None:
        self._out.extend(fragment(ch.cid, encode(msg), ch.mtu, self._limits))

    # -- the state table --------------------------------------------------------------

    def _dispatch(self, ch: _Channel, msg: Message, now: float,
                  events: list[EndpointEvent]) -> None:
        if isinstance(msg, Close):
            err = remote_error_for_code(msg.code, "the phone closed the channel")
            self._fail(ch.cid, ch, err, events, send_close=False)
            return
        handler = _TABLE.get((ch.state, type(msg)))
        if handler is None:
            raise UnknownMessageError(f"{type(msg).__name__} not allowed in {ch.state.name}")
        handler(self, ch, msg, now, events)

    def _on_pair1(self, ch: _Channel, msg: Message, now: float,
                  events: list[EndpointEvent]) -> None:
        assert isinstance(msg, Pair1)
        if self._pairing_channel is not None:
            raise ChannelBusyError("another pairing is in progress")
        refusal = self._directory.pairing_refusal(msg.code_ref, now)
        if refusal is not None:
            err = PairingError.with_reason(f"pairing refused: {refusal.name}", refusal)
            wait = self._pairing_wait(msg.code_ref, now) if refusal is ErrorCode.LOCKED_OUT \
                else None
            if wait is None:
                raise err
            # R-SEC-1 "announces the time left": the CLOSE tells the user when to retry
            # (and whether pairing mode runs out first); advice only, unauthenticated.
            self._send(ch, wait)
            self._fail(ch.cid, ch, err, events, send_close=False)
            return
        prs = self._directory.pairing_secret(msg.code_ref)
        # Unknown invite id: run CPace with a random secret, indistinguishable from a
        # wrong code (no oracle for which invite ids exist), and count the failure.
        responder = PairingResponder(lock_id=self.lock_id, lock=self._static, rng=self._rng)
        pair2 = responder.read_pair1(msg, prs if prs is not None else self._rng.token_bytes(32),
                                     self._take_key())
        ch.pairing, ch.code_ref = responder, msg.code_ref
        ch.state, ch.deadline = ChannelState.PAIRING, now + self._timeouts.handshake
        self._pairing_channel = ch.cid
        self._send(ch, pair2)
        events.append(PairingRequested(channel=ch.cid, code_ref=msg.code_ref))

    def _pairing_wait(self, code_ref: bytes, now: float) -> Close | None:
        ask = getattr(self._directory, "pairing_wait", None)  # optional (directory.py)
        wait = ask(code_ref, now) if ask is not None else None
        if not isinstance(wait, PairingWait):
            return None
        mode = (NO_PAIRING_MODE if wait.pairing_mode_left is None
                else _seconds(wait.pairing_mode_left))
        return Close(code=int(ErrorCode.LOCKED_OUT), retry_after=_seconds(wait.retry_after),
                     pairing_mode_left=mode)

    def _on_pair3(self, ch: _Channel, msg: Message, now: float,
                  events: list[EndpointEvent]) -> None:
        assert isinstance(msg, Pair3)
        assert ch.pairing is not None
        phone_key = ch.pairing.read_pair3(msg)  # wrong code -> PairingError -> counted
        self._settle_pairing(ch, failed=False)
        result = self._directory.complete_pairing(ch.code_ref, phone_key)
        if isinstance(result, ErrorCode):
            raise PairingError.with_reason(f"pairing denied: {result.name}", result)
        self._send(ch, ch.pairing.write_pair4())
        events.append(PairingCompleted(channel=ch.cid, peer=result, peer_key=phone_key))
        self._drop(ch.cid)  # a pairing channel ends here; sessions use a fresh channel

    def _on_hs1(self, ch: _Channel, msg: Message, now: float,
                  events: list[EndpointEvent]) -> None:
        assert isinstance(msg, Hs1)
        hs = ResponderHandshake(lock_id=self.lock_id, lock=self._static, rng=self._rng,
                                fresh=msg.fresh, ss_cache=self._ss_cache)
        phone_key, first = hs.read_msg1(msg)
        peer = self._directory.find_peer(phone_key)
        if peer is None:
            # read_msg1 authenticated the key (ss): the refusal is genuine, not forged.
            self._directory.record_refused_peer(phone_key, first.counter)
            raise UnknownPeerError("this phone is not paired with the lock")
        ch.handshake, ch.peer, ch.peer_key = hs, peer, phone_key
        ch.deadline = now + self._timeouts.handshake
        # Freshness first (docs/protocol.md, "Freshness"): a request bound to a value the
        # lock no longer accepts (older than 30 s, or from before a restart) is dropped
        # unapplied, the counter untouched; the phone re-sends it inside the session,
        # where the lock's ephemeral key makes it fresh. Announced on the first DATA.
        if not self._fresh.accepts(msg.fresh, now):
            self._send_hs2(ch, self._reply(HsStatus.STALE, now))
            self._establish(ch)
            return
        # Replay defence of the 0-RTT request: the counter is checked and persisted
        # before anything is passed up (docs/protocol.md, "Replay").
        if not self._directory.advance_counter(peer, first.counter):
            counter = self._directory.current_counter(peer)
            self._send_hs2(ch, self._reply(HsStatus.RESYNC, now, lock_counter=counter))
            self._establish(ch)  # announced on the first DATA: a replay stays invisible
            return
        self._announce(ch, events)
        if first.payload:
            ch.state = ChannelState.RESPONDING
            events.append(RequestReceived(channel=ch.cid, peer=peer, payload=first.payload,
                                          in_handshake=True))
        else:
            self._send_hs2(ch, self._reply(HsStatus.OK, now))
            self._establish(ch)

    def _on_data(self, ch: _Channel, msg: Message, now: float,
                  events: list[EndpointEvent]) -> None:
        assert isinstance(msg, Data)
        assert ch.keys is not None
        payload = ch.keys.recv.decrypt(_DATA_AD, msg.ciphertext)
        ch.deadline = now + self._timeouts.idle
        if not ch.announced:
            self._announce(ch, events)
        if payload:  # an empty DATA only proves the session live (after STALE/RESYNC)
            events.append(RequestReceived(channel=ch.cid, peer=ch.peer, payload=payload))

    # -- helpers --------------------------------------------------------------------

    def _announce(self, ch: _Channel, events: list[EndpointEvent]) -> None:
        ch.announced = True
        events.append(SessionOpened(channel=ch.cid, peer=ch.peer, peer_key=ch.peer_key))

    def _send_hs2(self, ch: _Channel, reply: ReplyPayload) -> None:
        assert ch.handshake is not None
        hs2, keys = ch.handshake.write_msg2(reply, self._take_key())
        ch.keys, ch.handshake = keys, None
        self._send(ch, hs2)

    def _reply(self, status: HsStatus, now: float, *, lock_counter: int | None = None,
               payload: bytes = b"") -> ReplyPayload:
        fresh, fresh_for = self._fresh.current(now)
        return ReplyPayload(status=status, fresh=fresh, fresh_for=fresh_for,
                            lock_counter=lock_counter, payload=payload)

    def _establish(self, ch: _Channel) -> None:
        # Not announced yet (after STALE or RESYNC): it must prove itself with a DATA
        # within the handshake timeout, like any unauthenticated channel.
        ch.state = ChannelState.ESTABLISHED
        timeout = self._timeouts.idle if ch.announced else self._timeouts.handshake
        ch.deadline = ch.last_now + timeout


_Handler = Callable[[LockEndpoint, _Channel, Message, float, list[EndpointEvent]], None]
_TABLE: dict[tuple[ChannelState, type[Message]], _Handler] = {
    (ChannelState.IDLE, Pair1): LockEndpoint._on_pair1,
    (ChannelState.IDLE, Hs1): LockEndpoint._on_hs1,
    (ChannelState.PAIRING, Pair3): LockEndpoint._on_pair3,
    (ChannelState.ESTABLISHED, Data): LockEndpoint._on_data,
}
