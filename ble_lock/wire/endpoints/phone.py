"""The phone's side of the secure transport (sans-IO): :class:`PhonePairing` and
:class:`PhoneSession`, one channel each.

The BLE adapter writes every value of ``data_to_send()`` to the command characteristic
(write without response) and feeds every notification of the response characteristic
into ``receive_data``; notifications for other channels (other phones) are ignored.
Any failure raises a :class:`~ble_lock.wire.errors.RemoteProtocolError` subtype,
closes the object (a CLOSE is queued for the lock) and nothing further is processed.

Channel ids: picked at random (1-255) from the injected RNG. Two phones that pick the
same id at the same time garble each other's messages; both sessions fail their AEAD
check or framing and close, and each retries on a fresh random id
(``docs/protocol.md``, "Channels").
"""

from __future__ import annotations

import abc
from enum import Enum, auto

from ble_lock.core.errors import ErrorCode
from ble_lock.wire.errors import (
    FramingError,
    LocalProtocolError,
    PairingError,
    RemoteProtocolError,
    SessionClosedError,
    SessionTimeoutError,
    UnknownMessageError,
    remote_error_for_code,
)
from ble_lock.wire.events import (
    EndpointEvent,
    MessageReceived,
    PairingKeyReceived,
    PairingSucceeded,
    SessionEstablished,
)
from ble_lock.wire.link.framing import Limits, Reassembler, check_mtu, fragment, parse_frame
from ble_lock.wire.link.transport_messages import (
    DATA_OVERHEAD,
    HS1_OVERHEAD,
    NO_PAIRING_MODE,
    Close,
    Data,
    Hs2,
    Message,
    Pair2,
    Pair4,
    check_payload,
    decode,
    encode,
)
from ble_lock.wire.security.crypto import DATA_AD, KeyPair, Rng
from ble_lock.wire.security.handshake import (
    FirstPayload,
    HsStatus,
    InitiatorHandshake,
    TransportKeys,
)
from ble_lock.wire.security.pairing import LOCK_ID_LEN, PairingInitiator, pairing_secret

__all__ = ["ANSWER_TIMEOUT", "PhonePairing", "PhoneSession", "PhoneState", "close_text",
           "random_channel"]

_DATA_AD = DATA_AD  # wire-spec: DATA is sealed as Noise transport messages
MAX_COUNTER = 2**64 - 1

ANSWER_TIMEOUT = 30.0
"""Seconds the phone waits for the lock: a pairing from PAIR1 to PAIR4, a session from HS1
to HS2 (the lock's own handshake timeout, ``Timeouts.handshake``, is the same), and -
counted by :class:`~ble_lock.central.app.LockLink` on the same timers - a request's
answer. Monotonic seconds, like every ``now`` here. The I/O layer drives these timers
(:meth:`next_timer` / :meth:`handle_timer`, aioquic's ``get_timer``/``handle_timer``);
it keeps no timeout of its own (``docs/central.md``, "Timeouts")."""


def close_text(msg: Close) -> str:
    """What a CLOSE from the lock says; with a pairing lockout's wait, when to retry and
    whether pairing mode ends first (R-SEC-1: the lock announces the time left)."""
    if msg.retry_after is None or msg.pairing_mode_left is None:
        return "the lock closed the channel"
    text = f"pairing locked out: retry in {msg.retry_after} s"
    mode = msg.pairing_mode_left
    if mode == 0:
        text += "; pairing mode is off: press SET on the lock after the wait"
    elif mode != NO_PAIRING_MODE and mode < msg.retry_after:
        text += (f"; pairing mode ends in {mode} s, before the wait does: press SET on the "
                 "lock again after the wait")
    return text

class PhoneState(Enum):
    NEW = auto()
    WAITING = auto()  # our opening message is out, waiting for the lock's answer
    HELD = auto()  # pairing, hold=True: PAIR2 verified, PAIR3 waits for commit()
    ESTABLISHED = auto()  # session: transport keys; pairing: PAIR3 sent, waiting PAIR4
    DONE = auto()  # pairing completed
    CLOSED = auto()


