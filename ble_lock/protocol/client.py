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

from dataclasses import dataclass, field
from typing import TypeVar

from ble_lock.core.clock import Rng
from ble_lock.core.errors import LockError, error_for_code
from ble_lock.protocol import messages as m

__all__ = [
    "AppClient",
    "AppEvent",
    "Failed",
    "Pushed",
    "Succeeded",
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

    @property
    def pending(self) -> list[bytes]:
        return list(self._pending)

    # -- incoming

    def receive(self, payload: bytes) -> list[AppEvent]:
        """One message from the lock. Raises a ``RemoteProtocolError`` subtype on garbage
        (the caller closes the session). A response to no pending request is dropped."""
        message = m.decode_from_lock(payload)
        if isinstance(message, m.Event):
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
