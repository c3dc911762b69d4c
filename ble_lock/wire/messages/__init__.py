"""Application messages: the envelope of requests, responses and lock-pushed events.

A message is the plaintext of one secure-session record (docs/protocol.md, ## Messages)::

    request   01 | request_id[8] | opcode u8 | body
    response  02 | request_id[8] | opcode u8 | status u8 | text_len u8 | text | body
    event     03 | event_type u8 | body

``request_id`` is 8 random bytes chosen by the client; the lock applies a request id of
one actor at most once and answers a retry with the stored response (idempotency).
``status`` is 0 for success or an :class:`~ble_lock.core.errors.ErrorCode`; an error
response has no body and may carry opcode 0 (the request could not be read). Everything
the peer sends that we cannot accept raises :class:`BadMessageError`, a
``RemoteProtocolError``, and nothing else.

The bodies (``UserAdd``, ``UserCreated``, ``StateChanged``...) are re-exported from
``bodies.py``, the enums and bounds from ``types.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ble_lock.core.errors import ErrorCode
from ble_lock.core.model import (
    CredentialKind,
    DoorDirection,
    EnrolmentState,
    EventKind,
    LockBody,
    Role,
    Trigger,
    UnlockMethod,
)
from ble_lock.wire.errors import (
    LocalProtocolError,
    MessageTooLargeError,
    RemoteProtocolError,
    UnknownMessageError,
)
from ble_lock.wire.messages import bodies as messages_bodies
from ble_lock.wire.messages import records as messages_records
from ble_lock.wire.messages import types as messages_types
from ble_lock.wire.messages.bodies import *  # noqa: F403  # the catalogue, re-exported
from ble_lock.wire.messages.codec import (
    CodecError,
    decode_body,
    encode_body,
    event_type,
    request_type,
)
from ble_lock.wire.messages.declare import response_of
from ble_lock.wire.messages.envelope import (
    KIND_EVENT,
    KIND_REQUEST,
    KIND_RESPONSE,
    MAX_TEXT,
    REQUEST_ID_SIZE,
    Envelope,
    pack,
    unpack,
)
from ble_lock.wire.messages.records import *  # noqa: F403  # the catalogue, re-exported
from ble_lock.wire.messages.types import *  # noqa: F403  # enums and bounds, re-exported
from ble_lock.wire.messages.types import (
    EventBody,
    EventType,
    Opcode,
    RequestBody,
    ResponseBody,
)

__all__ = [
    "MAX_MESSAGE_SIZE",
    "MAX_TEXT_SIZE",
    "REQUEST_ID_SIZE",
    "BadMessageError",
    "BadMessageTooLargeError",
    "BadUnknownMessageError",
    "CredentialKind",
    "DoorDirection",
    "EnrolmentState",
    "EventKind",
    "LockBody",
    "Message",
    "PushedEvent",
    "RemoteProtocolError",
    "Request",
    "Response",
    "Role",
    "Trigger",
    "UnlockMethod",
    "clip_text",
    "decode",
    "decode_from_lock",
    "decode_request",
    "encode",
    "response_of",
]
__all__ += messages_bodies.__all__
__all__ += messages_records.__all__
__all__ += messages_types.__all__

MAX_MESSAGE_SIZE = 1024
"""Largest application message (plaintext); every page type fits it in its worst case."""

MAX_TEXT_SIZE = MAX_TEXT


class BadMessageError(RemoteProtocolError):
    """A message from the peer cannot be accepted.

    ``request_id``/``opcode`` are what could be read of a request before it failed, so
    that the lock can still answer it with an error response.
    """

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        request_id: bytes | None = None,
        opcode: Opcode | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.request_id = request_id
        self.opcode = opcode


class BadMessageTooLargeError(BadMessageError, MessageTooLargeError):
    """A :class:`BadMessageError` of code ``MESSAGE_TOO_LARGE`` (its class by the table)."""


class BadUnknownMessageError(BadMessageError, UnknownMessageError):
    """A :class:`BadMessageError` of code ``UNKNOWN_MESSAGE`` (its class by the table)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    request_id: bytes
    body: RequestBody

    @property
    def opcode(self) -> Opcode:
        return self.body.OPCODE


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    """``status`` 0 and a body, or an error code, a text and no body."""

    request_id: bytes
    opcode: Opcode | None
    status: int = 0
    message: str = ""
    body: ResponseBody | None = None

    @property
    def ok(self) -> bool:
        return self.status == 0


@dataclass(frozen=True, slots=True, kw_only=True)
class PushedEvent:
    """A message the lock pushes unasked: one event body (state, alarm, enrolment step,
    sync statement)."""

    body: EventBody


Message = Request | Response | PushedEvent


def clip_text(text: str, limit: int = MAX_TEXT_SIZE) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes on a character boundary."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[:limit].decode("utf-8", errors="ignore")


# ------------------------------------------------------------------ encoding (local)


