"""Attack tests: roles, windows, revocation and modes are enforced inside the lock for
every opcode (DESIGN security: "nothing the central claims about itself is trusted")."""

from __future__ import annotations

import pytest

from ble_lock.core.clock import FakeClock, FakeRng
from ble_lock.core.errors import ErrorCode, LockError
from ble_lock.core.lock import Lock, provision
from ble_lock.core.model import Actor, EventKind, UnlockMethod
from ble_lock.core.profile import DL20VC, FACE_PALM
from ble_lock.core.store import MemoryStore
from ble_lock.lockapp.service import LockService
from ble_lock.testing import START
from ble_lock.testing.memory_lock import MemoryLock
from ble_lock.testing.phone import Phone, claimed_world, new_phone
from ble_lock.wire import messages as m
from ble_lock.wire.errors import RemoteProtocolError, UnknownPeerError
from tests.wire._samples import ADMIN_OPCODES, ADMIN_SAMPLES, SAMPLE_REQUESTS, USER_OPCODES


def _guest(world: MemoryLock, owner: Phone, *, validity: m.Validity = m.ALWAYS,
           schedules: tuple[m.Schedule, ...] = (), name: bytes = b"guest") -> tuple[Phone, int]:
    """A normal user holding a Bluetooth key on their own phone."""
    user = owner.call(m.UserAdd(role=m.Role.NORMAL, name="Gus", schedules=schedules),
                      m.UserInfo)
    invite = owner.call(m.KeyInvite(user_number=user.user_number, validity=validity), m.Invite)
    phone = new_phone(world, name)
    phone.redeem(invite)
    return phone, user.user_number


def _denied(phone: Phone, body: m.RequestBody) -> ErrorCode:
    with pytest.raises(LockError) as info:
        phone.call(body, type(body).RESPONSE)
    return info.value.code


def test_every_opcode_is_classified() -> None:
    assert set(m.Opcode) == USER_OPCODES | ADMIN_OPCODES
    assert {type(b) for b in SAMPLE_REQUESTS.values()} == set(SAMPLE_REQUESTS)
    assert {t.OPCODE for t in SAMPLE_REQUESTS} == set(m.Opcode)


@pytest.fixture(scope="module")
def guest_world() -> tuple[MemoryLock, Phone, Phone, int]:
    world, owner = claimed_world()
    guest, number = _guest(world, owner)
    return world, owner, guest, number


@pytest.mark.parametrize("body", ADMIN_SAMPLES, ids=lambda b: type(b).__name__)
def test_normal_user_is_denied_every_admin_command(
    guest_world: tuple[MemoryLock, Phone, Phone, int], body: m.RequestBody
) -> None:
    """R-USR-1: only an admin enters management — checked per command, inside the lock."""
    world, owner, guest, _ = guest_world
    before = (world.lock.list_users(owner_actor(owner)), world.lock.settings,
              len(world.lock.list_credentials(owner_actor(owner))))
    assert _denied(guest, body) is ErrorCode.PERMISSION_DENIED
    after = (world.lock.list_users(owner_actor(owner)), world.lock.settings,
             len(world.lock.list_credentials(owner_actor(owner))))
    assert after == before


def owner_actor(owner: Phone) -> Actor:
    return Actor.phone(owner.key.public)


def test_normal_user_sees_only_themself(guest_world: tuple[MemoryLock, Phone, Phone, int]) -> None:
    _, _, guest, number = guest_world
    assert guest.call(m.UserGet(user_number=number), m.UserInfo).name == "Gus"
    assert _denied(guest, m.UserGet(user_number=1)) is ErrorCode.PERMISSION_DENIED
    assert _denied(guest, m.CredentialList(user_number=1)) is ErrorCode.PERMISSION_DENIED
    own = guest.call(m.CredentialList(), m.CredentialPage)
    assert {c.user_number for c in own.credentials} == {number}


def test_guest_cannot_make_itself_admin(guest_world: tuple[MemoryLock, Phone, Phone, int]) -> None:
    """The August break: a guest edits its own role. Denied; the role is the lock's."""
    _, _, guest, number = guest_world
    code = _denied(guest, m.UserUpdate(user_number=number, role=m.Role.ADMIN))
    assert code is ErrorCode.PERMISSION_DENIED
    assert guest.call(m.WhoAmI(), m.UserInfo).role is m.Role.NORMAL


