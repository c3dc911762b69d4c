"""Pairing attempts have their own limiter (issue 10 item 2; DESIGN "nobody in radio
range can shut the lock down", "online guessing is bounded"; R-SEC-1 per path).

Strangers' PAIR1s, bogus or abandoned, never lock out the keypad, sensors, cards or
Bluetooth keys; the guessing bound for setup and invite codes still holds: at most
``lockout_failures`` guesses, then pairing alone is refused for ``lockout_duration_s``.
"""

from __future__ import annotations

import pytest

from ble_lock.central.app import claim_pairing, invite_pairing
from ble_lock.core.errors import ErrorCode
from ble_lock.core.model import Actor, CredentialKind, Decision, EventKind
from ble_lock.core.profile import DL20VC, FACE_PALM, Profile
from ble_lock.core.rules.lockout import InputPath
from ble_lock.testing.memory_lock import MemoryLock
from ble_lock.testing.phone import LOCK_ID, Phone, claimed_world, make_world, new_phone
from ble_lock.wire import messages as m
from ble_lock.wire.errors import PairingError

CARD = b"\x04\x03\x02\x01"
FINGER = b"finger of the owner"


def _bogus(world: MemoryLock, thief: Phone, attempt: int, invite_id: int) -> ErrorCode:
    """One stranger's pairing attempt: an unknown invite id, or a wrong invite code."""
    target = invite_id if attempt % 2 else 40_000 + attempt
    p = invite_pairing(lock_id=LOCK_ID, invite_id=target, code=f"{attempt:010d}",
                       phone=thief.key, rng=world.rng)
    p.start(world.now)
    with pytest.raises(PairingError) as info:
        world.run([p])
    return info.value.code


def _guesses(world: MemoryLock) -> int:
    return sum(e.kind is EventKind.AUTH_FAILED
               for e in world.lock.read_events(limit=500).events)


def _credentials(world: MemoryLock, owner: Phone) -> tuple[Phone, int]:
    lock, admin = world.lock, Actor.phone(owner.key.public)
    user = lock.add_user(admin, name="ann")
    lock.add_pin(admin, user.number, "135790")
    if lock.profile.supports(CredentialKind.CARD):
        lock.add_card(admin, user.number, CARD, card_code="246810",
                      card_code_confirm="246810")
    lock.begin_enrolment(admin, user.number, CredentialKind.FINGERPRINT)
    for step in lock.profile.enrol_steps[CredentialKind.FINGERPRINT]:
        lock.present_biometric(CredentialKind.FINGERPRINT, FINGER, step=step)
    guest = new_phone(world, b"guest")
    guest.redeem(owner.call(m.KeyInvite(name="guest"), m.Invite))
    return guest, user.number


def _every_credential_works(world: MemoryLock, guest: Phone) -> None:
    lock = world.lock
    assert lock.enter_pin("135790").granted
    if lock.profile.supports(CredentialKind.CARD):
        assert lock.tap_card(CARD).granted
    finger = lock.present_biometric(CredentialKind.FINGERPRINT, FINGER)
    assert isinstance(finger, Decision)
    assert finger.granted, finger
    assert guest.call(m.Unlock(), m.Unlocked).user_number > 1  # denied: raises


