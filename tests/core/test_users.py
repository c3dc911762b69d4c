"""Users and roles: R-USR-1..8."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from core_env import ADMIN_KEY, START, Env

from ble_lock.core.errors import (
    ConflictError,
    ErrorCode,
    LockError,
    NotFoundError,
    PermissionDeniedError,
    StateError,
)
from ble_lock.core.model import Actor, CredentialKind, Role, UnlockMethod, WeekdaySchedule
from ble_lock.core.profile import DL20VC, FACE_PALM

PHONE2 = b"\x02" * 32


def test_r_usr_1_normal_user_cannot_manage(env: Env) -> None:
    """R-USR-1: only an admin enters management; a normal user can only unlock."""
    bob = env.user_with_pin("135790")
    bob_phone = env.phone(bob, PHONE2)
    lock = env.lock
    calls: list[Callable[[], object]] = [
        lambda: lock.add_user(bob_phone, name="x"),
        lambda: lock.delete_user(bob_phone, 1),
        lambda: lock.update_user(bob_phone, bob.number, role=Role.ADMIN),
        lambda: lock.add_pin(bob_phone, bob.number, "246813"),
        lambda: lock.list_users(bob_phone),
        lambda: lock.update_settings(bob_phone, volume=1),
        lambda: lock.factory_reset(bob_phone),
        lambda: lock.issue_invite(bob_phone, user_number=bob.number),
        lambda: lock.clear_credentials(bob_phone, CredentialKind.PIN),
        lambda: lock.events(bob_phone),
        lambda: lock.set_time(bob_phone, START),
        lambda: lock.list_keys(bob_phone),
    ]
    for call in calls:
        with pytest.raises(PermissionDeniedError) as info:
            call()
        assert info.value.code is ErrorCode.PERMISSION_DENIED
    assert lock.whoami(bob_phone).role is Role.NORMAL  # nothing above changed the role
    assert lock.enter_pin("135790").granted
    assert lock.unlock_bluetooth(bob_phone).granted


def test_r_usr_1_unknown_phone_is_nobody(env: Env) -> None:
    with pytest.raises(NotFoundError) as info:
        env.lock.list_users(Actor.phone(b"\x77" * 32))
    assert info.value.code is ErrorCode.UNKNOWN_KEY


@pytest.mark.parametrize("profile", [DL20VC, FACE_PALM], ids=lambda p: p.name)
def test_r_usr_2_first_admin_on_factory_fresh_lock(env_factory: Callable[..., Env],
                                                   profile: object) -> None:
    """R-USR-2: the first admin is created without authentication, once."""
    fresh = env_factory(profile, claim=False)
    lock = fresh.lock
    assert not lock.claimed
    if profile is FACE_PALM:  # R-APP-1: the QR code is shown in pairing mode only
        with pytest.raises(StateError) as info:
            lock.claim(phone_key=ADMIN_KEY)
        assert info.value.code is ErrorCode.NOT_IN_PAIRING_MODE
        lock.press_set_button()
    owner = lock.claim(phone_key=ADMIN_KEY, name="owner")
    assert (owner.number, owner.role) == (1, Role.ADMIN)
    assert lock.claimed
    with pytest.raises(ConflictError) as again:
        lock.claim(phone_key=PHONE2)
    assert again.value.code is ErrorCode.ALREADY_CLAIMED
    with pytest.raises(ConflictError):
        lock.claim_at_panel("135790", "135790")


def test_r_usr_2_claim_at_panel_with_pin_twice(env_factory: Callable[..., Env]) -> None:
    """R-USR-2 (face-palm): ✓ then a 6-10 digit PIN entered twice makes admin 001."""
    lock = env_factory(FACE_PALM, claim=False).lock
    with pytest.raises(LockError) as info:
        lock.claim_at_panel("135790", "135791")
    assert info.value.code is ErrorCode.PIN_MISMATCH
    assert not lock.claimed
    admin = lock.claim_at_panel("135790", "135790")
    assert admin.number == 1
    assert admin.role is Role.ADMIN
    assert lock.panel_admin_login("135790") == Actor.panel(1)


def test_r_usr_2_claim_is_idempotent_per_request(env_factory: Callable[..., Env]) -> None:
    lock = env_factory(DL20VC, claim=False).lock
    first = lock.claim(phone_key=ADMIN_KEY, request_id=b"claim-1")
    assert lock.claim(phone_key=ADMIN_KEY, request_id=b"claim-1") == first
    assert len(lock.list_users(Actor.phone(ADMIN_KEY))) == 1


def test_r_usr_3_numbers_and_keypad_shows_user(env: Env) -> None:
    """R-USR-3: users are numbered 001...; a verification reports the user number."""
    a, b, c = env.user(), env.user(), env.user()
    assert [a.number, b.number, c.number] == [2, 3, 4]
    env.lock.delete_user(env.admin, b.number)
    assert env.user().number == 3  # the lowest free number is reused
    env.lock.add_pin(env.admin, c.number, "135790")
    decision = env.lock.enter_pin("135790")
    assert decision.granted
    assert decision.user_number == c.number


def test_r_usr_4_last_admin_cannot_go(env: Env) -> None:
    """R-USR-4: the last admin can neither be deleted nor demoted."""
    lock = env.lock
    for call in (lambda: lock.delete_user(env.admin, 1),
                 lambda: lock.update_user(env.admin, 1, role=Role.NORMAL)):
        with pytest.raises(PermissionDeniedError) as info:
            call()
        assert info.value.code is ErrorCode.LAST_ADMIN
    second = env.user(Role.ADMIN, name="second")
    second_phone = env.phone(second, PHONE2)
    lock.update_user(second_phone, 1, role=Role.NORMAL)  # two admins: fine
    with pytest.raises(PermissionDeniedError) as info2:
        lock.update_user(second_phone, second.number, role=Role.NORMAL)
    assert info2.value.code is ErrorCode.LAST_ADMIN
    assert lock.list_users(second_phone)[1].role is Role.ADMIN
    assert lock.list_users(second_phone)[0].role is Role.NORMAL


def test_r_usr_5_logged_in_user_cannot_delete_self(env: Env) -> None:
    """R-USR-5: the user logged in to management cannot deregister themself."""
    lock = env.lock
    second = env.user(Role.ADMIN)
    for call in (lambda: lock.delete_user(env.admin, 1),
                 lambda: lock.update_user(env.admin, 1, role=Role.NORMAL)):
        with pytest.raises(PermissionDeniedError) as info:
            call()
        assert info.value.code is ErrorCode.SELF_DELETE
    lock.add_pin(env.admin, second.number, "975310")
    panel = lock.panel_admin_login("975310")
    assert panel == Actor.panel(second.number)
    with pytest.raises(PermissionDeniedError) as info2:
        lock.delete_user(panel, second.number)
    assert info2.value.code is ErrorCode.SELF_DELETE
    lock.delete_user(panel, 1)  # another admin: allowed, second remains
    assert [u.number for u in lock.list_users(panel)] == [second.number]


def test_r_usr_6_user_without_method_cannot_unlock(env: Env) -> None:
    """R-USR-6: a user unlocks only after at least one method is set."""
    bob = env.user()
    assert env.lock.list_credentials(env.admin, bob.number) == []
    assert env.lock.enter_pin("135790").reason is ErrorCode.NO_MATCH
    env.lock.add_pin(env.admin, bob.number, "135790")
    assert env.lock.enter_pin("135790").user_number == bob.number


def test_r_usr_7_validity_window(env: Env) -> None:
    """R-USR-7: outside the validity period credentials do not open; the app updates it."""
    bob = env.user_with_pin("135790", valid_from=START + 100, valid_until=START + 200)
    lock = env.lock
    early = lock.enter_pin("135790")
    assert not early.granted
    assert early.reason is ErrorCode.OUTSIDE_VALIDITY
    env.clock.advance(100)
    assert lock.enter_pin("135790").granted
    env.clock.advance(100)
    assert lock.enter_pin("135790").reason is ErrorCode.OUTSIDE_VALIDITY
    lock.update_user(env.admin, bob.number, valid_until=START + 1000)
    assert lock.enter_pin("135790").granted
    lock.update_user(env.admin, bob.number, valid_until=None)
    env.clock.advance(10**6)
    assert lock.enter_pin("135790").granted
    with pytest.raises(LockError) as info:
        lock.update_user(env.admin, bob.number, valid_from=START + 5, valid_until=START + 5)
    assert info.value.code is ErrorCode.INVALID_SCHEDULE


def test_r_usr_7_validity_also_bounds_bluetooth_and_management(env: Env) -> None:
    bob = env.user(Role.ADMIN, valid_until=START + 50)
    phone = env.phone(bob, PHONE2)
    assert env.lock.unlock_bluetooth(phone).granted
    env.clock.advance(50)
    assert env.lock.unlock_bluetooth(phone).reason is ErrorCode.OUTSIDE_VALIDITY
    with pytest.raises(PermissionDeniedError) as info:
        env.lock.list_users(phone)
    assert info.value.code is ErrorCode.OUTSIDE_VALIDITY


def test_r_usr_7_weekday_schedule(env: Env) -> None:
    """R-USR-7 with Matter's week-day schedule: days mask (bit 0 = Sunday) + minutes."""
    # START is Thursday 00:00 UTC. Allow Fridays 09:00-17:00 only.
    friday_office = WeekdaySchedule(days_mask=0b10_0000, start_minute=9 * 60,
                                    end_minute=17 * 60)
    env.user_with_pin("135790", schedules=(friday_office,))
    assert env.lock.enter_pin("135790").reason is ErrorCode.OUTSIDE_VALIDITY  # Thursday
    env.clock.advance(33 * 3600 + 6 * 60)  # Friday 09:06
    assert env.lock.enter_pin("135790").granted
    env.clock.advance(8 * 3600)  # Friday 17:06
    assert env.lock.enter_pin("135790").reason is ErrorCode.OUTSIDE_VALIDITY
    # The lock's time zone moves local time: UTC+1 makes 16:06 UTC Friday 17:06 local.
    env.clock.advance(-3600)
    assert env.lock.enter_pin("135790").granted
    env.lock.update_settings(env.admin, utc_offset_min=60)
    assert env.lock.enter_pin("135790").reason is ErrorCode.OUTSIDE_VALIDITY


