"""What the secure transport asks of the lock's state: :class:`PeerDirectory`.

The lock endpoint (``wire/endpoints/lock.py``) never touches the core directly; the lock's
application (``lockapp/directory.py``) implements this small interface over ``ble_lock.core``.
:class:`InMemoryDirectory` is a complete implementation for tests and examples.

Stability: methods are only ever added (with defaults), never changed or removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ble_lock.core.errors import ErrorCode
from ble_lock.wire.security.pairing import pairing_secret

__all__ = [
    "INVITE_REF_SIZE",
    "SETUP_CODE_REF",
    "InMemoryDirectory",
    "InMemoryPeer",
    "PairingWait",
    "PeerDirectory",
    "invite_code_ref",
]

SETUP_CODE_REF = b""
"""The ``code_ref`` of the lock's own setup code; any other value names an invite."""

INVITE_REF_SIZE = 4
"""The length of an invite's ``code_ref``: its invite id, big-endian."""


def invite_code_ref(invite_id: int) -> bytes:
    """The pairing ``code_ref`` naming an invite (the setup code's is ``b""``)."""
    return invite_id.to_bytes(INVITE_REF_SIZE, "big")


@dataclass(frozen=True, slots=True, kw_only=True)
class PairingWait:
    """While pairing is locked out: seconds until it ends, and the seconds of pairing mode
    left when the refused pairing (a claim on a model that needs it) needs pairing mode
    (0: it is off; None: not needed). The lock's CLOSE carries both, for the user."""

    retry_after: float
    pairing_mode_left: float | None = None


class PeerDirectory(Protocol):
    """The lock's view of paired phones, replay counters and pairing codes.

    ``peer`` values are opaque to the protocol: whatever :meth:`find_peer` and
    :meth:`complete_pairing` return is handed back unchanged, and appears in events.
    Every method is called synchronously from ``receive_data``/``handle_timer``.

    Only the pairing limiter's two methods (:meth:`pairing_refusal`,
    :meth:`record_pairing_failure`) take ``now``: the endpoint's link clock (monotonic
    seconds), for a directory that keeps its lockout on that clock (the in-memory one).
    Nothing else here depends on time. A directory that keeps its lockout on another
    clock ignores it (the core's, ``lockapp/directory.py``: docs/core.md "Time").
    """

    def find_peer(self, phone_key: bytes) -> object | None:
        """The paired phone whose static X25519 public key is ``phone_key``, or None
        (never paired, or its Bluetooth key was revoked/expired)."""
        ...

    def advance_counter(self, peer: object, counter: int) -> bool:
        """Atomically: if ``counter`` is greater than the phone's stored counter, store it
        durably and return True; else change nothing and return False (a replay, or a
        phone whose counter fell behind). Must be persisted BEFORE returning True: the
        request in the first message is acted on right after."""
        ...

    def current_counter(self, peer: object) -> int:
        """The phone's stored counter (sent back, authenticated, in a resync)."""
        ...

    def pairing_refusal(self, code_ref: bytes, now: float) -> ErrorCode | None:
        """Why pairing with ``code_ref`` is refused right now (``LOCKED_OUT`` after too
        many failures, ``NOT_IN_PAIRING_MODE``, ``ALREADY_CLAIMED``...), or None."""
        ...

    # Optional (added later; the endpoint works without it):
    #   def pairing_wait(self, code_ref: bytes, now: float) -> PairingWait | None
    # while pairing_refusal() says LOCKED_OUT: how long it lasts (and pairing mode's
    # time left), sent in the CLOSE so the user is told when to try again.

    def pairing_secret(self, code_ref: bytes) -> bytes | None:
        """The CPace PRS (:func:`~ble_lock.wire.security.pairing.pairing_secret` of the code)
        for the setup code (``code_ref == b""``) or the invite ``code_ref``; None if there
        is no such code (the endpoint then runs CPace with a random secret, so a prober
        cannot tell an unknown invite id from a wrong code)."""
        ...

    def complete_pairing(self, code_ref: bytes, phone_key: bytes) -> object:
        """Bind ``phone_key`` (key confirmation with the code succeeded): the first phone
        with the setup code claims the lock (first admin), an invite enrols its phone and
        is consumed. Returns the new peer, or an :class:`ErrorCode` denial
        (``CAPACITY_FULL``, ``CODE_ALREADY_USED``...) that is sent back to the phone."""
        ...

    def record_pairing_failure(self, code_ref: bytes, now: float) -> None:
        """One failed pairing attempt (wrong code, or abandoned after the lock's answer):
        counts toward the lockout (R-LOCKOUT). Called exactly once per failed attempt."""
        ...

    def record_refused_peer(self, phone_key: bytes, counter: int) -> None:
        """A phone that :meth:`find_peer` does not accept completed a handshake's first
        message (so it holds ``phone_key``) with ``counter``; the session is refused.
        The lock may log it (a revoked key, once per fresh counter)."""
        ...