def random_channel(rng: Rng) -> int:
    """A uniformly random channel id in 1..255."""
    while True:
        cid = rng.token_bytes(1)[0]
        if cid:
            return cid


class _PhoneChannel(abc.ABC):
    """Framing, filtering, closing and timers shared by both phone objects."""

    _close_error: type[RemoteProtocolError] = SessionClosedError

    def __init__(self, *, lock_id: bytes, rng: Rng, mtu: int, channel: int | None,
                 limits: Limits | None, timeout: float) -> None:
        if len(lock_id) != LOCK_ID_LEN:
            raise LocalProtocolError(f"lock id must be {LOCK_ID_LEN} bytes")
        self.lock_id = lock_id
        self._rng = rng
        self._mtu = check_mtu(mtu)
        self._limits = limits or Limits()
        self.channel = channel if channel is not None else random_channel(rng)
        self._reassembler = Reassembler(self._limits)
        self._timeout = timeout
        self._deadline: float | None = None
        self._out: list[bytes] = []
        self.state = PhoneState.NEW

    @property
    def timeout(self) -> float:
        """Seconds the lock has to answer (:data:`ANSWER_TIMEOUT` unless configured)."""
        return self._timeout

    def set_mtu(self, mtu: int) -> None:
        self._mtu = check_mtu(mtu)

    def data_to_send(self) -> list[bytes]:
        out, self._out = self._out, []
        return out

    def next_timer(self) -> float | None:
        """When :meth:`handle_timer` must next be called (monotonic seconds), or None."""
        if self.state is PhoneState.CLOSED:
            return None
        times = [t for t in (self._deadline, self._reassembler.deadline) if t is not None]
        return min(times, default=None)

    def handle_timer(self, now: float) -> list[EndpointEvent]:
        """Fire due timers: the lock did not answer in time (``SessionTimeoutError``) or a
        message stayed half-reassembled (``ReassemblyTimeoutError``); either closes."""
        if self.state is PhoneState.CLOSED:
            return []
        try:
            self._reassembler.check_timer(now)
            if self._deadline is not None and now >= self._deadline:
                raise SessionTimeoutError("the lock did not answer in time")
        except RemoteProtocolError as err:
            self._abort(err)
            raise
        return []

    def receive_data(self, data: bytes, now: float) -> list[EndpointEvent]:
        """One notification from the response characteristic."""
        if self.state is PhoneState.CLOSED:
            return []
        if not data:
            raise FramingError("empty notification")
        if data[0] != self.channel:
            return []  # another phone's channel: notifications reach every subscriber
        events: list[EndpointEvent] = []
        try:
            message = self._reassembler.feed(parse_frame(data), now)
            if message is not None:
                msg = decode(message)
                if isinstance(msg, Close):
                    err = remote_error_for_code(msg.code, close_text(msg), self._close_error)
                    self.state = PhoneState.CLOSED
                    raise err
                self._handle(msg, now, events)
        except RemoteProtocolError as err:
            self._abort(err)
            raise
        return events

    def close(self, code: ErrorCode = ErrorCode.SESSION_CLOSED) -> None:
        """Tell the lock we are done with the channel."""
        if self.state is not PhoneState.CLOSED:
            self._send(Close(code=int(code)))
            self.state = PhoneState.CLOSED

    def _abort(self, err: RemoteProtocolError) -> None:
        if self.state is not PhoneState.CLOSED:
            self._send(Close(code=int(err.code)))
            self.state = PhoneState.CLOSED

    def _send(self, msg: Message) -> None:
        self._out.extend(fragment(self.channel, encode(msg), self._mtu, self._limits))

    def _expect(self, state: PhoneState, msg: Message) -> None:
        if self.state is not state:
            raise UnknownMessageError(f"{type(msg).__name__} not allowed in {self.state.name}")

    @abc.abstractmethod
    def _handle(self, msg: Message, now: float, events: list[EndpointEvent]) -> None:
        ...


