"""The lock-side application service: requests from authenticated phones -> the core.

:meth:`LockService.handle` takes the static public key the secure session
authenticated and one request payload, and returns the response payload. It never
raises: garbage gets an error response with the protocol code (the session layer
decides whether to close), a core error or denial gets an error response with the
core's stable :class:`~ble_lock.core.errors.ErrorCode`. The role check happens inside
the core for every opcode (``lockapp/handlers.py``); the phone's claims about itself are
never read — only its key.

:meth:`LockService.drain_pushes` turns what the core logged since the last call into
pushed events: bolt state changes (to every session), alarms and enrolment progress
(to admin sessions), and sync-unlock statements for linked locks (to every session:
any phone in range may relay one; the statement itself is the authority).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from ble_lock.core.errors import ErrorCode, LockError, PermissionDeniedError
from ble_lock.core.lock import Lock
from ble_lock.core.model import (
    ALARM_KINDS,
    Actor,
    EnrolmentState,
    EventKind,
    LockEvent,
    Role,
    SyncTarget,
)
from ble_lock.lockapp.convert import enrolment, event_record
from ble_lock.lockapp.directory import CoreDirectory, CorePeer
from ble_lock.lockapp.handlers import HANDLERS, Context
from ble_lock.lockapp.sync import SyncStatements
from ble_lock.wire import messages as m
from ble_lock.wire.endpoints.lock import LockEndpoint
from ble_lock.wire.events import EndpointEvent, RequestReceived
from ble_lock.wire.security.crypto import KeyPair, Rng

__all__ = ["Answer", "LockServer", "LockService", "Push", "request_digest"]

_log = logging.getLogger(__name__)

_STATE_EVENTS = {
    EventKind.UNLOCK: m.LockState.UNLOCKED,
    EventKind.LOCKED: m.LockState.LOCKED,
}

StatementMaker = Callable[[bytes], "m.SyncStatement | None"]
StatementChecker = Callable[[m.SyncStatement], bytes]


@dataclass(frozen=True, slots=True, kw_only=True)
class Push:
    """One event payload for the phones; ``admins_only`` limits who may receive it."""

    payload: bytes = field(repr=False)
    admins_only: bool
    event: m.EventBody


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """A response payload, and the bolt state it tells the phone (None: none)."""

    payload: bytes = field(repr=False)
    told: m.LockState | None = None


#: Requests whose success response tells the phone the bolt's new state.
_TELLS_STATE: dict[type[m.RequestBody], m.LockState] = {
    m.Unlock: m.LockState.UNLOCKED,
    m.LockDoor: m.LockState.LOCKED,
}


def _no_sync_statements(statement: m.SyncStatement) -> bytes:
    raise PermissionDeniedError("sync unlock is not set up on this lock")


class LockService:
    """Maps requests to the core; one per lock, shared by every session."""

    __slots__ = ("_enrolments", "_lock", "_make_statement", "_verify_statement",
                 "internal_errors")

    def __init__(
        self,
        lock: Lock,
        *,
        make_statement: StatementMaker | None = None,
        verify_statement: StatementChecker | None = None,
    ) -> None:
        self._lock = lock
        self._make_statement = make_statement
        self._verify_statement = verify_statement or _no_sync_statements
        self._enrolments: dict[int, tuple[Actor, m.Enrolment]] = {}
        self.internal_errors = 0
        """Requests that hit a bug (answered with ``INTERNAL``); tests keep it at 0."""

    def __repr__(self) -> str:
        return f"LockService(enrolments={len(self._enrolments)})"

    @property
    def lock(self) -> Lock:
        return self._lock

    # -- requests

    def handle(self, phone_key: bytes, payload: bytes, *, early: bool = False) -> bytes:
        """Answer one request from the phone authenticated with ``phone_key``.

        ``early``: it rode in a handshake's first message, where a request that carries a
        secret is refused unapplied (no forward secrecy there; ``RequestBody.SECRET``)."""
        return self.answer(phone_key, payload, early=early).payload

    def answer(self, phone_key: bytes, payload: bytes, *, early: bool = False) -> Answer:
        """:meth:`handle`, with the bolt state the response itself tells the phone (a
        granted ``Unlock`` or ``LockDoor``): that state is not pushed to the same
        session again (issue 15)."""
        try:
            request = m.decode_request(payload)
        except m.BadMessageError as exc:
            return Answer(payload=_error(exc.request_id, exc.opcode, exc.code, exc.message))
        if early and request.body.SECRET:
            return Answer(payload=_error(
                request.request_id, request.opcode, ErrorCode.PROTOCOL_ERROR,
                "a request carrying a secret must not ride in the first message"))
        response = self._answer(Actor.phone(phone_key), request)
        told = _TELLS_STATE.get(type(request.body)) if response.ok else None
        return Answer(payload=m.encode(response), told=told)

    def _answer(self, actor: Actor, request: m.Request) -> m.Response:
        handler = HANDLERS[type(request.body)]
        ctx = Context(lock=self._lock, actor=actor, request_id=request.request_id,
                      verify_statement=self._verify_statement)
        try:
            # Lazily: only a management mutation needs what was asked (not an unlock).
            with self._lock.request_scope(lambda: request_digest(request)):
                body = handler(ctx, request.body)
        except LockError as exc:
            return m.Response(request_id=request.request_id, opcode=request.opcode,
                              status=int(exc.code), message=m.clip_text(exc.message))
        except Exception:  # a bug must not take the lock down; it is counted and logged
            self.internal_errors += 1
            _log.exception("internal error in %s", request.opcode.name)
            return m.Response(request_id=request.request_id, opcode=request.opcode,
                              status=int(ErrorCode.INTERNAL), message="internal error")
        if isinstance(body, m.Enrolment) and body.state is EnrolmentState.CAPTURING:
            self._enrolments[body.session_id] = (actor, body)
        return m.Response(request_id=request.request_id, opcode=request.opcode, body=body)

    # -- pushes

    def drain_pushes(self) -> list[Push]:
        """Events for the phones since the last call, oldest first."""
        out: list[Push] = []
        for event in self._lock.drain_notifications():
            out.extend(self._pushes_for(event))
        out.extend(self._enrolment_steps())
        return out

    def still_valid(self, phone_key: bytes) -> bool:
        """False once the phone's key is revoked or gone (deleted user, factory reset)."""
        info = self._lock.find_phone(phone_key)
        return info is not None and not info.revoked

    def may_receive(self, phone_key: bytes, push: Push) -> bool:
        """Whether the phone with this key may get ``push`` (admins see alarms and
        enrolment progress; a revoked or unknown key gets nothing)."""
        info = self._lock.find_phone(phone_key)
        if info is None or info.revoked:
            return False
        return not push.admins_only or info.role is Role.ADMIN

    def _pushes_for(self, event: LockEvent) -> list[Push]:
        out: list[Push] = []
        state = _STATE_EVENTS.get(event.kind)
        if state is not None:
            body: m.EventBody = m.StateChanged(
                state=state, at_ms=max(0, int(event.timestamp * 1000)), method=event.method,
                user_number=event.user_number)
            out.append(_push(body, admins_only=False))
        if event.kind is EventKind.SYNC_TRIGGER and self._make_statement is not None:
            # The core names the peer of every SYNC_TRIGGER (R-SYN-2): typed, not parsed.
            target = event.detail
            statement = (self._make_statement(target.peer)
                         if isinstance(target, SyncTarget) else None)
            if statement is not None:
                out.append(_push(statement, admins_only=False))
        elif event.kind in ALARM_KINDS:
            out.append(_push(m.Alarm(record=event_record(event)), admins_only=True))
        return out

    def _enrolment_steps(self) -> list[Push]:
        out: list[Push] = []
        for session_id, (actor, last) in list(self._enrolments.items()):
            try:
                now = enrolment(self._lock.enrolment_status(actor, session_id))
            except LockError:  # superseded, or the admin lost their rights meanwhile
                del self._enrolments[session_id]
                continue
            if now != last:
                out.append(_push(m.EnrolStep(enrolment=now), admins_only=True))
                self._enrolments[session_id] = (actor, now)
            if now.state is not EnrolmentState.CAPTURING:
                del self._enrolments[session_id]
        return out


