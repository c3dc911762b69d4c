"""Field layouts of the application messages: bounded, canonical construct adapters.

Each adapter checks its bound both when parsing (peer input) and when building (local
misuse), and decodes to a plain Python value: ``Bool`` 0/1 only, ``EnumField`` known
values only, ``BytesField``/``Text`` length-prefixed (u8) within bounds, ``Opt`` a 0/1
presence byte, ``ListOf`` a u8 count within bounds, ``Record`` a dataclass whose fields
are the struct's fields in order. Used by the message modules only (the field types of
``types.py``, ``declare.py``, ``codec.py``, ``envelope.py``): construct objects never
leave ``wire/messages``.
"""

from __future__ import annotations

import dataclasses
import struct
from enum import IntEnum
from typing import Any

import construct as c

__all__ = [
    "U8",
    "U16",
    "U32",
    "U64",
    "Bool",
    "BytesField",
    "CodecError",
    "EnumField",
    "ListOf",
    "Opt",
    "Record",
    "Text",
    "why",
]

U8, U16, U32, U64 = c.Int8ub, c.Int16ub, c.Int32ub, c.Int64ub


class CodecError(Exception):
    """A body does not parse (peer input) or does not fit its layout (local misuse)."""


class Bool(c.Adapter):  # type: ignore[misc]  # construct is untyped
    def __init__(self) -> None:
        super().__init__(c.Int8ub)

    def _decode(self, obj: int, ctx: Any, path: str) -> bool:
        if obj not in (0, 1):
            raise c.ValidationError(f"boolean must be 0 or 1, got {obj}", path=path)
        return obj == 1

    def _encode(self, obj: bool, ctx: Any, path: str) -> int:
        if not isinstance(obj, bool):
            raise c.ValidationError("expected a bool", path=path)
        return int(obj)


class EnumField(c.Adapter):  # type: ignore[misc]  # construct is untyped
    def __init__(self, enum: type[IntEnum], sub: Any = c.Int8ub) -> None:
        super().__init__(sub)
        self._enum = enum

    def _decode(self, obj: int, ctx: Any, path: str) -> IntEnum:
        try:
            return self._enum(obj)
        except ValueError:
            raise c.ValidationError(f"unknown {self._enum.__name__} {obj}", path=path) from None

    def _encode(self, obj: IntEnum, ctx: Any, path: str) -> int:
        if not isinstance(obj, self._enum):
            raise c.ValidationError(f"expected a {self._enum.__name__}", path=path)
        return int(obj)


class BytesField(c.Adapter):  # type: ignore[misc]  # construct is untyped
    """Length-prefixed (u8) bytes of ``low``..``high`` bytes."""

    def __init__(self, low: int, high: int) -> None:
        super().__init__(c.Prefixed(c.Int8ub, c.GreedyBytes))
        self._low, self._high = low, high

    def _check(self, obj: bytes, path: str) -> bytes:
        if not isinstance(obj, bytes) or not self._low <= len(obj) <= self._high:
            raise c.ValidationError(f"need {self._low}..{self._high} bytes", path=path)
        return obj

    def _decode(self, obj: bytes, ctx: Any, path: str) -> bytes:
        return self._check(obj, path)

    def _encode(self, obj: bytes, ctx: Any, path: str) -> bytes:
        return self._check(obj, path)


class Text(c.Adapter):  # type: ignore[misc]  # construct is untyped
    """Length-prefixed (u8) strict UTF-8 of at most ``high`` bytes; ``digits`` = ASCII 0-9."""

    def __init__(self, high: int, *, low: int = 0, digits: bool = False) -> None:
        super().__init__(BytesField(low, high))
        self._digits = digits

    def _decode(self, obj: bytes, ctx: Any, path: str) -> str:
        try:
            text = obj.decode("utf-8", errors="strict")
        except UnicodeDecodeError:
            raise c.ValidationError("invalid UTF-8", path=path) from None
        if self._digits and not (text.isascii() and text.isdigit()):
            raise c.ValidationError("expected decimal digits", path=path)
        return text

    def _encode(self, obj: str, ctx: Any, path: str) -> bytes:
        if not isinstance(obj, str):
            raise c.ValidationError("expected a str", path=path)
        if self._digits and not (obj.isascii() and obj.isdigit()):
            raise c.ValidationError("expected decimal digits", path=path)
        return obj.encode("utf-8")


