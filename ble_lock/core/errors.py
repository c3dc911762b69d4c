"""The one error hierarchy of ble-lock, and the one table from code to class.

Every error raised by ble-lock is a :class:`LockError`. Each carries a stable
:class:`ErrorCode`: the same number travels on the wire in an error response
(``docs/protocol.md``) and is the exit status of the command line, so a script can
tell "capacity full" from "permission denied" without parsing text.

The class of an error is *derived* from its code, never chosen beside it:

* each :class:`ErrorCode` member declares its :class:`Category`;
* each category has exactly one class, which declares it (``class StateError(LockError,
  category=Category.STATE)``); a protocol code may have a class of its own
  (``class ReplayError(RemoteProtocolError, code=ErrorCode.REPLAY)``);
* :func:`error_class` reads that table, :func:`error_for` raises through it, and
  :func:`error_for_code` rebuilds the same class from a number received on the wire;
* a :class:`LockError` refuses, at construction, a code whose class it is not an instance
  of (``TypeError``): ``StateError("...", code=ErrorCode.CODE_ALREADY_USED)`` cannot exist.

A *denial* (wrong PIN, lockout, outside a validity window) is not an exception inside
the lock: the core returns a decision value that may carry one of these codes as its
reason. Only the client API turns a remote denial into an exception.
"""

from __future__ import annotations

from enum import Enum, IntEnum
from typing import Any, ClassVar

__all__ = [
    "BluetoothUnavailableError",
    "CapacityError",
    "Category",
    "ChannelBusyError",
    "ConflictError",
    "DecryptError",
    "ErrorCode",
    "FragmentError",
    "FramingError",
    "HandshakeError",
    "IdentityMismatchError",
    "InternalError",
    "InvalidInputError",
    "LocalProtocolError",
    "LockError",
    "MessageTooLargeError",
    "NotFoundError",
    "PairingError",
    "PermissionDeniedError",
    "ReassemblyTimeoutError",
    "RemoteProtocolError",
    "ReplayError",
    "SessionClosedError",
    "SessionTimeoutError",
    "StateError",
    "StorageError",
    "TransportError",
    "UnknownMessageError",
    "UnknownPeerError",
    "UnsupportedVersionError",
    "code_of",
    "error_class",
    "error_for",
    "error_for_code",
]


class Category(Enum):
    """What kind of failure a code names; each category has exactly one error class."""

    INVALID_INPUT = "invalid input"
    NOT_FOUND = "not found"
    STATE = "state"
    CONFLICT = "conflict"
    CAPACITY = "capacity"
    PERMISSION = "permission"
    PROTOCOL = "protocol"
    TRANSPORT = "transport"
    STORAGE = "storage"
    INTERNAL = "internal"


_C = Category


