"""A struct-speed codec generated from the construct declarations (issue 15, item 4).

The layouts stay declared once, with construct (``declare.py``, ``fields.py``); this
module walks each declared :class:`~ble_lock.wire.messages.fields.Record` once, at first
use, and generates plain Python source for it: runs of fixed-size fields (integers,
booleans, enums, fixed bytes) become one precompiled ``struct.Struct`` each, every other
field a call to the generated function of its layout. The source is compiled with
``exec`` from text built here only (never from input).

The generated functions check exactly what the adapters check (booleans 0/1, known enum
values, byte and text bounds, strict UTF-8, digits, list counts, presence bytes 0/1,
nothing left over) and raise :class:`Mismatch` -- or whatever ``struct``, indexing or
decoding raises -- on anything else. The codec (``codec.py``) then runs the construct
layout, which is the definition: it raises the canonical, field-named error, or returns
its own result. So a fast path can only be *faster*, never more permissive: tests pin its
accepted results to construct's, both ways (``tests/wire/test_messages_compiled.py``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from enum import IntEnum
from typing import Any

import construct as c

from ble_lock.wire.messages.fields import Bool, BytesField, EnumField, ListOf, Opt, Record, Text

__all__ = ["Decoder", "Encoder", "Mismatch", "decoder", "encoder"]

Decoder = Callable[[bytes], Any]
Encoder = Callable[[Any], bytes]


class Mismatch(Exception):
    """The fast path does not take this input: construct decides (see the docstring)."""


class _Unsupported(Exception):
    """A layout the generator does not know: that body keeps construct alone."""


_DECODERS: dict[Record, Decoder | None] = {}
_ENCODERS: dict[Record, Encoder | None] = {}


def decoder(record: Record) -> Decoder | None:
    """The generated whole-body decoder of ``record`` (input consumed exactly), or None
    if its layout holds a construct the generator does not know."""
    if record not in _DECODERS:
        _DECODERS[record] = _compile(record)[0]
    return _DECODERS[record]


def encoder(record: Record) -> Encoder | None:
    """The generated encoder of ``record``, or None (see :func:`decoder`)."""
    if record not in _ENCODERS:
        _ENCODERS[record] = _compile(record)[1]
    return _ENCODERS[record]


def _compile(record: Record) -> tuple[Decoder | None, Encoder | None]:
    gen = _Generator()
    try:
        name = gen.record(record)
    except _Unsupported:
        return None, None
    if not gen.whole_fixed(record):
        gen.lines += [
        "def decode_whole(data):",
        f"    value, pos = dec_{name}(data, 0)",
        "    if pos != len(data):",
        "        raise Mismatch",
        "    return value",
        "def encode_whole(obj):",
        "    out = bytearray()",
        f"    enc_{name}(obj, out)",
        "    return bytes(out)",
        ]
    namespace: dict[str, Any] = dict(gen.env)
    namespace["Mismatch"] = Mismatch
    # the source is generated here from the declarations: no input reaches it
    exec(compile("\n".join(gen.lines), f"<codec {record._cls.__name__}>", "exec"),  # noqa: S102
         namespace)
    return namespace["decode_whole"], namespace["encode_whole"]


def _fixed_code(layout: Any) -> str | None:
    """The struct code of a fixed-size field, or None."""
    if isinstance(layout, c.FormatField):
        fmt: str = layout.fmtstr
        return fmt[1:] if fmt[0] == ">" and len(fmt) == 2 else None
    if isinstance(layout, Bool):
        return "B"
    if isinstance(layout, EnumField):
        return _fixed_code(layout.subcon)
    if type(layout) is c.Bytes and isinstance(layout.length, int):
        return f"{layout.length}s"
    return None


class _Generator:
    """Source text of the functions ``dec_<n>(data, pos) -> (value, pos)`` and
    ``enc_<n>(value, out)`` of every layout reached from one record."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.env: dict[str, Any] = {}
        self._names: dict[int, str] = {}

    def _const(self, value: Any) -> str:
        name = f"k{len(self.env)}"
        self.env[name] = value
        return name

    def _function(self, layout: Any) -> str:
        """Generate (once) the pair of functions of a variable-size layout."""
        key = id(layout)
        if key in self._names:
            return self._names[key]
        name = str(len(self._names))
        self._names[key] = name
        self.env.setdefault("_keep", []).append(layout)  # ids stay unique while generating
        if isinstance(layout, Record):
            self._record(name, layout)
        elif isinstance(layout, Text | BytesField):
            self._bytes(name, layout)
        elif isinstance(layout, Opt):
            self._opt(name, layout)
        elif isinstance(layout, ListOf):
            self._list(name, layout)
        elif _fixed_code(layout) is not None:
            self._single(name, layout)
        else:
            raise _Unsupported(type(layout).__name__)
        return name

    def record(self, record: Record) -> str:
        return self._function(record)

    def whole_fixed(self, record: Record) -> bool:
        """A body of fixed-size fields only (``Unlocked``, ``TimeSet``...): whole-body
        functions with one ``struct`` call each and nothing else around it."""
        fields = [(sub.name, sub.subcon) for sub in record.subcon.subcons]
        if any(_fixed_code(layout) is None for _, layout in fields):
            return False
        cls = self._const(record._cls)
        packer = struct.Struct(">" + "".join(str(_fixed_code(f)) for _, f in fields))
        k = self._const(packer)
        names = [f"v_{n}" for n, _ in fields]
        dec = ["def decode_whole(data):", f"    if len(data) != {packer.size}:",
               "        raise Mismatch"]
        enc = ["def encode_whole(obj):", f"    if not isinstance(obj, {cls}):",
               "        raise Mismatch"]
        if fields:
            dec.append(f"    {', '.join(names)}, = {k}.unpack(data)")
        values = []
        for (field_name, layout), var in zip(fields, names, strict=True):
            dec += self._check_fixed(layout, var)
            values.append(self._encode_fixed(layout, f"obj.{field_name}", enc))
        args = ", ".join(f"{n}=v_{n}" for n, _ in fields)
        dec.append(f"    return {cls}({args})")
        enc.append(f"    return {k}.pack({', '.join(values)})")
        self.lines += dec + enc
        return True

    # -- variable-size layouts ------------------------------------------------------

    def _record(self, name: str, record: Record) -> None:
        fields = [(sub.name, sub.subcon) for sub in record.subcon.subcons]
        cls = self._const(record._cls)
        dec = [f"def dec_{name}(data, pos):"]
        enc = [f"def enc_{name}(obj, out):",
               f"    if not isinstance(obj, {cls}):", "        raise Mismatch"]
        i = 0
        while i < len(fields):
            run = []
            while i < len(fields) and _fixed_code(fields[i][1]) is not None:
                run.append(fields[i])
                i += 1
            if run:
                self._fixed_run(run, dec, enc)
                continue
            field_name, layout = fields[i]
            fn = self._function(layout)
            dec.append(f"    v_{field_name}, pos = dec_{fn}(data, pos)")
            enc.append(f"    enc_{fn}(obj.{field_name}, out)")
            i += 1
        args = ", ".join(f"{n}=v_{n}" for n, _ in fields)
        dec.append(f"    return {cls}({args}), pos")
        self.lines += dec + enc

    def _fixed_run(self, run: list[tuple[str, Any]], dec: list[str], enc: list[str]) -> None:
        codes = [_fixed_code(layout) for _, layout in run]
        packer = struct.Struct(">" + "".join(str(code) for code in codes))
        k = self._const(packer)
        names = [f"v_{n}" for n, _ in run]
        dec.append(f"    {', '.join(names)}, = {k}.unpack_from(data, pos)")
        dec.append(f"    pos += {packer.size}")
        values = []
        for (field_name, layout), var in zip(run, names, strict=True):
            dec += self._check_fixed(layout, var)
            values.append(self._encode_fixed(layout, f"obj.{field_name}", enc))
        enc.append(f"    out += {k}.pack({', '.join(values)})")

    def _check_fixed(self, layout: Any, var: str) -> list[str]:
        if isinstance(layout, Bool):
            return [f"    if {var} > 1:", "        raise Mismatch", f"    {var} = {var} == 1"]
        if isinstance(layout, EnumField):
            members = self._const(_members(layout._enum))
            return [f"    {var} = {members}[{var}]"]  # KeyError: unknown value
        return []

    def _encode_fixed(self, layout: Any, expr: str, enc: list[str]) -> str:
        var = "e" + str(len(enc))
        enc.append(f"    {var} = {expr}")
        if isinstance(layout, Bool):
            enc += [f"    if {var} is not True and {var} is not False:", "        raise Mismatch"]
        elif isinstance(layout, EnumField):
            cls = self._const(layout._enum)
            enc += [f"    if not isinstance({var}, {cls}):", "        raise Mismatch"]
        elif type(layout) is c.Bytes:
            enc += [f"    if type({var}) is not bytes or len({var}) != {layout.length}:",
                    "        raise Mismatch"]
        elif isinstance(layout, c.FormatField):
            enc += [f"    if type({var}) is not int:", "        raise Mismatch"]
        return var

    def _single(self, name: str, layout: Any) -> None:
        """A fixed-size layout used where a function is needed (inside Opt or ListOf)."""
        dec = [f"def dec_{name}(data, pos):"]
        enc = [f"def enc_{name}(obj, out):"]
        code = str(_fixed_code(layout))
        packer = struct.Struct(">" + code)
        k = self._const(packer)
        dec += [f"    v, = {k}.unpack_from(data, pos)", *self._check_fixed(layout, "v"),
                f"    return v, pos + {packer.size}"]
        var = self._encode_fixed(layout, "obj", enc)
        enc.append(f"    out += {k}.pack({var})")
        self.lines += dec + enc

    def _bytes(self, name: str, layout: Text | BytesField) -> None:
        text = isinstance(layout, Text)
        bounds: BytesField = layout.subcon if text else layout
        low, high = bounds._low, bounds._high
        digits = isinstance(layout, Text) and layout._digits
        dec = [f"def dec_{name}(data, pos):",
               "    n = data[pos]",
               "    end = pos + 1 + n",
               f"    if end > len(data) or n < {low} or n > {high}:",
               "        raise Mismatch",
               "    v = data[pos + 1:end]"]
        enc = [f"def enc_{name}(obj, out):"]
        if text:
            dec.append("    v = v.decode('utf-8')")  # strict: UnicodeDecodeError
            enc += ["    if type(obj) is not str:", "        raise Mismatch"]
            if digits:
                check = ["    if not (v.isascii() and v.isdigit()):", "        raise Mismatch"]
                dec += check
                enc += [line.replace("v.", "obj.") for line in check]
            enc.append("    raw = obj.encode('utf-8')")
        else:
            enc += ["    if type(obj) is not bytes:", "        raise Mismatch", "    raw = obj"]
        dec.append("    return v, end")
        enc += [f"    if len(raw) < {low} or len(raw) > {high}:", "        raise Mismatch",
                "    out.append(len(raw))", "    out += raw"]
        self.lines += dec + enc

    def _opt(self, name: str, layout: Opt) -> None:
        fn = self._function(layout._inner)
        self.lines += [
            f"def dec_{name}(data, pos):",
            "    present = data[pos]",
            "    if present == 0:",
            "        return None, pos + 1",
            "    if present != 1:",
            "        raise Mismatch",
            f"    return dec_{fn}(data, pos + 1)",
            f"def enc_{name}(obj, out):",
            "    if obj is None:",
            "        out.append(0)",
            "    else:",
            "        out.append(1)",
            f"        enc_{fn}(obj, out)",
        ]

    def _list(self, name: str, layout: ListOf) -> None:
        fn = self._function(layout._item)
        high = layout._high
        self.lines += [
            f"def dec_{name}(data, pos):",
            "    n = data[pos]",
            f"    if n > {high}:",
            "        raise Mismatch",
            "    pos += 1",
            "    items = []",
            "    for _ in range(n):",
            f"        v, pos = dec_{fn}(data, pos)",
            "        items.append(v)",
            "    return tuple(items), pos",
            f"def enc_{name}(obj, out):",
            f"    if type(obj) is not tuple and type(obj) is not list or len(obj) > {high}:",
            "        raise Mismatch",
            "    out.append(len(obj))",
            "    for item in obj:",
            f"        enc_{fn}(item, out)",
        ]


def _members(enum: type[IntEnum]) -> dict[int, IntEnum]:
    return {int(member): member for member in enum}
