"""The whole story in memory: real core, real transport, real service, no BLE, no mocks.

Claim a fresh lock, add a second admin phone, add a user with a PIN, issue a Bluetooth
key and redeem it from a third phone, unlock and lock, read events.
"""

from __future__ import annotations

import pytest

from ble_lock.core.errors import ErrorCode, PermissionDeniedError
from ble_lock.core.model import EventKind, UnlockMethod
from ble_lock.core.profile import DL20VC
from ble_lock.lockapp.directory import invite_transport_code, setup_transport_code
from ble_lock.testing.memory_lock import MemoryLock
from ble_lock.testing.phone import LOCK_ID, Phone, claimed_world, new_phone
from ble_lock.wire import messages as m


@pytest.fixture(params=[23, 247], ids=["mtu23", "mtu247"])
def story(request: pytest.FixtureRequest) -> tuple[MemoryLock, Phone, Phone, Phone, int]:
    world, owner = claimed_world(mtu=request.param)
    # a second admin phone: an invite for a new admin user, redeemed by the phone
    invite = owner.call(m.KeyInvite(name="Bea", role=m.Role.ADMIN), m.Invite)
    bea = new_phone(world, b"bea")
    bea.redeem(invite)
    # a user with a PIN, added by the second admin
    carl = bea.call(m.UserAdd(role=m.Role.NORMAL, name="Carl"), m.UserInfo)
    bea.call(m.PinAdd(user_number=carl.user_number, pin="135790"), m.CredentialInfo)
    # a Bluetooth key for Carl, redeemed from a third phone
    key_invite = owner.call(m.KeyInvite(user_number=carl.user_number), m.Invite)
    guest = new_phone(world, b"guest")
    guest.redeem(key_invite)
    return world, owner, bea, guest, carl.user_number


def test_claim_makes_the_first_admin(story: tuple[MemoryLock, Phone, Phone, Phone, int]) -> None:
    """R-USR-2: the phone that proves the setup code becomes user 1, admin."""
    _, owner, _, _, _ = story
    me = owner.call(m.WhoAmI(), m.UserInfo)
    assert (me.user_number, me.role) == (1, m.Role.ADMIN)


def test_second_admin_phone_acts_as_admin(
        story: tuple[MemoryLock, Phone, Phone, Phone, int]) -> None:
    _, _, bea, _, _ = story
    me = bea.call(m.WhoAmI(), m.UserInfo)
    assert (me.name, me.role) == ("Bea", m.Role.ADMIN)
    users = bea.call(m.UserList(), m.UserPage)
    assert [u.name for u in users.users] == ["admin", "Bea", "Carl"]


def test_an_admin_enrols_a_second_phone_of_their_own(
    story: tuple[MemoryLock, Phone, Phone, Phone, int],
) -> None:
    """Enrol more phones = an invite for an existing admin user (here the owner, user 1)."""
    world, owner, _, _, _ = story
    invite = owner.call(m.KeyInvite(user_number=1), m.Invite)
    tablet = new_phone(world, b"owner tablet")
    tablet.redeem(invite)
    me = tablet.call(m.WhoAmI(), m.UserInfo)
    assert (me.user_number, me.role) == (1, m.Role.ADMIN)
    keys = tablet.call(m.KeyList(), m.CredentialPage).credentials
    assert [k.user_number for k in keys].count(1) == 2


def test_user_pin_opens_at_the_keypad(story: tuple[MemoryLock, Phone, Phone, Phone, int]) -> None:
    world, _, _, _, carl = story
    decision = world.lock.enter_pin("135790")
    assert decision.granted
    assert decision.user_number == carl


def test_guest_key_unlocks_and_locks_in_one_round_trip(
    story: tuple[MemoryLock, Phone, Phone, Phone, int],
) -> None:
    world, _owner, _, guest, carl = story
    assert world.lock.locked
    unlocked = guest.call(m.Unlock(), m.Unlocked)
    assert unlocked.user_number == carl
    assert not world.lock.locked
    guest.call(m.LockDoor(), m.Done)
    assert world.lock.locked
    # the guest is a normal user: management is refused inside the lock
    with pytest.raises(PermissionDeniedError) as info:
        guest.call(m.UserList(), m.UserPage)
    assert info.value.code is ErrorCode.PERMISSION_DENIED


