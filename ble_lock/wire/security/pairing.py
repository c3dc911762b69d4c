"""Pairing: CPace over X25519 with a code from the lock, then key confirmation and the
exchange of static keys under the PAKE key (``docs/protocol.md``, "Pairing")::

    phone                                              lock
    PAIR1  version, code_ref, sid, Ya = ya*g     ->
                                                 <-    PAIR2  Yb = yb*g,
                                                              AEAD(k_lock; lock static pub)
    PAIR3  AEAD(k_phone; phone static pub)       ->
                                                 <-    PAIR4  AEAD(k_lock; status)

    g   = CPace generator from PRS (the code), CI = "BLELOCK1 pairing" || lock id, sid
    ISK = CPace ISK (initiator-responder transcript, ADa = code_ref, ADb = lock id)
    k_lock || k_phone = HKDF-SHA256(salt="", ISK, info="BLELOCK1 pairing keys", 64)

Each AEAD box is also the key confirmation of its sender: it opens only with the ISK of
the same code. The phone checks the lock's static key against the QR fingerprint.

PAIR3 is the commit point: the lock binds the phone's key when it reads it. The phone
keeps the lock's key durably before it writes PAIR3 (two-phase, ``PhonePairing(hold=True)``;
``docs/protocol.md``, "Interrupted pairing"), so no interruption can leave a lock bound to
a key that no phone holds.
"""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ble_lock.core.errors import ErrorCode, InvalidInputError
from ble_lock.core.hashing import (
    derive_code_secret,
    invite_context,
    normalize_code,
    setup_context,
)
from ble_lock.core.model import LOCK_ID_LEN
from ble_lock.wire.errors import (
    DecryptError,
    HandshakeError,
    IdentityMismatchError,
    LocalProtocolError,
    PairingError,
)
from ble_lock.wire.link.transport_messages import (
    MAX_CODE_REF,
    PROTOCOL_VERSION,
    MsgType,
    Pair1,
    Pair2,
    Pair3,
    Pair4,
)
from ble_lock.wire.security.cpace import calculate_generator, isk_ir, scalar_mult
from ble_lock.wire.security.crypto import KEY_LEN, CipherState, KeyPair, Rng, fingerprint, hkdf

__all__ = [
    "LOCK_ID_LEN",
    "PairingInitiator",
    "PairingResponder",
    "QrPayload",
    "invite_transport_code",
    "normalize_code",
    "pairing_secret",
    "setup_transport_code",
    "transport_code",
]

_QR_PREFIX = "BLELOCK1"


def _normalized(code: str) -> str:
    """:func:`~ble_lock.core.hashing.normalize_code`, refusing as a local API error."""
    try:
        return normalize_code(code)
    except InvalidInputError as exc:
        raise LocalProtocolError(str(exc), code=ErrorCode.INVALID_ARGUMENT) from None


def transport_code(code_secret: bytes) -> str:
    """The code CPace runs on (``docs/protocol.md``, "Codes"): RFC 4648 Base32 (A-Z, 2-7)
    of the first 20 bytes of a code's derived secret, 32 characters, no padding."""
    return base64.b32encode(code_secret[:20]).decode("ascii")


def setup_transport_code(setup_code: str, lock_id: bytes) -> str:
    """Phone side, claiming: from the printed setup code and the lock id (both in the QR)."""
    return transport_code(derive_code_secret(_normalized(setup_code), setup_context(lock_id)))


def invite_transport_code(invite_id: int, code: str) -> str:
    """Phone side, redeeming an invite (a Bluetooth key or a further admin phone)."""
    return transport_code(derive_code_secret(_normalized(code), invite_context(invite_id)))


def pairing_secret(code: str) -> bytes:
    """The CPace password-related string (PRS): ``"BLELOCK1 code " || normalize(code)``.
    A lock over the core gives CPace a :func:`transport_code` (the in-memory test rig
    may hold any code); the lock's :class:`~ble_lock.wire.endpoints.directory.PeerDirectory`
    returns this for the code it holds."""
    return b"BLELOCK1 code " + _normalized(code).encode("ascii")


def _ci(lock_id: bytes) -> bytes:
    return b"BLELOCK1 pairing" + lock_id


def _keys(isk: bytes) -> tuple[CipherState, CipherState]:
    out = hkdf(b"", isk, 64, info=b"BLELOCK1 pairing keys")
    return CipherState(out[:32]), CipherState(out[32:])


@dataclass(frozen=True, slots=True, kw_only=True)
class QrPayload:
    """What the lock's QR code (or screen) shows: ``BLELOCK1:<lockid>:<code>:<fp>``.

    ``lockid`` is 8 hex digits, ``code`` the setup code, ``fp`` the 32-hex-digit
    fingerprint of the lock's static public key; all upper case, so the text fits the
    QR alphanumeric mode.
    """

    lock_id: bytes
    setup_code: str = field(repr=False)
    fingerprint: bytes

    def to_text(self) -> str:
        return ":".join((_QR_PREFIX, self.lock_id.hex().upper(), _normalized(self.setup_code),
                         self.fingerprint.hex().upper()))

    @classmethod
    def parse(cls, text: str) -> QrPayload:
        parts = text.strip().split(":")
        if len(parts) != 4 or parts[0].upper() != _QR_PREFIX:
            raise LocalProtocolError("not a BLELOCK1 QR payload", code=ErrorCode.INVALID_ARGUMENT)
        try:
            lock_id, fp = bytes.fromhex(parts[1]), bytes.fromhex(parts[3])
        except ValueError as exc:
            raise LocalProtocolError("QR payload fields are not hex",
                                     code=ErrorCode.INVALID_ARGUMENT) from exc
        if len(lock_id) != LOCK_ID_LEN or len(fp) != 16:
            raise LocalProtocolError("QR lock id or fingerprint has the wrong length",
                                     code=ErrorCode.INVALID_ARGUMENT)
        return cls(lock_id=lock_id, setup_code=_normalized(parts[2]), fingerprint=fp)


