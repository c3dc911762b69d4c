"""Issue 11: every way the door opens obeys every mode and factor (core level).

One test per item, citing the rule ids, on both profiles where they differ.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from core_env import START, Env, make_env

from ble_lock.core.clock import FakeRng
from ble_lock.core.errors import ErrorCode, LockError, StateError
from ble_lock.core.lock import Lock
from ble_lock.core.model import (
    Actor,
    BoltState,
    CredentialKind,
    EventKind,
    LockBody,
    Role,
    UnlockMethod,
    WeekdaySchedule,
)
from ble_lock.core.profile import DL20VC, FACE_PALM, Feature

PEER = b"\xa0\x00\x00\x01"
PEER_KEY = b"\x33" * 32
BOB_PHONE = b"\x0b" * 32


# -- item 1: R-USR-8 a dual-auth user's phone is one key of two


def test_r_usr_8_dual_auth_phone_alone_does_not_open(dl20: Env) -> None:
    """R-USR-8 / R-MOD-3 (DL20VC): the phone of a dual-auth user is one factor; alone it
    answers DUAL_AUTH_PENDING and the bolt stays locked, also when repeated."""
    lock, clock = dl20.lock, dl20.clock
    bob = dl20.user_with_pin("135790", role=Role.DUAL_AUTH)
    phone = dl20.phone(bob, BOB_PHONE)
    lock.update_settings(dl20.admin, dual_auth_mode=True)
    for _ in range(3):
        decision = lock.unlock_bluetooth(phone)
        assert not decision.granted
        assert decision.reason is ErrorCode.DUAL_AUTH_PENDING
        assert lock.bolt is BoltState.LOCKED
        clock.advance(1)
    # the second key at the door within the window opens: phone then PIN
    decision = lock.enter_pin("135790")
    assert decision.granted
    assert decision.method is UnlockMethod.DUAL_AUTH
    lock.inside_button()
    # PIN first, then the phone within the window
    assert lock.enter_pin("135790").reason is ErrorCode.DUAL_AUTH_PENDING
    clock.advance(DL20VC.dual_auth_window_s - 0.5)
    assert lock.unlock_bluetooth(phone).granted
    lock.inside_button()
    # too late: the window ended, the phone starts a new pair
    assert lock.enter_pin("135790").reason is ErrorCode.DUAL_AUTH_PENDING
    clock.advance(DL20VC.dual_auth_window_s)
    assert lock.unlock_bluetooth(phone).reason is ErrorCode.DUAL_AUTH_PENDING
    assert lock.bolt is BoltState.LOCKED


def test_r_usr_8_two_phones_never_make_a_pair(dl20: Env) -> None:
    """R-USR-8: one key of a pair is presented at the door; two phones of one user do
    not open, and a user whose only keys are phones never opens in dual-auth mode."""
    lock = dl20.lock
    bob = dl20.user(Role.DUAL_AUTH)
    first = dl20.phone(bob, BOB_PHONE)
    second = dl20.phone(bob, b"\x0c" * 32)
    lock.update_settings(dl20.admin, dual_auth_mode=True)
    assert lock.unlock_bluetooth(first).reason is ErrorCode.DUAL_AUTH_PENDING
    assert lock.unlock_bluetooth(second).reason is ErrorCode.DUAL_AUTH_PENDING
    assert lock.bolt is BoltState.LOCKED


def test_r_usr_8_dual_auth_user_with_one_key_is_refused(dl20: Env) -> None:
    """R-USR-8: a dual-auth user needs at least two keys; a phone alone -> NO_CREDENTIALS."""
    lock = dl20.lock
    bob = dl20.user(Role.DUAL_AUTH)
    phone = dl20.phone(bob, BOB_PHONE)
    lock.update_settings(dl20.admin, dual_auth_mode=True)
    assert lock.unlock_bluetooth(phone).reason is ErrorCode.NO_CREDENTIALS


@pytest.mark.parametrize("profile", [DL20VC, FACE_PALM], ids=lambda p: p.name)
def test_r_usr_8_phone_opens_for_users_outside_dual_auth(profile: object) -> None:
    """R-USR-8 is DL20VC only (R-MOD-3): elsewhere, and for normal users, a phone opens."""
    env = make_env(profile)  # type: ignore[arg-type]
    if env.profile.has(Feature.DUAL_AUTH):
        env.lock.update_settings(env.admin, dual_auth_mode=True)
    bob = env.user_with_pin("135790")
    assert env.lock.unlock_bluetooth(env.phone(bob, BOB_PHONE)).granted


# -- item 2: R-MOD-2 / R-MOD-1 with R-SYN-2


def _linked(env: Env) -> None:
    env.lock.link_lock(env.admin, PEER, PEER_KEY, confirm_s=0)
    env.lock.update_settings(env.admin, sync_unlock=True)


def test_r_mod_2_r_syn_2_privacy_refuses_sync_statement(fp: Env) -> None:
    """R-MOD-2 with R-SYN-2 (face-palm): privacy mode on B refuses a sync statement from
    A, whoever unlocked A (an admin included: the statement names nobody); logged on B."""
    lock = fp.lock
    _linked(fp)
    lock.update_settings(fp.admin, privacy_mode=True)
    lock.drain_notifications()
    decision = lock.apply_sync_statement(PEER)
    assert not decision.granted
    assert decision.reason is ErrorCode.PRIVACY_MODE
    assert lock.bolt is BoltState.LOCKED
    failed = [e for e in lock.drain_notifications() if e.kind is EventKind.UNLOCK_FAILED]
    assert [e.method for e in failed] == [UnlockMethod.SYNC]
    lock.update_settings(fp.admin, privacy_mode=False)
    assert lock.apply_sync_statement(PEER).granted


def test_r_mod_1_r_syn_2_anti_lock_refuses_sync_statement() -> None:
    """R-MOD-1 with R-SYN-2: with anti-lock on and the thumb-turn locked, a sync
    statement does not open (a profile with both features: DL20VC has anti-lock,
    face-palm sync unlock)."""
    both = replace(FACE_PALM, name="anti-lock-sync",
                   features=FACE_PALM.features | {Feature.ANTI_LOCK})
    env = make_env(both)
    lock = env.lock
    _linked(env)
    lock.update_settings(env.admin, anti_lock=True)
    lock.set_thumb_turn(True)
    assert lock.apply_sync_statement(PEER).reason is ErrorCode.ANTI_LOCK
    assert lock.bolt is BoltState.LOCKED
    lock.set_thumb_turn(False)  # inside unlocked: anti-lock no longer applies
    assert lock.apply_sync_statement(PEER).granted


# -- item 3: R-MOD-4 with R-SYN-3


def test_r_mod_4_r_syn_3_passage_survives_the_sync_window(fp: Env) -> None:
    """R-MOD-4 with R-SYN-3 (face-palm): a sync statement on B in passage mode, then the
    window ends with the door closed: B stays open and in passage mode."""
    lock, clock = fp.lock, fp.clock
    _linked(fp)
    lock.update_settings(fp.admin, passage_mode=True)
    assert lock.apply_sync_statement(PEER).granted
    clock.advance(fp.lock.settings.sync_window_s + 1)
    lock.tick()
    assert lock.bolt is BoltState.UNLOCKED
    assert lock.settings.passage_mode
    assert EventKind.SYNC_RELOCK not in fp.kinds()
    # passage enabled during a running window: the end of the window holds too
    lock.update_settings(fp.admin, passage_mode=False)
    lock.inside_button()
    assert lock.apply_sync_statement(PEER).granted
    lock.update_settings(fp.admin, passage_mode=True)
    clock.advance(fp.lock.settings.sync_window_s + 1)
    lock.tick()
    assert lock.bolt is BoltState.UNLOCKED


# -- item 4: R-MOD-4 with R-LCK-2


def test_r_mod_4_r_lck_2_inside_button_ends_passage_and_survives_restart(env: Env) -> None:
    """R-MOD-4 with R-LCK-2 (both profiles): the inside button in passage mode locks AND
    ends passage mode; after a restart (battery swap) the door stays locked."""
    lock = env.lock
    lock.update_settings(env.admin, passage_mode=True)
    assert lock.bolt is BoltState.UNLOCKED
    lock.inside_button()
    assert lock.bolt is BoltState.LOCKED
    assert not lock.settings.passage_mode
    again = Lock(store=env.store, profile=env.profile, clock=env.clock, rng=FakeRng(7))
    assert again.bolt is BoltState.LOCKED
    assert not again.settings.passage_mode


def test_r_mod_4_passage_still_holds_across_restart(env: Env) -> None:
    """R-MOD-4: passage mode that was not ended keeps the door open after a restart."""
    env.lock.update_settings(env.admin, passage_mode=True)
    again = Lock(store=env.store, profile=env.profile, clock=env.clock, rng=FakeRng(7))
    assert again.bolt is BoltState.UNLOCKED


# -- item 5: R-LCK-4


def test_r_lck_4_auto_lock_defaults_on_with_the_sensor_body(fp: Env) -> None:
    """R-LCK-4 (face-palm): with the 6068 body the door locks after it closes by
    default; the default follows the body; the app can still switch it."""
    lock = fp.lock
    assert lock.settings.lock_body is LockBody.BODY_6068
    assert lock.settings.auto_lock_on_close
    lock.mechanical_key()
    lock.door_opened()
    lock.door_closed()
    assert lock.bolt is BoltState.LOCKED
    lock.update_settings(fp.admin, lock_body=LockBody.BODY_5085)
    assert not lock.settings.auto_lock_on_close
    lock.update_settings(fp.admin, lock_body=LockBody.BODY_6068)
    assert lock.settings.auto_lock_on_close  # follows the body back
    lock.update_settings(fp.admin, auto_lock_on_close=False)  # the app switches it off
    lock.mechanical_key()
    lock.door_opened()
    lock.door_closed()
    assert lock.bolt is BoltState.UNLOCKED


def test_r_lck_4_no_door_sensor_setting_on_dl20vc(dl20: Env) -> None:
    """R-LCK-4: DL20VC has no sensor lock body setting: closing never locks."""
    lock = dl20.lock
    lock.mechanical_key()
    lock.door_opened()
    lock.door_closed()
    assert lock.bolt is BoltState.UNLOCKED
    with pytest.raises(StateError):
        lock.update_settings(dl20.admin, auto_lock_on_close=False)


# -- item 6: R-USR-1 menu with fingerprint, PIN or card


def test_r_usr_1_master_enters_menu_with_fingerprint_pin_or_card(dl20: Env) -> None:
    """R-USR-1 (DL20VC): "使用主用户的指纹、密码或感应卡验证成功后，即可进入主菜单"."""
    lock, admin = dl20.lock, dl20.admin
    lock.add_pin(admin, 1, "975310")
    me = lock.get_user(admin, 1)
    dl20.enrol(me, CredentialKind.FINGERPRINT, b"master-finger")
    lock.add_card(admin, 1, b"\x01\x02\x03\x04", "482915", card_code_confirm="482915")
    assert lock.panel_admin_login("975310") == Actor.panel(1)
    assert lock.panel_admin_login(fingerprint=b"master-finger") == Actor.panel(1)
    assert lock.panel_admin_login(card=b"\x01\x02\x03\x04") == Actor.panel(1)
    # a normal user's card is refused and counts toward the lockout (R-SEC-1)
    bob = dl20.user()
    lock.add_card(admin, bob.number, b"\x0b\x0b", "482915")
    for _ in range(DL20VC.lockout_failures):
        assert lock.panel_admin_login(card=b"\x0b\x0b") is None
    assert lock.lockout_remaining() is not None
    assert lock.panel_admin_login("975310") is None  # locked out


def test_r_usr_1_menu_login_checks_validity_and_kind(fp: Env) -> None:
    """R-USR-1 with R-USR-7: an admin outside validity does not enter the menu; face-palm
    has no card reader."""
    lock = fp.lock
    other = fp.user_with_pin("975310", role=Role.ADMIN,
                             schedules=(WeekdaySchedule(days_mask=0x02, start_minute=0,
                                                        end_minute=60),))
    assert other.number == 2
    assert lock.panel_admin_login("975310") is None  # START is a Sunday afternoon
    with pytest.raises(LockError) as info:
        lock.panel_admin_login(card=b"\x01")
    assert info.value.code is ErrorCode.UNSUPPORTED_BY_PROFILE


# -- item 7: R-USR-4


def test_r_usr_4_last_admin_validity_cannot_end(env: Env) -> None:
    """R-USR-4 (both profiles): the last admin whose validity never ends cannot get an
    end, a start in the future or a schedule; with another such admin, they can."""
    lock, admin = env.lock, env.admin
    for change in ({"valid_until": START + 3600}, {"valid_from": START + 3600},
                   {"schedules": (WeekdaySchedule(days_mask=1, start_minute=0,
                                                  end_minute=60),)}):
        with pytest.raises(LockError) as info:
            lock.update_user(admin, 1, **change)  # type: ignore[arg-type]
        assert info.value.code is ErrorCode.LAST_ADMIN
    assert lock.get_user(admin, 1).valid_until is None
    second = env.user(Role.ADMIN, valid_until=START + 60)
    with pytest.raises(LockError):  # the other admin's validity ends too
        lock.update_user(admin, 1, valid_until=START + 3600)
    lock.update_user(admin, second.number, valid_until=None)
    lock.update_user(admin, 1, valid_until=START + 3600)
    # and now the second one is the admin who can always manage: it cannot go
    with pytest.raises(LockError) as info:
        lock.delete_user(admin, second.number)
    assert info.value.code is ErrorCode.LAST_ADMIN
    env.clock.advance(7200)  # admin 1's window ended; admin 2 still manages
    assert lock.list_users(Actor.panel(second.number))
