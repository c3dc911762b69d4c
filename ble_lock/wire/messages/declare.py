"""The one declaration of a message: a dataclass whose annotations are its byte layout.

A body is declared once, as a frozen, slotted, keyword-only dataclass decorated with
:func:`wire`::

    @wire
    @dataclass(frozen=True, slots=True, kw_only=True)
    class TimeSet(RequestOf[Done]):   # Done: the body of its success response
        OPCODE = Opcode.TIME_SET      # the opcode on the wire
        now_ms: UInt64                # = Annotated[int, U64]: field, type and layout

:func:`wire` derives the construct layout from the fields, in order, sets a request's
``RESPONSE`` from its ``RequestOf[...]`` base, and registers the class: a request by its
``OPCODE``, an event by its ``EVENT``, a response or a nested record by its type. The
codec (``codec.py``), the opcode/event tables and the generated tables of
docs/protocol.md all read this registry; nothing restates a layout.

A field's layout comes from its annotation:

* ``Annotated[T, layout]`` — the layout given (sizes, bounds: ``UInt16``, ``Name``...);
* ``bool`` — a 0/1 byte; an ``IntEnum`` — its value in one byte (u8);
* a class declared with :func:`wire` (a record such as ``Validity``) — its layout;
* ``X | None`` — a 0/1 presence byte, then ``X`` when present.

Anything else is a ``TypeError`` when the module is imported.
"""

from __future__ import annotations

import dataclasses
import types
from enum import IntEnum
from typing import Annotated, Any, TypeVar, Union, cast, get_args, get_origin
from typing import get_type_hints as _hints

import construct as c

from ble_lock.wire.messages.fields import Bool, EnumField, Opt, Record
from ble_lock.wire.messages.types import (
    EventBody,
    EventType,
    Opcode,
    RequestBody,
    RequestOf,
    ResponseBody,
)

__all__ = [
    "body_layout",
    "event_classes",
    "layout_of",
    "request_classes",
    "response_classes",
    "response_of",
    "wire",
]

T = TypeVar("T")
R = TypeVar("R", bound=ResponseBody)

_LAYOUT: dict[type[Any], Record] = {}
_WHOLE: dict[type[Any], Any] = {}
_REQUESTS: dict[int, type[RequestBody]] = {}
_RESPONSES: list[type[ResponseBody]] = []
_EVENTS: dict[int, type[EventBody]] = {}


def wire(cls: type[T]) -> type[T]:
    """Derive ``cls``'s layout from its fields and register it (see the module docstring).

    ``TypeError`` at import for a field without a layout, an opcode or event type used
    twice, or a request not derived from ``RequestOf[R]`` with ``R`` a declared response
    body.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__}: @wire goes above @dataclass")
    hints = _hints(cls, include_extras=True)
    record = Record(cls, *(
        f.name / _field_layout(hints[f.name], f"{cls.__name__}.{f.name}")
        for f in dataclasses.fields(cls)
    ))
    # Check everything before registering anything: a refused class leaves no trace.
    if issubclass(cls, RequestBody):
        response = _response(cls)
        _free(_REQUESTS, int(cls.OPCODE), cls, "opcode")
        cls.RESPONSE = response
        _REQUESTS[int(cls.OPCODE)] = cls
    elif issubclass(cls, EventBody):
        _free(_EVENTS, int(cls.EVENT), cls, "event type")
        _EVENTS[int(cls.EVENT)] = cls
    elif issubclass(cls, ResponseBody):
        _RESPONSES.append(cls)
    _LAYOUT[cls] = record
    if issubclass(cls, RequestBody | ResponseBody | EventBody):
        # A top-level body: the record, then end of input (no trailing bytes).
        _WHOLE[cls] = c.FocusedSeq("body", "body" / record, c.Terminated)
    return cls


def _free(table: dict[int, Any], key: int, cls: type[Any], what: str) -> None:
    if key in table:
        raise TypeError(f"{cls.__name__}: {what} {key:#04x} is {table[key].__name__}'s")


def _response(cls: type[RequestBody]) -> type[ResponseBody]:
    """``R`` of ``cls``'s ``RequestOf[R]`` base: a declared response body."""
    for base in getattr(cls, "__orig_bases__", ()):
        if get_origin(base) is RequestOf:
            (response,) = get_args(base)
            if response in _RESPONSES:
                return cast("type[ResponseBody]", response)
            raise TypeError(f"{cls.__name__}: {response!r} is not a declared response body")
    raise TypeError(f"{cls.__name__}: a request body derives from RequestOf[<response>]")


def _field_layout(hint: Any, where: str) -> Any:
    if get_origin(hint) is Annotated:
        return hint.__metadata__[-1]
    if get_origin(hint) in (Union, types.UnionType):
        args = get_args(hint)
        if len(args) == 2 and type(None) in args:
            inner = args[0] if args[1] is type(None) else args[1]
            return Opt(_field_layout(inner, where))
    if hint is bool:
        return Bool()
    if isinstance(hint, type) and issubclass(hint, IntEnum):
        return EnumField(hint)
    if isinstance(hint, type) and hint in _LAYOUT:
        return _LAYOUT[hint]
    raise TypeError(f"{where}: no wire layout for {hint!r}; annotate it: Annotated[T, layout]")


def layout_of(cls: type[Any]) -> Record:
    """The layout of a declared body or record (a ``Record`` adapter)."""
    return _LAYOUT[cls]


def body_layout(cls: type[Any]) -> Any:
    """The layout of a top-level body: its record, then end of input; ``KeyError`` if
    ``cls`` is not a declared request, response or event body."""
    return _WHOLE[cls]


def request_classes() -> dict[Opcode, type[RequestBody]]:
    """Every declared request body by opcode, in opcode order."""
    return {cls.OPCODE: cls for _, cls in sorted(_REQUESTS.items())}


def response_classes() -> tuple[type[ResponseBody], ...]:
    """Every declared response body, in declaration order."""
    return tuple(_RESPONSES)


def response_of(body: RequestOf[R]) -> type[R]:
    """The type of the success response to ``body`` (its ``RequestOf[R]``)."""
    return cast("type[R]", type(body).RESPONSE)


def event_classes() -> dict[EventType, type[EventBody]]:
    """Every declared event body by event type, in event-type order."""
    return {cls.EVENT: cls for _, cls in sorted(_EVENTS.items())}
