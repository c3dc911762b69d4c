"""The session handshake: Noise ``IK`` (``Noise_IK_25519_ChaChaPoly_SHA256``).

The phone (initiator) knows the lock's static key from pairing; the lock (responder)
learns the phone's static key, encrypted, from message 1::

    <- s                                  (pre-message: lock static, from pairing)
    ...
    -> e, es, s, ss, payload1             HS1: counter u64 || first request
    <- e, ee, se, payload2                HS2: status u8 || fresh[16] || fresh_for u8
                                               [|| lock counter u64] || response

The prologue binds the protocol version, the lock id and the lock's freshness value that
HS1 carries in clear (``freshness.py``): an HS1 decrypts only under the value it names.
``payload1`` is encrypted under keys derived from ``es`` and ``ss`` only (0-RTT: no
forward secrecy against a later compromise of the lock's static key, see
``docs/protocol.md``); ``payload2`` and all transport messages depend on the fresh
ephemerals (``ee``, ``se``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum

from construct import Bytes, GreedyBytes, Int8ub, Int64ub, Struct
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from ble_lock.wire.errors import FramingError, HandshakeError, LocalProtocolError
from ble_lock.wire.link.transport_messages import FRESH_LEN, PROTOCOL_VERSION, Hs1, Hs2
from ble_lock.wire.security.crypto import (
    CipherState,
    KeyPair,
    Rng,
    dh,
    hkdf,
    public_key,
    sha256,
)

__all__ = [
    "PROTOCOL_NAME",
    "FirstPayload",
    "HsStatus",
    "InitiatorHandshake",
    "ReplyPayload",
    "ResponderHandshake",
    "SsCache",
    "TransportKeys",
    "prologue",
    "write_e_es_s_ss",
]

PROTOCOL_NAME = b"Noise_IK_25519_ChaChaPoly_SHA256"
SS_CACHE_SIZE = 64
_FIRST = Struct("counter" / Int64ub, "payload" / GreedyBytes).compile()
_REPLY = Struct("status" / Int8ub, "fresh" / Bytes(FRESH_LEN), "fresh_for" / Int8ub,
                "rest" / GreedyBytes).compile()
_COUNTER = Struct("counter" / Int64ub).compile()
# The hot path reads and writes these layouts by hand (tests/wire/test_crypto_fast.py
# pins the hand-written code to the declarations above, both ways).
_U64 = struct.Struct(">Q")
_REPLY_HEAD = 1 + FRESH_LEN + 1


class HsStatus(IntEnum):
    OK = 0  # payload1 was accepted and passed to the app; payload2 is its response
    RESYNC = 1  # payload1's counter was stale: it was dropped; lock counter follows
    STALE = 2  # payload1's freshness value had expired: it was dropped, never applied


def prologue(lock_id: bytes, fresh: bytes) -> bytes:
    """``"BLELOCK" || version u8 || lock id[4] || fresh[16]`` (docs/protocol.md, Sessions)."""
    if len(fresh) != FRESH_LEN:
        raise LocalProtocolError(f"a freshness value has {FRESH_LEN} bytes")
    return b"BLELOCK" + bytes([PROTOCOL_VERSION]) + lock_id + fresh


class SymmetricState:
    """Noise's SymmetricState (ck, h, k, n) on SHA-256 and ChaCha20-Poly1305."""

    __slots__ = ("_cipher", "_k", "ck", "h")

    def __init__(self, prologue_bytes: bytes, responder_static: bytes,
                 protocol_name: bytes = PROTOCOL_NAME) -> None:
        # A name of at most 32 bytes is zero-padded, a longer one hashed (Noise 5.2).
        self.h = protocol_name.ljust(32, b"\0") if len(protocol_name) <= 32 else sha256(
            protocol_name)
        self.ck = self.h
        self._k: bytes | None = None
        self._cipher: CipherState | None = None
        self.mix_hash(prologue_bytes)
        self.mix_hash(responder_static)

    def mix_hash(self, data: bytes) -> None:
        self.h = sha256(self.h + data)

    def mix_key(self, ikm: bytes) -> None:
        out = hkdf(self.ck, ikm, 64)
        self.ck = out[:32]
        # InitializeKey(k): the AEAD object is made on first use (IK's ``ee`` key is
        # never used before ``se`` replaces it: one key set-up saved per handshake).
        self._k, self._cipher = out[32:], None

    @property
    def cipher(self) -> CipherState:
        """The CipherState of the current key (nonce from 0 after each ``mix_key``)."""
        if self._cipher is None:
            if self._k is None:
                raise HandshakeError("no key yet")
            self._cipher = CipherState(self._k)
        return self._cipher

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        ct = self.cipher.encrypt(self.h, plaintext)
        self.mix_hash(ct)
        return ct

    def decrypt_and_hash(self, ciphertext: bytes) -> bytes:
        pt = self.cipher.decrypt(self.h, ciphertext)
        self.mix_hash(ciphertext)
        return pt

    def split(self) -> tuple[CipherState, CipherState]:
        out = hkdf(self.ck, b"", 64)
        return CipherState(out[:32]), CipherState(out[32:])

    def __repr__(self) -> str:
        return "SymmetricState(<secret>)"


