"""Render the message and error tables of docs/protocol.md from the code.

``python -m tests.wire._msg_docs`` prints the tables; the docs test checks that
docs/protocol.md contains them verbatim, so the document cannot drift from the declarations.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import construct as c

from ble_lock.core.errors import ErrorCode, error_for_code
from ble_lock.core.model import (
    CredentialKind,
    DoorDirection,
    EnrolmentState,
    EventKind,
    LockBody,
    Role,
    Trigger,
    UnlockMethod,
)
from ble_lock.wire import messages as m
from ble_lock.wire.messages import declare
from ble_lock.wire.messages import fields as mf
from tests.wire._msg_strategies import EVENT_TYPES, REQUEST_TYPES, RESPONSE_TYPES

_BODIES = [*REQUEST_TYPES, *RESPONSE_TYPES, *EVENT_TYPES]
_SIZES = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}


def layout_text(layout: Any) -> str:  # one case per construct kind
    if isinstance(layout, c.Renamed):
        return f"{layout.name}:{layout_text(layout.subcon)}"
    if isinstance(layout, mf.Bool):
        return "bool"
    if isinstance(layout, mf.EnumField):
        return f"{layout._enum.__name__}({_SIZES[layout.subcon.length]})"
    if isinstance(layout, mf.Text):
        kind = "digits" if layout._digits else "utf8"
        return f"{kind}[{layout.subcon._low}..{layout.subcon._high}]"
    if isinstance(layout, mf.BytesField):
        return f"bytes[{layout._low}..{layout._high}]"
    if isinstance(layout, mf.Opt):
        return f"opt({layout_text(layout._inner)})"
    if isinstance(layout, mf.ListOf):
        return f"list≤{layout._high}({layout_text(layout._item)})"
    if isinstance(layout, mf.Record):
        return layout._cls.__name__
    if isinstance(layout, c.FormatField):
        size = _SIZES[layout.length]
        return ("i" + size[1:]) if layout.fmtstr[-1].islower() else size
    if isinstance(layout, c.Bytes):
        return f"bytes[{layout.length}]"
    raise TypeError(f"cannot render {layout!r}")


def _fields(cls: type[Any]) -> str:
    record = declare.layout_of(cls)
    parts = [layout_text(sub) for sub in record.subcon.subcons]
    return " · ".join(parts) if parts else "(empty)"


def _records() -> list[type[Any]]:
    """Nested records used inside bodies, in first-use order."""
    seen: list[type[Any]] = []

    def walk(layout: Any) -> None:
        if isinstance(layout, c.Renamed):
            walk(layout.subcon)
        elif isinstance(layout, mf.Opt):
            walk(layout._inner)
        elif isinstance(layout, mf.ListOf):
            walk(layout._item)
        elif isinstance(layout, mf.Record):
            if layout._cls not in seen:
                seen.append(layout._cls)
            for sub in layout.subcon.subcons:
                walk(sub)

    for body in _BODIES:
        for sub in declare.layout_of(body).subcon.subcons:
            walk(sub)
    return seen


def _record_fields(cls: type[Any]) -> str:
    def find(layout: Any) -> Any:
        if isinstance(layout, c.Renamed):
            return find(layout.subcon)
        if isinstance(layout, mf.Opt):
            return find(layout._inner)
        if isinstance(layout, mf.ListOf):
            return find(layout._item)
        if isinstance(layout, mf.Record):
            if layout._cls is cls:
                return layout
            for sub in layout.subcon.subcons:
                hit = find(sub)
                if hit is not None:
                    return hit
        return None

    for body in _BODIES:
        hit = find(declare.layout_of(body))
        if hit is not None:
            return " · ".join(layout_text(sub) for sub in hit.subcon.subcons)
    raise KeyError(cls)


def messages_table() -> str:
    rows = ["| opcode | request | request body | success response body |",
            "|---|---|---|---|"]
    for cls in REQUEST_TYPES:
        rows.append(f"| `0x{cls.OPCODE:02x}` {cls.OPCODE.name} | {cls.__name__} | "
                    f"{_fields(cls)} | {cls.RESPONSE.__name__}: {_fields(cls.RESPONSE)} |")
    return "\n".join(rows)


def events_table() -> str:
    rows = ["| event | body | fields |", "|---|---|---|"]
    for cls in EVENT_TYPES:
        rows.append(f"| `0x{cls.EVENT:02x}` {cls.EVENT.name} | {cls.__name__} | "
                    f"{_fields(cls)} |")
    return "\n".join(rows)


def records_table() -> str:
    rows = ["| record | fields |", "|---|---|"]
    rows += [f"| {cls.__name__} | {_record_fields(cls)} |" for cls in _records()]
    return "\n".join(rows)


def enums_table() -> str:
    enums: list[type[IntEnum]] = [Role, CredentialKind, UnlockMethod, EventKind,
                                  EnrolmentState, DoorDirection, LockBody, Trigger,
                                  m.LockState]
    rows = ["| enum | values |", "|---|---|"]
    for enum in enums:
        values = ", ".join(f"{int(v)} {v.name}" for v in enum)
        rows.append(f"| {enum.__name__} | {values} |")
    return "\n".join(rows)


def errors_table() -> str:
    rows = ["| code | name | category | LockError class |", "|---|---|---|---|"]
    for code in ErrorCode:
        rows.append(f"| {int(code)} | {code.name} | {code.category.value} | "
                    f"{type(error_for_code(int(code), '')).__name__} |")
    return "\n".join(rows)


TABLES = {
    "messages": messages_table,
    "events": events_table,
    "records": records_table,
    "enums": enums_table,
    "errors": errors_table,
}


def marker(name: str) -> str:
    return f"<!-- {name} table: generated by tests/wire/_msg_docs.py -->"


def rewrite(text: str) -> str:
    """``text`` with every generated table (marker line + table) replaced by a fresh one."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        name = next((n for n in TABLES if line == marker(n)), None)
        out.append(line)
        i += 1
        if name is None:
            continue
        while i < len(lines) and lines[i].startswith("|"):
            i += 1
        out.extend(TABLES[name]().split("\n"))
    return "\n".join(out)


if __name__ == "__main__":
    import sys
    from pathlib import Path

    if sys.argv[1:] == ["--write"]:
        doc = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
        doc.write_text(rewrite(doc.read_text()))
        print(f"rewrote the generated tables of {doc}")
    else:
        for name, render in TABLES.items():
            print(marker(name))
            print(render())
            print()
