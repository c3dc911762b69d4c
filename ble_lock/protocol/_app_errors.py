"""Temporary: the protocol's error root until proto-transport's ``errors.py`` is merged.

Codes 60-79 of :class:`~ble_lock.core.errors.ErrorCode` belong to the wire; every error
the message decoder raises is a :class:`RemoteProtocolError` carrying one of them.
"""

from __future__ import annotations

from ble_lock.core.errors import ErrorCode, LockError

__all__ = ["RemoteProtocolError"]


class RemoteProtocolError(LockError):
    """The peer sent something we cannot accept (h11's fuzz contract)."""

    default_code = ErrorCode.PROTOCOL_ERROR