def encode(message: Message) -> bytes:
    """Encode a message; :class:`LocalProtocolError` (a ``ValueError``) if it breaks a bound
    (a local bug, not peer input)."""
    try:
        if isinstance(message, Request):
            env = Envelope(
                kind=KIND_REQUEST,
                request_id=_request_id(message.request_id),
                opcode=int(message.opcode),
                body=encode_body(message.body),
            )
        elif isinstance(message, Response):
            env = _response_envelope(message)
        else:
            env = Envelope(
                kind=KIND_EVENT, event=int(message.body.EVENT), body=encode_body(message.body)
            )
        data = pack(env)
    except CodecError as exc:
        raise LocalProtocolError(str(exc)) from None
    if len(data) > MAX_MESSAGE_SIZE:
        raise LocalProtocolError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_SIZE}")
    return data


def _request_id(request_id: bytes) -> bytes:
    if len(request_id) != REQUEST_ID_SIZE:
        raise LocalProtocolError(f"a request id is {REQUEST_ID_SIZE} bytes")
    return request_id


def _response_envelope(resp: Response) -> Envelope:
    if resp.ok:
        if resp.body is None or resp.opcode is None:
            raise LocalProtocolError("a success response needs its opcode and body")
        expected = request_type(resp.opcode).RESPONSE
        if type(resp.body) is not expected:
            raise LocalProtocolError(f"{resp.opcode.name} answers with {expected.__name__}")
        body = encode_body(resp.body)
    else:
        if resp.body is not None or not 0 < resp.status < 256:
            raise LocalProtocolError("an error response has a status in 1..255 and no body")
        body = b""
    return Envelope(
        kind=KIND_RESPONSE,
        request_id=_request_id(resp.request_id),
        opcode=0 if resp.opcode is None else int(resp.opcode),
        status=resp.status,
        text=resp.message,
        body=body,
    )


# ------------------------------------------------------------------ decoding (peer input)


def decode(data: bytes) -> Message:
    """Decode any message; :class:`BadMessageError` on anything we cannot accept."""
    if len(data) > MAX_MESSAGE_SIZE:
        # Not parsed, but a request's header is still read, so that the refusal names
        # the request (docs/protocol.md, ## Messages: oversize).
        request_id, opcode = _request_header(data)
        raise BadMessageTooLargeError(
            f"message of {len(data)} bytes exceeds {MAX_MESSAGE_SIZE}",
            request_id=request_id, opcode=opcode,
        )
    try:
        env = unpack(bytes(data))
    except CodecError as exc:
        raise BadMessageError(str(exc)) from None
    if env.kind == KIND_REQUEST:
        return _decode_request(env)
    if env.kind == KIND_RESPONSE:
        return _decode_response(env)
    return _decode_event(env)


def _request_header(data: bytes) -> tuple[bytes | None, Opcode | None]:
    """The request id and (known) opcode at the head of a request, if it is one."""
    if data[0] != KIND_REQUEST:
        return None, None
    request_id = bytes(data[1:1 + REQUEST_ID_SIZE])
    try:
        return request_id, Opcode(data[1 + REQUEST_ID_SIZE])
    except ValueError:
        return request_id, None


def decode_request(data: bytes) -> Request:
    """Decode a message that must be a request (the lock's side)."""
    message = decode(data)
    if not isinstance(message, Request):
        raise BadUnknownMessageError("expected a request")
    return message


def decode_from_lock(data: bytes) -> Response | PushedEvent:
    """Decode a message that must come from a lock (the client's side)."""
    message = decode(data)
    if isinstance(message, Request):
        raise BadUnknownMessageError("a lock does not send requests")
    return message


def _opcode(raw: int, request_id: bytes) -> Opcode:
    try:
        return Opcode(raw)
    except ValueError:
        raise BadUnknownMessageError(
            f"unknown opcode {raw:#04x}", request_id=request_id
        ) from None


def _decode_request(env: Envelope) -> Request:
    opcode = _opcode(env.opcode, env.request_id)
    try:
        body = decode_body(request_type(opcode), env.body)
    except CodecError as exc:
        raise BadMessageError(str(exc), request_id=env.request_id, opcode=opcode) from None
    return Request(request_id=env.request_id, body=body)


def _decode_response(env: Envelope) -> Response:
    if env.status != 0:
        if env.body:
            raise BadMessageError("an error response has no body", request_id=env.request_id)
        opcode = None if env.opcode == 0 else _opcode(env.opcode, env.request_id)
        return Response(
            request_id=env.request_id, opcode=opcode, status=env.status, message=env.text
        )
    opcode = _opcode(env.opcode, env.request_id)
    try:
        body = decode_body(request_type(opcode).RESPONSE, env.body)
    except CodecError as exc:
        raise BadMessageError(str(exc), request_id=env.request_id, opcode=opcode) from None
    return Response(request_id=env.request_id, opcode=opcode, message=env.text, body=body)


def _decode_event(env: Envelope) -> PushedEvent:
    try:
        kind = EventType(env.event)
    except ValueError:
        raise BadUnknownMessageError(
            f"unknown event {env.event:#04x}"
        ) from None
    try:
        return PushedEvent(body=decode_body(event_type(kind), env.body))
    except CodecError as exc:
        raise BadMessageError(str(exc)) from None
