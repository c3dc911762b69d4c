"""The application message codec: round trips, canonical form, bounds, the fuzz contract."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ble_lock.core.errors import ErrorCode
from ble_lock.wire import messages as m
from tests.wire._msg_strategies import (
    EVENT_TYPES,
    REQUEST_TYPES,
    RESPONSE_TYPES,
    largest_body,
    message_strategy,
)

RID = bytes.fromhex("0102030405060708")
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _largest_messages() -> list[m.Message]:
    text = "x" * m.MAX_TEXT_SIZE
    out: list[m.Message] = []
    for cls in REQUEST_TYPES:
        out.append(m.Request(request_id=RID, body=largest_body(cls)))
        out.append(
            m.Response(
                request_id=RID, opcode=cls.OPCODE, message=text, body=largest_body(cls.RESPONSE)
            )
        )
    out.extend(m.PushedEvent(body=largest_body(cls)) for cls in EVENT_TYPES)
    return out


def test_catalogue_covers_every_opcode_and_event_type() -> None:
    assert {cls.OPCODE for cls in REQUEST_TYPES} == set(m.Opcode)
    assert {cls.EVENT for cls in EVENT_TYPES} == set(m.EventType)
    assert {cls.RESPONSE for cls in REQUEST_TYPES} <= set(RESPONSE_TYPES)


@pytest.mark.parametrize("message", _largest_messages(), ids=lambda msg: repr(msg)[:40])
def test_worst_case_of_every_message_fits_the_bound(message: m.Message) -> None:
    """DESIGN "every parser is bounded": the largest legal message of each kind fits."""
    data = m.encode(message)
    assert len(data) <= m.MAX_MESSAGE_SIZE
    assert m.decode(data) == message


@given(message_strategy())
@FUZZ
def test_round_trip(message: m.Message) -> None:
    assert m.decode(m.encode(message)) == message


@given(message_strategy())
@FUZZ
def test_encoding_is_canonical(message: m.Message) -> None:
    data = m.encode(message)
    assert m.encode(m.decode(data)) == data


@given(st.binary(max_size=300))
@FUZZ
def test_random_bytes_raise_only_remote_protocol_errors(data: bytes) -> None:
    try:
        decoded = m.decode(data)
    except m.RemoteProtocolError as exc:
        code = exc.code
    else:
        assert m.encode(decoded) == data  # anything accepted is canonical
        return
    assert 60 <= code <= 79


@given(message_strategy(), st.data())
@FUZZ
def test_mutated_messages_raise_only_remote_protocol_errors(
    message: m.Message, data: st.DataObject
) -> None:
    raw = bytearray(m.encode(message))
    op = data.draw(st.sampled_from(["flip", "truncate", "extend", "splice"]))
    if op == "flip":
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] ^= data.draw(st.integers(1, 255))
    elif op == "truncate":
        del raw[data.draw(st.integers(0, len(raw) - 1)) :]
    elif op == "extend":
        raw += data.draw(st.binary(min_size=1, max_size=8))
    else:
        i = data.draw(st.integers(0, len(raw)))
        raw[i:i] = data.draw(st.binary(min_size=1, max_size=4))
    try:
        decoded = m.decode(bytes(raw))
    except m.RemoteProtocolError:
        return
    assert m.encode(decoded) == bytes(raw)


def test_trailing_bytes_are_rejected() -> None:
    data = m.encode(m.Request(request_id=RID, body=m.UserDelete(user_number=3)))
    with pytest.raises(m.BadMessageError) as info:
        m.decode(data + b"\x00")
    assert info.value.code is ErrorCode.PROTOCOL_ERROR
    assert info.value.request_id == RID
    assert info.value.opcode is m.Opcode.USER_DELETE


def test_unknown_opcode_keeps_the_request_id_for_the_error_response() -> None:
    with pytest.raises(m.BadMessageError) as info:
        m.decode(b"\x01" + RID + b"\xee")
    assert info.value.code is ErrorCode.UNKNOWN_MESSAGE
    assert info.value.request_id == RID


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x04", b"\x01" + RID[:5], b"\x03\x99", b"\x02" + RID + b"\x10\x00\x05ab",
     b"\x02" + RID + b"\x24\x00\x01", b"\x02" + RID + b"\x24\x00", b"\x01" + RID],
    ids=["empty", "bad-kind", "short-id", "unknown-event", "short-text", "missing-text",
         "missing-text-length", "missing-opcode"],
)
def test_malformed_envelopes(raw: bytes) -> None:
    with pytest.raises(m.RemoteProtocolError):
        m.decode(raw)


def test_oversize_message_is_rejected_before_parsing() -> None:
    with pytest.raises(m.BadMessageError) as info:
        m.decode(b"\x01" + RID + b"\x01" + bytes(m.MAX_MESSAGE_SIZE))
    assert info.value.code is ErrorCode.MESSAGE_TOO_LARGE


def test_string_bounds_hold_on_both_sides() -> None:
    too_long = m.Request(request_id=RID, body=m.UserAdd(role=m.Role.NORMAL, name="n" * 33))
    with pytest.raises(ValueError, match="UserAdd"):
        m.encode(too_long)
    ok = bytearray(m.encode(m.Request(request_id=RID, body=m.UserAdd(role=m.Role.NORMAL,
                                                                      name="n" * 32))))
    name_len_at = 1 + 8 + 1 + 1
    assert ok[name_len_at] == 32
    forged = bytes(ok[:name_len_at]) + b"\x21" + b"n" * 33 + bytes(ok[name_len_at + 33 :])
    with pytest.raises(m.BadMessageError):
        m.decode(forged)


def test_list_count_over_the_bound_is_rejected() -> None:
    sched = m.Schedule(days_mask=1, start_minute=0, end_minute=60)
    body = m.UserAdd(role=m.Role.NORMAL, name="a", schedules=(sched,) * m.MAX_SCHEDULES)
    raw = bytearray(m.encode(m.Request(request_id=RID, body=body)))
    count_at = 1 + 8 + 1 + 1 + 1 + 1 + 2  # kind, id, opcode, role, len, "a", validity
    assert raw[count_at] == m.MAX_SCHEDULES
    raw[count_at] = m.MAX_SCHEDULES + 1
    raw += b"\x01\x00\x00\x00\x3c"
    with pytest.raises(m.BadMessageError):
        m.decode(bytes(raw))
    with pytest.raises(ValueError, match="at most"):
        m.encode(m.Request(request_id=RID, body=dataclasses.replace(
            body, schedules=(sched,) * (m.MAX_SCHEDULES + 1))))


def test_booleans_and_presence_bytes_are_strict() -> None:
    raw = bytearray(m.encode(m.Request(request_id=RID, body=m.PinAdd(user_number=1,
                                                                       pin="135790"))))
    raw[-1] = 2  # duress flag
    with pytest.raises(m.BadMessageError):
        m.decode(bytes(raw))


def test_pin_must_be_digits() -> None:
    raw = m.encode(m.Request(request_id=RID, body=m.PinAdd(user_number=1, pin="135790")))
    with pytest.raises(m.BadMessageError):
        m.decode(raw.replace(b"135790", b"13579a"))
    with pytest.raises(ValueError, match="digits"):
        m.encode(m.Request(request_id=RID, body=m.PinAdd(user_number=1, pin="12 34")))


def test_unknown_enum_value_is_rejected() -> None:
    raw = bytearray(m.encode(m.Request(request_id=RID, body=m.CredentialClear(
        kind=m.CredentialKind.PIN))))
    raw[-1] = 0xEE
    with pytest.raises(m.BadMessageError):
        m.decode(bytes(raw))


def test_error_response_has_no_body_and_may_lack_an_opcode() -> None:
    resp = m.Response(request_id=RID, opcode=None, status=int(ErrorCode.UNKNOWN_MESSAGE),
                      message="unknown opcode")
    assert m.decode(m.encode(resp)) == resp
    with pytest.raises(m.BadMessageError):
        m.decode(m.encode(resp) + b"\x00")
    with pytest.raises(ValueError, match="no body"):
        m.encode(dataclasses.replace(resp, body=m.Done()))


def test_success_response_body_must_match_the_opcode() -> None:
    with pytest.raises(ValueError, match="answers with"):
        m.encode(m.Response(request_id=RID, opcode=m.Opcode.UNLOCK, body=m.Done()))


def test_request_id_is_eight_bytes() -> None:
    with pytest.raises(ValueError, match="8 bytes"):
        m.encode(m.Request(request_id=b"short", body=m.Unlock()))


def test_decode_request_and_decode_from_lock_check_the_direction() -> None:
    req = m.encode(m.Request(request_id=RID, body=m.Unlock()))
    resp = m.encode(m.Response(request_id=RID, opcode=m.Opcode.LOCK, body=m.Done()))
    assert isinstance(m.decode_request(req), m.Request)
    with pytest.raises(m.BadMessageError):
        m.decode_request(resp)
    with pytest.raises(m.BadMessageError):
        m.decode_from_lock(req)


def test_clip_text_cuts_on_a_character_boundary() -> None:
    assert m.clip_text("é" * 100) == "é" * 60
    assert len(m.clip_text("ab" * 100).encode()) == m.MAX_TEXT_SIZE


SECRETS = {
    "pin": "246813",
    "card_code": "975310",
    "code": "INVITE-SECRET-42",
    "secret": b"\x5a" * 32,
    "verification_code": "VERIFY99",
    "card_uid": b"\xca\xfe\xba\xbe",
}


@pytest.mark.parametrize(
    "body",
    [
        m.PinAdd(user_number=1, pin=SECRETS["pin"]),
        m.CardAdd(user_number=1, card_uid=SECRETS["card_uid"], card_code=SECRETS["card_code"]),
        m.Invite(invite_id=1, user_number=2, code=SECRETS["code"], expires_at=5),
        m.VisitorSecret(secret=SECRETS["secret"]),
        m.RemoteAdd(user_number=1, remote_id=SECRETS["card_uid"]),
        m.SystemInfo(
            serial="S1", verification_code=SECRETS["verification_code"], firmware_version="1",
            model="dl20vc", battery_percent=90, low_battery=False, claimed=True,
            state=m.LockState.LOCKED, users=1, credentials=(), now_ms=0,
        ),
    ],
    ids=lambda b: type(b).__name__,
)
def test_secrets_never_appear_in_reprs(body: object) -> None:
    """BRIEF-COMMON security: secrets never in repr (PIN, card code, invite, visitor secret)."""
    for outer in (body, m.Request(request_id=RID, body=body) if isinstance(
            body, m.RequestBody) else body):
        text = repr(outer)
        for value in SECRETS.values():
            shown = value if isinstance(value, str) else repr(value)
            assert shown not in text
            if isinstance(value, bytes):
                assert value.hex() not in text
