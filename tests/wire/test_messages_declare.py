"""Each message is declared once (``@wire``): the layout, the opcode/event tables, the
response type and the lock's handler table all derive from that one declaration."""

from __future__ import annotations

from dataclasses import dataclass

import construct as c
import pytest

from ble_lock.lockapp.handlers import HANDLERS, Context, handler
from ble_lock.wire import messages as m
from ble_lock.wire.messages import codec, declare
from ble_lock.wire.messages.declare import wire
from ble_lock.wire.messages.types import (
    RequestBody,
    RequestOf,
    ResponseBody,
    UInt8,
    UInt16,
    UInt64,
)


@wire
@dataclass(frozen=True, slots=True, kw_only=True)
class _Probe:
    """A record with one field of each kind of annotation."""

    number: UInt16
    flag: bool
    role: m.Role
    maybe: UInt8 | None = None
    validity: m.Validity = m.ALWAYS


@dataclass(frozen=True, slots=True, kw_only=True)
class _Undeclared(ResponseBody):
    """A response body without ``@wire``."""


def test_the_layout_is_derived_from_the_field_annotations() -> None:
    probe = _Probe(number=0x0102, flag=True, role=m.Role.ADMIN, maybe=7,
                   validity=m.Validity(valid_from=1))
    data = declare.layout_of(_Probe).build(probe)
    #                      number  flag  role  maybe   validity: from=1, until absent
    assert data == bytes.fromhex("0102" "01" "01" "0107" "01" "0000000000000001" "00")
    assert declare.layout_of(_Probe).parse(data) == probe


def test_the_codec_holds_no_layout_of_its_own() -> None:
    """codec.py only runs the declared layouts: no construct object is defined there."""
    assert not [name for name, value in vars(codec).items() if isinstance(value, c.Construct)]


def test_the_tables_are_the_declarations() -> None:
    for opcode, cls in declare.request_classes().items():
        assert cls.OPCODE is opcode
        assert codec.request_type(opcode) is cls
        assert codec.response_type(opcode) is cls.RESPONSE
        assert cls.RESPONSE in declare.response_classes()
    for kind, event in declare.event_classes().items():
        assert event.EVENT is kind
        assert codec.event_type(kind) is event


def test_the_response_type_is_the_request_of_parameter() -> None:
    assert m.TimeSet.RESPONSE is m.Done
    assert m.response_of(m.UserGet(user_number=3)) is m.UserInfo


def test_a_field_without_a_layout_is_refused_at_declaration() -> None:
    with pytest.raises(TypeError, match=r"_Bad\.count: no wire layout"):
        @wire
        @dataclass(frozen=True, slots=True, kw_only=True)
        class _Bad:
            count: int


def test_an_opcode_is_declared_once() -> None:
    with pytest.raises(TypeError, match="opcode 0x04 is TimeSet's"):
        @wire
        @dataclass(frozen=True, slots=True, kw_only=True)
        class _Again(RequestOf[m.Done]):
            OPCODE = m.Opcode.TIME_SET
            now_ms: UInt64

    assert declare.request_classes()[m.Opcode.TIME_SET] is m.TimeSet


def test_a_request_names_a_declared_response() -> None:
    with pytest.raises(TypeError, match="not a declared response body"):
        @wire
        @dataclass(frozen=True, slots=True, kw_only=True)
        class _Odd(RequestOf[_Undeclared]):
            OPCODE = m.Opcode.TIME_SET

    with pytest.raises(TypeError, match=r"derives from RequestOf\[<response>\]"):
        @wire
        @dataclass(frozen=True, slots=True, kw_only=True)
        class _Bare(RequestBody):
            OPCODE = m.Opcode.TIME_SET


# ------------------------------------------------------------------ the lock's handlers


def test_every_declared_request_has_exactly_one_handler() -> None:
    assert set(HANDLERS) == set(declare.request_classes().values())


def test_a_handler_answers_its_requests_response_type() -> None:
    def wrong(c: Context, b: m.Unlock) -> m.Done:
        raise AssertionError("never called")

    with pytest.raises(TypeError, match="Unlock answers Unlocked"):
        handler(wrong)


def test_a_second_handler_for_a_request_is_refused() -> None:
    def again(c: Context, b: m.Unlock) -> m.Unlocked:
        raise AssertionError("never called")

    with pytest.raises(TypeError, match="Unlock already has a handler"):
        handler(again)
    assert HANDLERS[m.Unlock] is not again
