"""Errors of the wire protocol (codes 60-79 of :class:`~ble_lock.core.errors.ErrorCode`).

Anything a peer can send that we cannot accept raises a :class:`RemoteProtocolError`
subtype and nothing else (h11's contract, tested by ``tests/wire/test_fuzz.py``).
Misuse of the sans-IO API by the local application raises :class:`LocalProtocolError`.
"""

from __future__ import annotations

from ble_lock.core.errors import ErrorCode, LockError

__all__ = [
    "ChannelBusyError",
    "DecryptError",
    "FragmentError",
    "FramingError",
    "HandshakeError",
    "IdentityMismatchError",
    "LocalProtocolError",
    "MessageTooLargeError",
    "PairingError",
    "ReassemblyTimeoutError",
    "RemoteProtocolError",
    "ReplayError",
    "SessionClosedError",
    "SessionTimeoutError",
    "UnknownMessageError",
    "UnknownPeerError",
    "UnsupportedVersionError",
    "remote_error_for_code",
]


class RemoteProtocolError(LockError):
    """The peer sent something we cannot accept; the channel it came on is closed."""

    default_code = ErrorCode.PROTOCOL_ERROR


class FramingError(RemoteProtocolError):
    """A frame or message does not parse (truncated, bad field, trailing bytes)."""

    default_code = ErrorCode.PROTOCOL_ERROR


class MessageTooLargeError(RemoteProtocolError):
    """A message declares (or reaches) more bytes than the protocol allows."""

    default_code = ErrorCode.MESSAGE_TOO_LARGE


class FragmentError(RemoteProtocolError):
    """Duplicate, out-of-order, interleaved, overflowing or too many fragments."""

    default_code = ErrorCode.BAD_FRAGMENT


class ReassemblyTimeoutError(RemoteProtocolError):
    """The fragments of a message did not all arrive in time."""

    default_code = ErrorCode.REASSEMBLY_TIMEOUT


class DecryptError(RemoteProtocolError):
    """An AEAD tag did not verify: tampered, replayed, reordered or wrong key."""

    default_code = ErrorCode.DECRYPT_FAILED


class ReplayError(RemoteProtocolError):
    """A first message carried a counter the lock has already seen."""

    default_code = ErrorCode.REPLAY


class HandshakeError(RemoteProtocolError):
    """The session handshake failed (bad point, wrong state, bad status)."""

    default_code = ErrorCode.HANDSHAKE_FAILED


class UnknownPeerError(HandshakeError):
    """The phone's static key is not paired with this lock (never, or revoked)."""

    default_code = ErrorCode.UNKNOWN_PEER


class PairingError(RemoteProtocolError):
    """Pairing failed: wrong code (key confirmation failed), refused or locked out."""

    default_code = ErrorCode.PAIRING_FAILED


class IdentityMismatchError(PairingError):
    """The lock's static key does not match the fingerprint from the QR code (MITM)."""

    default_code = ErrorCode.IDENTITY_MISMATCH


class UnknownMessageError(RemoteProtocolError):
    """A message type that does not exist, or is not allowed in the channel's state."""

    default_code = ErrorCode.UNKNOWN_MESSAGE


class UnsupportedVersionError(RemoteProtocolError):
    """The peer speaks a protocol version we do not."""

    default_code = ErrorCode.UNSUPPORTED_VERSION


class SessionClosedError(RemoteProtocolError):
    """The peer closed the channel (a CLOSE message), or data arrived on a closed one."""

    default_code = ErrorCode.SESSION_CLOSED


class SessionTimeoutError(RemoteProtocolError):
    """A handshake or an idle session ran out of time."""

    default_code = ErrorCode.SESSION_TIMEOUT


class ChannelBusyError(RemoteProtocolError):
    """Too many channels, or another pairing is in progress: retry later / elsewhere."""

    default_code = ErrorCode.CHANNEL_BUSY


class LocalProtocolError(LockError):
    """The local application misused the sans-IO API (e.g. sending on a closed channel)."""

    default_code = ErrorCode.SESSION_CLOSED


_BY_CODE: dict[ErrorCode, type[RemoteProtocolError]] = {
    ErrorCode.MESSAGE_TOO_LARGE: MessageTooLargeError,
    ErrorCode.BAD_FRAGMENT: FragmentError,
    ErrorCode.REASSEMBLY_TIMEOUT: ReassemblyTimeoutError,
    ErrorCode.DECRYPT_FAILED: DecryptError,
    ErrorCode.REPLAY: ReplayError,
    ErrorCode.HANDSHAKE_FAILED: HandshakeError,
    ErrorCode.UNKNOWN_PEER: UnknownPeerError,
    ErrorCode.PAIRING_FAILED: PairingError,
    ErrorCode.IDENTITY_MISMATCH: IdentityMismatchError,
    ErrorCode.UNKNOWN_MESSAGE: UnknownMessageError,
    ErrorCode.UNSUPPORTED_VERSION: UnsupportedVersionError,
    ErrorCode.SESSION_CLOSED: SessionClosedError,
    ErrorCode.SESSION_TIMEOUT: SessionTimeoutError,
    ErrorCode.CHANNEL_BUSY: ChannelBusyError,
}


def remote_error_for_code(
    code: int, message: str, fallback: type[RemoteProtocolError] = SessionClosedError
) -> RemoteProtocolError:
    """The error a CLOSE message with ``code`` stands for. Codes outside the protocol
    block (a denial such as ``LOCKED_OUT``) keep their number on a ``fallback``."""
    try:
        known = ErrorCode(code)
    except ValueError:
        return fallback(f"{message} (unknown code {code})")
    cls = _BY_CODE.get(known, fallback)
    return cls(message, code=known)
