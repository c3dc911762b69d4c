"""Events returned by the sans-IO endpoints (frozen, slotted, keyword-only).

Payloads are application bytes (:mod:`ble_lock.wire.messages` decodes them) and never
appear in ``repr``; peers are the opaque records of the
:class:`~ble_lock.wire.endpoints.directory.PeerDirectory`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ble_lock.core.errors import InternalError
from ble_lock.wire.errors import RemoteProtocolError

__all__ = [
    "EndpointEvent",
    "MessageReceived",
    "PairingCompleted",
    "PairingKeyReceived",
    "PairingRequested",
    "PairingSucceeded",
    "RequestReceived",
    "SessionClosed",
    "SessionEstablished",
    "SessionOpened",
]

# -- lock side ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PairingRequested:
    """A phone started pairing with a code (``code_ref`` b"" = setup code)."""

    channel: int
    code_ref: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class PairingCompleted:
    """A phone proved the code and was bound (``PeerDirectory.complete_pairing``)."""

    channel: int
    peer: object
    peer_key: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionOpened:
    """A paired phone opened an authenticated session on ``channel``."""

    channel: int
    peer: object
    peer_key: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestReceived:
    """An application request. ``in_handshake``: it rode in HS1 (0-RTT, counter
    checked); the first :meth:`LockEndpoint.respond` on the channel answers it in HS2."""

    channel: int
    peer: object
    payload: bytes = field(repr=False)
    in_handshake: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionClosed:
    """The channel is gone; ``error`` says why (None: the app or the peer closed it;
    an ``InternalError`` when the lock itself failed handling a frame)."""

    channel: int
    peer: object | None
    error: RemoteProtocolError | InternalError | None


# -- phone side ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PairingKeyReceived:
    """PAIR2 verified: the lock's static key, confirmed by the code (and by the QR
    fingerprint when one was given). Nothing is bound at the lock yet. A pairing started
    with ``hold=True`` waits here: the phone keeps the key durably, then calls
    :meth:`~ble_lock.wire.endpoints.phone.PhonePairing.commit` (PAIR3: the lock binds
    the phone) or ``close()`` (the lock binds nothing). docs/protocol.md, "Pairing"."""

    channel: int
    lock_public: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class PairingSucceeded:
    """Pairing done: keep ``lock_public`` (the lock's static key) for sessions."""

    channel: int
    lock_public: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionEstablished:
    """HS2 arrived. ``resynced``: the lock dropped our first request because our counter
    was behind (its counter is ``lock_counter``); the request was re-sent inside the
    session automatically and its answer follows as a :class:`MessageReceived`."""

    channel: int
    resynced: bool
    lock_counter: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageReceived:
    """An application message from the lock (a response or a pushed event)."""

    channel: int
    payload: bytes = field(repr=False)


EndpointEvent = (PairingRequested | PairingCompleted | SessionOpened | RequestReceived
                 | SessionClosed | PairingKeyReceived | PairingSucceeded | SessionEstablished
                 | MessageReceived)
