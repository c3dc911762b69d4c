"""Visitor codes made on the phone, offline (R-APP-4, docs/visitor-codes.md).

An admin's :class:`~ble_lock.central.client.LockClient` fetches the lock's visitor secret
once (``await client.visitor_secret()``, kept in the keystore); from then on
:func:`one_time_code` and :func:`periodic_code` need no connection: the lock verifies
the code from the same secret when it is typed at the keypad. Rotating the secret on
the lock revokes every outstanding code; fetch it again afterwards.
"""

from __future__ import annotations

import secrets
import time

from ble_lock.central.keystore import Keystore, lock_key
from ble_lock.core.errors import ErrorCode, TransportError
from ble_lock.core.rules.visitor import (
    ONE_TIME_NONCES,
    generate_one_time_code,
    generate_periodic_code,
)

__all__ = ["one_time_code", "periodic_code", "stored_secret"]


def stored_secret(keystore: Keystore, lock_id: bytes) -> bytes:
    """The visitor secret the keystore holds for ``lock_id``."""
    record = keystore.get(lock_key(lock_id))
    if record is None:
        raise TransportError(f"not paired with lock {lock_key(lock_id)}",
                             code=ErrorCode.NOT_PAIRED)
    if record.visitor_secret is None:
        raise TransportError("no visitor secret for this lock yet: fetch it once while "
                             "connected (LockClient.visitor_secret, admin only)",
                             code=ErrorCode.NOT_PAIRED)
    return record.visitor_secret


def one_time_code(keystore: Keystore, lock_id: bytes, *, now: float | None = None,
                  nonce: int | None = None) -> str:
    """A one-time code (opens once, within 6 hours of ``now``; default: this machine's
    clock, which should agree with the lock's). ``nonce`` 0..31 tells apart codes of
    the same minute (default: random)."""
    when = time.time() if now is None else now
    pick = secrets.randbelow(ONE_TIME_NONCES) if nonce is None else nonce
    return generate_one_time_code(stored_secret(keystore, lock_id), now=when, nonce=pick)


def periodic_code(keystore: Keystore, lock_id: bytes, *, valid_from: float,
                  valid_until: float) -> str:
    """A code reusable inside ``[valid_from, valid_until)`` (widened to whole hours or
    days as the scheme can express, never narrowed)."""
    return generate_periodic_code(stored_secret(keystore, lock_id), valid_from=valid_from,
                                  valid_until=valid_until)
