"""The lock-side service: garbage in -> error response out, pushes, sync statements."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ble_lock.core.clock import FakeClock, FakeRng
from ble_lock.core.errors import ErrorCode, LockError, PermissionDeniedError
from ble_lock.core.lock import Lock, provision
from ble_lock.core.model import Actor, CredentialKind, EnrolmentState, EventKind
from ble_lock.core.profile import FACE_PALM
from ble_lock.core.store import MemoryStore
from ble_lock.lockapp.service import LockService
from ble_lock.lockapp.sync import FRESH_MS, SyncStatements
from ble_lock.testing import START
from ble_lock.testing.phone import claimed_world, new_phone
from ble_lock.wire import messages as m
from ble_lock.wire.security.crypto import DeterministicRng, KeyPair
from tests.wire._msg_strategies import request_strategy

OWNER = bytes(range(1, 33))
GUEST = bytes(range(2, 34))
RID = bytes.fromhex("a1a2a3a4a5a6a7a8")
FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _service(seed: int = 3, *, lock_id: bytes = b"\x10\xc4\xed\x01"
             ) -> tuple[LockService, Lock, FakeClock]:
    clock = FakeClock(START)
    store = MemoryStore()
    provision(store, FakeRng(seed), serial=f"BL{seed:010d}")
    lock = Lock(store=store, profile=FACE_PALM, clock=clock, rng=FakeRng(seed + 1))
    lock.enter_pairing_mode()
    lock.claim(phone_key=OWNER)
    return LockService(lock), lock, clock


def _answer(service: LockService, payload: bytes, key: bytes = OWNER) -> m.Response:
    out = m.decode(service.handle(key, payload))
    assert isinstance(out, m.Response)
    return out


@given(st.binary(max_size=200))
@FUZZ
def test_garbage_gets_an_error_response(data: bytes) -> None:
    service, _, _ = _service()
    resp = _answer(service, data)
    try:
        m.decode_request(data)
    except m.BadMessageError as exc:
        expected: int | None = exc.code
    else:
        expected = None  # a valid request by chance: the core decides
    if expected is not None:
        assert resp.status == expected
        assert 60 <= resp.status <= 79
    assert service.internal_errors == 0


@given(request_strategy(), st.data())
@FUZZ
def test_mutated_and_valid_requests_never_raise(req: m.Request, data: st.DataObject) -> None:
    """h11's contract at the service: whatever an (authenticated) phone sends, the lock
    answers with a response — success or a stable code — and never hits a bug."""
    service, _, _ = _service()
    raw = bytearray(m.encode(req))
    if data.draw(st.booleans()):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] ^= data.draw(st.integers(1, 255))
    resp = _answer(service, bytes(raw), key=data.draw(st.sampled_from([OWNER, GUEST])))
    assert service.internal_errors == 0
    if not resp.ok:
        assert resp.status != ErrorCode.INTERNAL


def test_unknown_opcode_is_answered_with_its_request_id() -> None:
    service, _, _ = _service()
    resp = _answer(service, b"\x01" + RID + b"\xee")
    assert (resp.request_id, resp.status, resp.opcode) == (RID, ErrorCode.UNKNOWN_MESSAGE, None)


def test_malformed_body_is_answered_with_opcode_and_request_id() -> None:
    service, _, _ = _service()
    raw = m.encode(m.Request(request_id=RID, body=m.UserDelete(user_number=2)))
    resp = _answer(service, raw + b"junk")
    assert (resp.request_id, resp.opcode, resp.status) == (
        RID, m.Opcode.USER_DELETE, ErrorCode.PROTOCOL_ERROR)


def test_a_response_is_not_accepted_as_a_request() -> None:
    service, _, _ = _service()
    raw = m.encode(m.Response(request_id=RID, opcode=m.Opcode.UNLOCK,
                              body=m.Unlocked(user_number=1)))
    assert _answer(service, raw).status == ErrorCode.UNKNOWN_MESSAGE


def test_core_errors_keep_their_stable_code() -> None:
    service, _, _ = _service()
    raw = m.encode(m.Request(request_id=RID, body=m.PinAdd(user_number=1, pin="123456")))
    resp = _answer(service, raw)
    assert resp.status == ErrorCode.WEAK_PIN  # R-PIN-2 (face-palm)
    assert resp.opcode is m.Opcode.PIN_ADD
    raw = m.encode(m.Request(request_id=RID, body=m.UserDelete(user_number=9)))
    assert _answer(service, raw).status == ErrorCode.UNKNOWN_USER


def test_unknown_phone_is_denied_everything() -> None:
    service, lock, _ = _service()
    raw = m.encode(m.Request(request_id=RID, body=m.Unlock()))
    assert _answer(service, raw, key=GUEST).status == ErrorCode.UNKNOWN_KEY
    assert lock.locked


def test_lockout_denial_carries_the_time_left() -> None:
    """R-SEC-1: five wrong PINs lock the system; a phone unlock is refused meanwhile."""
    service, lock, _ = _service()
    for _ in range(5):
        assert not lock.enter_pin("999999").granted
    resp = _answer(service, m.encode(m.Request(request_id=RID, body=m.Unlock())))
    assert resp.status == ErrorCode.LOCKED_OUT
    assert "retry in 18" in resp.message
    lift = m.encode(m.Request(request_id=RID[::-1], body=m.LockoutLift()))
    assert _answer(service, lift).ok
    assert _answer(service, m.encode(m.Request(request_id=RID, body=m.Unlock()))).ok


def test_alarms_and_enrolment_steps_go_to_admins_only() -> None:
    """R-APP-6 pushes; R-CRD-4 enrolment progress driven by the app, captured at the lock."""
    service, lock, _ = _service()
    owner = Actor.phone(OWNER)
    user = lock.add_user(owner, name="Gus")
    issued = lock.issue_invite(owner, user_number=user.number)
    lock.redeem_invite(issued.invite_id, GUEST)
    service.drain_pushes()
    begin = m.encode(m.Request(request_id=RID, body=m.EnrolBegin(
        user_number=user.number, kind=CredentialKind.FACE)))
    started = _answer(service, begin).body
    assert isinstance(started, m.Enrolment)
    assert started.state is EnrolmentState.CAPTURING
    for step in ("straight", "up", "down", "left", "right"):
        lock.present_biometric(CredentialKind.FACE, b"face-template-1", step=step)
    lock.tamper()
    pushes = service.drain_pushes()
    steps = [p.event for p in pushes if isinstance(p.event, m.EnrolStep)]
    assert steps
    final = steps[-1].enrolment
    assert final.state is EnrolmentState.DONE
    assert final.credential_id is not None
    alarms = [p for p in pushes if isinstance(p.event, m.Alarm)]
    assert [a.event.record.kind for a in alarms if isinstance(a.event, m.Alarm)] == [
        EventKind.TAMPER_ALARM]
    for push in pushes:
        assert service.may_receive(OWNER, push)
        assert not service.may_receive(GUEST, push)  # all admin-only here
    assert not service.may_receive(bytes(32), pushes[0])


# ------------------------------------------------------------------ sync unlock


def _linked_pair(confirm_s: tuple[int, int] = (0, 0)
                 ) -> tuple[tuple[LockService, Lock, FakeClock, SyncStatements],
                            tuple[LockService, Lock, FakeClock, SyncStatements]]:
    """Locks A and B linked both ways; ``confirm_s``: each side's countdown (0: the link
    is confirmed by the admin's session, R-SYN-1)."""
    rng = DeterministicRng(b"sync")
    out = []
    keys = [KeyPair.generate(rng), KeyPair.generate(rng)]
    ids = [b"\x10\x00\x00\x0a", b"\x10\x00\x00\x0b"]
    for i in range(2):
        _, lock, clock = _service(seed=10 + i, lock_id=ids[i])
        sync = SyncStatements(lock, lock_id=ids[i], static_key=keys[i], rng=rng)
        service = LockService(lock, make_statement=sync.make, verify_statement=sync.verify)
        owner = Actor.phone(OWNER)
        lock.link_lock(owner, ids[1 - i], keys[1 - i].public, window_s=10,
                       confirm_s=confirm_s[i])
        lock.update_settings(owner, sync_unlock=True)
        out.append((service, lock, clock, sync))
    return out[0], out[1]