class ErrorCode(IntEnum):
    """Stable error codes, shared by the core, the wire and the CLI exit status.

    Each member declares its :class:`Category` next to its number; the number is on the
    wire and is the CLI exit status (never renumber; append new codes to their block).
    """

    category: Category

    def __new__(cls, value: int, category: Category) -> ErrorCode:
        member = int.__new__(cls, value)
        member._value_ = value
        member.category = category
        return member

    # -- lock logic: invalid input
    INVALID_ARGUMENT = 10, _C.INVALID_INPUT
    MALFORMED_PIN = 11, _C.INVALID_INPUT
    WEAK_PIN = 12, _C.INVALID_INPUT
    PIN_MISMATCH = 13, _C.INVALID_INPUT
    MALFORMED_CARD_CODE = 14, _C.INVALID_INPUT
    WRONG_CARD_CODE = 15, _C.INVALID_INPUT
    MALFORMED_TEMPLATE = 16, _C.INVALID_INPUT
    INVALID_SCHEDULE = 17, _C.INVALID_INPUT
    # -- lock logic: unknown things
    UNKNOWN_USER = 20, _C.NOT_FOUND
    UNKNOWN_CREDENTIAL = 21, _C.NOT_FOUND
    UNKNOWN_KEY = 22, _C.NOT_FOUND
    # -- lock logic: state conflicts
    ALREADY_EXISTS = 25, _C.CONFLICT
    ENROLMENT_OUT_OF_ORDER = 26, _C.STATE
    NO_ENROLMENT = 27, _C.STATE
    ALREADY_CLAIMED = 28, _C.CONFLICT
    NOT_CLAIMED = 29, _C.STATE
    UNSUPPORTED_BY_PROFILE = 30, _C.STATE
    NOT_IN_PAIRING_MODE = 31, _C.STATE
    REQUEST_ID_REUSED = 32, _C.CONFLICT
    # -- lock logic: capacity
    CAPACITY_FULL = 35, _C.CAPACITY
    USER_LIMIT_REACHED = 36, _C.CAPACITY
    # -- lock logic: authorization and denials
    PERMISSION_DENIED = 40, _C.PERMISSION
    LAST_ADMIN = 41, _C.PERMISSION
    SELF_DELETE = 42, _C.PERMISSION
    OUTSIDE_VALIDITY = 43, _C.PERMISSION
    KEY_REVOKED = 44, _C.PERMISSION
    KEY_EXPIRED = 45, _C.PERMISSION
    LOCKED_OUT = 46, _C.PERMISSION
    PRIVACY_MODE = 47, _C.PERMISSION
    ANTI_LOCK = 48, _C.PERMISSION
    NO_MATCH = 49, _C.PERMISSION
    DUAL_AUTH_PENDING = 50, _C.PERMISSION
    NO_CREDENTIALS = 51, _C.PERMISSION
    CODE_ALREADY_USED = 52, _C.PERMISSION
    KEYPAD_ASLEEP = 53, _C.PERMISSION
    LINK_PENDING = 54, _C.PERMISSION
    INVITE_USED = 55, _C.PERMISSION
    REMOTE_UNLOCK_OFF = 56, _C.PERMISSION  # R-APP-5: the lock's remote unlock setting is off
    # -- wire protocol
    PROTOCOL_ERROR = 60, _C.PROTOCOL
    MESSAGE_TOO_LARGE = 61, _C.PROTOCOL
    BAD_FRAGMENT = 62, _C.PROTOCOL
    DECRYPT_FAILED = 63, _C.PROTOCOL
    REPLAY = 64, _C.PROTOCOL
    HANDSHAKE_FAILED = 65, _C.PROTOCOL
    PAIRING_FAILED = 66, _C.PROTOCOL
    UNKNOWN_MESSAGE = 67, _C.PROTOCOL
    SESSION_CLOSED = 68, _C.PROTOCOL
    UNSUPPORTED_VERSION = 69, _C.PROTOCOL
    REASSEMBLY_TIMEOUT = 70, _C.PROTOCOL
    IDENTITY_MISMATCH = 71, _C.PROTOCOL
    UNKNOWN_PEER = 72, _C.PROTOCOL
    CHANNEL_BUSY = 73, _C.PROTOCOL
    SESSION_TIMEOUT = 74, _C.PROTOCOL
    # -- transport and client
    LOCK_NOT_FOUND = 80, _C.TRANSPORT
    CONNECTION_FAILED = 81, _C.TRANSPORT
    DISCONNECTED = 82, _C.TRANSPORT
    TIMEOUT = 83, _C.TRANSPORT
    KEYSTORE_ERROR = 84, _C.TRANSPORT
    NOT_PAIRED = 85, _C.TRANSPORT
    BLUETOOTH_UNAVAILABLE = 86, _C.TRANSPORT
    ADAPTER_IN_USE = 87, _C.TRANSPORT
    """The emulator's adapter already serves another emulated lock (one lock per adapter)."""
    # -- storage and internal
    STORAGE_ERROR = 90, _C.STORAGE
    STORAGE_VERSION = 91, _C.STORAGE
    STORAGE_CORRUPT = 92, _C.STORAGE
    INTERNAL = 99, _C.INTERNAL


_CLASS_OF_CATEGORY: dict[Category, type[LockError]] = {}
_CLASS_OF_CODE: dict[ErrorCode, type[LockError]] = {}