def test_events_are_read_back_in_pages(story: tuple[MemoryLock, Phone, Phone, Phone, int]) -> None:
    _world, owner, _, guest, carl = story
    guest.call(m.Unlock(), m.Unlocked)
    guest.call(m.LockDoor(), m.Done)
    records: list[m.EventRecord] = []
    after = 0
    while True:
        page = owner.call(m.EventsGet(after=after), m.EventPage)
        records.extend(page.events)
        after = page.next_cursor
        if not page.more:
            break
    seqs = [r.seq for r in records]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    kinds = [r.kind for r in records]
    assert EventKind.CLAIMED in kinds
    assert EventKind.USER_ADDED in kinds
    unlock = [r for r in records if r.kind is EventKind.UNLOCK][-1]
    assert (unlock.user_number, unlock.method) == (carl, UnlockMethod.BLUETOOTH)
    assert records[-1].kind is EventKind.LOCKED


def test_connected_admin_hears_a_keypad_unlock(
    story: tuple[MemoryLock, Phone, Phone, Phone, int],
) -> None:
    """R-APP-6: state changes are pushed to the phones that hold a session."""
    world, owner, _, _, carl = story
    link = owner.link()
    link.start(None, world.now)
    world.run([link])
    assert world.lock.enter_pin("135790").granted
    world.flush_pushes()
    got = world.run([link])[id(link)]
    pushed = [e.body for e in got if hasattr(e, "body") and isinstance(e.body, m.StateChanged)]
    assert pushed
    assert pushed[-1].state is m.LockState.UNLOCKED
    assert pushed[-1].user_number == carl
    assert pushed[-1].method is UnlockMethod.PIN


def test_recorded_traffic_holds_no_secret_in_clear(
    story: tuple[MemoryLock, Phone, Phone, Phone, int],
) -> None:
    """DESIGN security: no PIN, card code, setup code, invite code or key on the air."""
    world, owner, _, guest, _carl = story
    secret_invite = owner.call(m.KeyInvite(name="Dora"), m.Invite)
    guest.call(m.Unlock(), m.Unlocked)
    visitor = owner.call(m.VisitorSecretGet(), m.VisitorSecret)
    air = b"".join(world.transcript)
    secrets = [
        b"135790",
        world.factory.setup_code.encode(),
        secret_invite.code.encode(),
        visitor.secret,
        world.key.private_bytes(),
        owner.key.private_bytes(),
        guest.key.private_bytes(),
        # what the codes become on the lock and in CPace must not be on the air either
        setup_transport_code(world.factory.setup_code, LOCK_ID).encode(),
        invite_transport_code(secret_invite.invite_id, secret_invite.code).encode(),
    ]
    for s in secrets:
        assert s not in air


def test_card_code_and_uid_never_travel_in_clear() -> None:
    """R-CRD-5 over the air (DL20VC has cards): the card code and UID are sealed."""
    world, owner = claimed_world(profile=DL20VC)
    carl = owner.call(m.UserAdd(role=m.Role.NORMAL, name="Carl"), m.UserInfo)
    uid = b"\xca\xfe\xf0\x0d\x42"
    card = owner.call(m.CardAdd(user_number=carl.user_number, card_uid=uid,
                                card_code="864209"), m.CredentialInfo)
    assert card.kind is m.CredentialKind.CARD
    assert world.lock.tap_card(uid).granted
    air = b"".join(world.transcript)
    assert b"864209" not in air
    assert uid not in air


def test_unlock_by_a_paired_phone_is_one_round_trip(
    story: tuple[MemoryLock, Phone, Phone, Phone, int],
) -> None:
    """DESIGN performance anchor: subscribed -> unlocked in one application round trip,
    the request riding in the handshake's first message, through the real service."""
    world, _, _, guest, carl = story
    link = guest.link()
    request_id = link.start(m.Unlock(), world.now)
    assert request_id is not None
    before = world.round_trips
    world.run([link])
    assert world.round_trips - before == 1
    assert guest.app.result(request_id, m.Unlocked).user_number == carl
    assert not world.lock.locked
