"""The MCUboot image format (R-APP-8): header, version, TLVs, hash and vendor signature.

An MCUboot image (``docs/firmware.md``; MCUboot's ``bootutil/image.h``, imgtool's
``image.py``) is::

    header (32 bytes: magic 0x96f3b83d, load address, header size, protected TLV size,
            image size, flags, version major.minor.revision+build)
    padding up to the header size, then the image body (image size bytes)
    protected TLV area (optional: info magic 0x6908, then TLVs)
    TLV area (info magic 0x6907, total length, then TLVs: type u8, pad u8, length u16)

The SHA-256 TLV is the hash of everything before the unprotected TLV area (header, body,
protected TLVs). The signature TLV signs that hash: Ed25519 signs the 32-byte digest
(``ED25519``, 0x24), ECDSA P-256 signs the same bytes with SHA-256 (``ECDSASIG``, 0x22,
DER). Each layout is declared once with construct and used to parse; verification uses
the ``cryptography`` primitives only. Little-endian, as imgtool writes by default.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from functools import total_ordering
from typing import TYPE_CHECKING

import construct as c

from ble_lock.core.errors import ErrorCode, InvalidInputError

if TYPE_CHECKING:  # imported where used: an emulator without --vendor-key never needs
    # them (cryptography's serialization and Ed25519 modules: 0.4 MB of its USS)
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

__all__ = [
    "IMAGE_MAGIC",
    "ImageError",
    "ImageProblem",
    "ImageVersion",
    "McubootImage",
    "TlvType",
    "VendorKey",
    "parse_header",
    "parse_image",
]

IMAGE_MAGIC = 0x96F3B83D
TLV_INFO_MAGIC = 0x6907
TLV_PROT_INFO_MAGIC = 0x6908
HEADER_SIZE = 32
MAX_IMAGE_SIZE = 1 << 20  # the emulator's secondary slot: 1 MiB


class TlvType(IntEnum):
    """The TLV types this lock reads (MCUboot ``IMAGE_TLV_*``)."""

    KEYHASH = 0x01
    PUBKEY = 0x02
    SHA256 = 0x10
    ECDSASIG = 0x22
    ED25519 = 0x24


class ImageProblem(Enum):
    """Why an image is refused; ``dfu.server`` maps each to its SMP error code."""

    TOO_SHORT = "shorter than an image header"
    BAD_MAGIC = "not an MCUboot image (header magic)"
    BAD_HEADER = "header sizes do not fit the image"
    TOO_LARGE = "larger than the secondary slot"
    NO_TLVS = "no TLV area"
    BAD_TLV = "a TLV runs past the TLV area"
    NO_HASH = "no SHA-256 TLV"
    HASH_MISMATCH = "SHA-256 does not match: corrupted"
    UNSIGNED = "not signed"
    BAD_SIGNATURE = "signature is not by the vendor key"
    NO_VENDOR_KEY = "the lock has no vendor key to verify with"
    DOWNGRADE = "older than the running firmware (anti-rollback)"


class ImageError(InvalidInputError):
    """An image the lock refuses; ``problem`` says why (never the image bytes)."""

    def __init__(self, problem: ImageProblem) -> None:
        super().__init__(f"firmware image refused: {problem.value}",
                         code=ErrorCode.INVALID_ARGUMENT)
        self.problem = problem


@total_ordering
@dataclass(frozen=True, slots=True)
class ImageVersion:
    """``major.minor.revision+build``; ordered as MCUboot's downgrade prevention compares
    (build number included)."""

    major: int
    minor: int = 0
    revision: int = 0
    build: int = 0

    @classmethod
    def parse(cls, text: str) -> ImageVersion:
        """``1.2.3`` or ``1.2.3+4`` (imgtool's ``--version`` syntax)."""
        main, _, build = text.partition("+")
        parts = main.split(".")
        try:
            nums = [int(p) for p in parts]
            bnum = int(build) if build else 0
        except ValueError:
            raise InvalidInputError(f"bad firmware version {text!r}") from None
        if not 1 <= len(nums) <= 3 or min([*nums, bnum]) < 0:
            raise InvalidInputError(f"bad firmware version {text!r}")
        nums += [0] * (3 - len(nums))
        return cls(nums[0], nums[1], nums[2], bnum)

    def _key(self) -> tuple[int, int, int, int]:
        return (self.major, self.minor, self.revision, self.build)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, ImageVersion):
            return NotImplemented
        return self._key() < other._key()

    def __str__(self) -> str:
        """Zephyr's image-state text: ``1.2.3``, with ``.build`` when it is not 0."""
        text = f"{self.major}.{self.minor}.{self.revision}"
        return f"{text}.{self.build}" if self.build else text