class LockError(Exception):
    """Root of every ble-lock error; ``code`` is the stable :class:`ErrorCode`.

    The class an error has is the class its code maps to (:func:`error_class`), or a
    subclass of it (``KeystoreError`` is a ``TransportError``). A class that stands for
    a category declares it (``category=``); a class that stands for one code declares it
    (``code=``); both only in this module, so the table is in one place. ``hint`` is an
    optional "what to do" line for the command line.
    """

    category: ClassVar[Category] = Category.INTERNAL
    default_code: ClassVar[ErrorCode] = ErrorCode.INTERNAL

    def __init_subclass__(
        cls,
        *,
        category: Category | None = None,
        code: ErrorCode | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if category is None and code is None:
            return
        if cls.__module__ != __name__:
            raise TypeError(f"{cls.__name__}: categories and codes are declared in {__name__}")
        if category is not None:
            if category in _CLASS_OF_CATEGORY:
                raise TypeError(f"{category} already has {_CLASS_OF_CATEGORY[category].__name__}")
            cls.category = category
            _CLASS_OF_CATEGORY[category] = cls
        if code is not None:
            if code.category is not cls.category or code in _CLASS_OF_CODE:
                raise TypeError(f"{cls.__name__} cannot own {code.name}")
            cls.default_code = code
            _CLASS_OF_CODE[code] = cls

    def __init__(self, message: str, *, code: ErrorCode | None = None,
                 hint: str | None = None) -> None:
        chosen = code if code is not None else self.default_code
        expected = error_class(chosen)
        if not isinstance(self, expected):
            raise TypeError(f"{type(self).__name__} cannot carry {chosen.name}: "
                            f"raise error_for(ErrorCode.{chosen.name}, ...) "
                            f"(a {expected.__name__})")
        super().__init__(message)
        self.message = message
        self.code: ErrorCode = chosen
        self.hint = hint

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code.name})"


class InvalidInputError(LockError, category=Category.INVALID_INPUT):
    """The request is malformed or a value is out of range (bad PIN, bad card code...)."""

    default_code = ErrorCode.INVALID_ARGUMENT


class NotFoundError(LockError, category=Category.NOT_FOUND):
    """A user, credential or key named by the request does not exist."""

    default_code = ErrorCode.UNKNOWN_USER


class StateError(LockError, category=Category.STATE):
    """The request does not fit the lock's current state (enrolment order, not claimed)."""

    default_code = ErrorCode.ENROLMENT_OUT_OF_ORDER


class ConflictError(StateError, category=Category.CONFLICT):
    """The thing to create exists already (or the request id was used for another)."""

    default_code = ErrorCode.ALREADY_EXISTS


class CapacityError(LockError, category=Category.CAPACITY):
    """A lock-wide capacity or a per-user limit of the model profile is reached."""

    default_code = ErrorCode.CAPACITY_FULL


class PermissionDeniedError(LockError, category=Category.PERMISSION):
    """The actor may not do this (role, validity window, mode, lockout)."""

    default_code = ErrorCode.PERMISSION_DENIED


class TransportError(LockError, category=Category.TRANSPORT):
    """The Bluetooth link or the client machinery failed."""

    default_code = ErrorCode.CONNECTION_FAILED


class BluetoothUnavailableError(TransportError, code=ErrorCode.BLUETOOTH_UNAVAILABLE):
    """This machine's Bluetooth stack cannot be reached: no system D-Bus, no BlueZ
    (``org.bluez``) on it, or no usable adapter. Nothing was sent to any lock."""


class StorageError(LockError, category=Category.STORAGE):
    """The lock's durable store failed or is corrupt."""

    default_code = ErrorCode.STORAGE_ERROR


class InternalError(LockError, category=Category.INTERNAL):
    """A bug: an invariant did not hold."""

    default_code = ErrorCode.INTERNAL


# -- the wire protocol's errors (re-exported by ble_lock.wire.errors, their home) -----


class RemoteProtocolError(LockError, category=Category.PROTOCOL):
    """The peer sent something we cannot accept; the channel it came on is closed."""

    default_code = ErrorCode.PROTOCOL_ERROR

    @classmethod
    def with_reason(cls, message: str, reason: ErrorCode) -> RemoteProtocolError:
        """A channel closed for ``reason``: the one place a code rides on another class.

        A CLOSE message carries one code. When a pairing is refused for a lock-logic
        reason (``NOT_IN_PAIRING_MODE``, ``LOCKED_OUT``), the error is still this
        protocol class, as everything a channel ends with must be, and ``code`` is that
        reason, so the CLOSE and the CLI exit status name it. A protocol ``reason``
        gets its own class from the table (never a disagreeing pair).
        """
        if reason.category is Category.PROTOCOL:
            owner = error_class(reason)
            chosen = cls if owner is RemoteProtocolError else owner  # PROTOCOL_ERROR: any
            assert issubclass(chosen, RemoteProtocolError)
            return chosen(message, code=reason)
        err = cls(message)
        err.code = reason
        return err


