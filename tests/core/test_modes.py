"""Modes and settings (R-MOD-1..9) and locking (R-LCK-1..4)."""

from __future__ import annotations

import pytest
from core_env import Env

from ble_lock.core.errors import ErrorCode, InvalidInputError, StateError
from ble_lock.core.model import (
    BoltState,
    CredentialKind,
    Decision,
    DoorDirection,
    LockBody,
    Role,
    Trigger,
    UnlockMethod,
)


def test_r_mod_1_anti_lock_admins_only_from_outside(dl20: Env) -> None:
    """R-MOD-1 (DL20VC): anti-lock on + thumb-turn locked: only admins open from outside;
    inside operation is unaffected; off: everyone opens."""
    lock = dl20.lock
    dl20.user_with_pin("135790")
    lock.add_pin(dl20.admin, 1, "975310")
    lock.update_settings(dl20.admin, anti_lock=True)
    assert lock.enter_pin("135790").granted  # thumb-turn not locked yet
    lock.set_thumb_turn(True)
    assert lock.bolt is BoltState.LOCKED
    denied = lock.enter_pin("135790")
    assert denied.reason is ErrorCode.ANTI_LOCK
    assert lock.enter_pin("975310").granted  # admin
    lock.open_from_inside()
    assert lock.bolt is BoltState.UNLOCKED  # inside unaffected
    lock.update_settings(dl20.admin, anti_lock=False)
    assert lock.enter_pin("135790").granted


def test_r_mod_1_anti_lock_is_dl20vc_only(fp: Env) -> None:
    with pytest.raises(StateError) as info:
        fp.lock.update_settings(fp.admin, anti_lock=True)
    assert info.value.code is ErrorCode.UNSUPPORTED_BY_PROFILE


def test_r_mod_2_privacy_mode(fp: Env) -> None:
    """R-MOD-2 (face-palm): only admin credentials or the mechanical key unlock; muted."""
    lock = fp.lock
    bob = fp.user_with_pin("135790")
    bob_phone = fp.phone(bob, b"\x0b" * 32)
    lock.add_pin(fp.admin, 1, "975310")
    assert not lock.muted
    lock.update_settings(fp.admin, privacy_mode=True)
    assert lock.muted
    assert lock.enter_pin("135790").reason is ErrorCode.PRIVACY_MODE
    assert lock.unlock_bluetooth(bob_phone).reason is ErrorCode.PRIVACY_MODE
    assert lock.enter_pin("975310").granted
    assert lock.unlock_bluetooth(fp.admin).granted
    assert lock.mechanical_key().granted
    assert lock.lock_bluetooth(bob_phone).granted  # locking stays open to every user
    assert lock.bolt is BoltState.LOCKED


def test_r_mod_3_dual_auth_mode_only_affects_dual_auth_users(dl20: Env) -> None:
    """R-MOD-3 (DL20VC): the mode switches R-USR-8 on; normal users are unaffected."""
    assert not dl20.lock.settings.dual_auth_mode  # off by default
    dl20.user_with_pin("135790")
    dl20.user_with_pin("246801", role=Role.DUAL_AUTH)
    dl20.lock.update_settings(dl20.admin, dual_auth_mode=True)
    assert dl20.lock.enter_pin("135790").granted
    assert dl20.lock.enter_pin("246801").reason is ErrorCode.NO_CREDENTIALS