class PhonePairing(_PhoneChannel):
    """Pair a phone with a lock using a code (2 round trips).

    ``code_ref`` b"" uses the lock's setup code (claim, or the QR); an invite id with an
    invite code enrols a further phone. With ``expected_fingerprint`` (from the QR) a
    man in the middle raises :class:`~ble_lock.wire.errors.IdentityMismatchError`.
    A refusal by the lock (``LOCKED_OUT``...) raises a ``PairingError`` with that code.

    Two-phase (``hold=True``, docs/protocol.md "Pairing", "Interrupted pairing"): PAIR3
    is what makes the lock bind this phone, so it waits. After PAIR2 the pairing reports
    :class:`~ble_lock.wire.events.PairingKeyReceived` and stays ``HELD`` (no timer of
    its own: the lock bounds the wait with its handshake timeout) until the caller, who
    has kept the lock's key durably, calls :meth:`commit`; or :meth:`close`, and the
    lock binds nothing. Without ``hold``, PAIR3 follows PAIR2 at once.
    """

    _close_error = PairingError

    def __init__(self, *, lock_id: bytes, code: str, phone: KeyPair, rng: Rng,
                 code_ref: bytes = b"", expected_fingerprint: bytes | None = None,
                 mtu: int = 23, channel: int | None = None, limits: Limits | None = None,
                 timeout: float = ANSWER_TIMEOUT, hold: bool = False) -> None:
        super().__init__(lock_id=lock_id, rng=rng, mtu=mtu, channel=channel, limits=limits,
                         timeout=timeout)
        self._crypto = PairingInitiator(lock_id=lock_id, prs=pairing_secret(code),
                                        code_ref=code_ref, phone=phone, rng=rng,
                                        expected_fingerprint=expected_fingerprint)
        self._hold = hold
        self.lock_public: bytes | None = None

    def start(self, now: float) -> None:
        if self.state is not PhoneState.NEW:
            raise LocalProtocolError("pairing already started")
        self._send(self._crypto.write_pair1())
        self.state, self._deadline = PhoneState.WAITING, now + self._timeout

    def commit(self, now: float) -> None:
        """``hold=True``: send PAIR3 (the lock binds this phone when it reads it); call it
        only once the lock's key is kept where the next run finds it."""
        if self.state is not PhoneState.HELD:
            raise LocalProtocolError(f"nothing to commit in {self.state.name}")
        self._send(self._crypto.write_pair3())
        self.state, self._deadline = PhoneState.ESTABLISHED, now + self._timeout

    def _handle(self, msg: Message, now: float, events: list[EndpointEvent]) -> None:
        if isinstance(msg, Pair2):
            self._expect(PhoneState.WAITING, msg)
            lock_public = self._crypto.read_pair2(msg)
            if self._hold:
                self.state, self._deadline = PhoneState.HELD, None
                events.append(PairingKeyReceived(channel=self.channel,
                                                 lock_public=lock_public))
                return
            self._send(self._crypto.write_pair3())
            self.state = PhoneState.ESTABLISHED
        elif isinstance(msg, Pair4):
            self._expect(PhoneState.ESTABLISHED, msg)
            self._crypto.read_pair4(msg)
            assert self._crypto.lock_public is not None
            self.lock_public = self._crypto.lock_public
            self.state, self._deadline = PhoneState.DONE, None
            events.append(PairingSucceeded(channel=self.channel, lock_public=self.lock_public))
        else:
            raise UnknownMessageError(f"{type(msg).__name__} during pairing")


