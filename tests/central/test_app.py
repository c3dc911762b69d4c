"""The sans-IO application client: request ids, matching, typed errors, pushes."""

from __future__ import annotations

import pytest

from ble_lock.central.app import AppClient, Failed, Pushed, Succeeded
from ble_lock.core.errors import CapacityError, ErrorCode, LockError
from ble_lock.wire import messages as m
from ble_lock.wire.security.crypto import DeterministicRng


def _client() -> AppClient:
    return AppClient(rng=DeterministicRng(b"client"))


def _resp(request_id: bytes, **kw: object) -> bytes:
    return m.encode(m.Response(request_id=request_id, **kw))  # type: ignore[arg-type]


def test_request_ids_are_fresh_and_the_payload_is_kept_for_a_retry() -> None:
    client = _client()
    ids = {client.request(m.Unlock())[0] for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == m.REQUEST_ID_SIZE for i in ids)
    rid, payload = client.request(m.UserDelete(user_number=4))
    assert client.pending_payload(rid) == payload
    assert m.decode(payload) == m.Request(request_id=rid, body=m.UserDelete(user_number=4))


def test_success_is_matched_to_its_request() -> None:
    client = _client()
    rid, _ = client.request(m.UserAdd(role=m.Role.NORMAL, name="Ann"))
    info = m.UserInfo(user_number=2, role=m.Role.NORMAL, name="Ann")
    events = client.receive(_resp(rid, opcode=m.Opcode.USER_ADD, body=info))
    assert events == [Succeeded(request_id=rid, body=info)]
    assert client.result(rid, m.UserInfo) == info
    assert rid not in client.pending


def test_error_response_raises_the_typed_lock_error() -> None:
    client = _client()
    rid, _ = client.request(m.PinAdd(user_number=2, pin="135790"))
    [event] = client.receive(_resp(rid, opcode=m.Opcode.PIN_ADD,
                                   status=int(ErrorCode.USER_LIMIT_REACHED), message="1 PIN"))
    assert isinstance(event, Failed)
    with pytest.raises(CapacityError) as info:
        client.result(rid, m.CredentialInfo)
    assert info.value.code is ErrorCode.USER_LIMIT_REACHED
    assert str(info.value) == "1 PIN"


def test_unknown_code_from_a_newer_lock_is_still_an_error() -> None:
    client = _client()
    rid, _ = client.request(m.Unlock())
    client.receive(_resp(rid, opcode=m.Opcode.UNLOCK, status=250, message="new"))
    with pytest.raises(LockError) as info:
        client.result(rid, m.Unlocked)
    assert info.value.code is ErrorCode.INTERNAL


def test_unmatched_and_duplicate_responses_are_dropped() -> None:
    client = _client()
    rid, _ = client.request(m.LockDoor())
    done = _resp(rid, opcode=m.Opcode.LOCK, body=m.Done())
    assert len(client.receive(done)) == 1
    assert client.receive(done) == []  # a late duplicate
    assert client.receive(_resp(bytes(8), opcode=m.Opcode.LOCK, body=m.Done())) == []
    assert client.unmatched_responses == 2


def test_response_for_another_opcode_is_a_protocol_error() -> None:
    client = _client()
    rid, _ = client.request(m.LockDoor())
    with pytest.raises(m.RemoteProtocolError):
        client.receive(_resp(rid, opcode=m.Opcode.UNLOCK, body=m.Unlocked(user_number=1)))


def test_pushes_and_garbage() -> None:
    client = _client()
    push = m.StateChanged(state=m.LockState.UNLOCKED, at_ms=5)
    assert client.receive(m.encode(m.PushedEvent(body=push))) == [Pushed(body=push)]
    with pytest.raises(m.RemoteProtocolError):
        client.receive(b"\x07garbage")
    with pytest.raises(m.RemoteProtocolError):
        client.receive(m.encode(m.Request(request_id=bytes(8), body=m.Unlock())))


def test_result_before_the_answer_is_a_key_error() -> None:
    client = _client()
    rid, _ = client.request(m.Unlock())
    with pytest.raises(KeyError):
        client.result(rid, m.Unlocked)