def test_sync_statement_opens_the_linked_lock_once() -> None:
    """R-SYN-2/3: A unlocked from outside -> its statement, relayed, opens B; a replay of
    the same statement does nothing (DESIGN: fresh, authenticated, logged on both)."""
    (svc_a, lock_a, _, _), (svc_b, lock_b, _, _) = _linked_pair()
    lock_a.drain_notifications()
    assert _answer(svc_a, m.encode(m.Request(request_id=RID, body=m.Unlock()))).ok
    statements = [p.event for p in svc_a.drain_pushes() if isinstance(p.event, m.SyncStatement)]
    assert len(statements) == 1
    relay = m.encode(m.Request(request_id=RID, body=m.SyncStatementRelay(
        statement=statements[0])))
    assert lock_b.locked
    assert _answer(svc_b, relay).ok
    assert not lock_b.locked
    assert any(e.kind is EventKind.SYNC_UNLOCK or e.method is not None
               for e in lock_b.read_events(limit=500).events)
    lock_b.inside_button()
    again = m.encode(m.Request(request_id=RID[::-1], body=m.SyncStatementRelay(
        statement=statements[0])))
    assert _answer(svc_b, again).status == ErrorCode.REPLAY
    assert lock_b.locked


def _list_links(service: LockService) -> tuple[m.SyncLinkInfo, ...]:
    answer = _answer(service, m.encode(m.Request(request_id=RID, body=m.SyncLinkList())))
    assert isinstance(answer.body, m.SyncLinks)
    return answer.body.links


