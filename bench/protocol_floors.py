"""The cryptographic floors of ``bench/protocol.py``, and its instruction counts.

A floor is the crypto that one protocol step cannot do without, called straight on
``cryptography`` and ``hashlib`` with nothing of ble_lock around it: no framing, no
message codec, no state table, no application.

* :class:`IkFloor`, the lock's half of an unlock: the Noise IK responder on a captured
  HS1 -- import the phone's ephemeral key, ``es`` (X25519), two HKDFs, two
  ChaCha20-Poly1305 opens (the phone's static key, the request), then for HS2 the
  lock's ephemeral key (generated, unless ``prepared``), ``ee`` and ``se`` (X25519), two
  HKDFs, one seal and the split HKDF, with the SHA-256 transcript hash. ``ss`` is
  cached per phone, as the lock caches it (and the phone's static key imported with it).
* :class:`CpaceFloor`, the lock's half of a pairing: SHA-512 of the generator string,
  the Elligator2 map's irreducible field work on Python ints (one exponentiation, one
  inversion -- no implementation of the map can do with less), ``yb`` imported
  (unless ``prepared``), ``Yb = X25519(yb, g)``, ``K = X25519(yb, Ya)``, the ISK
  (SHA-512), the key HKDF, PAIR2's seal, PAIR3's open and PAIR4's seal.

``prepared``: the lock generated its ephemeral key while idle (``LockEndpoint.prepare_idle``),
so the floor of the step the phone waits for does not contain it either.
"""

from __future__ import annotations

import hashlib
import statistics
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ble_lock.wire.link.transport_messages import Hs1, MsgType, Pair1
from ble_lock.wire.security.cpace import calculate_generator, generator_string, lv_cat
from ble_lock.wire.security.crypto import DeterministicRng, KeyPair
from ble_lock.wire.security.handshake import (
    PROTOCOL_NAME,
    FirstPayload,
    InitiatorHandshake,
    prologue,
)
from ble_lock.wire.security.pairing import PairingInitiator, PairingResponder, pairing_secret

__all__ = ["CpaceFloor", "IkFloor", "Stats"]

_P = 2**255 - 19
_C4 = (_P - 5) // 8
_NONCE0 = bytes(12)
_NONCE1 = bytes(4) + (1).to_bytes(8, "little")


@dataclass(frozen=True, slots=True)
class Stats:
    """Median, minimum and maximum of samples in nanoseconds, reported in microseconds."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, samples_ns: list[int]) -> Stats:
        return cls(statistics.median(samples_ns) / 1000, min(samples_ns) / 1000,
                   max(samples_ns) / 1000)

    def keys(self, name: str) -> dict[str, float]:
        return {f"{name}_us": round(self.median, 1), f"{name}_min_us": round(self.low, 1),
                f"{name}_max_us": round(self.high, 1)}


def _hkdf2(ck: bytes, ikm: bytes) -> tuple[bytes, bytes]:
    out = HKDF(algorithm=hashes.SHA256(), length=64, salt=ck, info=b"").derive(ikm)
    return out[:32], out[32:]


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


@dataclass(slots=True)
class IkFloor:
    """The Noise IK responder's crypto on one captured HS1 (see the module docstring)."""

    lock: X25519PrivateKey
    lock_public: bytes
    prologue: bytes
    hs1: Hs1
    ss: bytes
    phone_s: X25519PublicKey
    reply: bytes
    expected: bytes

    @classmethod
    def capture(cls, lock_id: bytes, lock: KeyPair, phone: KeyPair, fresh: bytes,
                request: bytes, reply_size: int) -> IkFloor:
        rng = DeterministicRng(b"ik floor")
        first = FirstPayload(counter=999_999, payload=request)
        hs1 = InitiatorHandshake(lock_id=lock_id, lock_public=lock.public, phone=phone,
                                 rng=rng, fresh=fresh).write_msg1(first)
        phone_s = X25519PublicKey.from_public_bytes(phone.public)
        return cls(lock=lock.private, lock_public=lock.public,
                   prologue=prologue(lock_id, fresh), hs1=hs1,
                   ss=lock.private.exchange(phone_s), phone_s=phone_s,
                   reply=bytes(reply_size), expected=first.encode())

    def run(self, *, prepared: bool) -> bytes:
        """HS1 in, HS2 out; returns the decrypted first payload (the bench checks it)."""
        hs1 = self.hs1
        h = ck = PROTOCOL_NAME.ljust(32, b"\0")
        h = _sha256(_sha256(h + self.prologue) + self.lock_public)
        h = _sha256(h + hs1.e)
        phone_e = X25519PublicKey.from_public_bytes(hs1.e)
        ck, k = _hkdf2(ck, self.lock.exchange(phone_e))
        ChaCha20Poly1305(k).decrypt(_NONCE0, hs1.enc_s, h)
        h = _sha256(h + hs1.enc_s)
        ck, k = _hkdf2(ck, self.ss)
        first = ChaCha20Poly1305(k).decrypt(_NONCE0, hs1.enc_payload, h)
        h = _sha256(h + hs1.enc_payload)
        e = _PREPARED if prepared else X25519PrivateKey.generate()
        e_public = e.public_key().public_bytes_raw()
        h = _sha256(h + e_public)
        ck, _ = _hkdf2(ck, e.exchange(phone_e))
        ck, k = _hkdf2(ck, e.exchange(self.phone_s))
        ct = ChaCha20Poly1305(k).encrypt(_NONCE0, self.reply, h)
        _sha256(h + ct)
        _hkdf2(ck, b"")
        return first


