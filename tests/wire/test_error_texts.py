"""Error texts a lock sends for a malformed request name the field and our own reason,
never the parser's internals (``docs/protocol.md``, "Errors": construct's "Error in
path (parsing) -> ...", exception class names, stream details), and they echo the request
id and the opcode the lock could read (## Messages)."""

from __future__ import annotations

import re

from ble_lock.core.errors import ErrorCode
from ble_lock.testing.phone import claimed_world
from ble_lock.wire import messages as m

from ._msg_strategies import REQUEST_TYPES, typical_body

RID = bytes(range(1, 9))
# <Body>: [<field>(.<field>)*: ]<reason>, where the reason is one of ours.
SAFE = re.compile(
    r"(envelope|[A-Z][A-Za-z]+): (?:[a-z_]+(?:\.[a-z_]+)*: )?"
    r"(truncated|trailing bytes|malformed|invalid value|invalid UTF-8|expected decimal digits"
    r"|boolean must be 0 or 1, got \d+|unknown [A-Z][A-Za-z]+ \d+|need \d+\.\.\d+ bytes"
    r"|at most \d+ items)")
INTERNALS = ("Error in path", "(parsing)", "(building)", "->", "Error", "stream", "struct")


def _mutations(data: bytes) -> list[bytes]:
    head = 10  # kind, request id, opcode: keep them, so the body is what fails
    out = [data[:n] for n in range(head, len(data))]
    out += [data + b"\x00", data + b"\xff\xff"]
    out += [data[:i] + bytes([v]) + data[i + 1:] for i in range(head, len(data))
            for v in (0x02, 0x80, 0xFF)]
    return out


def test_malformed_requests_get_field_and_reason_but_no_parser_internals() -> None:
    world, owner = claimed_world()
    service = world.server.service
    seen = 0
    for cls in REQUEST_TYPES:
        data = m.encode(m.Request(request_id=RID, body=typical_body(cls)))
        for bad in _mutations(data):
            try:
                m.decode_request(bad)
            except m.BadMessageError:
                pass
            else:
                continue  # the mutation still parses: not an error case
            reply = m.decode_from_lock(service.handle(owner.key.public, bad))
            assert isinstance(reply, m.Response)
            assert reply.status != 0
            assert reply.request_id == RID  # echoed (## Messages)
            assert reply.opcode is cls.OPCODE
            assert SAFE.fullmatch(reply.message), reply.message
            assert not any(s in reply.message for s in INTERNALS), reply.message
            seen += 1
    assert seen > 500


def test_oversize_and_unreadable_requests_echo_what_could_be_read() -> None:
    world, owner = claimed_world()
    service = world.server.service
    big = m.encode(m.Request(request_id=RID, body=m.Unlock())) + bytes(m.MAX_MESSAGE_SIZE)
    reply = m.decode_from_lock(service.handle(owner.key.public, big))
    assert isinstance(reply, m.Response)
    assert reply.status == ErrorCode.MESSAGE_TOO_LARGE
    assert (reply.request_id, reply.opcode) == (RID, m.Opcode.UNLOCK)  # header still read
    not_request = bytes([3]) + bytes(m.MAX_MESSAGE_SIZE)
    reply = m.decode_from_lock(service.handle(owner.key.public, not_request))
    assert isinstance(reply, m.Response)
    assert (reply.status, reply.request_id, reply.opcode) == (ErrorCode.MESSAGE_TOO_LARGE,
                                                              bytes(8), None)
    unknown = bytes([1]) + RID + bytes([0xEE])
    reply = m.decode_from_lock(service.handle(owner.key.public, unknown))
    assert isinstance(reply, m.Response)
    assert (reply.status, reply.request_id, reply.opcode) == (ErrorCode.UNKNOWN_MESSAGE, RID, None)
    short = bytes([1]) + RID[:3]
    reply = m.decode_from_lock(service.handle(owner.key.public, short))
    assert isinstance(reply, m.Response)
    assert (reply.status, reply.request_id, reply.opcode) == (ErrorCode.PROTOCOL_ERROR,
                                                              bytes(8), None)
    assert SAFE.fullmatch(reply.message), reply.message
