"""Records to bytes and back (JSON), for stores that keep blobs and for idempotency.

``dumps(record)`` works on any dataclass of :mod:`ble_lock.core.model` (and nested
ones); ``loads(cls, data)`` rebuilds it from the field types. Enums travel as their
values, bytes as hex. The format is stable: fields added later get their defaults when
an older blob lacks them. A record with a ``TAG`` class attribute (an arm of a union of
records, e.g. :data:`ble_lock.core.model.EventDetail`) is written with its tag under
``"@"``, and the tag picks the arm when it is read back.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar, cast

from ble_lock.core.errors import ErrorCode, StorageError

__all__ = ["TAG_KEY", "dumps", "from_jsonable", "loads", "to_jsonable"]

#: Key of a tagged record's tag in its JSON object.
TAG_KEY = "@"

T = TypeVar("T")


def to_jsonable(value: Any) -> Any:
    """A JSON-ready copy of a record, enum, bytes, tuple, dict or scalar."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
        tag = getattr(value, "TAG", None)
        if isinstance(tag, str):
            out[TAG_KEY] = tag
        return out
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, tuple | list):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return [[to_jsonable(k), to_jsonable(v)] for k, v in value.items()]
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_jsonable(tp: Any, value: Any) -> Any:
    """Rebuild a value of type ``tp`` from :func:`to_jsonable` output."""
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        if value is None:
            return None
        arms = [a for a in typing.get_args(tp) if a is not type(None)]
        if isinstance(value, dict) and TAG_KEY in value:
            tagged = [a for a in arms if getattr(a, "TAG", None) == value[TAG_KEY]]
            if len(tagged) != 1:
                raise ValueError(f"unknown record tag {value[TAG_KEY]!r}")
            return from_jsonable(tagged[0], value)
        return from_jsonable(arms[0], value)
    if origin is tuple:
        item = typing.get_args(tp)[0]
        return tuple(from_jsonable(item, v) for v in value)
    if origin is dict:
        key_t, val_t = typing.get_args(tp)
        return {from_jsonable(key_t, k): from_jsonable(val_t, v) for k, v in value}
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            hints = _hints(tp)
            kwargs = {
                f.name: from_jsonable(hints[f.name], value[f.name])
                for f in dataclasses.fields(tp)
                if f.name in value
            }
            return tp(**kwargs)
        if issubclass(tp, Enum):
            return tp(value)
        if tp is bytes:
            return bytes.fromhex(value)
        if tp is float:
            return float(value)
    return value


def dumps(record: object) -> bytes:
    """Serialize a model record to compact JSON bytes."""
    return json.dumps(to_jsonable(record), separators=(",", ":"), sort_keys=True).encode()


def loads(cls: type[T], data: bytes, *, upgrade: Callable[[Any], Any] | None = None) -> T:
    """Rebuild a record of ``cls`` from :func:`dumps` output; ``upgrade`` first turns the
    decoded JSON of an older format into the current one (a tolerant reader of old rows)."""
    try:
        value = json.loads(data)
        if upgrade is not None:
            value = upgrade(value)
        return cast(T, from_jsonable(cls, value))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StorageError(f"corrupt {cls.__name__} record: {exc}",
                           code=ErrorCode.STORAGE_ERROR) from exc