@dataclass(slots=True, kw_only=True)
class InMemoryPeer:
    key: bytes
    label: str
    counter: int = 0


@dataclass(slots=True, kw_only=True)
class InMemoryDirectory:
    """A whole :class:`PeerDirectory` in memory: a setup code, single-use invites, a
    lockout after ``max_failures`` consecutive failures for ``lockout_seconds``."""

    setup_code: str = field(repr=False)
    max_failures: int = 5
    lockout_seconds: float = 180.0
    invites: dict[bytes, str] = field(default_factory=dict, repr=False)
    peers: dict[bytes, InMemoryPeer] = field(default_factory=dict)
    failures: int = 0
    failure_log: list[bytes] = field(default_factory=list)
    refused_log: list[bytes] = field(default_factory=list)
    locked_until: float = 0.0

    def add_invite(self, invite_id: bytes, code: str) -> None:
        self.invites[invite_id] = code

    def find_peer(self, phone_key: bytes) -> object | None:
        return self.peers.get(phone_key)

    def advance_counter(self, peer: object, counter: int) -> bool:
        assert isinstance(peer, InMemoryPeer)
        if counter <= peer.counter:
            return False
        peer.counter = counter
        return True

    def current_counter(self, peer: object) -> int:
        assert isinstance(peer, InMemoryPeer)
        return peer.counter

    def pairing_refusal(self, code_ref: bytes, now: float) -> ErrorCode | None:
        if now < self.locked_until:
            return ErrorCode.LOCKED_OUT
        return None

    def pairing_wait(self, code_ref: bytes, now: float) -> PairingWait | None:
        """The lockout's time left (this directory has no pairing mode)."""
        if now < self.locked_until:
            return PairingWait(retry_after=self.locked_until - now)
        return None

    def pairing_secret(self, code_ref: bytes) -> bytes | None:
        code = self.setup_code if code_ref == SETUP_CODE_REF else self.invites.get(code_ref)
        return pairing_secret(code) if code is not None else None

    def complete_pairing(self, code_ref: bytes, phone_key: bytes) -> object:
        if code_ref != SETUP_CODE_REF and self.invites.pop(code_ref, None) is None:
            return ErrorCode.CODE_ALREADY_USED
        label = "setup" if code_ref == SETUP_CODE_REF else f"invite:{code_ref.hex()}"
        peer = InMemoryPeer(key=phone_key, label=label)
        self.peers[phone_key] = peer
        self.failures = 0
        return peer

    def record_refused_peer(self, phone_key: bytes, counter: int) -> None:
        self.refused_log.append(bytes(phone_key))

    def record_pairing_failure(self, code_ref: bytes, now: float) -> None:
        self.failure_log.append(code_ref)
        self.failures += 1
        if self.failures >= self.max_failures:
            self.locked_until = now + self.lockout_seconds
            self.failures = 0
