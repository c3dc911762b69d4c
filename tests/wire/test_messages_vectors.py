"""Message test vectors (tests/vectors/messages.json): every request, a success
response for every opcode, an error response and every pushed event, as bytes and as
fields, so that another implementation can check its codec against ours; and how a
setup or invite code becomes the code given to CPace ("codes").

Regenerate after a deliberate change of the catalogue:
``.venv/bin/python -m tests.wire.test_messages_vectors``.
"""

from __future__ import annotations

import dataclasses
import json
from enum import Enum
from pathlib import Path
from typing import Any

import pytest

from ble_lock.core.errors import ErrorCode
from ble_lock.core.hashing import derive_code_secret, invite_context, setup_context
from ble_lock.lockapp.directory import (
    invite_transport_code,
    setup_transport_code,
    transport_code,
)
from ble_lock.wire import messages as m
from tests.wire._msg_strategies import EVENT_TYPES, typical_body
from tests.wire._samples import SAMPLE_REQUESTS

PATH = Path(__file__).resolve().parents[1] / "vectors" / "messages.json"
RID = bytes.fromhex("0001020304050607")


# The vectors name a message by its envelope kind (request, response, event), which is
# the class name except for the pushed event record.
_VECTOR_TYPE_NAMES = {m.PushedEvent: "Event"}


def jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = _VECTOR_TYPE_NAMES.get(type(value), type(value).__name__)
        out: dict[str, Any] = {"type": name}
        for f in dataclasses.fields(value):
            out[f.name] = jsonable(getattr(value, f.name))
        return out
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    return value


def _messages() -> list[tuple[str, m.Message]]:
    out: list[tuple[str, m.Message]] = []
    for cls, body in sorted(SAMPLE_REQUESTS.items(), key=lambda kv: kv[0].OPCODE):
        out.append((f"request {cls.OPCODE.name}", m.Request(request_id=RID, body=body)))
        out.append((f"response {cls.OPCODE.name}", m.Response(
            request_id=RID, opcode=cls.OPCODE, body=typical_body(cls.RESPONSE))))
    out.append(("response error PERMISSION_DENIED", m.Response(
        request_id=RID, opcode=m.Opcode.USER_ADD, status=int(ErrorCode.PERMISSION_DENIED),
        message="admin only")))
    out.append(("response error UNKNOWN_MESSAGE", m.Response(
        request_id=RID, opcode=None, status=int(ErrorCode.UNKNOWN_MESSAGE),
        message="unknown opcode 0xee")))
    for cls in EVENT_TYPES:
        out.append((f"event {cls.EVENT.name}", m.PushedEvent(body=typical_body(cls))))
    return out


def _codes() -> list[dict[str, Any]]:
    """How a setup or invite code becomes the code CPace uses (docs ## Flows)."""
    setup = ("4711081542", "setup code, lock id 10c4ed01", setup_context(bytes.fromhex("10c4ed01")))
    invite = ("8301927465", "invite code, invite id 7", invite_context(7))
    out = []
    for code, what, context in (setup, invite):
        secret = derive_code_secret(code, context)
        out.append({"what": what, "code": code, "context": context.hex(),
                    "derived_secret": secret.hex(), "transport_code": transport_code(secret)})
    assert out[0]["transport_code"] == setup_transport_code(setup[0], bytes.fromhex("10c4ed01"))
    assert out[1]["transport_code"] == invite_transport_code(7, invite[0])
    return out


def generate() -> dict[str, Any]:
    return {
        "codes": _codes(),
        "description": "ble-lock application messages (docs/protocol.md ## Messages): "
                       "hex = the plaintext of one secure-session message",
        "max_message_size": m.MAX_MESSAGE_SIZE,
        "vectors": [
            {"name": name, "hex": m.encode(msg).hex(), "message": jsonable(msg)}
            for name, msg in _messages()
        ],
    }


def test_committed_vectors_match_the_code() -> None:
    assert json.loads(PATH.read_text()) == json.loads(json.dumps(generate()))


def _committed() -> list[dict[str, Any]]:
    # A missing file fails test_committed_vectors_match_the_code; here it only must not
    # break the module import (the generator below writes the file).
    if not PATH.exists():
        return []
    vectors: list[dict[str, Any]] = json.loads(PATH.read_text())["vectors"]
    return vectors


@pytest.mark.parametrize("vector", _committed(), ids=lambda v: v["name"])
def test_vector_decodes_to_its_fields_and_back(vector: dict[str, Any]) -> None:
    data = bytes.fromhex(vector["hex"])
    decoded = m.decode(data)
    assert jsonable(decoded) == vector["message"]
    assert m.encode(decoded) == data


def test_vectors_cover_every_opcode_and_event() -> None:
    names = {v["name"] for v in generate()["vectors"]}
    for op in m.Opcode:
        assert f"request {op.name}" in names
        assert f"response {op.name}" in names
    for ev in m.EventType:
        assert f"event {ev.name}" in names


if __name__ == "__main__":
    PATH.write_text(json.dumps(generate(), indent=1) + "\n")
    print(f"wrote {PATH}")
