"""Visitor codes (R-APP-4): offline one-time and periodic codes, docs/visitor-codes.md."""

from __future__ import annotations

import hashlib
import hmac
import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ble_lock.core.errors import ErrorCode, InvalidInputError
from ble_lock.core.rules.visitor import (
    CLOCK_SKEW_TOLERANCE,
    CODE_LENGTH,
    EPOCH,
    MAX_PERIODIC_DURATION,
    ONE_TIME_NONCES,
    ONE_TIME_VALIDITY,
    RANGE_END,
    VisitorGrant,
    VisitorKind,
    generate_one_time_code,
    generate_periodic_code,
    parse_visitor_code,
)

SECRET = bytes(range(32))
OTHER_SECRET = bytes(range(1, 33))
NOW = 1_790_000_000  # 2026-09-21T14:13:20Z
HOUR = 3600
DAY = 86_400
DOC = Path(__file__).resolve().parents[2] / "docs" / "visitor-codes.md"

times = st.integers(min_value=EPOCH, max_value=RANGE_END - 1)
secrets_ = st.binary(min_size=16, max_size=64)


def reference_code(secret: bytes, kind: int, a: int, b: int) -> str:
    """The scheme as docs/visitor-codes.md states it, written independently of the module."""
    payload = a * 32 + b if kind == 1 else 633_600_000 + a * 1024 + b
    msg = b"ble-lock/visitor-code/v1" + b"\x00" + bytes([kind])
    msg += a.to_bytes(4, "big") + b.to_bytes(4, "big")
    tag = hmac.new(secret, msg, hashlib.sha256).digest()
    return f"{payload:09d}{int.from_bytes(tag[:8], 'big') % 10**7:07d}"


# -- round trips -------------------------------------------------------------------------


def test_r_app_4_one_time_code_round_trip_effective_immediately() -> None:
    code = generate_one_time_code(SECRET, now=NOW)
    assert len(code) == CODE_LENGTH
    assert code.isdigit()
    grant = parse_visitor_code(SECRET, code)
    assert grant is not None
    assert grant.kind is VisitorKind.ONE_TIME
    assert grant.valid_from == NOW - NOW % 60  # the issue minute: effective immediately
    assert grant.valid_until == grant.valid_from + ONE_TIME_VALIDITY
    assert grant.is_valid_at(NOW)
    assert grant.is_valid_at(grant.valid_until - 1)
    assert not grant.is_valid_at(grant.valid_until)


def test_r_app_4_one_time_nonce_gives_distinct_codes_and_ids_in_the_same_minute() -> None:
    codes = [generate_one_time_code(SECRET, now=NOW, nonce=n) for n in range(ONE_TIME_NONCES)]
    assert len(set(codes)) == ONE_TIME_NONCES
    grants = [parse_visitor_code(SECRET, c) for c in codes]
    ids = {g.code_id for g in grants if g is not None}
    assert len(ids) == ONE_TIME_NONCES
    assert generate_one_time_code(SECRET, now=NOW, nonce=3) == codes[3]  # deterministic


def test_r_app_4_one_time_code_id_is_stable_across_the_issue_minute() -> None:
    a = parse_visitor_code(SECRET, generate_one_time_code(SECRET, now=NOW - NOW % 60))
    b = parse_visitor_code(SECRET, generate_one_time_code(SECRET, now=NOW - NOW % 60 + 59))
    c = parse_visitor_code(SECRET, generate_one_time_code(SECRET, now=NOW - NOW % 60 + 60))
    assert a is not None
    assert b is not None
    assert c is not None
    assert a == b
    assert c.code_id != a.code_id


def test_r_app_4_periodic_code_carries_its_own_window() -> None:
    start = NOW - NOW % HOUR
    code = generate_periodic_code(SECRET, valid_from=start, valid_until=start + 5 * HOUR)
    grant = parse_visitor_code(SECRET, code)
    assert grant == VisitorGrant(
        kind=VisitorKind.PERIODIC,
        code_id=grant.code_id if grant else -1,
        valid_from=start,
        valid_until=start + 5 * HOUR,
    )
    assert grant is not None
    assert not grant.is_valid_at(start - CLOCK_SKEW_TOLERANCE - 1)
    assert grant.is_valid_at(start - CLOCK_SKEW_TOLERANCE)
    assert not grant.is_valid_at(start - 1, clock_skew=0)
    assert grant.is_valid_at(start + 5 * HOUR - 1)
    assert not grant.is_valid_at(start + 5 * HOUR)


def test_r_app_4_one_time_and_periodic_codes_do_not_mix() -> None:
    one = parse_visitor_code(SECRET, generate_one_time_code(SECRET, now=NOW))
    per = parse_visitor_code(
        SECRET, generate_periodic_code(SECRET, valid_from=NOW, valid_until=NOW + HOUR)
    )
    assert one is not None
    assert per is not None
    assert one.kind is VisitorKind.ONE_TIME
    assert per.kind is VisitorKind.PERIODIC
    assert one.code_id != per.code_id


