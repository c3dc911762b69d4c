"""Records to bytes and back (JSON), for stores that keep blobs and for idempotency.

``dumps(record)`` works on any dataclass of :mod:`ble_lock.core.model` (and nested
ones); ``loads(cls, data)`` rebuilds it from the field types. Enums travel as their
values, bytes as hex. The format is stable: fields added later get their defaults when
an older blob lacks them.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from enum import Enum
from typing import Any, TypeVar, cast

from ble_lock.core.errors import ErrorCode, StorageError

__all__ = ["dumps", "from_jsonable", "loads", "to_jsonable"]

T = TypeVar("T")


def to_jsonable(value: Any) -> Any:
    """A JSON-ready copy of a record, enum, bytes, tuple, dict or scalar."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
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


def loads(cls: type[T], data: bytes) -> T:
    """Rebuild a record of ``cls`` from :func:`dumps` output."""
    try:
        return cast(T, from_jsonable(cls, json.loads(data)))
    except (ValueError, KeyError, TypeError) as exc:
        raise StorageError(f"corrupt {cls.__name__} record: {exc}",
                           code=ErrorCode.STORAGE_ERROR) from exc