_PREPARED = X25519PrivateKey.generate()  # the key prepare_idle made (its cost is not timed)


@dataclass(slots=True)
class CpaceFloor:
    """The CPace responder's crypto on one captured PAIR1 and PAIR3."""

    prs: bytes
    ci: bytes
    pair1: Pair1
    g: bytes
    yb_raw: bytes
    yb: X25519PrivateKey
    lock_id: bytes
    lock_public: bytes
    pair3: bytes

    @classmethod
    def capture(cls, lock_id: bytes, lock: KeyPair, phone: KeyPair, code: str) -> CpaceFloor:
        rng = DeterministicRng(b"cpace floor")
        prs = pairing_secret(code)
        initiator = PairingInitiator(lock_id=lock_id, prs=prs, code_ref=b"", phone=phone,
                                     rng=rng)
        pair1 = initiator.write_pair1()
        yb = KeyPair.generate(rng)
        responder = PairingResponder(lock_id=lock_id, lock=lock, rng=rng)
        initiator.read_pair2(responder.read_pair1(pair1, prs, yb))
        ci = b"BLELOCK1 pairing" + lock_id
        return cls(prs=prs, ci=ci, pair1=pair1, g=calculate_generator(prs, ci, pair1.sid),
                   yb_raw=yb.private_bytes(), yb=yb.private, lock_id=lock_id,
                   lock_public=lock.public, pair3=initiator.write_pair3().confirm)

    def run(self, *, prepared: bool) -> bytes:
        """PAIR1 in, PAIR2 out, PAIR3 in, PAIR4 out; returns the phone's static key."""
        msg = self.pair1
        digest = bytearray(hashlib.sha512(generator_string(self.prs, self.ci, msg.sid)).digest())
        digest[31] &= 0x7F
        u = int.from_bytes(digest[:32], "little") % _P
        # The map's irreducible field work, paid here: one exponentiation, one inversion.
        # Its full result is the captured generator (X25519 costs the same on any point).
        xd = (2 * u * u + 1) % _P
        pow(xd, _C4, _P) * pow(xd, -1, _P) % _P  # the cost is the point
        yb = self.yb if prepared else X25519PrivateKey.from_private_bytes(self.yb_raw)
        yb_pub = yb.exchange(X25519PublicKey.from_public_bytes(self.g))
        k = yb.exchange(X25519PublicKey.from_public_bytes(msg.ya))
        isk = hashlib.sha512(lv_cat(b"CPace255_ISK", msg.sid, k) + lv_cat(msg.ya, msg.code_ref)
                             + lv_cat(yb_pub, self.lock_id)).digest()
        keys = HKDF(algorithm=hashes.SHA256(), length=64, salt=b"",
                    info=b"BLELOCK1 pairing keys").derive(isk)
        send, recv = ChaCha20Poly1305(keys[:32]), ChaCha20Poly1305(keys[32:])
        send.encrypt(_NONCE0, self.lock_public, bytes([MsgType.PAIR2]))
        phone_public = recv.decrypt(_NONCE0, self.pair3, bytes([MsgType.PAIR3]))
        send.encrypt(_NONCE1, b"\x00", bytes([MsgType.PAIR4]))
        return phone_public