@dataclass(slots=True, kw_only=True)
class TransportKeys:
    """The two directions of an established session."""

    send: CipherState = field(repr=False)
    recv: CipherState = field(repr=False)
    handshake_hash: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class FirstPayload:
    counter: int
    payload: bytes = field(repr=False)

    def encode(self) -> bytes:
        # By hand on the hot path; ``_FIRST`` is the declared layout (a test pins both).
        if not 0 <= self.counter < 1 << 64 or type(self.payload) is not bytes:
            return bytes(_FIRST.build({"counter": self.counter, "payload": self.payload}))
        return _U64.pack(self.counter) + self.payload

    @classmethod
    def decode(cls, data: bytes) -> FirstPayload:
        if len(data) < _U64.size:
            raise FramingError("HS1 payload shorter than its counter")
        return cls(counter=_U64.unpack_from(data)[0], payload=bytes(data[_U64.size:]))


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyPayload:
    """``payload2``. ``fresh``/``fresh_for``: the lock's current freshness value and the
    whole seconds it stays accepted, for the phone's next HS1 (no need to read info)."""

    status: HsStatus
    fresh: bytes
    fresh_for: int
    lock_counter: int | None = None
    payload: bytes = field(default=b"", repr=False)

    def encode(self) -> bytes:
        rest = self.payload
        if self.status is HsStatus.RESYNC:
            assert self.lock_counter is not None
            rest = _U64.pack(self.lock_counter) + rest
        if len(self.fresh) != FRESH_LEN or not 0 <= self.fresh_for < 256:
            # Out of its layout: construct's build raises the declared error.
            return bytes(_REPLY.build({"status": self.status, "fresh": self.fresh,
                                       "fresh_for": self.fresh_for, "rest": rest}))
        # By hand on the hot path; ``_REPLY`` is the declared layout (a test pins both).
        return bytes((self.status,)) + self.fresh + bytes((self.fresh_for,)) + rest

    @classmethod
    def decode(cls, data: bytes) -> ReplyPayload:
        if len(data) < _REPLY_HEAD:
            raise HandshakeError("HS2 carries an unknown status")
        try:
            status = HsStatus(data[0])
        except ValueError as exc:
            raise HandshakeError("HS2 carries an unknown status") from exc
        fresh, fresh_for = bytes(data[1:1 + FRESH_LEN]), data[1 + FRESH_LEN]
        rest = bytes(data[_REPLY_HEAD:])
        if status is not HsStatus.RESYNC:
            return cls(status=status, fresh=fresh, fresh_for=fresh_for, payload=rest)
        if len(rest) < _U64.size:
            raise FramingError("HS2 resync without a counter")
        return cls(status=status, fresh=fresh, fresh_for=fresh_for,
                   lock_counter=_U64.unpack_from(rest)[0], payload=rest[_U64.size:])


def write_e_es_s_ss(ss: SymmetricState, e: KeyPair, s: KeyPair, rs: bytes,
                    payload: bytes) -> tuple[bytes, bytes]:
    """The tokens ``-> e, es, s, ss`` and the payload (IK message 1, also Noise ``X``).
    Returns (encrypted s, encrypted payload); ``e.public`` is sent in clear before them."""
    ss.mix_hash(e.public)
    ss.mix_key(dh(e.private, rs))
    enc_s = ss.encrypt_and_hash(s.public)
    ss.mix_key(dh(s.private, rs))
    return enc_s, ss.encrypt_and_hash(payload)