_VERSION = c.Struct("major" / c.Int8ul, "minor" / c.Int8ul, "revision" / c.Int16ul,
                    "build" / c.Int32ul)
_HEADER = c.Struct(
    "magic" / c.Int32ul,
    "load_addr" / c.Int32ul,
    "hdr_size" / c.Int16ul,
    "protect_tlv_size" / c.Int16ul,
    "img_size" / c.Int32ul,
    "flags" / c.Int32ul,
    "version" / _VERSION,
    "pad" / c.Int32ul,
)
_TLV_INFO = c.Struct("magic" / c.Int16ul, "total" / c.Int16ul)
_TLV = c.Struct("type" / c.Int8ul, "pad" / c.Int8ul, "length" / c.Int16ul,
                "value" / c.Bytes(c.this.length))
assert _HEADER.sizeof() == HEADER_SIZE


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageHeader:
    """The parsed 32-byte header."""

    hdr_size: int
    protect_tlv_size: int
    img_size: int
    flags: int
    version: ImageVersion


@dataclass(frozen=True, slots=True, kw_only=True)
class McubootImage:
    """A parsed image: header, the hashed region's length, and its TLVs (type, value)."""

    header: ImageHeader
    hashed_len: int
    tlvs: tuple[tuple[int, bytes], ...] = field(repr=False)
    protected: tuple[tuple[int, bytes], ...] = field(repr=False)

    @property
    def version(self) -> ImageVersion:
        return self.header.version

    def tlv(self, kind: TlvType) -> bytes | None:
        """The first TLV of ``kind`` in the unprotected area (None: absent)."""
        return next((v for t, v in self.tlvs if t == kind), None)

    @property
    def hash(self) -> bytes | None:
        """The SHA-256 TLV: the image's identity in SMP image state and ``test``/``confirm``."""
        return self.tlv(TlvType.SHA256)


def parse_header(data: bytes) -> ImageHeader:
    """The header of an image's first bytes (SMP checks it at the first upload chunk).
    Raises :class:`ImageError`."""
    if len(data) < HEADER_SIZE:
        raise ImageError(ImageProblem.TOO_SHORT)
    raw = _HEADER.parse(data[:HEADER_SIZE])
    if raw.magic != IMAGE_MAGIC:
        raise ImageError(ImageProblem.BAD_MAGIC)
    if raw.hdr_size < HEADER_SIZE:
        raise ImageError(ImageProblem.BAD_HEADER)
    v = raw.version
    return ImageHeader(hdr_size=raw.hdr_size, protect_tlv_size=raw.protect_tlv_size,
                       img_size=raw.img_size, flags=raw.flags,
                       version=ImageVersion(v.major, v.minor, v.revision, v.build))


def _tlv_area(data: bytes, offset: int, magic: int) -> tuple[tuple[tuple[int, bytes], ...], int]:
    """The TLVs of the area at ``offset`` (with info ``magic``) and the area's end."""
    if offset + _TLV_INFO.sizeof() > len(data):
        raise ImageError(ImageProblem.NO_TLVS)
    info = _TLV_INFO.parse(data[offset:offset + 4])
    if info.magic != magic:
        raise ImageError(ImageProblem.NO_TLVS)
    end = offset + info.total
    if end > len(data) or info.total < 4:
        raise ImageError(ImageProblem.BAD_TLV)
    out: list[tuple[int, bytes]] = []
    pos = offset + 4
    while pos < end:
        if pos + 4 > end:
            raise ImageError(ImageProblem.BAD_TLV)
        tlv = _TLV.parse(data[pos:end] + b"\0" * 4)  # padding: a short value fails below
        if pos + 4 + tlv.length > end:
            raise ImageError(ImageProblem.BAD_TLV)
        out.append((tlv.type, bytes(tlv.value)))
        pos += 4 + tlv.length
    return tuple(out), end