@pytest.mark.parametrize("profile", [DL20VC, FACE_PALM], ids=lambda p: p.name)
def test_100_bogus_pairing_attempts_leave_every_credential_working(profile: Profile) -> None:
    """100 strangers' attempts (unknown invite ids, wrong invite codes) over ten minutes:
    PIN, card, fingerprint and Bluetooth key keep working all along (R-SEC-1 is per
    path), while pairing guesses stay bounded by the pairing limiter."""
    world, owner = claimed_world(profile=profile)
    guest, _ = _credentials(world, owner)
    invite = owner.call(m.KeyInvite(name="later"), m.Invite)
    thief = new_phone(world, b"thief")
    start, outcomes = world.now, []
    for attempt in range(100):
        outcomes.append(_bogus(world, thief, attempt, invite.invite_id))
        if attempt % 10 == 9:
            _every_credential_works(world, guest)
        world.clock.advance(6)
    assert world.lock.lockout_remaining() is None  # no system lockout, ever
    assert EventKind.LOCKOUT in [e.kind for e in world.lock.read_events(limit=500).events]
    # The bound: at most 5 guesses per 3 minutes of refusal (plus the first run).
    elapsed = world.now - start
    limit = profile.lockout_failures * (int(elapsed // profile.lockout_duration_s) + 1)
    assert 5 <= _guesses(world) <= limit
    assert set(outcomes) == {ErrorCode.PAIRING_FAILED, ErrorCode.LOCKED_OUT}
    assert outcomes[:5] == [ErrorCode.PAIRING_FAILED] * 5
    assert outcomes[5] is ErrorCode.LOCKED_OUT  # the 6th guess is not even tried


def test_pairing_limiter_refuses_even_the_right_invite_code_then_recovers() -> None:
    """The guessing bound holds: after five wrong invite codes the right one is refused
    (LOCKED_OUT) for 3 minutes, while the guest's Bluetooth key still unlocks."""
    world, owner = claimed_world()
    guest, _ = _credentials(world, owner)
    invite = owner.call(m.KeyInvite(name="newcomer"), m.Invite)
    thief = new_phone(world, b"thief")
    for attempt in range(1, 10, 2):  # odd: the real invite id, a wrong code
        assert _bogus(world, thief, attempt, invite.invite_id) is ErrorCode.PAIRING_FAILED
    assert world.lock.lockout_remaining(InputPath.PAIRING) == 180.0
    _every_credential_works(world, guest)
    newcomer = new_phone(world, b"newcomer")
    with pytest.raises(PairingError) as info:
        newcomer.redeem(invite)
    assert info.value.code is ErrorCode.LOCKED_OUT
    world.clock.advance(180)
    newcomer.redeem(invite)
    assert newcomer.call(m.WhoAmI(), m.UserInfo).name == "newcomer"


def test_wrong_setup_codes_are_bounded_and_lock_nothing_else() -> None:
    """Setup-code guessing on a factory-fresh lock (R-APP-1, R-USR-2) is bounded by the
    pairing limiter; the lock claims with the right code once the limiter ends."""
    world = make_world(profile=DL20VC)
    thief = new_phone(world, b"thief")
    codes = []
    for attempt in range(7):
        p = claim_pairing(lock_id=LOCK_ID, setup_code=f"{attempt:010d}", phone=thief.key,
                          rng=world.rng)
        p.start(world.now)
        with pytest.raises(PairingError) as info:
            world.run([p])
        codes.append(info.value.code)
    assert codes == [ErrorCode.PAIRING_FAILED] * 5 + [ErrorCode.LOCKED_OUT] * 2
    assert world.lock.lockout_remaining() is None
    assert world.lock.enter_pin("000000").reason is ErrorCode.NO_MATCH  # not LOCKED_OUT
    world.clock.advance(180)
    owner = new_phone(world, b"owner")
    owner.claim()
    assert world.lock.claimed


def test_the_app_switch_leaves_the_pairing_limiter_on() -> None:
    """R-SEC-1 (face-palm): switching the lockout off is about the manual's lockout; the
    pairing limiter (the code-guessing bound) stays on. Lifting the lockout lifts both."""
    world, owner = claimed_world()
    admin = Actor.phone(owner.key.public)
    world.lock.update_settings(admin, lockout_enabled=False)
    invite = owner.call(m.KeyInvite(name="g"), m.Invite)
    thief = new_phone(world, b"thief")
    for attempt in range(1, 10, 2):
        _bogus(world, thief, attempt, invite.invite_id)
    assert world.lock.lockout_remaining(InputPath.PAIRING) == 180.0
    world.lock.lift_lockout(admin)
    assert world.lock.lockout_remaining(InputPath.PAIRING) is None
    new_phone(world, b"g").redeem(invite)