class PhoneSession(_PhoneChannel):
    """An authenticated session with a paired lock; the first request rides in HS1.

    ``counter`` must be greater than any counter this phone sent this lock before;
    persist :attr:`next_counter` after :meth:`start` (and again after a resync).
    ``fresh`` is the lock's freshness value (from the fresh characteristic or the last
    HS2, :attr:`lock_fresh`); a value the lock no longer accepts costs a round trip (the
    lock answers ``STALE`` and the first request is re-sent inside the session), never
    an unlock.
    """

    def __init__(self, *, lock_id: bytes, lock_public: bytes, phone: KeyPair, counter: int,
                 rng: Rng, fresh: bytes, mtu: int = 23, channel: int | None = None,
                 limits: Limits | None = None, timeout: float = ANSWER_TIMEOUT) -> None:
        super().__init__(lock_id=lock_id, rng=rng, mtu=mtu, channel=channel, limits=limits,
                         timeout=timeout)
        if not 0 < counter <= MAX_COUNTER:
            raise LocalProtocolError("counter must be in 1..2^64-1")
        self._counter = counter
        self.next_counter = counter + 1
        self._hs = InitiatorHandshake(lock_id=lock_id, lock_public=lock_public, phone=phone,
                                      rng=rng, fresh=fresh)
        self._keys: TransportKeys | None = None
        self._first = b""
        self.lock_fresh: tuple[bytes, int] | None = None
        """From HS2: the lock's current freshness value and the whole seconds it stays
        accepted (counted from HS2's arrival), for the next session's HS1."""
        self.first_dropped = False
        """The lock dropped the first request unapplied (``RESYNC`` or ``STALE``); it was
        re-sent inside the session."""

    def start(self, first_request: bytes, now: float) -> None:
        """Queue HS1 carrying ``first_request`` (may be empty: just open the session)."""
        if self.state is not PhoneState.NEW:
            raise LocalProtocolError("session already started")
        check_payload(first_request, HS1_OVERHEAD, self._limits.max_message)
        self._first = first_request
        hs1 = self._hs.write_msg1(FirstPayload(counter=self._counter, payload=first_request))
        self._send(hs1)
        self.state, self._deadline = PhoneState.WAITING, now + self._timeout

    def send(self, payload: bytes) -> None:
        """An application request inside the established session."""
        if self.state is not PhoneState.ESTABLISHED or self._keys is None:
            raise LocalProtocolError("the session is not established")
        check_payload(payload, DATA_OVERHEAD, self._limits.max_message)
        self._send(Data(ciphertext=self._keys.send.encrypt(_DATA_AD, payload)))

    @property
    def handshake_hash(self) -> bytes | None:
        """Noise handshake hash (channel binding), once established."""
        return self._keys.handshake_hash if self._keys is not None else None

    def _handle(self, msg: Message, now: float, events: list[EndpointEvent]) -> None:
        if isinstance(msg, Hs2):
            self._expect(PhoneState.WAITING, msg)
            reply, self._keys = self._hs.read_msg2(msg)
            self.state, self._deadline = PhoneState.ESTABLISHED, None
            self.lock_fresh = (reply.fresh, reply.fresh_for)
            if reply.status is not HsStatus.OK:  # RESYNC or STALE: HS1's request dropped
                resynced = reply.status is HsStatus.RESYNC
                if resynced:
                    assert reply.lock_counter is not None
                    self.next_counter = max(self.next_counter, reply.lock_counter + 1)
                events.append(SessionEstablished(channel=self.channel, resynced=resynced,
                                                 lock_counter=reply.lock_counter))
                self.first_dropped = True
                # Retried inside the session (no replay risk); with nothing to retry an
                # empty DATA proves the session live, so the lock announces it (pushes).
                self.send(self._first)
                self._first = b""
            else:
                events.append(SessionEstablished(channel=self.channel, resynced=False,
                                                 lock_counter=None))
                if self._first or reply.payload:
                    events.append(MessageReceived(channel=self.channel, payload=reply.payload))
                self._first = b""
        elif isinstance(msg, Data):
            self._expect(PhoneState.ESTABLISHED, msg)
            assert self._keys is not None
            payload = self._keys.recv.decrypt(_DATA_AD, msg.ciphertext)
            events.append(MessageReceived(channel=self.channel, payload=payload))
        else:
            raise UnknownMessageError(f"{type(msg).__name__} in a session")