def request_digest(request: m.Request) -> bytes:
    """What a request asks, without its id: SHA-256 of its canonical encoding with the
    request id zeroed (opcode and body). The core binds the request id to it, so a
    retried id is answered from its record only for the same opcode and body."""
    anonymous = m.Request(request_id=bytes(m.REQUEST_ID_SIZE), body=request.body)
    return hashlib.sha256(b"BLELOCK request " + m.encode(anonymous)).digest()


def _push(body: m.EventBody, *, admins_only: bool) -> Push:
    return Push(payload=m.encode(m.PushedEvent(body=body)), admins_only=admins_only, event=body)


def _error(request_id: bytes | None, opcode: m.Opcode | None, code: ErrorCode, text: str
           ) -> bytes:
    return m.encode(m.Response(
        request_id=request_id if request_id is not None else bytes(m.REQUEST_ID_SIZE),
        opcode=opcode, status=int(code), message=m.clip_text(text),
    ))


class LockServer:
    """The whole lock side for a GATT adapter: transport endpoint + service + core.

    The bless adapter feeds command-characteristic writes to :meth:`receive_data`,
    notifies every value of :meth:`data_to_send`, runs :meth:`handle_timer` at
    :meth:`next_timer`, and calls :meth:`flush_pushes` after front-panel activity (a
    keypad unlock, an alarm) so that connected phones hear about it. A session whose key
    is revoked (or whose user is deleted) is closed with ``KEY_REVOKED`` at once.
    """

    __slots__ = ("endpoint", "service")

    def __init__(self, endpoint: LockEndpoint, service: LockService) -> None:
        self.endpoint = endpoint
        self.service = service

    @classmethod
    def create(cls, lock: Lock, *, static_key: KeyPair, rng: Rng, mtu: int = 23) -> LockServer:
        """Wire a core lock to a fresh endpoint (with sync-unlock statements); the lock id
        on the air is the one the core was provisioned with."""
        lock_id = lock.lock_id
        statements = SyncStatements(lock, lock_id=lock_id, static_key=static_key, rng=rng)
        endpoint = LockEndpoint(lock_id=lock_id, static_key=static_key,
                                directory=CoreDirectory(lock), rng=rng, mtu=mtu)
        service = LockService(lock, make_statement=statements.make,
                              verify_statement=statements.verify)
        return cls(endpoint, service)

    def __repr__(self) -> str:
        return f"LockServer(sessions={len(self.endpoint.sessions())})"

    def receive_data(self, data: bytes, now: float, *, mtu: int | None = None
                     ) -> list[EndpointEvent]:
        """One ATT write (``mtu``: its link's, if known: ``LockEndpoint.receive_data``).

        The replay counter a handshake advances, the requests the frame carries and the
        events they log commit in ONE transaction (the core's ``batch``: one fsync per
        unlock, issue 15; each mutation in it still all or nothing on its own), and only
        then are the answers encrypted and queued and the door acts (the core's
        ``after_commit``): nothing leaves, nothing moves before it is durable. If that
        commit fails, the channels whose requests it carried are closed (``INTERNAL``,
        nothing else answered) and the :class:`~ble_lock.core.errors.StorageError`
        propagates. Pushes follow."""
        events: list[EndpointEvent] = []
        try:
            with self.service.lock.context.batch():
                events = self.endpoint.receive_data(data, now, mtu=mtu)
                answers = self._answers(events)
        except LockError:
            for event in events:
                if isinstance(event, RequestReceived):
                    self.endpoint.close(event.channel, ErrorCode.INTERNAL)
            raise
        told = self._respond(answers)
        self.flush_pushes(told)
        return events

    def handle_timer(self, now: float) -> list[EndpointEvent]:
        events = self.endpoint.handle_timer(now)
        self._serve(events)
        return events

    def next_timer(self) -> float | None:
        return self.endpoint.next_timer()

    def data_to_send(self) -> list[bytes]:
        return self.endpoint.data_to_send()

    def _serve(self, events: list[EndpointEvent]) -> None:
        self.flush_pushes(self._respond(self._answers(events)))

    def _answers(self, events: list[EndpointEvent]) -> list[tuple[int, CorePeer, Answer]]:
        return [(event.channel, event.peer,
                 self.service.answer(event.peer.public_key, event.payload,
                                     early=event.in_handshake))
                for event in events
                if isinstance(event, RequestReceived) and isinstance(event.peer, CorePeer)]

    def _respond(self, answers: list[tuple[int, CorePeer, Answer]]
                 ) -> dict[int, tuple[CorePeer, m.LockState]]:
        told: dict[int, tuple[CorePeer, m.LockState]] = {}
        for channel, peer, answer in answers:
            self.endpoint.respond(channel, answer.payload)
            if answer.told is not None:
                told[channel] = (peer, answer.told)
        return told

    def flush_pushes(self, told: dict[int, tuple[CorePeer, m.LockState]] | None = None
                     ) -> int:
        """Send what the lock has to tell the connected phones, and close the sessions
        of keys that were revoked or erased meanwhile; returns how many pushes went.

        ``told``: channels whose response just told their phone the bolt's new state
        (a granted unlock or lock); the state change that phone's own request caused is
        not pushed to it again (issue 15: a redundant encrypt and notification on the
        unlock's critical path). Other phones get it, and so does that phone for any
        other change."""
        pushes = self.service.drain_pushes()
        sent = 0
        for channel, peer in self.endpoint.sessions():
            if not isinstance(peer, CorePeer):
                continue
            if not self.service.still_valid(peer.public_key):
                self.endpoint.close(channel, ErrorCode.KEY_REVOKED)
                continue
            own = told.get(channel) if told else None
            for push in pushes:
                if own is not None and _caused_by(push, own):
                    own = None  # skipped once: a second change is news
                    continue
                if self.service.may_receive(peer.public_key, push):
                    self.endpoint.push(channel, push.payload)
                    sent += 1
        return sent


def _caused_by(push: Push, told: tuple[CorePeer, m.LockState]) -> bool:
    """Whether ``push`` is the state change a phone's own Bluetooth request caused."""
    peer, state = told
    event = push.event
    return (isinstance(event, m.StateChanged) and event.state is state
            and event.method is m.UnlockMethod.BLUETOOTH
            and event.user_number == peer.user_number)
