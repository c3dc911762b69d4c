"""Records to bytes and back (JSON), for stores that keep blobs and for idempotency.

``dumps(record)`` works on any dataclass of :mod:`ble_lock.core.model` (and nested
ones); ``loads(cls, data)`` rebuilds it from the field types. Enums travel as their
values, bytes as hex. The format is stable: fields added later get their defaults when
an older blob lacks them. A record with a ``TAG`` class attribute (an arm of a union of
records, e.g. :data:`ble_lock.core.model.EventDetail`) is written with its tag under
``"@"``, and the tag picks the arm when it is read back.

Reading is the store's open path (10,000 users and 40,000 credentials, issue 15): each
record type gets a decoder generated once from its field types (:func:`decoder`,
straight-line Python, no reflection per record), and :func:`loads_many` parses a whole
table's blobs in one ``json.loads``. Anything the generated decoder does not take (an
older blob lacking a field, a tagged union) goes through :func:`from_jsonable`, the
definition, which gives the same result or the same error.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import json
import types
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Any, TypeVar, cast

from ble_lock.core.errors import ErrorCode, StorageError

__all__ = ["TAG_KEY", "decoder", "dumps", "from_jsonable", "gc_paused", "loads", "loads_many",
           "row_builder", "to_jsonable"]

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
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _corrupt(cls, exc) from exc
    return _from_value(cls, value)


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: a bulk load creates hundreds of thousands of
    objects that all survive, and each collection of the oldest generation would walk
    all of them again (a quarter of opening 100,000 users). Restores the previous state."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def loads_many(cls: type[T], blobs: list[bytes]) -> list[T]:
    """:func:`loads` of every blob, in order: one ``json.loads`` for all of them (each
    blob is one JSON object, as :func:`dumps` writes it), then the generated decoder;
    with the garbage collector paused (:func:`gc_paused`)."""
    if not blobs:
        return []
    with gc_paused():
        return _loads_many(cls, blobs)


def _loads_many(cls: type[T], blobs: list[bytes]) -> list[T]:
    try:
        values = json.loads(b"[" + b",".join(blobs) + b"]")
    except ValueError:
        values = None
    if not isinstance(values, list) or len(values) != len(blobs) or not all(
            type(v) is dict for v in values):
        return [loads(cls, blob) for blob in blobs]  # names the corrupt one
    fast = decoder(cls)
    out: list[T] = []
    append = out.append
    for value in values:
        try:
            append(fast(value))
        except Exception:
            append(_from_value(cls, value))
    return out


def _from_value(cls: type[T], value: Any) -> T:
    try:
        return cast(T, from_jsonable(cls, value))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _corrupt(cls, exc) from exc


def _corrupt(cls: type[Any], exc: Exception) -> StorageError:
    return StorageError(f"corrupt {cls.__name__} record: {exc}", code=ErrorCode.STORAGE_ERROR)


# -- generated decoders ---------------------------------------------------------------


def decoder(tp: Any) -> Callable[[Any], Any]:
    """A function from :func:`to_jsonable` output to a value of ``tp``, generated once:
    for a record, one call of its constructor with every field converted inline. It
    raises (``KeyError`` for a missing field, ``KeyError``/``ValueError`` for a bad
    value...) where :func:`from_jsonable` would fill a default or name the error; the
    callers then run :func:`from_jsonable`."""
    made = _DECODERS.get(tp)
    if made is None:
        made = _DECODERS[tp] = _generate(tp)
    return made


_DECODERS: dict[Any, Callable[[Any], Any]] = {}


def _generate(tp: Any) -> Callable[[Any], Any]:
    gen = _DecoderSource()
    expr = gen.expr(tp, "value")
    gen.lines.append(f"def decode(value):\n    return {expr}")
    namespace = dict(gen.env)
    # the source is generated here from the declarations: no input reaches it
    exec(compile("\n".join(gen.lines), f"<store decoder {tp!r}>", "exec"),  # noqa: S102
         namespace)
    return cast(Callable[[Any], Any], namespace["decode"])


class _DecoderSource:
    """Source text of the decoder of one type (module-level helper functions, constants
    passed in ``env``). Built from type hints only, never from data."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.env: dict[str, Any] = {"from_jsonable": from_jsonable}
        self._done: dict[Any, str] = {}

    def _const(self, value: Any) -> str:
        name = f"k{len(self.env)}"
        self.env[name] = value
        return name

    def _function(self, tp: Any) -> str:
        """A helper ``f<n>(x)`` converting ``x`` to ``tp`` (for nested and repeated use)."""
        if tp in self._done:
            return self._done[tp]
        name = f"f{len(self._done)}"
        self._done[tp] = name
        body = self.expr(tp, "x")
        self.lines.append(f"def {name}(x):\n    return {body}")
        return name

    def expr(self, tp: Any, var: str) -> str:
        """An expression converting the JSON value ``var`` to ``tp``."""
        origin = typing.get_origin(tp)
        if origin in (types.UnionType, typing.Union):
            arms = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(arms) == 1 and type(None) in typing.get_args(tp) and not any(
                    isinstance(getattr(a, "TAG", None), str) for a in arms):
                inner = self._function(arms[0])
                return f"(None if {var} is None else {inner}({var}))"
            return f"from_jsonable({self._const(tp)}, {var})"  # tagged: the definition
        if origin is tuple:
            args = typing.get_args(tp)
            if len(args) != 2 or args[1] is not Ellipsis:
                return f"from_jsonable({self._const(tp)}, {var})"
            return f"tuple(map({self._function(args[0])}, {var}))"
        if origin is dict:
            key_t, val_t = typing.get_args(tp)
            k, v = self._function(key_t), self._function(val_t)
            return f"{{{k}(a): {v}(b) for a, b in {var}}}"
        if isinstance(tp, type):
            if dataclasses.is_dataclass(tp):
                return self._record(tp, var)
            if issubclass(tp, Enum):
                return f"{self._const({m.value: m for m in tp})}[{var}]"
            if tp is bytes:
                return f"bytes.fromhex({var})"
            if tp is float:
                return f"float({var})"
        return var

    def _record(self, cls: Any, var: str) -> str:
        if var != "x":
            return f"{self._function(cls)}({var})"
        hints = _hints(cls)
        fields = dataclasses.fields(cls)
        values = [self.expr(hints[f.name], f"x[{f.name!r}]") for f in fields]
        slots = [cls.__dict__.get(f.name) for f in fields]
        if hasattr(cls, "__post_init__") or cls.__new__ is not object.__new__ or not all(
                f.init and isinstance(d, types.MemberDescriptorType)
                for f, d in zip(fields, slots, strict=True)):
            args = ", ".join(f"{f.name}={v}" for f, v in zip(fields, values, strict=True))
            return f"{self._const(cls)}({args})"
        # A slotted dataclass without __post_init__, every field given: built exactly as
        # its __init__ would, by setting each slot through its descriptor. A frozen
        # dataclass's __init__ goes through object.__setattr__ per field, about six
        # times the cost (40,000 credentials: most of the open's object building).
        new = self._const(object.__new__)
        sets = [self._const(d.__set__) for d in slots if d is not None]
        name = f"b{len(self.env)}"
        self.lines.append("\n".join([
            f"def {name}(x):",
            f"    o = {new}({self._const(cls)})",
            *(f"    {setter}(o, {value})" for setter, value in zip(sets, values, strict=True)),
            "    return o",
        ]))
        return f"{name}(x)"