@pytest.mark.parametrize(
    ("length", "expected"),
    [
        (1, HOUR),
        (HOUR, HOUR),
        (HOUR + 1, 2 * HOUR),
        (168 * HOUR, 168 * HOUR),
        (168 * HOUR + 1, 8 * DAY),
        (8 * DAY + 1, 9 * DAY),
        (MAX_PERIODIC_DURATION, MAX_PERIODIC_DURATION),
    ],
)
def test_r_app_4_periodic_window_is_widened_never_narrowed(length: int, expected: int) -> None:
    start = NOW - NOW % HOUR
    code = generate_periodic_code(SECRET, valid_from=start, valid_until=start + length)
    grant = parse_visitor_code(SECRET, code)
    assert grant is not None
    assert (grant.valid_from, grant.valid_until) == (start, start + expected)


def test_r_app_4_periodic_start_is_rounded_down_to_the_hour() -> None:
    grant = parse_visitor_code(
        SECRET, generate_periodic_code(SECRET, valid_from=NOW, valid_until=NOW + HOUR)
    )
    assert grant is not None
    assert grant.valid_from == NOW - NOW % HOUR
    assert grant.valid_until >= NOW + HOUR


def test_r_app_4_fractional_times_from_the_lock_clock() -> None:
    """The lock's clock is float seconds: issue times floor, window ends round up."""
    assert generate_one_time_code(SECRET, now=NOW + 0.75) == generate_one_time_code(SECRET, now=NOW)
    start = NOW - NOW % HOUR
    grant = parse_visitor_code(
        SECRET,
        generate_periodic_code(SECRET, valid_from=start + 0.5, valid_until=start + HOUR + 0.5),
    )
    assert grant is not None
    assert (grant.valid_from, grant.valid_until) == (start, start + 2 * HOUR)


# -- rejection -----------------------------------------------------------------------------


def test_r_app_4_tampered_digit_is_not_a_code() -> None:
    for code in (
        generate_one_time_code(SECRET, now=NOW),
        generate_periodic_code(SECRET, valid_from=NOW, valid_until=NOW + DAY),
    ):
        for i in range(CODE_LENGTH):
            for d in "0123456789":
                if d != code[i]:
                    assert parse_visitor_code(SECRET, code[:i] + d + code[i + 1 :]) is None


def test_r_app_4_wrong_secret_is_not_a_code() -> None:
    code = generate_one_time_code(SECRET, now=NOW)
    assert parse_visitor_code(OTHER_SECRET, code) is None
    assert parse_visitor_code(SECRET + b"x", code) is None


@pytest.mark.parametrize(
    "entry",
    [
        "",
        "123456",
        "1131536967413782"[:-1],
        "1131536967413782" + "0",
        "11315369674137 2",
        "1131536967413782".replace("1", "\u0661"),  # Arabic-Indic digits are not keypad digits
        "9999999999999999",  # payload beyond the scheme
        "9715200000000000",  # first payload past the periodic space
    ],
)
def test_r_app_4_non_codes_parse_to_none(entry: str) -> None:
    assert parse_visitor_code(SECRET, entry) is None


def test_r_app_4_random_entries_do_not_parse() -> None:
    """20,000 random 16-digit entries (fixed seed): none is a code (each has p < 1e-7)."""
    rng = random.Random(4)
    hits = [
        e
        for e in (f"{rng.randrange(10**CODE_LENGTH):016d}" for _ in range(20_000))
        if parse_visitor_code(SECRET, e) is not None
    ]
    assert hits == []


@pytest.mark.parametrize(
    "call",
    [
        lambda: generate_one_time_code(b"short", now=NOW),
        lambda: generate_one_time_code(SECRET, now=EPOCH - 1),
        lambda: generate_one_time_code(SECRET, now=RANGE_END),
        lambda: generate_one_time_code(SECRET, now=NOW, nonce=ONE_TIME_NONCES),
        lambda: generate_one_time_code(SECRET, now=NOW, nonce=-1),
        lambda: generate_one_time_code(SECRET, now=True),
        lambda: generate_one_time_code(SECRET, now=float("nan")),
        lambda: generate_periodic_code(SECRET, valid_from=NOW, valid_until=float("inf")),
        lambda: generate_periodic_code(SECRET, valid_from=NOW, valid_until=NOW),
        lambda: generate_periodic_code(SECRET, valid_from=NOW, valid_until=NOW - 1),
        lambda: generate_periodic_code(
            SECRET, valid_from=NOW, valid_until=NOW + MAX_PERIODIC_DURATION + DAY
        ),
        lambda: generate_periodic_code(SECRET, valid_from=EPOCH - HOUR, valid_until=NOW),
        lambda: parse_visitor_code(b"short", "0" * CODE_LENGTH),
    ],
)
def test_r_app_4_bad_input_is_a_typed_error(call: object) -> None:
    assert callable(call)
    with pytest.raises(InvalidInputError) as info:
        call()
    assert info.value.code is ErrorCode.INVALID_ARGUMENT


