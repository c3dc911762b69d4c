"""The one error hierarchy of ble-lock.

Every error raised by ble-lock is a :class:`LockError`. Each carries a stable
:class:`ErrorCode`: the same number travels on the wire in an error response
(``docs/protocol.md``) and is the exit status of the command line, so a script can
tell "capacity full" from "permission denied" without parsing text.

Code ranges (append new codes at the end of the owning block, never renumber):

* 10-59  lock logic (``ble_lock.core``)
* 60-79  wire protocol (``ble_lock.wire``)
* 80-89  transport and client (``ble_lock.central``, ``ble_lock.peripheral``)
* 90-99  storage and internal

A *denial* (wrong PIN, lockout, outside a validity window) is not an exception inside
the lock: the core returns a decision value that may carry one of these codes as its
reason. Only the client API turns a remote denial into an exception.
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar

__all__ = [
    "CapacityError",
    "ConflictError",
    "ErrorCode",
    "InternalError",
    "InvalidInputError",
    "LockError",
    "NotFoundError",
    "PermissionDeniedError",
    "StateError",
    "StorageError",
    "TransportError",
    "error_for_code",
]


class ErrorCode(IntEnum):
    """Stable error codes, shared by the core, the wire and the CLI exit status."""

    # -- lock logic: invalid input (10-19)
    INVALID_ARGUMENT = 10
    MALFORMED_PIN = 11
    WEAK_PIN = 12
    PIN_MISMATCH = 13
    MALFORMED_CARD_CODE = 14
    WRONG_CARD_CODE = 15
    MALFORMED_TEMPLATE = 16
    INVALID_SCHEDULE = 17
    # -- lock logic: unknown things (20-24)
    UNKNOWN_USER = 20
    UNKNOWN_CREDENTIAL = 21
    UNKNOWN_KEY = 22
    # -- lock logic: state conflicts (25-34)
    ALREADY_EXISTS = 25
    ENROLMENT_OUT_OF_ORDER = 26
    NO_ENROLMENT = 27
    ALREADY_CLAIMED = 28
    NOT_CLAIMED = 29
    UNSUPPORTED_BY_PROFILE = 30
    NOT_IN_PAIRING_MODE = 31
    REQUEST_ID_REUSED = 32
    # -- lock logic: capacity (35-39)
    CAPACITY_FULL = 35
    USER_LIMIT_REACHED = 36
    # -- lock logic: authorization and denials (40-59)
    PERMISSION_DENIED = 40
    LAST_ADMIN = 41
    SELF_DELETE = 42
    OUTSIDE_VALIDITY = 43
    KEY_REVOKED = 44
    KEY_EXPIRED = 45
    LOCKED_OUT = 46
    PRIVACY_MODE = 47
    ANTI_LOCK = 48
    NO_MATCH = 49
    DUAL_AUTH_PENDING = 50
    NO_CREDENTIALS = 51
    CODE_ALREADY_USED = 52
    KEYPAD_ASLEEP = 53
    LINK_PENDING = 54
    # -- wire protocol (60-79)
    PROTOCOL_ERROR = 60
    MESSAGE_TOO_LARGE = 61
    BAD_FRAGMENT = 62
    DECRYPT_FAILED = 63
    REPLAY = 64
    HANDSHAKE_FAILED = 65
    PAIRING_FAILED = 66
    UNKNOWN_MESSAGE = 67
    SESSION_CLOSED = 68
    UNSUPPORTED_VERSION = 69
    REASSEMBLY_TIMEOUT = 70
    IDENTITY_MISMATCH = 71
    UNKNOWN_PEER = 72
    CHANNEL_BUSY = 73
    SESSION_TIMEOUT = 74
    # -- transport and client (80-89)
    LOCK_NOT_FOUND = 80
    CONNECTION_FAILED = 81
    DISCONNECTED = 82
    TIMEOUT = 83
    KEYSTORE_ERROR = 84
    NOT_PAIRED = 85
    # -- storage and internal (90-99)
    STORAGE_ERROR = 90
    STORAGE_VERSION = 91
    STORAGE_CORRUPT = 92
    INTERNAL = 99


class LockError(Exception):
    """Root of every ble-lock error; ``code`` is the stable :class:`ErrorCode`.

    Subclasses name a category and a default code; an instance may carry any more
    specific code of that category (``CapacityError(..., code=ErrorCode.USER_LIMIT_REACHED)``).
    """

    default_code: ClassVar[ErrorCode] = ErrorCode.INTERNAL

    def __init__(self, message: str, *, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code: ErrorCode = code if code is not None else self.default_code

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code.name})"


class InvalidInputError(LockError):
    """The request is malformed or a value is out of range (bad PIN, bad card code...)."""

    default_code = ErrorCode.INVALID_ARGUMENT


class NotFoundError(LockError):
    """A user, credential or key named by the request does not exist."""

    default_code = ErrorCode.UNKNOWN_USER


class StateError(LockError):
    """The request does not fit the lock's current state (enrolment order, already claimed)."""

    default_code = ErrorCode.ENROLMENT_OUT_OF_ORDER


class ConflictError(StateError):
    """The thing to create exists already."""

    default_code = ErrorCode.ALREADY_EXISTS


class CapacityError(LockError):
    """A lock-wide capacity or a per-user limit of the model profile is reached."""

    default_code = ErrorCode.CAPACITY_FULL


class PermissionDeniedError(LockError):
    """The actor may not do this (role, validity window, mode, lockout)."""

    default_code = ErrorCode.PERMISSION_DENIED


class TransportError(LockError):
    """The Bluetooth link or the client machinery failed."""

    default_code = ErrorCode.CONNECTION_FAILED


class StorageError(LockError):
    """The lock's durable store failed or is corrupt."""

    default_code = ErrorCode.STORAGE_ERROR


class InternalError(LockError):
    """A bug: an invariant did not hold."""

    default_code = ErrorCode.INTERNAL


def _category(code: ErrorCode) -> type[LockError]:
    value = int(code)
    if code in (ErrorCode.ALREADY_EXISTS, ErrorCode.ALREADY_CLAIMED,
                ErrorCode.REQUEST_ID_REUSED):
        return ConflictError
    if 10 <= value < 20:
        return InvalidInputError
    if 20 <= value < 25:
        return NotFoundError
    if 25 <= value < 35:
        return StateError
    if 35 <= value < 40:
        return CapacityError
    if 40 <= value < 60:
        return PermissionDeniedError
    if 80 <= value < 90:
        return TransportError
    if 90 <= value < 99:
        return StorageError
    return LockError


def error_for_code(code: int, message: str) -> LockError:
    """Rebuild a typed error from a code received on the wire.

    Unknown numbers (a newer peer) become a plain :class:`LockError` with
    ``ErrorCode.INTERNAL`` rather than failing: the message still reaches the user.
    Protocol codes (60-79) map to :class:`LockError` here; ``ble_lock.wire`` has its
    own ``RemoteProtocolError`` types for errors it raises itself.
    """
    try:
        known = ErrorCode(code)
    except ValueError:
        return LockError(f"{message} (unknown error code {code})", code=ErrorCode.INTERNAL)
    return _category(known)(message, code=known)
