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
    "map_to_curve_elligator2_curve25519",
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


# RFC 9380 G.2.1 constants (q = p = 2^255 - 19, q = 5 mod 8).
_C1 = (_P + 3) // 8
_C2 = pow(2, _C1, _P)
_C3 = pow(2, (_P - 1) // 4, _P)  # sqrt(-1)
_C4 = (_P - 5) // 8


def map_to_curve_elligator2_curve25519(u: int) -> tuple[int, int, int]:
    """RFC 9380 appendix G.2.1, straight line: ``(xn, xd, y)`` with the point's u
    coordinate ``xn / xd`` (Montgomery x) and its v coordinate ``y``.

    One exponentiation (``sqrt_ratio`` for q = 5 mod 8 folded into the map, appendix
    F.2.1.2): ``y11 = (gx1 * gxd^7)^((p - 5) / 8) * gx1 * gxd^3`` is the square root of
    ``g(x1)`` when it has one, else ``y11 * u * 2^((p + 3) / 8)`` is that of ``g(x2)``.
    ``u`` is a field element (``0 <= u < p``). The CMOVs are branches on Python ints: the
    input is a hash of the password and a fresh session id, and Python big-int
    arithmetic is not constant time anyway (``docs/protocol.md``, "CPace").
    """
    p = _P
    tv1 = 2 * u * u % p
    xd = (tv1 + 1) % p  # nonzero: -1 is a square mod p, tv1 is not
    x1n = p - _A  # -J
    tv2 = xd * xd % p
    gxd = tv2 * xd % p  # xd^3
    gx1 = _A * tv1 % p  # x1n + J * xd
    gx1 = gx1 * x1n % p
    gx1 = (gx1 + tv2) % p
    gx1 = gx1 * x1n % p  # x1n^3 + J * x1n^2 * xd + x1n * xd^2
    tv3 = gxd * gxd % p
    tv2 = tv3 * tv3 % p  # gxd^4
    tv3 = tv3 * gxd % p  # gxd^3
    tv3 = tv3 * gx1 % p  # gx1 * gxd^3
    tv2 = tv2 * tv3 % p  # gx1 * gxd^7
    y11 = pow(tv2, _C4, p) * tv3 % p  # the one exponentiation
    y1 = y11 if y11 * y11 * gxd % p == gx1 else y11 * _C3 % p
    y21 = y11 * u % p * _C2 % p
    gx2 = gx1 * tv1 % p  # g(x2) = 2 * u^2 * g(x1)
    y2 = y21 if y21 * y21 * gxd % p == gx2 else y21 * _C3 % p
    e3 = y1 * y1 * gxd % p == gx1  # g(x1) is square: x = x1, else x = x2 = 2 * u^2 * x1
    xn, y = (x1n, y1) if e3 else (x1n * tv1 % p, y2)
    if e3 != bool(y & 1):  # steps 37-38: y = -y when e3 XOR sgn0(y)
        y = (p - y) % p
    return xn, xd, y


def elligator2_curve25519(r: int) -> int:
    """RFC 9380 ``map_to_curve_elligator2`` for curve25519, the u coordinate only:
    the straight-line map (one exponentiation) and one inversion (``pow(xd, -1, p)``,
    an extended Euclid, several times cheaper than a Fermat inversion)."""
    xn, xd, _ = map_to_curve_elligator2_curve25519(r)
    return xn * pow(xd, -1, _P) % _P


def calculate_generator(prs: bytes, ci: bytes, sid: bytes) -> bytes:
    """The secret generator g (32-byte u coordinate) for this password and session."""
    digest = bytearray(hashlib.sha512(generator_string(prs, ci, sid)).digest()[:32])
    digest[31] &= 0x7F  # decodeUCoordinate: ignore bit 255
    u = elligator2_curve25519(int.from_bytes(digest, "little") % _P)
    return u.to_bytes(32, "little")


def scalar_mult(scalar: bytes | X25519PrivateKey, point: bytes) -> bytes:
    """X25519(scalar, point); the all-zero result (low-order point) aborts
    (``scalar_mult_vfy`` of the draft) with :class:`~ble_lock.wire.errors.HandshakeError`.
    Pass an imported key to multiply several points by one scalar: importing raw bytes
    costs a base-point multiplication (``cryptography`` derives the public key)."""
    if isinstance(scalar, bytes):
        scalar = X25519PrivateKey.from_private_bytes(scalar)
    return dh(scalar, point)


def isk_ir(sid: bytes, k: bytes, ya: bytes, ada: bytes, yb: bytes, adb: bytes) -> bytes:
    """The intermediate session key, initiator-responder transcript (64 bytes)."""
    transcript = lv_cat(ya, ada) + lv_cat(yb, adb)
    return hashlib.sha512(lv_cat(DSI_ISK, sid, k) + transcript).digest()
