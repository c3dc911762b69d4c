"""Keyed hashing of credential secrets and derivation of code secrets.

PINs, card UIDs, templates, card codes are stored only as ``blake2s(key=lock_key)``
digests: the 1:N match of a PIN entry is a dict lookup per candidate run (R-PIN-3: a
20-digit entry has 65 runs of 6..10 digits). The keyed state is prepared once and
copied per hash, which avoids re-keying on every candidate.

:func:`derive_code_secret` turns a human code (setup code, invite code) into the
32-byte secret a PAKE uses; the central computes the same from the code it was shown.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from ble_lock.core.errors import InvalidInputError

__all__ = [
    "CODE_PERSON", "DIGEST_SIZE", "KeyedHasher", "derive_code_secret", "invite_context",
    "normalize_code", "setup_context",
]

DIGEST_SIZE = 16
CODE_PERSON = b"ble-lock-code".ljust(16, b"\0")
"""BLAKE2b personalization of :func:`derive_code_secret`: the 13 ASCII bytes, then three
zero bytes (what ``hashlib`` does with a shorter person string, written out)."""
_CODE_IGNORED = str.maketrans("", "", " \t\r\n-")
_CODE_RE = re.compile(r"[0-9A-Z]{4,32}")


class KeyedHasher:
    """``blake2s(domain || data, key=lock_key)``, one domain byte per credential kind.

    BLAKE2s rather than BLAKE2b: the inputs are a few bytes, and BLAKE2s's 64-byte block
    makes each of the 65 virtual-PIN candidates cheaper (bench/core.py)."""

    __slots__ = ("_bases",)

    def __init__(self, key: bytes) -> None:
        if not 16 <= len(key) <= 32:
            raise ValueError("hashing key must be 16..32 bytes")
        base = hashlib.blake2s(key=key, digest_size=DIGEST_SIZE)
        self._bases = []
        for domain in range(256):
            h = base.copy()
            h.update(bytes([domain]))
            self._bases.append(h)

    def digest(self, domain: int, data: bytes) -> bytes:
        h = self._bases[domain].copy()
        h.update(data)
        return h.digest()

    def prepared(self, domain: int) -> Any:
        """The keyed state after the domain byte, for hot loops: ``copy()``, ``update``,
        ``digest()`` on the copy give :meth:`digest` (never update it in place)."""
        return self._bases[domain]

    def __repr__(self) -> str:
        return "KeyedHasher(<key>)"


def normalize_code(code: str) -> str:
    """The one normalisation of a code a person types (setup code, invite code;
    ``docs/protocol.md``, "Codes"): delete spaces, tabs, CR, LF and hyphen-minus, fold
    ASCII a-z to A-Z; the result must be 4-32 characters of 0-9 and A-Z, anything else
    (other characters, non-ASCII letters) is refused with :class:`InvalidInputError`."""
    stripped = code.translate(_CODE_IGNORED)
    normal = stripped.upper() if stripped.isascii() else stripped
    if not _CODE_RE.fullmatch(normal):
        raise InvalidInputError("a code is 4-32 letters or digits")
    return normal


def derive_code_secret(code: str, context: bytes) -> bytes:
    """The 32-byte secret of a setup or invite code, bound to ``context``:
    BLAKE2b-256 (no key, personalization :data:`CODE_PERSON`) of
    ``len(context) u16 || context || normalize_code(code)``.

    Deterministic and public, so the phone derives the same secret from the code it
    scanned or was given; the secret is only ever used inside a PAKE (no offline
    guessing from a recorded pairing), so a slow KDF would add nothing.
    """
    h = hashlib.blake2b(digest_size=32, person=CODE_PERSON)
    h.update(len(context).to_bytes(2, "big") + context)
    h.update(normalize_code(code).encode("ascii"))
    return h.digest()


def setup_context(lock_id: bytes) -> bytes:
    """Context of the lock's setup code: ``derive_code_secret(code, setup_context(lock_id))``.

    Bound to the lock id because a phone learns it from the QR code and the advertisement
    before pairing, next to the setup code itself."""
    return b"setup:" + lock_id


def invite_context(invite_id: int) -> bytes:
    """Context of an invite code: ``derive_code_secret(code, invite_context(invite_id))``."""
    return b"invite:" + str(invite_id).encode()