class FramingError(RemoteProtocolError):
    """A frame or message does not parse (truncated, bad field, trailing bytes)."""


class MessageTooLargeError(RemoteProtocolError, code=ErrorCode.MESSAGE_TOO_LARGE):
    """A message declares (or reaches) more bytes than the protocol allows."""


class FragmentError(RemoteProtocolError, code=ErrorCode.BAD_FRAGMENT):
    """Duplicate, out-of-order, interleaved, overflowing or too many fragments."""


class ReassemblyTimeoutError(RemoteProtocolError, code=ErrorCode.REASSEMBLY_TIMEOUT):
    """The fragments of a message did not all arrive in time."""


class DecryptError(RemoteProtocolError, code=ErrorCode.DECRYPT_FAILED):
    """An AEAD tag did not verify: tampered, replayed, reordered or wrong key."""


class ReplayError(RemoteProtocolError, code=ErrorCode.REPLAY):
    """A first message (or a sync statement) carried a counter already seen."""


class HandshakeError(RemoteProtocolError, code=ErrorCode.HANDSHAKE_FAILED):
    """The session handshake failed (bad point, wrong state, bad status)."""


class UnknownPeerError(HandshakeError, code=ErrorCode.UNKNOWN_PEER):
    """The phone's static key is not paired with this lock (never, or revoked)."""


class PairingError(RemoteProtocolError, code=ErrorCode.PAIRING_FAILED):
    """Pairing failed: wrong code (key confirmation failed), refused or locked out."""


class IdentityMismatchError(PairingError, code=ErrorCode.IDENTITY_MISMATCH):
    """The lock's static key does not match the fingerprint from the QR code (MITM)."""


class UnknownMessageError(RemoteProtocolError, code=ErrorCode.UNKNOWN_MESSAGE):
    """A message type that does not exist, or is not allowed in the channel's state."""


class UnsupportedVersionError(RemoteProtocolError, code=ErrorCode.UNSUPPORTED_VERSION):
    """The peer speaks a protocol version we do not."""


class SessionClosedError(RemoteProtocolError, code=ErrorCode.SESSION_CLOSED):
    """The peer closed the channel (a CLOSE message), or data arrived on a closed one."""


class SessionTimeoutError(RemoteProtocolError, code=ErrorCode.SESSION_TIMEOUT):
    """A handshake or an idle session ran out of time."""


class ChannelBusyError(RemoteProtocolError, code=ErrorCode.CHANNEL_BUSY):
    """Too many channels, or another pairing is in progress: retry later / elsewhere."""


class LocalProtocolError(InvalidInputError, ValueError):
    """The local application misused the sans-IO API (bad argument, wrong state).

    h11's contract: a :class:`RemoteProtocolError` is the peer's fault, this is ours.
    It is an :class:`InvalidInputError` (code ``INVALID_ARGUMENT``, exit status 10), and
    a ``ValueError`` for callers that guard an encoder with ``except ValueError``.
    """


_BY_NUMBER: dict[int, ErrorCode] = {int(c): c for c in ErrorCode}


def code_of(number: int) -> ErrorCode | None:
    """The :class:`ErrorCode` of a number from the wire, ``None`` if it is unknown."""
    return _BY_NUMBER.get(number)


def error_class(code: ErrorCode) -> type[LockError]:
    """The class an error with ``code`` is raised as (and rebuilt as by a client)."""
    return _CLASS_OF_CODE.get(code) or _CLASS_OF_CATEGORY[code.category]


def error_for(code: ErrorCode, message: str, *, hint: str | None = None) -> LockError:
    """The error for ``code``: ``raise error_for(ErrorCode.LOCKED_OUT, "locked out")``."""
    return error_class(code)(message, code=code, hint=hint)


def error_for_code(code: int, message: str) -> LockError:
    """Rebuild a typed error from a code received on the wire (the same class as raised).

    Unknown numbers (a newer peer) become an :class:`InternalError` rather than failing:
    the message still reaches the user.
    """
    known = code_of(code)
    if known is None:
        return InternalError(f"{message} (unknown error code {code})")
    return error_for(known, message)
