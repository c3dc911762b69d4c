"""The generated codec (``compiled.py``, issue 15 item 4) is pinned to the construct
declarations, which stay the protocol's definition: for every declared body, what the
fast path accepts, construct accepts with the same result, both ways (encode and
decode), and on valid bodies, mutated bytes and random bytes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ble_lock.wire.messages import compiled, declare, envelope
from ble_lock.wire.messages.codec import decode_body, encode_body
from ble_lock.wire.messages.fields import CodecError
from tests.wire._msg_strategies import (
    EVENT_TYPES,
    REQUEST_TYPES,
    RESPONSE_TYPES,
    body_strategy,
    largest_body,
)

BODIES = [*REQUEST_TYPES, *RESPONSE_TYPES, *EVENT_TYPES]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _construct_parse(cls: type[Any], data: bytes) -> tuple[bool, Any]:
    try:
        return True, declare.body_layout(cls).parse(data)
    except Exception:
        return False, None


def _fast_parse(cls: type[Any], data: bytes) -> tuple[bool, Any]:
    fast = compiled.decoder(declare.layout_of(cls))
    assert fast is not None
    try:
        return True, fast(data)
    except Exception:
        return False, None


@pytest.mark.parametrize("cls", BODIES, ids=lambda c: c.__name__)
def test_every_declared_body_has_a_generated_codec(cls: type[Any]) -> None:
    record = declare.layout_of(cls)
    assert compiled.decoder(record) is not None
    assert compiled.encoder(record) is not None


@pytest.mark.parametrize("cls", BODIES, ids=lambda c: c.__name__)
def test_largest_body_encodes_the_same_both_ways(cls: type[Any]) -> None:
    body = largest_body(cls)
    fast = compiled.encoder(declare.layout_of(cls))
    assert fast is not None
    data = fast(body)
    assert data == declare.body_layout(cls).build(body)
    assert _fast_parse(cls, data) == (True, body)


@given(st.sampled_from(BODIES).flatmap(body_strategy), st.data())
@FUZZ
def test_generated_codec_equals_construct(body: Any, data: st.DataObject) -> None:
    cls = type(body)
    built = declare.body_layout(cls).build(body)
    fast = compiled.encoder(declare.layout_of(cls))
    assert fast is not None
    assert fast(body) == built
    assert _fast_parse(cls, built) == (True, body)
    assert decode_body(cls, built) == body
    assert encode_body(body) == built
    # Mutated bytes: the fast path and construct agree on acceptance and on the result.
    raw = bytearray(built)
    if raw:
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] ^= data.draw(st.integers(1, 255))
    else:
        raw += data.draw(st.binary(min_size=1, max_size=4))
    cut = data.draw(st.integers(0, len(raw)))
    for candidate in (bytes(raw), bytes(raw[:cut]), bytes(raw) + b"\x00"):
        assert _fast_parse(cls, candidate) == _construct_parse(cls, candidate)


@given(st.sampled_from(BODIES), st.binary(max_size=64))
@FUZZ
def test_random_bytes_are_judged_alike(cls: type[Any], data: bytes) -> None:
    assert _fast_parse(cls, data) == _construct_parse(cls, data)


def test_a_bad_value_still_gets_constructs_field_named_error() -> None:
    from ble_lock.wire import messages as m

    with pytest.raises(m.CodecError, match=r"name: need 0\.\.32 bytes"):
        encode_body(m.UserAdd(role=m.Role.NORMAL, name="x" * 40))
    fast = compiled.encoder(declare.layout_of(m.UserAdd))
    assert fast is not None
    with pytest.raises(compiled.Mismatch):
        fast(m.UserAdd(role=m.Role.NORMAL, name="x" * 40))


# -- the envelope, read and written by hand, pinned to its declared layouts (_HEADS)


def _declared_unpack(data: bytes) -> tuple[bool, Any]:
    try:
        return True, envelope._unpack_declared(data)
    except CodecError:
        return False, None


def _declared_pack(env: envelope.Envelope) -> tuple[bool, Any]:
    try:
        return True, envelope._pack_declared(env)
    except CodecError:
        return False, None


@given(st.binary(max_size=40), st.sampled_from([1, 2, 3, 4]))
@FUZZ
def test_envelope_bytes_are_judged_alike(data: bytes, kind: int) -> None:
    for raw in (data, bytes((kind,)) + data):
        fast = envelope._unpack_by_hand(raw)
        if fast is not None:
            assert _declared_unpack(raw) == (True, fast)
        ok, _ = _declared_unpack(raw)
        if ok and raw[0] != 2:  # a response whose text is not UTF-8 goes to construct
            assert fast is not None


@given(kind=st.sampled_from([1, 2, 3, 9]), rid=st.binary(min_size=7, max_size=9),
       opcode=st.integers(-1, 256), status=st.integers(-1, 256),
       text=st.text(max_size=130), event=st.integers(-1, 256), body=st.binary(max_size=20))
@FUZZ
def test_envelope_by_hand_builds_what_the_layout_builds(kind: int, rid: bytes, opcode: int,
                                                        status: int, text: str, event: int,
                                                        body: bytes) -> None:
    env = envelope.Envelope(kind=kind, body=body, request_id=rid, opcode=opcode,
                            status=status, text=text, event=event)
    fast = envelope._pack_by_hand(env)
    if fast is not None:
        assert _declared_pack(env) == (True, fast)
        assert envelope.unpack(fast) == envelope._unpack_declared(fast)
    elif len(rid) == 8 and all(0 <= v < 256 for v in (opcode, status, event)):
        # Within the field sizes, the hand-written path declines only what the layout
        # refuses (beyond them the compiled layout does not check sizes: not compared).
        assert _declared_pack(env) == (False, None)