def test_r_usr_7_bad_schedule_is_typed_error(env: Env) -> None:
    for bad in (WeekdaySchedule(days_mask=0, start_minute=0, end_minute=10),
                WeekdaySchedule(days_mask=1, start_minute=600, end_minute=600),
                WeekdaySchedule(days_mask=1, start_minute=0, end_minute=1441)):
        with pytest.raises(LockError) as info:
            env.user(schedules=(bad,))
        assert info.value.code is ErrorCode.INVALID_SCHEDULE


def test_r_usr_8_dual_auth_two_different_keys(dl20: Env) -> None:
    """R-USR-8 (DL20VC, dual-auth mode on): two different electronic keys are needed."""
    lock = dl20.lock
    lock.update_settings(dl20.admin, dual_auth_mode=True)
    carol = dl20.user_with_pin("135790", role=Role.DUAL_AUTH)
    only_one = lock.enter_pin("135790")
    assert not only_one.granted
    assert only_one.reason is ErrorCode.NO_CREDENTIALS
    dl20.enrol(carol, CredentialKind.FINGERPRINT, b"carol-finger-1")
    first = lock.enter_pin("135790")
    assert not first.granted
    assert first.reason is ErrorCode.DUAL_AUTH_PENDING
    again = lock.enter_pin("135790")  # the same key twice is not two keys
    assert again.reason is ErrorCode.DUAL_AUTH_PENDING
    second = lock.present_biometric(CredentialKind.FINGERPRINT, b"carol-finger-1")
    assert second.granted
    assert second.method is UnlockMethod.DUAL_AUTH
    # The second key must follow within the window.
    lock.inside_button()
    assert lock.enter_pin("135790").reason is ErrorCode.DUAL_AUTH_PENDING
    dl20.clock.advance(DL20VC.dual_auth_window_s)
    late = lock.present_biometric(CredentialKind.FINGERPRINT, b"carol-finger-1")
    assert late.reason is ErrorCode.DUAL_AUTH_PENDING
    # Mode off: one key opens.
    lock.update_settings(dl20.admin, dual_auth_mode=False)
    assert lock.enter_pin("135790").granted