def test_r_mod_4_passage_mode_cancelled_by_pin_or_card(dl20: Env) -> None:
    """R-MOD-4: passage mode keeps the door unlocked; one PIN or card success cancels it
    (a fingerprint does not)."""
    lock, clock = dl20.lock, dl20.clock
    user = dl20.user_with_pin("135790")
    dl20.enrol(user, CredentialKind.FINGERPRINT, b"finger")
    lock.update_settings(dl20.admin, countdown_lock=True, countdown_s=5)
    assert not lock.settings.passage_mode  # default off
    lock.update_settings(dl20.admin, passage_mode=True)
    assert lock.bolt is BoltState.UNLOCKED
    clock.advance(60)
    lock.tick()
    assert lock.bolt is BoltState.UNLOCKED  # no countdown relock in passage mode
    lock.present_biometric(CredentialKind.FINGERPRINT, b"finger")
    assert lock.settings.passage_mode
    assert lock.enter_pin("135790").granted
    assert not lock.settings.passage_mode
    clock.advance(5)
    lock.tick()
    assert lock.bolt is BoltState.LOCKED  # normal behaviour again


def test_r_mod_5_active_card_detection(dl20: Env) -> None:
    """R-MOD-5 (DL20VC, default on): off means the keypad must be touched first."""
    lock = dl20.lock
    user = dl20.user()
    lock.add_card(dl20.admin, user.number, b"\xca\xfe\x00\x01", "482915",
                  card_code_confirm="482915")
    assert lock.settings.active_card_detection
    assert lock.tap_card(b"\xca\xfe\x00\x01").granted
    lock.update_settings(dl20.admin, active_card_detection=False)
    dl20.clock.advance(30)
    ignored = lock.tap_card(b"\xca\xfe\x00\x01")
    assert ignored.reason is ErrorCode.KEYPAD_ASLEEP
    assert lock.lockout_remaining() is None
    lock.touch_keypad()
    assert lock.tap_card(b"\xca\xfe\x00\x01").granted


def test_r_mod_6_volume_and_one_time_mute(fp: Env, dl20: Env) -> None:
    """R-MOD-6: prompt and doorbell volume; face-palm one-time mute lasts until sleep."""
    lock = fp.lock
    lock.update_settings(fp.admin, volume=4, doorbell_volume=1)
    assert (lock.settings.volume, lock.settings.doorbell_volume) == (4, 1)
    with pytest.raises(InvalidInputError):
        lock.update_settings(fp.admin, volume=6)
    lock.hold_zero()
    assert lock.muted
    fp.clock.advance(fp.lock.settings.keypad_sleep_s)
    lock.tick()
    assert not lock.muted
    lock.update_settings(fp.admin, volume=0)
    assert lock.muted
    with pytest.raises(StateError) as info:  # its class by the code (issue 13)
        dl20.lock.hold_zero()
    assert info.value.code is ErrorCode.UNSUPPORTED_BY_PROFILE


def test_r_mod_7_door_direction_body_language(fp: Env, dl20: Env) -> None:
    """R-MOD-7: door direction, lock body (6068 / 5085) and language (face-palm)."""
    new = fp.lock.update_settings(fp.admin, door_direction=DoorDirection.RIGHT,
                                  lock_body=5085, language="en")
    assert new.door_direction is DoorDirection.RIGHT
    assert new.lock_body is LockBody.BODY_5085
    assert new.language == "en"
    with pytest.raises(InvalidInputError):
        fp.lock.update_settings(fp.admin, language="xx")
    with pytest.raises(InvalidInputError):
        fp.lock.update_settings(fp.admin, lock_body=1234)
    with pytest.raises(InvalidInputError):
        fp.lock.update_settings(fp.admin, no_such_setting=1)
    dl20.lock.update_settings(dl20.admin, door_direction=DoorDirection.RIGHT)
    with pytest.raises(StateError):
        dl20.lock.update_settings(dl20.admin, language="en")


def test_r_mod_8_keypad_sleeps_after_20_seconds(fp: Env) -> None:
    """R-MOD-8: after about 20 s without input the keypad sleeps (the entry is lost)."""
    fp.user_with_pin("135790")
    lock = fp.lock
    for key in "135":
        lock.press_key(key)
    assert lock.keypad_awake
    assert lock.next_deadline() == fp.clock.now() + 20
    fp.clock.advance(20)
    lock.tick()
    assert not lock.keypad_awake
    for key in "790#":
        decision = lock.press_key(key)
    assert decision is not None
    assert not decision.granted  # "790" alone


