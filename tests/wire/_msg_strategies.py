"""Hypothesis strategies for every message body, derived from the declared layouts.

Walking the construct layouts (instead of restating them) keeps the strategies in step
with the catalogue: a new field or bound is generated the moment it is declared.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import construct as c
from hypothesis import strategies as st

from ble_lock.wire import messages as m
from ble_lock.wire.messages import declare
from ble_lock.wire.messages import fields as mf

REQUEST_TYPES = list(declare.request_classes().values())
RESPONSE_TYPES = list(declare.response_classes())
EVENT_TYPES = list(declare.event_classes().values())


def _text(low: int, high: int, digits: bool) -> st.SearchStrategy[str]:
    if digits:
        return st.text(alphabet="0123456789", min_size=low, max_size=high)
    return st.text(min_size=low, max_size=high).filter(
        lambda s: low <= len(s.encode("utf-8")) <= high
    )


def strategy_for(layout: Any) -> st.SearchStrategy[Any]:
    if isinstance(layout, c.Renamed):
        return strategy_for(layout.subcon)
    if isinstance(layout, mf.Bool):
        return st.booleans()
    if isinstance(layout, mf.EnumField):
        return st.sampled_from(list(layout._enum))
    if isinstance(layout, mf.Text):
        inner = layout.subcon
        return _text(inner._low, inner._high, layout._digits)
    if isinstance(layout, mf.BytesField):
        return st.binary(min_size=layout._low, max_size=layout._high)
    if isinstance(layout, mf.Opt):
        return st.none() | strategy_for(layout._inner)
    if isinstance(layout, mf.ListOf):
        return st.lists(strategy_for(layout._item), max_size=layout._high).map(tuple)
    if isinstance(layout, mf.Record):
        fields = {sub.name: strategy_for(sub) for sub in layout.subcon.subcons}
        return st.builds(layout._cls, **fields)
    if isinstance(layout, c.FormatField):
        bits = 8 * layout.length
        if layout.fmtstr[-1].islower():
            return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        return st.integers(0, 2**bits - 1)
    if isinstance(layout, c.Bytes):
        return st.binary(min_size=layout.length, max_size=layout.length)
    raise TypeError(f"no strategy for {layout!r}")


def body_strategy(cls: type[Any]) -> st.SearchStrategy[Any]:
    whole = declare.body_layout(cls)
    return strategy_for(whole.subcons[0])


def request_strategy() -> st.SearchStrategy[m.Request]:
    return st.builds(
        m.Request,
        request_id=st.binary(min_size=8, max_size=8),
        body=st.one_of([body_strategy(cls) for cls in REQUEST_TYPES]),
    )


def _ok_response(cls: type[m.RequestBody]) -> st.SearchStrategy[m.Response]:
    return st.builds(
        m.Response,
        request_id=st.binary(min_size=8, max_size=8),
        opcode=st.just(cls.OPCODE),
        body=body_strategy(cls.RESPONSE),
        message=_text(0, 20, False),
    )


def response_strategy() -> st.SearchStrategy[m.Response]:
    error = st.builds(
        m.Response,
        request_id=st.binary(min_size=8, max_size=8),
        opcode=st.none() | st.sampled_from(list(m.Opcode)),
        status=st.integers(1, 255),
        message=_text(0, m.MAX_TEXT_SIZE, False),
    )
    return st.one_of([error, *(_ok_response(cls) for cls in REQUEST_TYPES)])


def event_strategy() -> st.SearchStrategy[m.PushedEvent]:
    return st.builds(m.PushedEvent, body=st.one_of([body_strategy(cls) for cls in EVENT_TYPES]))


def message_strategy() -> st.SearchStrategy[m.Message]:
    return st.one_of(request_strategy(), response_strategy(), event_strategy())


def field_names(cls: type[Any]) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def largest(layout: Any) -> Any:
    """The value of ``layout`` with the longest encoding: every bound at its maximum."""
    if isinstance(layout, c.Renamed):
        return largest(layout.subcon)
    if isinstance(layout, mf.Bool):
        return True
    if isinstance(layout, mf.EnumField):
        return max(layout._enum)
    if isinstance(layout, mf.Text):
        return "9" * layout.subcon._high
    if isinstance(layout, mf.BytesField):
        return b"\xff" * layout._high
    if isinstance(layout, mf.Opt):
        return largest(layout._inner)
    if isinstance(layout, mf.ListOf):
        return (largest(layout._item),) * layout._high
    if isinstance(layout, mf.Record):
        return layout._cls(**{sub.name: largest(sub) for sub in layout.subcon.subcons})
    if isinstance(layout, c.FormatField):
        bits = 8 * layout.length
        return 2 ** (bits - 1) - 1 if layout.fmtstr[-1].islower() else 2**bits - 1
    if isinstance(layout, c.Bytes):
        return b"\xff" * layout.length
    raise TypeError(f"no largest value for {layout!r}")


def largest_body(cls: type[Any]) -> Any:
    return largest(declare.body_layout(cls).subcons[0])


def typical(layout: Any) -> Any:
    """A small, readable value of ``layout`` (for test vectors): one item per list,
    optional fields present, the first enum member, short texts and ids of 1."""
    if isinstance(layout, c.Renamed):
        return typical(layout.subcon)
    if isinstance(layout, mf.Bool):
        return True
    if isinstance(layout, mf.EnumField):
        return next(iter(layout._enum))
    if isinstance(layout, mf.Text):
        low = max(1, layout.subcon._low)
        return ("4" if layout._digits else "x") * low
    if isinstance(layout, mf.BytesField):
        return b"\x11" * max(4, layout._low)
    if isinstance(layout, mf.Opt):
        return typical(layout._inner)
    if isinstance(layout, mf.ListOf):
        return (typical(layout._item),)
    if isinstance(layout, mf.Record):
        return layout._cls(**{sub.name: typical(sub) for sub in layout.subcon.subcons})
    if isinstance(layout, c.FormatField):
        return 1
    if isinstance(layout, c.Bytes):
        return b"\x22" * layout.length
    raise TypeError(f"no typical value for {layout!r}")


def typical_body(cls: type[Any]) -> Any:
    return typical(declare.body_layout(cls).subcons[0])
