"""The transport's :class:`~ble_lock.wire.endpoints.directory.PeerDirectory` over the core.

Phones are the core's Bluetooth-key credentials (looked up by static public key),
replay counters are the core's persisted per-phone counters, pairing secrets are the
core's derived secrets of the setup code and of pending invites, and every failed
pairing counts toward the core's pairing limiter (DESIGN "online guessing"), which
refuses pairing only: it never locks out users' credentials (R-SEC-1 is per path).

Code secrets. The core keeps only ``derive_code_secret(code, context)`` of a setup or
invite code (never the code); the transport's CPace password is
``pairing_secret(code)`` of the code the phone types. Both sides therefore run CPace on
:func:`transport_code` of the derived secret: the phone derives it from the code it was
shown (:func:`setup_transport_code`, :func:`invite_transport_code`), the lock from what
it stored. The PAKE's guarantees are unchanged (one online guess per attempt; nothing
to test offline from a recording).
"""

from __future__ import annotations

from dataclasses import dataclass

from ble_lock.core.errors import ErrorCode, InternalError, LockError
from ble_lock.core.lock import Lock
from ble_lock.core.profile import Feature
from ble_lock.core.rules.lockout import InputPath
from ble_lock.wire.endpoints.directory import (
    INVITE_REF_SIZE,
    SETUP_CODE_REF,
    PairingWait,
    invite_code_ref,
)
from ble_lock.wire.security.pairing import (
    invite_transport_code,
    pairing_secret,
    setup_transport_code,
    transport_code,
)

__all__ = [
    "INVITE_REF_SIZE",
    "CoreDirectory",
    "CorePeer",
    "invite_code_ref",
    "invite_transport_code",
    "setup_transport_code",
    "transport_code",
]

@dataclass(frozen=True, slots=True, kw_only=True)
class CorePeer:
    """A paired phone as the transport sees it (no secret: the key is public)."""

    public_key: bytes
    credential_id: int
    user_number: int


def _invite_id(code_ref: bytes) -> int | None:
    if len(code_ref) != INVITE_REF_SIZE:
        return None
    return int.from_bytes(code_ref, "big")


class CoreDirectory:
    """A :class:`PeerDirectory` backed by a :class:`~ble_lock.core.lock.Lock`.

    The ``now`` of :meth:`pairing_refusal` and :meth:`record_pairing_failure` is the
    endpoint's link clock (monotonic, meaningful only as differences); the core's pairing
    limiter keeps its persisted lockout deadline on the lock's own clock (docs/core.md
    "Time": it must survive a restart), which the core reads from its injected ``Clock``.
    Mixing the two would be wrong, so those two ignore ``now`` by design; the interface's
    other methods take no time at all.
    """

    __slots__ = ("_lock",)

    def __init__(self, lock: Lock) -> None:
        self._lock = lock

    def __repr__(self) -> str:
        return f"CoreDirectory({self._lock!r})"

    def find_peer(self, phone_key: bytes) -> object | None:
        # Revoked keys are refused at the handshake; a key outside its validity window
        # still opens a session, and the core denies each command with KEY_EXPIRED /
        # OUTSIDE_VALIDITY so that the phone learns why.
        info = self._lock.find_phone(phone_key)
        if info is None or info.revoked:
            return None
        return CorePeer(public_key=bytes(phone_key), credential_id=info.credential_id,
                        user_number=info.user_number)

    def advance_counter(self, peer: object, counter: int) -> bool:
        return self._lock.accept_phone_counter(_key(peer), counter)

    def current_counter(self, peer: object) -> int:
        return self._lock.phone_counter(_key(peer))

    def pairing_refusal(self, code_ref: bytes, now: float) -> ErrorCode | None:
        lock = self._lock
        if lock.lockout_remaining(InputPath.PAIRING):  # its own limiter (core lockout.py)
            return ErrorCode.LOCKED_OUT
        if code_ref == SETUP_CODE_REF:
            if lock.claimed:
                return ErrorCode.ALREADY_CLAIMED
            if lock.profile.has(Feature.CLAIM_NEEDS_PAIRING_MODE) and not lock.pairing_mode:
                return ErrorCode.NOT_IN_PAIRING_MODE
        return None

    def pairing_wait(self, code_ref: bytes, now: float) -> PairingWait | None:
        """While pairing is locked out: its time left, and pairing mode's when a claim
        needs it (R-SEC-1 announces the time left; R-APP-1 pairing mode may end first)."""
        lock = self._lock
        left = lock.lockout_remaining(InputPath.PAIRING)
        if not left:
            return None
        mode: float | None = None
        if code_ref == SETUP_CODE_REF and not lock.claimed \
                and lock.profile.has(Feature.CLAIM_NEEDS_PAIRING_MODE):
            mode = lock.pairing_mode_left() or 0.0
        return PairingWait(retry_after=left, pairing_mode_left=mode)

    def pairing_secret(self, code_ref: bytes) -> bytes | None:
        try:
            if code_ref == SETUP_CODE_REF:
                secret = self._lock.setup_secret()
            else:
                invite_id = _invite_id(code_ref)
                if invite_id is None:
                    return None
                secret = self._lock.invite_secret(invite_id)
        except LockError:
            return None
        return pairing_secret(transport_code(secret))

    def complete_pairing(self, code_ref: bytes, phone_key: bytes) -> object:
        try:
            if code_ref == SETUP_CODE_REF:
                self._lock.claim(phone_key=phone_key)  # R-USR-2: the first admin
            else:
                invite_id = _invite_id(code_ref)
                if invite_id is None:
                    return ErrorCode.UNKNOWN_KEY
                self._lock.redeem_invite(invite_id, phone_key, label="phone")
        except LockError as exc:
            return exc.code
        peer = self.find_peer(phone_key)
        return peer if peer is not None else ErrorCode.INTERNAL

    def record_refused_peer(self, phone_key: bytes, counter: int) -> None:
        self._lock.refuse_revoked_phone(phone_key, counter)

    def record_pairing_failure(self, code_ref: bytes, now: float) -> None:
        self._lock.record_failed_attempt("setup code" if code_ref == SETUP_CODE_REF
                                         else "invite")


def _key(peer: object) -> bytes:
    if not isinstance(peer, CorePeer):
        raise InternalError(f"not a peer of this directory: {type(peer).__name__}")
    return peer.public_key