def row_builder(cls: type[T], conversions: dict[str, str], env: dict[str, Any]) -> Callable[..., T]:
    """A function of one positional argument per field of the record class ``cls`` (in
    field order: a table row in column order) returning the record, generated once.
    ``conversions[name]`` is a Python expression turning the column's value ``{}`` into
    the field's value (the names it uses come from ``env``); other fields take the value
    as is. Like :func:`decoder`, a slotted dataclass without ``__post_init__`` is built by
    setting each slot through its descriptor (what its ``__init__`` does, without the
    frozen ``object.__setattr__`` per field); any other class through its constructor."""
    fields = dataclasses.fields(cast(Any, cls))
    unknown = set(conversions) - {f.name for f in fields}
    if unknown:
        raise ValueError(f"no field {sorted(unknown)} in {cls.__name__}")
    args = [f"a{i}" for i in range(len(fields))]
    values = [conversions.get(f.name, "{}").format(a) for f, a in zip(fields, args, strict=True)]
    namespace: dict[str, Any] = {**env, "cls": cls, "new": object.__new__}
    slots = [cls.__dict__.get(f.name) for f in fields]
    lines = [f"def build({', '.join(args)}):"]
    if hasattr(cls, "__post_init__") or cls.__new__ is not object.__new__ or not all(
            f.init and isinstance(d, types.MemberDescriptorType)
            for f, d in zip(fields, slots, strict=True)):
        kwargs = ", ".join(f"{f.name}={v}" for f, v in zip(fields, values, strict=True))
        lines.append(f"    return cls({kwargs})")
    else:
        lines.append("    o = new(cls)")
        for i, (d, value) in enumerate(zip(slots, values, strict=True)):
            namespace[f"s{i}"] = cast(Any, d).__set__
            lines.append(f"    s{i}(o, {value})")
        lines.append("    return o")
    # the source is generated here from the declarations: no input reaches it
    exec(compile("\n".join(lines), f"<store row builder {cls.__name__}>", "exec"),  # noqa: S102
         namespace)
    return cast(Callable[..., T], namespace["build"])
