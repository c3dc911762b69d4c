"""The phone's application layer, sans-IO: requests out, typed results and pushes in.

:class:`AppClient` builds request payloads with fresh random request ids, matches the
lock's responses to them, turns an error response into the typed
:class:`~ble_lock.core.errors.LockError` of its code (``error_for_code``) and hands
pushed events over. It moves application payloads only: the secure session
(:class:`LockLink`, over the transport's ``PhoneSession``) carries them.

A request keeps its id and bytes until answered, so after a dropped link the same
payload is sent again on a new session (:meth:`AppClient.pending_payload`); the lock
applies a request id at most once (idempotency, docs/protocol.md ## Flows).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TypeVar

from ble_lock.core.errors import LockError, error_for_code
from ble_lock.wire import messages as m
from ble_lock.wire.endpoints.directory import invite_code_ref
from ble_lock.wire.endpoints.phone import ANSWER_TIMEOUT, PhonePairing, PhoneSession
from ble_lock.wire.errors import LocalProtocolError, RemoteProtocolError, SessionTimeoutError
from ble_lock.wire.events import (
    EndpointEvent,
    MessageReceived,
    SessionClosed,
    SessionEstablished,
)
from ble_lock.wire.security.crypto import KeyPair, Rng
from ble_lock.wire.security.pairing import invite_transport_code, setup_transport_code

__all__ = [
    "AppClient",
    "AppEvent",
    "Failed",
    "LinkEvent",
    "LockLink",
    "PairingStep",
    "Pushed",
    "StepHook",
    "Succeeded",
    "claim_pairing",
    "invite_pairing",
]

B = TypeVar("B", bound=m.ResponseBody)


@dataclass(frozen=True, slots=True, kw_only=True)
class Succeeded:
    """The lock answered ``request_id`` with success."""

    request_id: bytes
    body: m.ResponseBody


@dataclass(frozen=True, slots=True, kw_only=True)
class Failed:
    """The lock answered ``request_id`` with an error (a denial included)."""

    request_id: bytes
    error: LockError


@dataclass(frozen=True, slots=True, kw_only=True)
class Pushed:
    """An event the lock pushed (state change, alarm, enrolment step, sync statement)."""

    body: m.EventBody


AppEvent = Succeeded | Failed | Pushed


@dataclass(slots=True)
class _Pending:
    request: m.Request
    payload: bytes = field(repr=False)


class AppClient:
    """Request/response matching for one lock; independent of any session."""

    __slots__ = ("_answers", "_pending", "_rng", "_unmatched")

    def __init__(self, *, rng: Rng) -> None:
        self._rng = rng
        self._pending: dict[bytes, _Pending] = {}
        self._answers: dict[bytes, Succeeded | Failed] = {}
        self._unmatched = 0

    def __repr__(self) -> str:
        return f"AppClient(pending={len(self._pending)}, answered={len(self._answers)})"

    # -- outgoing

    def request(self, body: m.RequestBody) -> tuple[bytes, bytes]:
        """Encode ``body`` as a new request; returns ``(request_id, payload)``."""
        request_id = self._rng.token_bytes(m.REQUEST_ID_SIZE)
        while request_id in self._pending or request_id in self._answers:
            request_id = self._rng.token_bytes(m.REQUEST_ID_SIZE)
        req = m.Request(request_id=request_id, body=body)
        payload = m.encode(req)
        self._pending[request_id] = _Pending(request=req, payload=payload)
        return request_id, payload

    def pending_payload(self, request_id: bytes) -> bytes:
        """The exact bytes of an unanswered request, to send again after a lost link."""
        return self._pending[request_id].payload

    def pending_is_secret(self, request_id: bytes) -> bool:
        """Whether an unanswered request carries a secret (never in a first message)."""
        return self._pending[request_id].request.body.SECRET

    @property
    def pending(self) -> list[bytes]:
        return list(self._pending)

    # -- incoming

    def receive(self, payload: bytes) -> list[AppEvent]:
        """One message from the lock. Raises a ``RemoteProtocolError`` subtype on garbage
        (the caller closes the session). A response to no pending request is dropped."""
        message = m.decode_from_lock(payload)
        if isinstance(message, m.PushedEvent):
            return [Pushed(body=message.body)]
        pending = self._pending.pop(message.request_id, None)
        if pending is None:
            self._unmatched += 1
            return []
        answer: Succeeded | Failed
        if message.ok:
            if message.opcode is not pending.request.opcode:
                raise m.BadMessageError(
                    f"response opcode {message.opcode} for a {pending.request.opcode.name}",
                    request_id=message.request_id,
                )
            assert message.body is not None  # decode guarantees a body on success
            answer = Succeeded(request_id=message.request_id, body=message.body)
        else:
            answer = Failed(
                request_id=message.request_id, error=error_for_code(message.status, message.message)
            )
        self._answers[message.request_id] = answer
        return [answer]

    @property
    def unmatched_responses(self) -> int:
        """Responses that matched no pending request (late duplicates), dropped."""
        return self._unmatched

    def answered(self, request_id: bytes) -> bool:
        return request_id in self._answers

    def result(self, request_id: bytes, expected: type[B]) -> B:
        """The success body of an answered request; raises its typed ``LockError``.

        ``KeyError`` if the request is not answered yet.
        """
        answer = self._answers.pop(request_id)
        if isinstance(answer, Failed):
            raise answer.error
        if not isinstance(answer.body, expected):
            raise m.BadMessageError(f"expected {expected.__name__}, got "
                                    f"{type(answer.body).__name__}")
        return answer.body


# ------------------------------------------------------------------ pairing helpers


class PairingStep(IntEnum):
    """The steps of a claim or an invite redemption, in order (docs/protocol.md,
    "Interrupted pairing"). Each is reported to the caller's :data:`StepHook` when it
    is reached; where an interruption leaves phone and lock follows from the step."""

    PAIR1_SENT = 1
    """PAIR1 written. Nothing kept anywhere (the lock counts an abandoned attempt as one
    failed guess once it answered, R-SEC-1's pairing limiter)."""
    KEY_RECEIVED = 2
    """PAIR2 verified: the lock's key is known (confirmed by the code, and by the QR
    fingerprint when given); nothing saved, the lock has bound nothing."""
    KEY_SAVED = 3
    """The pending record is in the keystore (fsync); PAIR3 not sent yet."""
    PAIR3_SENT = 4
    """PAIR3 handed to the link: the lock binds the phone when it reads it (R-USR-2
    claim, R-APP-3 invite). From here the phone never forgets the pending record."""
    PAIRED = 5
    """PAIR4 verified: the lock bound the phone."""
    CONFIRMED = 6
    """A session with the new key answered (key confirmation): the record is final."""


StepHook = Callable[[PairingStep], Awaitable[None]]
"""Called (awaited) as each :class:`PairingStep` is reached; progress displays and
tests that interrupt a pairing at one step use it."""


def claim_pairing(*, lock_id: bytes, setup_code: str, phone: KeyPair, rng: Rng,
                  lock_fingerprint: bytes | None = None, mtu: int = 23,
                  timeout: float = ANSWER_TIMEOUT, hold: bool = False) -> PhonePairing:
    """Claim a factory-fresh lock (first admin, R-USR-2) with its setup code; the lock id
    and ``lock_fingerprint`` come from the same QR code (the fingerprint detects a man in
    the middle). ``hold``: two-phase, PAIR3 waits for ``commit`` (``PhonePairing``)."""
    return PhonePairing(lock_id=lock_id, code=setup_transport_code(setup_code, lock_id),
                        phone=phone, rng=rng, expected_fingerprint=lock_fingerprint, mtu=mtu,
                        timeout=timeout, hold=hold)


def invite_pairing(*, lock_id: bytes, invite_id: int, code: str, phone: KeyPair, rng: Rng,
                   lock_fingerprint: bytes | None = None, mtu: int = 23,
                   timeout: float = ANSWER_TIMEOUT, hold: bool = False) -> PhonePairing:
    """Redeem an invite (a Bluetooth key, or a further admin phone, R-APP-3)."""
    return PhonePairing(lock_id=lock_id, code=invite_transport_code(invite_id, code),
                        code_ref=invite_code_ref(invite_id), phone=phone, rng=rng,
                        expected_fingerprint=lock_fingerprint, mtu=mtu, timeout=timeout,
                        hold=hold)


# ------------------------------------------------------------------ a session with requests

LinkEvent = AppEvent | SessionEstablished | SessionClosed


class LockLink:
    """One secure session to a paired lock, carrying application requests.

    The first request rides in the handshake's first message (:meth:`start`): an unlock
    is one round trip. Later requests go inside the session (:meth:`send`). After a lost
    link, :meth:`start_retry` re-sends an unanswered request, same id and bytes, inside a
    new session once its HS2 verified (never in HS1: one user action is at most one HS1
    with a request, docs/protocol.md, Freshness); the lock applies it once.

    Timers: the session's own (handshake, reassembly) plus one per request whose answer
    is awaited (:meth:`expect_answer`, the session's ``timeout``), all in one
    :meth:`next_timer` / :meth:`handle_timer` pair for the I/O layer to drive.
    """

    __slots__ = ("_app", "_deferred", "_due", "_session")

    def __init__(self, *, app: AppClient, session: PhoneSession) -> None:
        self._app = app
        self._session = session
        self._deferred: bytes | None = None  # a secret request to send once established
        self._due: dict[bytes, float] = {}  # request id -> when its answer is overdue

    @classmethod
    def open(cls, *, app: AppClient, lock_id: bytes, lock_public: bytes, phone: KeyPair,
             counter: int, rng: Rng, fresh: bytes, mtu: int = 23,
             timeout: float = ANSWER_TIMEOUT) -> LockLink:
        """A link with a new session; persist :attr:`next_counter` once started.
        ``fresh``: the lock's freshness value (fresh characteristic or last HS2)."""
        session = PhoneSession(lock_id=lock_id, lock_public=lock_public, phone=phone,
                               counter=counter, rng=rng, fresh=fresh, mtu=mtu,
                               timeout=timeout)
        return cls(app=app, session=session)

    def __repr__(self) -> str:
        return f"LockLink(state={self._session.state.name}, app={self._app!r})"

    @property
    def app(self) -> AppClient:
        return self._app

    @property
    def session(self) -> PhoneSession:
        return self._session

    @property
    def channel(self) -> int:
        return self._session.channel

    @property
    def next_counter(self) -> int:
        """The counter to use for the next session with this lock (persist it)."""
        return self._session.next_counter

    def start(self, first: m.RequestBody | None, now: float) -> bytes | None:
        """Open the session; ``first`` rides in the first message (0-RTT)."""
        if first is None:
            self._session.start(b"", now)
            return None
        if first.SECRET:
            raise LocalProtocolError(
                f"{type(first).__name__} carries a secret and must not ride in the first "
                "message (no forward secrecy): start the session, then send it")
        request_id, payload = self._app.request(first)
        self._session.start(payload, now)
        return request_id

    def start_retry(self, request_id: bytes, now: float) -> None:
        """Open the session with an empty first message and send an unanswered request
        of an earlier one inside it once HS2 verified (idempotent: same id and bytes).

        Never in HS1: the earlier attempt ended without an authenticated answer (a CLOSE,
        a timeout, a drop), and a fake lock could collect every HS1 we send."""
        self._deferred = self._app.pending_payload(request_id)
        self._session.start(b"", now)

    def send(self, body: m.RequestBody) -> bytes:
        """A request inside the established session; returns its request id."""
        request_id, payload = self._app.request(body)
        self._session.send(payload)
        return request_id

    def receive_data(self, data: bytes, now: float) -> list[LinkEvent]:
        """One notification from the lock. Garbage from the lock raises a
        ``RemoteProtocolError`` subtype (and the session is closed)."""
        return self._translate(self._session.receive_data(data, now))

    def expect_answer(self, request_id: bytes, now: float) -> None:
        """Start the answer timer of a request just sent (or riding in HS1): unanswered
        after the session's ``timeout``, :meth:`handle_timer` closes the session."""
        self._due.setdefault(request_id, now + self._session.timeout)

    def handle_timer(self, now: float) -> list[LinkEvent]:
        """Fire due timers. The lock not answering (a handshake or an awaited request) in
        time raises ``SessionTimeoutError``, a half message ``ReassemblyTimeoutError``;
        either closes the session (a CLOSE is queued)."""
        events = self._translate(self._session.handle_timer(now))
        if any(due <= now for due in self._due.values()):
            self._due.clear()
            self._session.close()
            raise SessionTimeoutError("the lock did not answer the request in time")
        return events

    def next_timer(self) -> float | None:
        """When :meth:`handle_timer` must next be called (monotonic seconds), or None."""
        times = [t for t in (self._session.next_timer(), *self._due.values()) if t is not None]
        return min(times, default=None)

    def data_to_send(self) -> list[bytes]:
        return self._session.data_to_send()

    def close(self) -> None:
        self._session.close()

    def _receive(self, payload: bytes) -> list[AppEvent]:
        try:
            return self._app.receive(payload)
        except RemoteProtocolError as err:
            self._session.close(err.code)  # garbage from the lock ends the session
            raise

    def _translate(self, events: list[EndpointEvent]) -> list[LinkEvent]:
        out: list[LinkEvent] = []
        for event in events:
            if isinstance(event, MessageReceived):
                if event.payload:
                    for app_event in self._receive(event.payload):
                        if isinstance(app_event, Succeeded | Failed):
                            self._due.pop(app_event.request_id, None)
                        out.append(app_event)
            elif isinstance(event, SessionEstablished | SessionClosed):
                out.append(event)
                if isinstance(event, SessionEstablished) and self._deferred is not None:
                    self._session.send(self._deferred)
                    self._deferred = None
        return out
