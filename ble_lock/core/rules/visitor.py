"""Offline visitor codes (R-APP-4): one-time and periodic keypad codes.

An admin's phone generates a code from the secret it shares with the lock, without
talking to the lock; the lock verifies it offline from the same secret. The scheme is
specified byte-exact in ``docs/visitor-codes.md`` (so an app in another language can
implement it); in short, a code is 16 decimal digits::

    PPPPPPPPP TTTTTTT
    payload   MAC: HMAC-SHA256(secret, "ble-lock/visitor-code/v1" 0x00 kind a b) mod 10^7

The payload (9 digits, in clear) encodes the kind and its time fields; the 7-digit
truncated MAC makes a guessed code valid with probability 10^-7 per attempt, which the
lockout (R-SEC-1) turns into years of keypad typing (see the doc for the numbers).

Everything here is a pure function: no clock, RNG or I/O (DESIGN: time and randomness are
passed in). The secret is the caller's to keep out of reprs and logs; nothing in this
module stores or prints it.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
from dataclasses import dataclass

from ble_lock.core.errors import InvalidInputError

__all__ = [
    "CLOCK_SKEW_TOLERANCE",
    "CODE_LENGTH",
    "EPOCH",
    "MAX_PERIODIC_DURATION",
    "MIN_SECRET_LENGTH",
    "ONE_TIME_NONCES",
    "ONE_TIME_VALIDITY",
    "RANGE_END",
    "VisitorGrant",
    "VisitorKind",
    "generate_one_time_code",
    "generate_periodic_code",
    "parse_visitor_code",
]

#: Codes are exactly this many digits; a keypad entry of any other length is not a code.
CODE_LENGTH = 16
PAYLOAD_DIGITS = 9
MAC_DIGITS = 7
#: 2020-01-01T00:00:00Z: time fields count from here.
EPOCH = 1_577_836_800
HOUR = 3600
DAY = 86_400
#: Hour slots representable (about 37.6 years: up to 2057-08-23).
HOUR_SLOTS = 330_000
MINUTE_SLOTS = HOUR_SLOTS * 60
#: End of the representable range (exclusive), unix seconds.
RANGE_END = EPOCH + HOUR_SLOTS * HOUR
#: Distinct one-time codes per issue minute.
ONE_TIME_NONCES = 32
#: A one-time code opens once within this long from its issue minute (R-APP-4: effective
#: immediately; bounded so the lock can forget used codes).
ONE_TIME_VALIDITY = 6 * HOUR
#: Periodic durations: codes 0..167 are 1..168 hours, codes 168..1023 are 8..863 days.
DURATION_CODES = 1024
HOURLY_DURATION_CODES = 168
FIRST_DAILY_DURATION = 8
MAX_PERIODIC_DURATION = (DURATION_CODES - HOURLY_DURATION_CODES + FIRST_DAILY_DURATION - 1) * DAY
#: How early (seconds) the lock accepts a code whose window has not started yet: the
#: phone's clock may run ahead of the lock's.
CLOCK_SKEW_TOLERANCE = 300
MIN_SECRET_LENGTH = 16

ONE_TIME_SPACE = MINUTE_SLOTS * ONE_TIME_NONCES  # payloads [0, ONE_TIME_SPACE)
PERIODIC_SPACE = HOUR_SLOTS * DURATION_CODES  # payloads [ONE_TIME_SPACE, +PERIODIC_SPACE)
_DOMAIN = b"ble-lock/visitor-code/v1\x00"
_MAC_MODULUS = 10**MAC_DIGITS
assert ONE_TIME_SPACE + PERIODIC_SPACE <= 10**PAYLOAD_DIGITS
assert PAYLOAD_DIGITS + MAC_DIGITS == CODE_LENGTH


class VisitorKind(enum.Enum):
    """What a visitor code is; the value is the kind byte inside the MAC input."""

    ONE_TIME = 1
    PERIODIC = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class VisitorGrant:
    """What a verified code grants: ``valid_from <= now < valid_until`` (unix seconds).

    ``code_id`` (the 9-digit payload) is unique per code under one secret: the lock
    remembers used one-time ids until their ``valid_until`` passes, then prunes them.
    """

    kind: VisitorKind
    code_id: int
    valid_from: int
    valid_until: int

    def is_valid_at(self, now: float, *, clock_skew: float = CLOCK_SKEW_TOLERANCE) -> bool:
        """True if the window covers ``now``, accepting ``clock_skew`` seconds early."""
        return self.valid_from - clock_skew <= now < self.valid_until


def generate_one_time_code(secret: bytes, *, now: float, nonce: int = 0) -> str:
    """A code that opens once, from the issue minute for ``ONE_TIME_VALIDITY`` seconds.

    ``nonce`` (0..31) tells apart codes issued in the same minute; pass a random or
    sequential value (this function reads no RNG). The same inputs give the same code.
    """
    _check_secret(secret)
    issued = math.floor(_check_time("now", now))
    if isinstance(nonce, bool) or not isinstance(nonce, int) or not 0 <= nonce < ONE_TIME_NONCES:
        raise InvalidInputError(f"nonce must be an int in 0..{ONE_TIME_NONCES - 1}")
    minute = (issued - EPOCH) // 60
    return _encode(secret, VisitorKind.ONE_TIME, minute, nonce)


def generate_periodic_code(secret: bytes, *, valid_from: float, valid_until: float) -> str:
    """A reusable code for the window [valid_from, valid_until).

    The window is widened to what the code can express, never narrowed: ``valid_from`` is
    rounded down to the hour, the duration up to whole hours (up to 7 days) or whole days
    (8 to 863 days). :func:`parse_visitor_code` returns the exact window granted.
    """
    _check_secret(secret)
    if _check_time("valid_until", valid_until, upper=None) <= _check_time("valid_from", valid_from):
        raise InvalidInputError("valid_until must be after valid_from")
    hour = (math.floor(valid_from) - EPOCH) // HOUR
    start = EPOCH + hour * HOUR
    return _encode(
        secret, VisitorKind.PERIODIC, hour, _duration_code(math.ceil(valid_until) - start)
    )


def parse_visitor_code(secret: bytes, digits: str) -> VisitorGrant | None:
    """The grant of a code made with ``secret``, or None if ``digits`` is not one.

    None for anything else: wrong length, non-digits, a payload outside the scheme, or a
    MAC that does not match (compared in constant time). It does not look at the clock:
    the lock checks :meth:`VisitorGrant.is_valid_at` and, for one-time codes, its list
    of used ``code_id`` values.
    """
    _check_secret(secret)
    if not isinstance(digits, str) or len(digits) != CODE_LENGTH:
        return None
    if not (digits.isascii() and digits.isdigit()):
        return None
    payload = int(digits[:PAYLOAD_DIGITS])
    fields = _decode_payload(payload)
    if fields is None:
        return None
    kind, a, b = fields
    expected = _mac_digits(secret, kind, a, b)
    if not hmac.compare_digest(expected.encode("ascii"), digits[PAYLOAD_DIGITS:].encode("ascii")):
        return None
    if kind is VisitorKind.ONE_TIME:
        valid_from = EPOCH + a * 60
        return VisitorGrant(
            kind=kind,
            code_id=payload,
            valid_from=valid_from,
            valid_until=valid_from + ONE_TIME_VALIDITY,
        )
    valid_from = EPOCH + a * HOUR
    return VisitorGrant(
        kind=kind,
        code_id=payload,
        valid_from=valid_from,
        valid_until=valid_from + _duration_seconds(b),
    )


# -- encoding ---------------------------------------------------------------------------


def _encode(secret: bytes, kind: VisitorKind, a: int, b: int) -> str:
    if kind is VisitorKind.ONE_TIME:
        payload = a * ONE_TIME_NONCES + b
    else:
        payload = ONE_TIME_SPACE + a * DURATION_CODES + b
    return f"{payload:0{PAYLOAD_DIGITS}d}{_mac_digits(secret, kind, a, b)}"


def _decode_payload(payload: int) -> tuple[VisitorKind, int, int] | None:
    if payload < ONE_TIME_SPACE:
        minute, nonce = divmod(payload, ONE_TIME_NONCES)
        return VisitorKind.ONE_TIME, minute, nonce
    rest = payload - ONE_TIME_SPACE
    if rest < PERIODIC_SPACE:
        hour, duration = divmod(rest, DURATION_CODES)
        return VisitorKind.PERIODIC, hour, duration
    return None


def _mac_digits(secret: bytes, kind: VisitorKind, a: int, b: int) -> str:
    # Domain-separated input: version tag, kind byte, two big-endian u32 fields
    # (one-time: issue minute, nonce; periodic: start hour, duration code).
    message = _DOMAIN + bytes([kind.value]) + a.to_bytes(4, "big") + b.to_bytes(4, "big")
    tag = hmac.new(secret, message, hashlib.sha256).digest()
    # 64 bits reduced mod 10^7: the bias is below 10^7 / 2^64, i.e. negligible.
    value = int.from_bytes(tag[:8], "big") % _MAC_MODULUS
    return f"{value:0{MAC_DIGITS}d}"


def _duration_code(seconds: int) -> int:
    hours = -(-seconds // HOUR)
    if hours <= HOURLY_DURATION_CODES:
        return hours - 1
    days = max(-(-seconds // DAY), FIRST_DAILY_DURATION)
    code = HOURLY_DURATION_CODES + days - FIRST_DAILY_DURATION
    if code >= DURATION_CODES:
        raise InvalidInputError(
            f"a periodic code lasts at most {MAX_PERIODIC_DURATION // DAY} days"
        )
    return code


def _duration_seconds(code: int) -> int:
    if code < HOURLY_DURATION_CODES:
        return (code + 1) * HOUR
    return (code - HOURLY_DURATION_CODES + FIRST_DAILY_DURATION) * DAY


def _check_secret(secret: bytes) -> None:
    if not isinstance(secret, bytes | bytearray) or len(secret) < MIN_SECRET_LENGTH:
        raise InvalidInputError(f"the visitor secret must be at least {MIN_SECRET_LENGTH} bytes")


def _check_time(name: str, value: float, *, upper: int | None = RANGE_END) -> float:
    """``value`` as a finite number inside the scheme's range (floats are fine: the
    fields are whole minutes and hours, rounded as the doc says)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(f"{name} must be a finite number of unix seconds")
    if value < EPOCH or (upper is not None and value >= upper):
        raise InvalidInputError(
            f"{name} must lie in the visitor-code range [{EPOCH}, {RANGE_END}) (unix seconds)"
        )
    return value