def test_guest_key_outside_its_window_is_denied() -> None:
    """R-USR-7 / R-APP-3: a Bluetooth key opens only inside its validity window."""
    world, owner = claimed_world()
    start = int(world.now)
    guest, _ = _guest(world, owner, validity=m.Validity(valid_from=start + 60,
                                                        valid_until=start + 3600))
    assert _denied(guest, m.Unlock()) is ErrorCode.KEY_EXPIRED  # not yet
    world.clock.advance(120)
    guest.call(m.Unlock(), m.Unlocked)
    guest.call(m.LockDoor(), m.Done)
    world.clock.advance(3600)
    assert _denied(guest, m.Unlock()) is ErrorCode.KEY_EXPIRED  # no longer
    assert world.lock.locked


def test_user_outside_weekday_schedule_is_denied() -> None:
    """R-USR-7 with a Matter week-day schedule: Mon-Fri 08:00-18:00 (UTC)."""
    world, owner = claimed_world()  # the clock starts on a Thursday at 00:00 UTC
    weekdays = m.Schedule(days_mask=0b0111110, start_minute=8 * 60, end_minute=18 * 60)
    guest, _ = _guest(world, owner, schedules=(weekdays,))
    assert _denied(guest, m.Unlock()) is ErrorCode.OUTSIDE_VALIDITY
    world.clock.advance(9 * 3600)
    assert guest.call(m.Unlock(), m.Unlocked).user_number > 1


def test_revoked_key_cannot_open_a_session() -> None:
    world, owner = claimed_world()
    guest, number = _guest(world, owner)
    keys = owner.call(m.KeyList(), m.CredentialPage).credentials
    key = next(k for k in keys if k.user_number == number)
    owner.call(m.KeyRevoke(credential_id=key.credential_id), m.Done)
    with pytest.raises(UnknownPeerError):
        guest.call(m.Unlock(), m.Unlocked)
    assert world.lock.locked
    listed = owner.call(m.KeyList(), m.CredentialPage).credentials
    assert next(k for k in listed if k.credential_id == key.credential_id).revoked


def test_refused_revoked_phone_is_logged_once_per_fresh_attempt() -> None:
    """R-APP-6: a revoked phone's attempt is in the event log (the handshake proved its
    key); a replay of that first message adds nothing (its counter is stale)."""
    world, owner = claimed_world()
    guest, number = _guest(world, owner)
    keys = owner.call(m.KeyList(), m.CredentialPage).credentials
    key = next(k for k in keys if k.user_number == number)
    owner.call(m.KeyRevoke(credential_id=key.credential_id), m.Done)
    link = guest.link()
    link.start(m.Unlock(), world.now)
    hs1 = link.data_to_send()
    for _ in range(2):  # the attempt, then a replay of its first message
        for frame in hs1:
            world.server.receive_data(frame, world.now)
        world.server.data_to_send()
    refused = [e for e in world.lock.read_events(limit=500).events
               if e.kind is EventKind.UNLOCK_FAILED and e.method is UnlockMethod.BLUETOOTH]
    assert [(e.user_number, e.reason, e.credential_id) for e in refused] == [
        (number, ErrorCode.KEY_REVOKED, key.credential_id)]
    assert world.lock.locked


def test_key_revoked_during_a_session_closes_it_at_once() -> None:
    world, owner = claimed_world()
    guest, number = _guest(world, owner)
    link = guest.link()
    link.start(None, world.now)
    world.run([link])
    keys = owner.call(m.KeyList(), m.CredentialPage).credentials
    cred = next(k.credential_id for k in keys if k.user_number == number)
    # the owner's revoke is served while the guest's session is open: the lock closes it
    owner_link = owner.link()
    rid = owner_link.start(m.KeyRevoke(credential_id=cred), world.now)
    assert rid is not None
    with pytest.raises(RemoteProtocolError) as info:
        world.run([owner_link, link])
    assert info.value.code is ErrorCode.KEY_REVOKED
    assert owner.app.result(rid, m.Done) == m.Done()
    assert world.lock.locked
    assert [s for s in world.server.endpoint.sessions()
            if getattr(s[1], "public_key", None) == guest.key.public] == []


