"""Sync-unlock statements between two linked locks (R-SYN-1..4, DESIGN "sync unlock").

When lock A is unlocked from outside with sync unlock on, the core logs SYNC_TRIGGER
for each linked lock B; A's service then pushes a :class:`SyncStatement` that a phone
in range relays to B (``SyncStatementRelay``). B opens only for a statement that is

* authentic: ``proof = HMAC-SHA256(K_AB, "BLELOCK1 sync" | issuer | target | at_ms |
  nonce)`` where ``K_AB = HKDF(X25519(A, B))`` from the two locks' static keys — the
  link record of each lock holds the other's public key, so no secret travels;
* addressed to B (``target_lock_id``) from a lock B has a link to;
* fresh: ``at_ms`` within ``FRESH_MS`` of B's clock, and newer than the last statement
  B accepted from A (a recorded statement replayed later does nothing). B's core keeps
  that last time durably (``Lock.accept_sync_statement``), so a restart of B does not
  reopen a replay window.

The core then opens for the link's window and relocks if the door is not opened in
time (R-SYN-3), and logs both sides (R-SYN-4).
"""

from __future__ import annotations

import hmac

from ble_lock.core.errors import ErrorCode, NotFoundError, PermissionDeniedError, ReplayError
from ble_lock.core.lock import Lock
from ble_lock.wire import messages as m
from ble_lock.wire.security.crypto import KeyPair, Rng, dh, hkdf, hmac_sha256

__all__ = ["FRESH_MS", "SyncStatements"]

FRESH_MS = 30_000
NONCE_SIZE = 16
_LABEL = b"BLELOCK1 sync"


def _lv(data: bytes) -> bytes:
    return len(data).to_bytes(1, "big") + data


class SyncStatements:
    """Makes this lock's statements and checks its linked locks' statements."""

    __slots__ = ("_lock", "_lock_id", "_rng", "_static")

    def __init__(self, lock: Lock, *, lock_id: bytes, static_key: KeyPair, rng: Rng) -> None:
        self._lock = lock
        self._lock_id = bytes(lock_id)
        self._static = static_key
        self._rng = rng

    def __repr__(self) -> str:
        return f"SyncStatements(lock_id={self._lock_id.hex()})"

    def _key(self, peer_lock_id: bytes, peer_public_key: bytes) -> bytes:
        ids = sorted((self._lock_id, bytes(peer_lock_id)))
        shared = dh(self._static.private, peer_public_key)
        return hkdf(_LABEL, shared, 32, info=_lv(ids[0]) + _lv(ids[1]))

    @staticmethod
    def _signed(statement: m.SyncStatement) -> bytes:
        return (_LABEL + _lv(statement.issuer_lock_id) + _lv(statement.target_lock_id)
                + statement.at_ms.to_bytes(8, "big") + statement.nonce)

    def make(self, peer_lock_id: bytes) -> m.SyncStatement | None:
        """A statement for the linked lock ``peer_lock_id``, or None if not linked."""
        link = self._lock.find_link(peer_lock_id)
        if link is None or link.pending:  # R-SYN-1: a pending link speaks for nothing
            return None
        draft = m.SyncStatement(
            issuer_lock_id=self._lock_id, target_lock_id=link.peer_lock_id,
            at_ms=max(0, int(self._lock.lock_time * 1000)), nonce=self._rng.token_bytes(NONCE_SIZE),
            proof=b"\x00" * 32,
        )
        proof = hmac_sha256(self._key(link.peer_lock_id, link.peer_public_key),
                            self._signed(draft))
        return m.SyncStatement(issuer_lock_id=draft.issuer_lock_id,
                               target_lock_id=draft.target_lock_id, at_ms=draft.at_ms,
                               nonce=draft.nonce, proof=proof)

    def verify(self, statement: m.SyncStatement) -> bytes:
        """The issuer's lock id if ``statement`` may open this lock now; else raises."""
        if statement.target_lock_id != self._lock_id:
            raise PermissionDeniedError("statement for another lock")
        link = self._lock.find_link(statement.issuer_lock_id)
        if link is None:
            raise NotFoundError("no link with the issuing lock", code=ErrorCode.UNKNOWN_KEY)
        expected = hmac_sha256(self._key(link.peer_lock_id, link.peer_public_key),
                               self._signed(statement))
        if not hmac.compare_digest(expected, statement.proof):
            raise PermissionDeniedError("statement proof does not verify")
        if link.pending:  # R-SYN-1: not confirmed at this door (yet): opens nothing
            raise PermissionDeniedError("sync link not confirmed at this door",
                                        code=ErrorCode.LINK_PENDING)
        now_ms = int(self._lock.lock_time * 1000)
        if abs(now_ms - statement.at_ms) > FRESH_MS:
            raise ReplayError("stale statement", code=ErrorCode.REPLAY)
        if not self._lock.accept_sync_statement(link.peer_lock_id, statement.at_ms):
            raise ReplayError("statement replayed", code=ErrorCode.REPLAY)
        return link.peer_lock_id