def parse_image(data: bytes) -> McubootImage:
    """Parse a whole image (bounded: sizes checked against ``data``). Checks the layout,
    not the hash or the signature (:meth:`VendorKey.verify`). Raises :class:`ImageError`."""
    if len(data) > MAX_IMAGE_SIZE:
        raise ImageError(ImageProblem.TOO_LARGE)
    header = parse_header(data)
    body_end = header.hdr_size + header.img_size
    if body_end > len(data):
        raise ImageError(ImageProblem.BAD_HEADER)
    protected: tuple[tuple[int, bytes], ...] = ()
    hashed_len = body_end
    if header.protect_tlv_size:
        protected, hashed_len = _tlv_area(data, body_end, TLV_PROT_INFO_MAGIC)
        if hashed_len - body_end != header.protect_tlv_size:
            raise ImageError(ImageProblem.BAD_HEADER)
    tlvs, _ = _tlv_area(data, hashed_len, TLV_INFO_MAGIC)
    return McubootImage(header=header, hashed_len=hashed_len, tlvs=tlvs, protected=protected)


class VendorKey:
    """The vendor's public key the lock verifies images with (``--vendor-key``): Ed25519
    or ECDSA P-256, from a PEM public or private key (only the public half is kept)."""

    def __init__(self, public: ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        if isinstance(public, ec.EllipticCurvePublicKey) and not isinstance(
                public.curve, ec.SECP256R1):
            raise InvalidInputError("vendor key: ECDSA keys must be on P-256")
        self._public = public

    @classmethod
    def from_pem(cls, pem: bytes) -> VendorKey:
        """From a PEM public key or private key (imgtool ``keygen`` writes the latter).
        Raises ``InvalidInputError`` for anything else."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519

        try:
            if b"PRIVATE KEY" in pem:
                private = serialization.load_pem_private_key(pem, password=None)
                public = private.public_key()
            else:
                public = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(f"vendor key: not a PEM key ({type(exc).__name__})"
                                    ) from None
        if not isinstance(public, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
            raise InvalidInputError("vendor key: Ed25519 or ECDSA P-256 only")
        return cls(public)

    @property
    def public(self) -> ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey:
        """The public key itself."""
        return self._public

    @property
    def signature_tlv(self) -> TlvType:
        from cryptography.hazmat.primitives.asymmetric import ed25519

        return (TlvType.ED25519 if isinstance(self._public, ed25519.Ed25519PublicKey)
                else TlvType.ECDSASIG)

    def fingerprint(self) -> str:
        """SHA-256 of the DER public key, hex (what ``imgtool getpub`` hashes for KEYHASH)."""
        from cryptography.hazmat.primitives import serialization

        der = self._public.public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
        return hashlib.sha256(der).hexdigest()

    def verify(self, data: bytes) -> McubootImage:
        """Parse ``data`` and check its SHA-256 TLV and its signature by this key, as
        MCUboot's ``bootutil_img_validate`` does. Returns the parsed image; raises
        :class:`ImageError` (``HASH_MISMATCH`` for a corrupted image, ``UNSIGNED`` /
        ``BAD_SIGNATURE`` for one not signed by this key)."""
        image = parse_image(data)
        return self.verify_parsed(image, data)

    def verify_parsed(self, image: McubootImage, data: bytes) -> McubootImage:
        """:meth:`verify` on an image already parsed from ``data``."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519

        want = image.hash
        if want is None:
            raise ImageError(ImageProblem.NO_HASH)
        digest = hashlib.sha256(data[:image.hashed_len]).digest()
        if not hmac.compare_digest(digest, want):
            raise ImageError(ImageProblem.HASH_MISMATCH)
        signatures = [v for t, v in image.tlvs if t == self.signature_tlv]
        if not signatures:
            raise ImageError(ImageProblem.UNSIGNED)
        for signature in signatures:  # MCUboot tries each signature TLV of its key type
            try:
                if isinstance(self._public, ed25519.Ed25519PublicKey):
                    self._public.verify(signature, digest)
                else:
                    self._public.verify(signature, data[:image.hashed_len],
                                        ec.ECDSA(hashes.SHA256()))
            except InvalidSignature:
                continue
            return image
        raise ImageError(ImageProblem.BAD_SIGNATURE)
