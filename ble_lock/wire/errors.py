"""Errors of the wire protocol (the ``PROTOCOL`` category of ``ErrorCode``).

Anything a peer can send that we cannot accept raises a :class:`RemoteProtocolError`
subtype and nothing else (h11's contract, tested by ``tests/wire/test_fuzz.py``).
Misuse of the sans-IO API by the local application raises :class:`LocalProtocolError`
(an ``InvalidInputError``, and a ``ValueError``), never a bare ``ValueError``.

The classes are declared in :mod:`ble_lock.core.errors`, beside the one table from code
to class (so that table is complete wherever the codes are); this module is their home
for wire code and re-exports them.
"""

from __future__ import annotations

from ble_lock.core.errors import (
    ChannelBusyError,
    DecryptError,
    FragmentError,
    FramingError,
    HandshakeError,
    IdentityMismatchError,
    LocalProtocolError,
    MessageTooLargeError,
    PairingError,
    ReassemblyTimeoutError,
    RemoteProtocolError,
    ReplayError,
    SessionClosedError,
    SessionTimeoutError,
    UnknownMessageError,
    UnknownPeerError,
    UnsupportedVersionError,
    code_of,
)

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


def remote_error_for_code(
    code: int, message: str, fallback: type[RemoteProtocolError] = SessionClosedError
) -> RemoteProtocolError:
    """The error a CLOSE message with ``code`` stands for.

    A protocol code gives its own class (:func:`~ble_lock.core.errors.error_class`);
    a code outside the protocol category (a denial such as ``LOCKED_OUT`` closing a
    pairing) is the peer's reason for closing, kept on ``fallback``
    (:meth:`RemoteProtocolError.with_reason`).
    """
    known = code_of(code)
    if known is None:
        return fallback(f"{message} (unknown code {code})")
    return fallback.with_reason(message, known)
