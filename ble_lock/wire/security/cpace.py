"""CPace over X25519 with SHA-512 (draft-irtf-cfrg-cpace, ciphersuite CPACE-X25519-SHA512).

The generator is derived from the password-related string (PRS) by hashing and the
Elligator2 map to Curve25519 (RFC 9380, ``map_to_curve_elligator2_curve25519``, u
coordinate only; field arithmetic on Python ints). Scalar multiplications are X25519
from ``cryptography``: ``X25519(y, g)`` multiplies any u coordinate. Checked against the
draft's test vectors in ``tests/wire/test_cpace.py``.

This module is the bare primitive; :mod:`ble_lock.wire.security.pairing` binds it to the lock.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ble_lock.wire.security.crypto import dh

__all__ = [
    "DSI",
    "calculate_generator",
    "elligator2_curve25519",
    "generator_string",
    "isk_ir",
    "lv_cat",
    "prepend_len",
    "scalar_mult",
]

DSI = b"CPace255"
DSI_ISK = b"CPace255_ISK"
_S_IN_BYTES = 128  # SHA-512 block size
_P = 2**255 - 19
_A = 486662
_Z = 2  # the non-square of RFC 9380 for curve25519


def prepend_len(data: bytes) -> bytes:
    """LEB128 length prefix."""
    length = len(data)
    out = bytearray()
    while True:
        if length < 128:
            out.append(length)
        else:
            out.append((length & 0x7F) | 0x80)
        length >>= 7
        if length == 0:
            return bytes(out) + data


def lv_cat(*parts: bytes) -> bytes:
    return b"".join(prepend_len(p) for p in parts)


def generator_string(prs: bytes, ci: bytes, sid: bytes) -> bytes:
    zpad = max(0, _S_IN_BYTES - 1 - len(prepend_len(prs)) - len(prepend_len(DSI)))
    return lv_cat(DSI, prs, bytes(zpad), ci, sid)


def _is_square(x: int) -> bool:
    return pow(x, (_P - 1) // 2, _P) in (0, 1)


def elligator2_curve25519(r: int) -> int:
    """RFC 9380 map_to_curve_elligator2 for curve25519 (J=A, K=1), returning u."""
    tv = (1 + _Z * r * r) % _P
    x1 = (-_A * pow(tv, _P - 2, _P)) % _P  # inv0: inverse of 0 is 0
    if x1 == 0:
        x1 = -_A % _P
    gx1 = (x1 * x1 * x1 + _A * x1 * x1 + x1) % _P
    if _is_square(gx1):
        return x1
    return (-x1 - _A) % _P


def calculate_generator(prs: bytes, ci: bytes, sid: bytes) -> bytes:
    """The secret generator g (32-byte u coordinate) for this password and session."""
    digest = bytearray(hashlib.sha512(generator_string(prs, ci, sid)).digest()[:32])
    digest[31] &= 0x7F  # decodeUCoordinate: ignore bit 255
    u = elligator2_curve25519(int.from_bytes(digest, "little") % _P)
    return u.to_bytes(32, "little")


def scalar_mult(scalar: bytes, point: bytes) -> bytes:
    """X25519(scalar, point); the all-zero result (low-order point) aborts
    (``scalar_mult_vfy`` of the draft) with :class:`~ble_lock.wire.errors.HandshakeError`."""
    return dh(X25519PrivateKey.from_private_bytes(scalar), point)


def isk_ir(sid: bytes, k: bytes, ya: bytes, ada: bytes, yb: bytes, adb: bytes) -> bytes:
    """The intermediate session key, initiator-responder transcript (64 bytes)."""
    transcript = lv_cat(ya, ada) + lv_cat(yb, adb)
    return hashlib.sha512(lv_cat(DSI_ISK, sid, k) + transcript).digest()
