"""Typed event details and their wire text (issue 13): the lock renders, the phone parses
back into the typed record, and text of the wrong shape is a typed error."""

from __future__ import annotations

import typing

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ble_lock.core.model import EventDetail, EventKind, LockEvent, Note
from ble_lock.lockapp.convert import event_record
from ble_lock.wire import messages as m
from ble_lock.wire.messages.details import DetailError, parse_detail, render_detail
from tests.wire._event_details import DETAIL_CASES


def test_the_cases_cover_every_kind_of_detail() -> None:
    assert {type(d) for _, d, _ in DETAIL_CASES} == set(typing.get_args(EventDetail))


@pytest.mark.parametrize(("kind", "detail", "text"), DETAIL_CASES,
                         ids=[f"{type(d).__name__}-{t}" for _, d, t in DETAIL_CASES])
def test_r_app_6_detail_renders_to_todays_text_and_parses_back(
        kind: EventKind, detail: EventDetail, text: str) -> None:
    assert render_detail(detail) == text
    assert parse_detail(kind, text) == detail


@pytest.mark.parametrize(("kind", "detail", "text"), DETAIL_CASES,
                         ids=[f"{type(d).__name__}-{t}" for _, d, t in DETAIL_CASES])
def test_the_lock_app_puts_the_rendered_text_on_the_wire(
        kind: EventKind, detail: EventDetail, text: str) -> None:
    record = event_record(LockEvent(seq=4, timestamp=2.5, kind=kind, detail=detail))
    assert record.detail == text
    decoded = m.decode_from_lock(m.encode(m.PushedEvent(body=m.Alarm(record=record))))
    assert isinstance(decoded, m.PushedEvent)
    assert isinstance(decoded.body, m.Alarm)
    assert parse_detail(kind, decoded.body.record.detail) == detail


def test_no_detail_is_empty_text_both_ways() -> None:
    assert render_detail(None) == ""
    assert parse_detail(EventKind.LINK_CHANGED, "") is None
    assert event_record(LockEvent(seq=1, timestamp=0.0, kind=EventKind.LOCKED)).detail == ""


@pytest.mark.parametrize(("kind", "text"), [
    (EventKind.SYNC_TRIGGER, "not hex"),
    (EventKind.SYNC_TRIGGER, "0badc0d"),  # odd length: not a lock id
    (EventKind.SYNC_UNLOCK, "0badc0de"),  # the "from" is part of the shape
    (EventKind.LINK_CHANGED, "link 0badc0de pending soon"),
    (EventKind.LINK_CHANGED, "confirmed"),
    (EventKind.ENROLMENT_STEP, "2 of 5"),
    (EventKind.LOW_BATTERY, "low"),
    (EventKind.USER_UPDATED, "by someone"),
])
def test_text_of_the_wrong_shape_is_a_typed_error_not_an_empty_value(
        kind: EventKind, text: str) -> None:
    with pytest.raises(DetailError) as err:
        parse_detail(kind, text)
    assert isinstance(err.value, m.BadMessageError)


def test_a_person_note_on_a_kind_that_also_carries_data() -> None:
    assert parse_detail(EventKind.USER_ADDED, "invite") == Note(text="invite")


@given(st.sampled_from([k for k in EventKind if k not in {
    EventKind.USER_ADDED, EventKind.USER_UPDATED, EventKind.USER_DELETED,
    EventKind.ENROLMENT_STEP, EventKind.LOW_BATTERY, EventKind.LOCKOUT, EventKind.TIME_SET,
    EventKind.KEY_ISSUED, EventKind.LINK_CHANGED, EventKind.SYNC_TRIGGER,
    EventKind.SYNC_UNLOCK}]), st.text(min_size=1, max_size=20))
def test_kinds_without_data_carry_their_text_as_a_note(kind: EventKind, text: str) -> None:
    assert parse_detail(kind, text) == Note(text=text)
    assert render_detail(Note(text=text)) == text