class InitiatorHandshake:
    """The phone's half of the IK handshake."""

    __slots__ = ("_e", "_fresh", "_lock_public", "_phone", "_rng", "_ss")

    def __init__(self, *, lock_id: bytes, lock_public: bytes, phone: KeyPair, rng: Rng,
                 fresh: bytes) -> None:
        self._ss = SymmetricState(prologue(lock_id, fresh), lock_public)
        self._fresh = fresh
        self._lock_public = lock_public
        self._phone = phone
        self._rng = rng
        self._e: KeyPair | None = None

    def write_msg1(self, first: FirstPayload) -> Hs1:
        e = self._e = KeyPair.generate(self._rng)
        enc_s, enc_payload = write_e_es_s_ss(self._ss, e, self._phone, self._lock_public,
                                             first.encode())
        return Hs1(version=PROTOCOL_VERSION, fresh=self._fresh, e=e.public, enc_s=enc_s,
                   enc_payload=enc_payload)

    def read_msg2(self, msg: Hs2) -> tuple[ReplyPayload, TransportKeys]:
        if self._e is None:
            raise HandshakeError("HS2 before HS1")
        ss = self._ss
        ss.mix_hash(msg.e)
        lock_e = public_key(msg.e)  # imported once for ee and se
        ss.mix_key(dh(self._e.private, lock_e))
        ss.mix_key(dh(self._phone.private, lock_e))
        reply = ReplyPayload.decode(ss.decrypt_and_hash(msg.enc_payload))
        send, recv = ss.split()
        return reply, TransportKeys(send=send, recv=recv, handshake_hash=ss.h)


SsCache = dict[bytes, tuple[bytes, X25519PublicKey]]
"""A lock's cache: phone static key -> (DH(lock static, phone static), the imported key)."""


class ResponderHandshake:
    """The lock's half of the IK handshake."""

    __slots__ = ("_lock", "_phone_e", "_phone_s", "_rng", "_ss", "_ss_cache")

    def __init__(self, *, lock_id: bytes, lock: KeyPair, rng: Rng, fresh: bytes,
                 ss_cache: SsCache | None = None) -> None:
        """``fresh``: the value HS1 names in clear (the caller judges whether it is
        still accepted; the prologue makes HS1 decrypt only under that value)."""
        self._ss = SymmetricState(prologue(lock_id, fresh), lock.public)
        self._ss_cache = ss_cache
        self._lock = lock
        self._rng = rng
        self._phone_e: X25519PublicKey | None = None
        self._phone_s: X25519PublicKey | None = None

    def read_msg1(self, msg: Hs1) -> tuple[bytes, FirstPayload]:
        """Returns the phone's static public key and the decrypted first payload."""
        ss = self._ss
        ss.mix_hash(msg.e)
        phone_e = public_key(msg.e)  # imported once: es now, ee in HS2
        ss.mix_key(dh(self._lock.private, phone_e))
        phone_s = ss.decrypt_and_hash(msg.enc_s)
        shared, phone_s_key = self._static_dh(phone_s)
        ss.mix_key(shared)
        first = FirstPayload.decode(ss.decrypt_and_hash(msg.enc_payload))
        self._phone_e, self._phone_s = phone_e, phone_s_key
        return phone_s, first

    def _static_dh(self, phone_s: bytes) -> tuple[bytes, X25519PublicKey]:
        """``ss`` is the same every session with this phone: a lock may cache it (with
        the imported key, which ``se`` uses in HS2)."""
        cache = self._ss_cache
        entry = None if cache is None else cache.get(phone_s)
        if entry is None:
            key = public_key(phone_s)
            entry = (dh(self._lock.private, key), key)
            if cache is not None:
                if len(cache) >= SS_CACHE_SIZE:
                    cache.pop(next(iter(cache)))
                cache[phone_s] = entry
        return entry

    def write_msg2(self, reply: ReplyPayload, ephemeral: KeyPair | None = None
                   ) -> tuple[Hs2, TransportKeys]:
        """``ephemeral``: the lock's fresh key for this session if one was prepared
        while idle (``LockEndpoint.prepare_idle``); else one is generated now. Used once."""
        if self._phone_e is None or self._phone_s is None:
            raise HandshakeError("HS2 before HS1")
        ss = self._ss
        e = ephemeral if ephemeral is not None else KeyPair.generate(self._rng)
        ss.mix_hash(e.public)
        ss.mix_key(dh(e.private, self._phone_e))
        ss.mix_key(dh(e.private, self._phone_s))
        enc_payload = ss.encrypt_and_hash(reply.encode())
        recv, send = ss.split()
        return Hs2(e=e.public, enc_payload=enc_payload), TransportKeys(
            send=send, recv=recv, handshake_hash=ss.h)