def test_r_usr_8_dual_auth_is_dl20vc_only(fp: Env) -> None:
    with pytest.raises(StateError) as info:
        fp.user(Role.DUAL_AUTH)
    assert info.value.code is ErrorCode.UNSUPPORTED_BY_PROFILE
    with pytest.raises(StateError):
        fp.lock.update_settings(fp.admin, dual_auth_mode=True)


def test_unknown_user_is_typed_error(env: Env) -> None:
    for call in (lambda: env.lock.delete_user(env.admin, 99),
                 lambda: env.lock.add_pin(env.admin, 99, "135790"),
                 lambda: env.lock.update_user(env.admin, 99, name="x"),
                 lambda: env.lock.get_user(env.admin, 99)):
        with pytest.raises(NotFoundError) as info:
            call()
        assert info.value.code is ErrorCode.UNKNOWN_USER


def test_user_capacity_full(env_factory: Callable[..., Env]) -> None:
    small = env_factory(DL20VC.custom(name="tiny", max_users=3))
    small.user()
    small.user()
    with pytest.raises(LockError) as info:
        small.user()
    assert info.value.code is ErrorCode.CAPACITY_FULL


def test_bad_name_rejected(env: Env) -> None:
    with pytest.raises(LockError) as info:
        env.user(name="x" * 33)
    assert info.value.code is ErrorCode.INVALID_ARGUMENT