def test_r_syn_1_pending_link_on_the_wire_refuses_statements_until_confirmed() -> None:
    """R-SYN-1 over the protocol: SYNC_LINK_SET with a countdown leaves B's link pending
    (SYNC_LINK_LIST: pending, seconds left); A's authentic statement is refused with
    LINK_PENDING and opens nothing; B makes no statement; an admin PIN at door B
    confirms (confirmed_by), after which A's statements open B."""
    (svc_a, lock_a, _, sync_a), (svc_b, lock_b, clock_b, sync_b) = _linked_pair((0, 60))
    set_b = m.SyncLinkSet(peer_lock_id=b"\x10\x00\x00\x0a", peer_public_key=bytes(32),
                          window_s=10, confirm_s=5)
    assert _answer(svc_b, m.encode(m.Request(request_id=RID[::-1], body=set_b))).status \
        == ErrorCode.INVALID_ARGUMENT  # countdown out of bounds (10..300)
    clock_b.advance(15.2)
    (info,) = _list_links(svc_b)
    assert (info.pending, info.confirm_left_s, info.confirmed_by) == (True, 45, None)
    (info_a,) = _list_links(svc_a)
    assert (info_a.pending, info_a.confirm_left_s) == (False, 0)
    statement = sync_a.make(b"\x10\x00\x00\x0b")
    assert statement is not None
    relay = m.encode(m.Request(request_id=RID, body=m.SyncStatementRelay(statement=statement)))
    assert _answer(svc_b, relay).status == ErrorCode.LINK_PENDING
    assert lock_b.locked
    assert sync_b.make(b"\x10\x00\x00\x0a") is None  # a pending link speaks for nothing
    owner = Actor.phone(OWNER)
    admin = lock_b.add_user(owner, name="admin at B", role=m.Role.ADMIN)
    lock_b.add_pin(owner, admin.number, "246813")
    assert lock_b.enter_pin("246813").granted
    lock_b.inside_button()
    (info,) = _list_links(svc_b)
    assert (info.pending, info.confirm_left_s, info.confirmed_by) == (False, 0, admin.number)
    fresh = sync_a.make(b"\x10\x00\x00\x0b")
    assert fresh is not None
    relay = m.encode(m.Request(request_id=RID[::-1], body=m.SyncStatementRelay(statement=fresh)))
    assert _answer(svc_b, relay).ok
    assert not lock_b.locked
    assert lock_a.locked


def test_forged_stale_or_misaddressed_statements_are_refused() -> None:
    (svc_a, _, _, sync_a), (svc_b, lock_b, clock_b, _) = _linked_pair()
    good = sync_a.make(b"\x10\x00\x00\x0b")
    assert good is not None

    def relay(st_: m.SyncStatement) -> int:
        raw = m.encode(m.Request(request_id=RID, body=m.SyncStatementRelay(statement=st_)))
        return _answer(svc_b, raw).status

    forged = dataclasses.replace(good, proof=bytes(32))
    assert relay(forged) == ErrorCode.PERMISSION_DENIED
    moved = dataclasses.replace(good, at_ms=good.at_ms + 1)
    assert relay(moved) == ErrorCode.PERMISSION_DENIED
    elsewhere = dataclasses.replace(good, target_lock_id=b"\x10\x00\x00\x0c")
    assert relay(elsewhere) == ErrorCode.PERMISSION_DENIED
    clock_b.advance(FRESH_MS / 1000 + 1)
    assert relay(good) == ErrorCode.REPLAY
    assert lock_b.locked
    # the lock that made it cannot be fooled by its own statement either
    raw = m.encode(m.Request(request_id=RID, body=m.SyncStatementRelay(statement=good)))
    assert _answer(svc_a, raw).status == ErrorCode.PERMISSION_DENIED


def test_statement_relay_needs_a_valid_user_of_the_target_lock() -> None:
    (_, _, _, sync_a), (svc_b, lock_b, _, _) = _linked_pair()
    good = sync_a.make(b"\x10\x00\x00\x0b")
    assert good is not None
    raw = m.encode(m.Request(request_id=RID, body=m.SyncStatementRelay(statement=good)))
    assert _answer(svc_b, raw, key=GUEST).status == ErrorCode.UNKNOWN_KEY
    assert lock_b.locked


def test_service_over_the_transport_answers_a_denial_in_the_handshake() -> None:
    """The unlock request rides in the first message; its denial comes back in HS2."""
    world, owner = claimed_world()
    invite = owner.call(m.KeyInvite(name="Gus"), m.Invite)
    guest = new_phone(world, b"gus")
    guest.redeem(invite)
    owner.call(m.SettingsSet(privacy_mode=True), m.LockSettings)
    with pytest.raises(PermissionDeniedError) as info:
        guest.call(m.Unlock(), m.Unlocked)
    assert info.value.code is ErrorCode.PRIVACY_MODE
    with pytest.raises(LockError):
        guest.call(m.FactoryReset(), m.Done)
    assert world.lock.claimed