class Opt(c.Adapter):  # type: ignore[misc]  # construct is untyped
    """A 0/1 presence byte, then the value if present; ``None`` when absent."""

    def __init__(self, sub: Any) -> None:
        super().__init__(c.Struct("present" / Bool(), "value" / c.If(c.this.present, sub)))
        self._inner = sub

    def _decode(self, obj: Any, ctx: Any, path: str) -> Any:
        return obj.value if obj.present else None

    def _encode(self, obj: Any, ctx: Any, path: str) -> dict[str, Any]:
        return {"present": obj is not None, "value": obj}


class ListOf(c.Adapter):  # type: ignore[misc]  # construct is untyped
    """A u8 count (at most ``high``), then the items; decoded as a tuple."""

    def __init__(self, sub: Any, high: int) -> None:
        super().__init__(c.PrefixedArray(c.Int8ub, sub))
        self._item = sub
        self._high = high

    def _check(self, obj: Any, path: str) -> tuple[Any, ...]:
        if not isinstance(obj, (list, tuple)) or len(obj) > self._high:
            raise c.ValidationError(f"at most {self._high} items", path=path)
        return tuple(obj)

    def _decode(self, obj: Any, ctx: Any, path: str) -> tuple[Any, ...]:
        return self._check(obj, path)

    def _encode(self, obj: Any, ctx: Any, path: str) -> list[Any]:
        return list(self._check(obj, path))


class Record(c.Adapter):  # type: ignore[misc]  # construct is untyped
    """A Struct whose field names are the dataclass's fields, in order."""

    def __init__(self, cls: type[Any], *fields: Any) -> None:
        names = [f.name for f in dataclasses.fields(cls)]
        declared = [f.name for f in fields]
        if names != declared:
            raise TypeError(f"{cls.__name__}: layout {declared} != fields {names}")
        super().__init__(c.Struct(*fields))
        self._cls = cls
        self._names = names

    def _decode(self, obj: Any, ctx: Any, path: str) -> Any:
        return self._cls(**{n: obj[n] for n in self._names})

    def _encode(self, obj: Any, ctx: Any, path: str) -> dict[str, Any]:
        if not isinstance(obj, self._cls):
            raise c.ValidationError(f"expected a {self._cls.__name__}", path=path)
        return {n: getattr(obj, n) for n in self._names}


# Openings of the ValidationError messages our adapters raise (above): any other
# ValidationError text is construct's own and is not repeated on the wire.
_OWN_REASONS = ("boolean must be", "expected ", "unknown ", "need ", "invalid UTF-8",
                "at most ")


def why(exc: Exception) -> str:
    """The reason a layout failed, in words safe to send in an error response's text
    (``docs/protocol.md``, "Errors"): ``<field path>: <reason>``, where the path is the
    dotted field names below the body and the reason is ours (an adapter's message,
    ``truncated`` or ``trailing bytes``). Never construct's own texts, parser class names
    or field values: a secret being built or parsed cannot leak through it."""
    raw_path = str(getattr(exc, "path", None) or "")
    names = [p.strip() for p in raw_path.split("->")[1:]]
    field_path = ".".join(n for n in names if n and n != "body")
    if isinstance(exc, c.ValidationError) and exc.args:
        # Our adapters' messages, after construct's "Error in path ..." first line.
        reason = str(exc.args[0]).rsplit("\n", 1)[-1]
        if not reason.startswith(_OWN_REASONS):
            reason = "invalid value"
    elif isinstance(exc, c.TerminatedError):
        reason = "trailing bytes"
    elif isinstance(exc, c.StreamError | struct.error):
        reason = "truncated"
    else:
        reason = "malformed"
    text = f"{field_path}: {reason}" if field_path else reason
    return " ".join(text.split())[:160]