class PairingInitiator:
    """The phone's pairing crypto (no framing, no state table: see ``phone.py``)."""

    __slots__ = ("_code_ref", "_expected_fp", "_lock_id", "_phone", "_prs", "_recv", "_rng",
                 "_send", "_sid", "_ya", "_ya_pub", "lock_public")

    def __init__(self, *, lock_id: bytes, prs: bytes, code_ref: bytes, phone: KeyPair,
                 rng: Rng, expected_fingerprint: bytes | None = None) -> None:
        if len(code_ref) > MAX_CODE_REF:
            raise LocalProtocolError("code reference too long", code=ErrorCode.INVALID_ARGUMENT)
        self._lock_id, self._prs, self._code_ref = lock_id, prs, code_ref
        self._phone, self._rng, self._expected_fp = phone, rng, expected_fingerprint
        self._sid = b""
        self._ya: X25519PrivateKey | None = None
        self._ya_pub = b""
        self._send: CipherState | None = None
        self._recv: CipherState | None = None
        self.lock_public: bytes | None = None

    def write_pair1(self) -> Pair1:
        self._sid = self._rng.token_bytes(16)
        ya = self._ya = X25519PrivateKey.from_private_bytes(self._rng.token_bytes(KEY_LEN))
        g = calculate_generator(self._prs, _ci(self._lock_id), self._sid)
        self._ya_pub = scalar_mult(ya, g)  # imported once: PAIR2's Yb is the second
        return Pair1(version=PROTOCOL_VERSION, code_ref=self._code_ref, sid=self._sid,
                     ya=self._ya_pub)

    def read_pair2(self, msg: Pair2) -> bytes:
        """Returns the lock's static public key, confirmed by the PAKE key."""
        if self._ya is None:
            raise HandshakeError("PAIR2 before PAIR1")
        k = scalar_mult(self._ya, msg.yb)
        isk = isk_ir(self._sid, k, self._ya_pub, self._code_ref, msg.yb, self._lock_id)
        self._recv, self._send = _keys(isk)
        try:
            lock_public = self._recv.decrypt(bytes([MsgType.PAIR2]), msg.confirm)
        except DecryptError as exc:
            raise PairingError("key confirmation failed: wrong code (or not this lock)") from exc
        if self._expected_fp is not None and not hmac.compare_digest(
                fingerprint(lock_public), self._expected_fp):
            raise IdentityMismatchError("the lock's key does not match the QR fingerprint")
        self.lock_public = lock_public
        return lock_public

    def write_pair3(self) -> Pair3:
        if self._send is None:
            raise HandshakeError("PAIR3 before PAIR2")
        return Pair3(confirm=self._send.encrypt(bytes([MsgType.PAIR3]), self._phone.public))

    def read_pair4(self, msg: Pair4) -> None:
        if self._recv is None:
            raise HandshakeError("PAIR4 before PAIR2")
        status = self._recv.decrypt(bytes([MsgType.PAIR4]), msg.done)
        if status != b"\x00":
            raise PairingError("the lock did not confirm the pairing")

    def __repr__(self) -> str:
        return f"PairingInitiator(lock_id={self._lock_id.hex()})"


class PairingResponder:
    """The lock's pairing crypto."""

    __slots__ = ("_lock", "_lock_id", "_recv", "_rng", "_send")

    def __init__(self, *, lock_id: bytes, lock: KeyPair, rng: Rng) -> None:
        self._lock_id, self._lock, self._rng = lock_id, lock, rng
        self._send: CipherState | None = None
        self._recv: CipherState | None = None

    def read_pair1(self, msg: Pair1, prs: bytes, ephemeral: KeyPair | None = None) -> Pair2:
        """``ephemeral``: a key prepared while idle (``LockEndpoint.prepare_idle``) whose
        private scalar becomes CPace's ``yb`` (its public half, ``yb * base``, is not
        used); else ``yb`` is drawn now. Imported once for both multiplications."""
        g = calculate_generator(prs, _ci(self._lock_id), msg.sid)
        yb = (ephemeral if ephemeral is not None
              else KeyPair.generate(self._rng)).private
        yb_pub = scalar_mult(yb, g)
        k = scalar_mult(yb, msg.ya)  # low-order Ya aborts here
        isk = isk_ir(msg.sid, k, msg.ya, msg.code_ref, yb_pub, self._lock_id)
        self._send, self._recv = _keys(isk)
        confirm = self._send.encrypt(bytes([MsgType.PAIR2]), self._lock.public)
        return Pair2(yb=yb_pub, confirm=confirm)

    def read_pair3(self, msg: Pair3) -> bytes:
        """Returns the phone's static public key; a wrong code fails here."""
        if self._recv is None:
            raise HandshakeError("PAIR3 before PAIR1")
        try:
            return self._recv.decrypt(bytes([MsgType.PAIR3]), msg.confirm)
        except DecryptError as exc:
            raise PairingError("key confirmation failed: wrong code") from exc

    def write_pair4(self) -> Pair4:
        if self._send is None:
            raise HandshakeError("PAIR4 before PAIR1")
        return Pair4(done=self._send.encrypt(bytes([MsgType.PAIR4]), b"\x00"))

    def __repr__(self) -> str:
        return f"PairingResponder(lock_id={self._lock_id.hex()})"