def test_r_mod_9_face_palm_trigger(fp: Env) -> None:
    """R-MOD-9: automatic (on approach) or manual (touch the keypad first)."""
    lock = fp.lock
    user = fp.user()
    fp.enrol(user, CredentialKind.FACE, b"face")
    fp.enrol(user, CredentialKind.PALM, b"palm")
    fp.clock.advance(60)
    auto = lock.present_biometric(CredentialKind.FACE, b"face")
    assert isinstance(auto, Decision)
    assert auto.granted
    lock.update_settings(fp.admin, face_trigger=Trigger.MANUAL, palm_trigger=Trigger.MANUAL)
    fp.clock.advance(60)
    for kind, template in ((CredentialKind.FACE, b"face"), (CredentialKind.PALM, b"palm")):
        asleep = lock.present_biometric(kind, template)
        assert isinstance(asleep, Decision)
        assert asleep.reason is ErrorCode.KEYPAD_ASLEEP
        lock.touch_keypad()
        awake = lock.present_biometric(kind, template)
        assert isinstance(awake, Decision)
        assert awake.granted
        fp.clock.advance(60)


def test_r_lck_1_outside_confirm_key_locks_after_inside_open(env: Env) -> None:
    """R-LCK-1: after the door was opened from inside, ✓ lights; pressing it locks."""
    lock = env.lock
    assert lock.press_key("#") is None
    assert lock.bolt is BoltState.LOCKED
    lock.open_from_inside()
    assert lock.bolt is BoltState.UNLOCKED
    events = lock.read_events(limit=500).events
    assert events[-1].method is UnlockMethod.INSIDE
    lock.press_key("#")
    assert lock.bolt is BoltState.LOCKED


def test_r_lck_2_inside_button_locks(env: Env) -> None:
    """R-LCK-2: the electronic button on the back panel locks."""
    env.lock.mechanical_key()
    assert env.lock.bolt is BoltState.UNLOCKED
    env.lock.inside_button()
    assert env.lock.bolt is BoltState.LOCKED


def test_r_lck_3_countdown_lock(env: Env) -> None:
    """R-LCK-3: when enabled, the door locks when the countdown ends."""
    lock, clock = env.lock, env.clock
    env.user_with_pin("135790")
    lock.enter_pin("135790")
    clock.advance(600)
    lock.tick()
    assert lock.bolt is BoltState.UNLOCKED  # disabled: stays open
    lock.update_settings(env.admin, countdown_lock=True, countdown_s=15)
    lock.enter_pin("135790")
    assert lock.next_deadline() is not None
    clock.advance(14.9)
    lock.tick()
    assert lock.bolt is BoltState.UNLOCKED
    clock.advance(0.1)
    lock.tick()
    assert lock.bolt is BoltState.LOCKED


def test_r_lck_4_auto_lock_on_close_needs_sensor_body(fp: Env, dl20: Env) -> None:
    """R-LCK-4: auto-lock on close only with the 6068 body (door sensor)."""
    lock = fp.lock
    lock.update_settings(fp.admin, auto_lock_on_close=True)
    lock.mechanical_key()
    lock.door_opened()
    lock.door_closed()
    assert lock.bolt is BoltState.LOCKED
    lock.update_settings(fp.admin, lock_body=LockBody.BODY_5085)
    assert not lock.settings.auto_lock_on_close  # no sensor, no auto-lock
    with pytest.raises(StateError) as info:
        lock.update_settings(fp.admin, auto_lock_on_close=True)
    assert info.value.code is ErrorCode.UNSUPPORTED_BY_PROFILE
    lock.mechanical_key()
    lock.door_opened()
    lock.door_closed()
    assert lock.bolt is BoltState.UNLOCKED
    with pytest.raises(StateError):
        dl20.lock.update_settings(dl20.admin, auto_lock_on_close=True)