def test_grant_repr_has_no_secret_material() -> None:
    grant = parse_visitor_code(SECRET, generate_one_time_code(SECRET, now=NOW))
    assert grant is not None
    assert SECRET.hex() not in repr(grant)
    assert repr(SECRET) not in repr(grant)


# -- vectors ---------------------------------------------------------------------------


def _doc_vectors() -> list[tuple[str, dict[str, int], str, int, int, int]]:
    rows = []
    pattern = re.compile(
        r"^\| (one-time|periodic) \| ([^|]+) \| (\d{16}) \| (\d+) \| (\d+) \| (\d+) \|$"
    )
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = pattern.match(line)
        if m:
            args = {k: int(v) for k, v in (kv.split("=") for kv in m.group(2).split())}
            rows.append((m[1], args, m[3], int(m[4]), int(m[5]), int(m[6])))
    return rows


def test_r_app_4_doc_test_vectors_match_the_code() -> None:
    assert "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" in DOC.read_text(
        encoding="utf-8"
    )
    rows = _doc_vectors()
    assert len(rows) >= 10
    for kind, args, code, code_id, valid_from, valid_until in rows:
        if kind == "one-time":
            made = generate_one_time_code(SECRET, now=args["now"], nonce=args["nonce"])
            expected_kind = VisitorKind.ONE_TIME
        else:
            made = generate_periodic_code(SECRET, **args)
            expected_kind = VisitorKind.PERIODIC
        assert made == code
        assert parse_visitor_code(SECRET, code) == VisitorGrant(
            kind=expected_kind, code_id=code_id, valid_from=valid_from, valid_until=valid_until
        )


def test_r_app_4_fixed_vectors() -> None:
    """Pinned here too, so that a doc edit cannot silently change the scheme."""
    assert generate_one_time_code(SECRET, now=NOW) == "1131536967413782"
    assert (
        generate_periodic_code(SECRET, valid_from=1_789_999_200, valid_until=1_790_002_800)
        == "6939484164549394"
    )


# -- properties --------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(secret=secrets_, now=times, nonce=st.integers(0, ONE_TIME_NONCES - 1))
def test_r_app_4_property_one_time_round_trip(secret: bytes, now: int, nonce: int) -> None:
    code = generate_one_time_code(secret, now=now, nonce=nonce)
    minute = (now - EPOCH) // 60
    assert code == reference_code(secret, 1, minute, nonce)
    grant = parse_visitor_code(secret, code)
    assert grant is not None
    assert grant.kind is VisitorKind.ONE_TIME
    assert grant.valid_from <= now < grant.valid_from + 60
    assert grant.valid_until == grant.valid_from + ONE_TIME_VALIDITY


@settings(max_examples=60, deadline=None)
@given(secret=secrets_, start=times, length=st.integers(1, MAX_PERIODIC_DURATION - HOUR))
def test_r_app_4_property_periodic_round_trip(secret: bytes, start: int, length: int) -> None:
    code = generate_periodic_code(secret, valid_from=start, valid_until=start + length)
    grant = parse_visitor_code(secret, code)
    assert grant is not None
    assert grant.kind is VisitorKind.PERIODIC
    assert grant.valid_from <= start < grant.valid_from + HOUR
    assert grant.valid_until >= start + length  # never narrowed
    assert grant.valid_until - (start + length) < DAY + HOUR  # widened by less than a unit
    a = (grant.valid_from - EPOCH) // HOUR
    b = (grant.code_id - 633_600_000) - a * 1024
    assert code == reference_code(secret, 2, a, b)


@settings(max_examples=100, deadline=None)
@given(secret=secrets_, entry=st.text(alphabet="0123456789", min_size=16, max_size=16))
def test_r_app_4_property_random_entries_parse_only_if_genuine(secret: bytes, entry: str) -> None:
    """Anything that parses is exactly the code the generator makes for its grant."""
    grant = parse_visitor_code(secret, entry)
    if grant is None:
        return
    if grant.kind is VisitorKind.ONE_TIME:
        remade = generate_one_time_code(
            secret, now=grant.valid_from, nonce=grant.code_id % ONE_TIME_NONCES
        )
    else:
        remade = generate_periodic_code(
            secret, valid_from=grant.valid_from, valid_until=grant.valid_until
        )
    assert remade == entry


def test_r_sec_1_doc_guessing_bound_matches_the_scheme() -> None:
    """docs/visitor-codes.md: 5 guesses (4 s each) then a 3-minute lockout -> 2,160 guesses
    a day; a guess wins with 10^-7 (the MAC digits), so 1/p guesses take ~12.7 years."""
    from ble_lock.core.rules.visitor import MAC_DIGITS

    text = DOC.read_text(encoding="utf-8")
    per_day = 86_400 // (5 * 4 + 180) * 5
    years = 10**MAC_DIGITS / per_day / 365.25
    assert per_day == 2_160
    assert f"{years:.1f} years" in text
    assert f"{10**MAC_DIGITS / (86_400 // 4) / 365.25:.2f} years" in text  # lockout off