def test_privacy_mode_admits_only_admins() -> None:
    """R-MOD-2 (face-palm)."""
    world, owner = claimed_world()
    guest, _ = _guest(world, owner)
    owner.call(m.SettingsSet(privacy_mode=True), m.LockSettings)
    assert _denied(guest, m.Unlock()) is ErrorCode.PRIVACY_MODE
    assert world.lock.locked
    owner.call(m.Unlock(), m.Unlocked)
    assert not world.lock.locked


def test_anti_lock_admits_only_admins_from_outside() -> None:
    """R-MOD-1 (DL20VC): anti-lock on and the thumb-turn locked."""
    world, owner = claimed_world(profile=DL20VC)
    guest, _ = _guest(world, owner)
    owner.call(m.SettingsSet(anti_lock=True), m.LockSettings)
    world.lock.set_thumb_turn(True)
    assert _denied(guest, m.Unlock()) is ErrorCode.ANTI_LOCK
    owner.call(m.Unlock(), m.Unlocked)
    assert not world.lock.locked


def test_retried_add_user_is_applied_once() -> None:
    """Idempotency: the answer is lost, the same request id is sent in a new session."""
    world, owner = claimed_world()
    request_id = owner.call_dropped(m.UserAdd(role=m.Role.NORMAL, name="Dan"))
    assert not owner.app.answered(request_id)
    first = [u for u in world.lock.list_users(owner_actor(owner)) if u.name == "Dan"]
    assert len(first) == 1  # applied by the first attempt
    again = owner.retry(request_id, m.UserInfo)
    assert again.user_number == first[0].number
    users = owner.call(m.UserList(), m.UserPage).users
    assert [u.name for u in users].count("Dan") == 1
    added = [e for e in world.lock.read_events(limit=500).events
             if e.kind is EventKind.USER_ADDED]
    assert len(added) == 1


def test_same_request_id_from_another_phone_is_not_confused() -> None:
    """Idempotency records are per actor: another admin's request is its own."""
    world, owner = claimed_world()
    invite = owner.call(m.KeyInvite(name="Bea", role=m.Role.ADMIN), m.Invite)
    bea = new_phone(world, b"bea")
    bea.redeem(invite)
    rid = owner.call_dropped(m.UserAdd(role=m.Role.NORMAL, name="Dan"))
    payload = owner.app.pending_payload(rid)
    other = bea.app  # bea sends the very same bytes (same request id) as her own
    other._pending[rid] = owner.app._pending[rid]
    link = bea.link()
    link.session.start(payload, world.now)
    world.run([link])
    assert other.result(rid, m.UserInfo).name == "Dan"
    names = [u.name for u in world.lock.list_users(owner_actor(owner))]
    assert names.count("Dan") == 2


@pytest.mark.parametrize("body", list(SAMPLE_REQUESTS.values()), ids=lambda b: type(b).__name__)
def test_an_admin_is_never_refused_for_its_role(body: m.RequestBody) -> None:
    """The other side of the role check: every opcode is open to a valid admin (it may
    still fail on its arguments, e.g. an unknown user, but never PERMISSION_DENIED)."""
    service, lock, _ = _admin_service()
    raw = m.encode(m.Request(request_id=bytes(8), body=body))
    resp = m.decode(service.handle(OWNER_KEY, raw))
    assert isinstance(resp, m.Response)
    assert resp.status != ErrorCode.PERMISSION_DENIED or isinstance(body, m.SyncStatementRelay)
    assert service.internal_errors == 0
    assert lock.claimed or isinstance(body, m.FactoryReset)


OWNER_KEY = bytes(range(1, 33))


def _admin_service() -> tuple[LockService, Lock, FakeClock]:
    clock = FakeClock(START)
    store = MemoryStore()
    provision(store, FakeRng(5), serial="BL0000000005")
    lock = Lock(store=store, profile=FACE_PALM, clock=clock, rng=FakeRng(6))
    lock.enter_pairing_mode()
    lock.claim(phone_key=OWNER_KEY)
    lock.add_user(Actor.phone(OWNER_KEY), name="Ann")
    return LockService(lock), lock, clock
