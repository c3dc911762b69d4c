"""docs/protocol.md (## Messages, ## Errors) states what the code does: its tables are
the ones rendered from the message declarations and from ErrorCode (tests/wire/_msg_docs.py).
After a deliberate change (a new opcode, error code or enum value) run
``python -m tests.wire._msg_docs --write`` to refresh them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ble_lock.core.errors import ErrorCode
from ble_lock.wire import messages as m
from tests.wire._msg_docs import TABLES

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def _section(name: str) -> str:
    text = DOC.read_text()
    start = text.index(f"\n## {name}\n")
    end = text.find("\n## ", start + 1)
    return text[start: end if end != -1 else len(text)]


@pytest.mark.parametrize("table", sorted(TABLES))
def test_generated_tables_are_in_the_document(table: str) -> None:
    section = _section("Errors" if table == "errors" else "Messages")
    assert TABLES[table]() in section


def test_error_table_rows_match_error_codes() -> None:
    rows = re.findall(r"^\| (\d+) \| ([A-Z_]+) \|", _section("Errors"), re.M)
    assert [(int(n), name) for n, name in rows] == [(int(c), c.name) for c in ErrorCode]


def test_every_opcode_and_event_is_documented() -> None:
    section = _section("Messages")
    for op in m.Opcode:
        assert f"`0x{op:02x}` {op.name} |" in section
    for ev in m.EventType:
        assert f"`0x{ev:02x}` {ev.name} |" in section


def test_flows_cover_the_issue() -> None:
    flows = _section("Flows")
    for title in ("Unlock (one round trip)", "Add a user with a PIN", "Enrol a fingerprint",
                  "Bluetooth key: issue, redeem, revoke", "Sync unlock: link and statement"):
        assert f"### {title}" in flows
    assert "(written by the message-catalogue part)" not in DOC.read_text()
