"""Security behaviour: R-SEC-1..5."""

from __future__ import annotations

import pytest
from core_env import ADMIN_KEY, Env, make_env

from ble_lock.core.errors import ErrorCode, InvalidInputError, StateError
from ble_lock.core.model import (
    ALARM_KINDS,
    Actor,
    CredentialKind,
    Decision,
    EventKind,
    Settings,
)
from ble_lock.core.store import codec


def test_r_sec_1_five_failures_lock_for_three_minutes(env: Env) -> None:
    """R-SEC-1: 5 consecutive failures within 5 minutes lock for 3 minutes, with the
    time left reported; the windows are exact."""
    env.user_with_pin("135790")
    lock, clock = env.lock, env.clock
    for i in range(4):
        decision = lock.enter_pin("000000")
        assert decision.reason is ErrorCode.NO_MATCH
        assert decision.retry_after is None, i
        clock.advance(10)
    fifth = lock.enter_pin("000000")
    assert fifth.reason is ErrorCode.NO_MATCH
    assert fifth.retry_after == 180.0
    assert EventKind.LOCKOUT in [e.kind for e in lock.drain_notifications()]
    clock.advance(179.5)
    blocked = lock.enter_pin("135790")  # even the right PIN
    assert blocked.reason is ErrorCode.LOCKED_OUT
    assert blocked.retry_after == pytest.approx(0.5)
    assert lock.lockout_remaining() == pytest.approx(0.5)
    assert lock.next_deadline() == pytest.approx(clock.now() + 0.5)
    clock.advance(0.5)
    assert lock.lockout_remaining() is None
    assert lock.enter_pin("135790").granted


def test_r_sec_1_failures_older_than_five_minutes_do_not_count(env: Env) -> None:
    lock, clock = env.lock, env.clock
    env.fail_pin(4)
    clock.advance(300)  # the first four are now exactly 5 minutes old
    assert lock.enter_pin("000000").retry_after is None
    env.fail_pin(3)
    assert lock.enter_pin("000000").retry_after == 180.0  # 5 within the window


def test_r_sec_1_success_resets_the_run(env: Env) -> None:
    env.user_with_pin("135790")
    env.fail_pin(4)
    assert env.lock.enter_pin("135790").granted
    assert env.fail_pin(4).retry_after is None


def test_r_sec_1_every_kind_counts(dl20: Env, fp: Env) -> None:
    """R-SEC-1: face, palm, fingerprint, PIN and card failures all count, each on its
    own input path; five on one path lock the whole system (every user-input path and
    Bluetooth keys)."""
    kinds = [(dl20, lambda lock: lock.tap_card(b"\x09\x09\x09\x09")),
             (dl20, lambda lock: lock.present_biometric(CredentialKind.FINGERPRINT, b"x")),
             (fp, lambda lock: lock.present_biometric(CredentialKind.FACE, b"nobody")),
             (fp, lambda lock: lock.present_biometric(CredentialKind.PALM, b"nobody")),
             (dl20, lambda lock: lock.enter_pin("000000"))]
    for env, attempt in kinds:
        fresh = make_env(env.profile)
        for _ in range(4):
            assert attempt(fresh.lock).retry_after is None
        assert attempt(fresh.lock).retry_after == 180.0
        assert fresh.lock.enter_pin("135790").reason is ErrorCode.LOCKED_OUT
        assert fresh.lock.unlock_bluetooth(fresh.admin).reason is ErrorCode.LOCKED_OUT
        assert fresh.lock.mechanical_key().granted  # R-MOD-2: always opens


def test_r_sec_1_failures_count_per_input_path(env: Env) -> None:
    """R-SEC-1 ("5 consecutive failed verifications"): runs are counted per input path
    (keypad, sensors, card), so four wrong PINs and four unknown fingers lock nothing;
    the fifth on one path locks every user-input path."""
    lock = env.lock
    user = env.user_with_pin("135790")
    env.enrol(user, CredentialKind.FINGERPRINT, b"finger-1")
    env.fail_pin(4)
    for _ in range(4):
        decision = lock.present_biometric(CredentialKind.FINGERPRINT, b"nobody")
        assert isinstance(decision, Decision)
        assert decision.reason is ErrorCode.NO_MATCH
        assert decision.retry_after is None
    assert lock.lockout_remaining() is None
    assert env.fail_pin(1).retry_after == 180.0  # the keypad's fifth
    finger = lock.present_biometric(CredentialKind.FINGERPRINT, b"finger-1")
    assert isinstance(finger, Decision)
    assert finger.reason is ErrorCode.LOCKED_OUT  # the system is locked (R-SEC-1)


def test_r_sec_1_a_success_on_another_path_keeps_the_keypad_run(env: Env) -> None:
    """R-SEC-1: a guest's Bluetooth unlock, or the owner's finger, between keypad
    guesses does not reset the keypad's run: the fifth wrong PIN locks out."""
    lock = env.lock
    owner = env.user_with_pin("135790")
    env.enrol(owner, CredentialKind.FINGERPRINT, b"finger-1")
    guest = env.phone(env.user(name="guest"), b"\x6e" * 32)
    for i in range(4):
        assert env.fail_pin(1).retry_after is None, i
        assert lock.unlock_bluetooth(guest).granted
        finger = lock.present_biometric(CredentialKind.FINGERPRINT, b"finger-1")
        assert isinstance(finger, Decision)
        assert finger.granted
    fifth = env.fail_pin(1)
    assert fifth.retry_after == 180.0
    assert EventKind.LOCKOUT in env.kinds()
    # a success on the keypad itself does end the keypad's run
    env.clock.advance(180)
    env.fail_pin(4)
    assert lock.enter_pin("135790").granted
    assert env.fail_pin(4).retry_after is None


def test_r_sec_1_card_path_has_its_own_run(dl20: Env) -> None:
    """R-SEC-1 (DL20VC cards): a card success ends only the card's run."""
    lock = dl20.lock
    user = dl20.user_with_pin("135790")
    lock.add_card(dl20.admin, user.number, b"\x01\x02\x03\x04", card_code="246810",
                  card_code_confirm="246810")
    dl20.fail_pin(4)
    assert lock.tap_card(b"\x01\x02\x03\x04").granted
    assert dl20.fail_pin(1).retry_after == 180.0


def test_r_sec_1_face_palm_app_lifts_and_switches_off(fp: Env, dl20: Env) -> None:
    """R-SEC-1 (face-palm): the app lifts a lockout and can switch the feature off."""
    fp.user_with_pin("135790")
    fp.fail_pin(5)
    assert fp.lock.enter_pin("135790").reason is ErrorCode.LOCKED_OUT
    fp.lock.lift_lockout(fp.admin)
    assert fp.lock.enter_pin("135790").granted
    assert EventKind.LOCKOUT_LIFTED in fp.kinds()
    fp.lock.update_settings(fp.admin, lockout_enabled=False)
    assert fp.fail_pin(20).retry_after is None
    assert fp.lock.enter_pin("135790").granted
    with pytest.raises(StateError) as info:
        dl20.lock.lift_lockout(dl20.admin)
    assert info.value.code is ErrorCode.UNSUPPORTED_BY_PROFILE
    with pytest.raises(StateError):
        dl20.lock.update_settings(dl20.admin, lockout_enabled=False)


def test_r_sec_2_tamper_alarm_sixty_seconds(env: Env) -> None:
    """R-SEC-2: forced removal sounds the alarm for about 60 s and is pushed."""
    lock = env.lock
    lock.tamper()
    assert lock.alarm_active
    pushed = lock.drain_notifications()
    assert [e.kind for e in pushed] == [EventKind.TAMPER_ALARM]
    assert EventKind.TAMPER_ALARM in ALARM_KINDS
    assert lock.next_deadline() == env.clock.now() + 60
    env.clock.advance(59.9)
    lock.tick()
    assert lock.alarm_active
    env.clock.advance(0.1)
    lock.tick()
    assert not lock.alarm_active
    assert [e.kind for e in lock.drain_notifications()] == [EventKind.TAMPER_ALARM_END]


def test_r_sec_3_low_battery_warns_every_operation(env: Env) -> None:
    """R-SEC-3: below 20 % every operation warns (and the alarm is pushed once)."""
    env.user_with_pin("135790")
    lock = env.lock
    lock.set_battery(20)
    assert not lock.enter_pin("135790").low_battery
    lock.drain_notifications()
    lock.set_battery(19)
    lock.set_battery(15)
    assert [e.kind for e in lock.drain_notifications()] == [EventKind.LOW_BATTERY]
    assert lock.enter_pin("135790").low_battery
    assert lock.enter_pin("000000").low_battery
    assert lock.mechanical_key().low_battery
    assert lock.system_info(env.admin).low_battery
    with pytest.raises(InvalidInputError):
        lock.set_battery(101)


def test_r_sec_3_video_unavailable_below_20_on_face_palm(fp: Env, dl20: Env) -> None:
    fp.lock.set_battery(19)
    dl20.lock.set_battery(19)
    assert not fp.lock.system_info(fp.admin).video_available
    assert dl20.lock.system_info(dl20.admin).video_available  # no camera to turn off
    fp.lock.set_battery(50)
    assert fp.lock.system_info(fp.admin).video_available


def test_r_sec_4_only_keyed_digests_are_stored(env: Env) -> None:
    """R-SEC-4: biometric templates (and PINs, cards) are stored as keyed digests only."""
    user = env.user_with_pin("135790")
    template = b"TEMPLATE-BYTES-OF-A-FINGER"
    env.enrol(user, CredentialKind.FINGERPRINT, template)
    blob = b"".join(codec.dumps(c) for c in env.store.load_credentials())
    assert template not in blob
    assert template.hex().encode() not in blob
    assert b"135790" not in blob
    for cred in env.store.load_credentials():
        assert "digest" not in repr(cred)


def test_r_sec_5_factory_reset_erases_users_and_config(env: Env) -> None:
    """R-SEC-5: reset erases every user and setting; the log (and its sequence) stays."""
    lock = env.lock
    env.user_with_pin("135790")
    lock.update_settings(lock_admin := env.admin, volume=0)
    serial = lock.serial
    last_seq = lock.read_events(limit=500).events[-1].seq
    lock.factory_reset(lock_admin)
    assert not lock.claimed
    assert lock.settings == Settings()
    assert not lock.enter_pin("135790").granted
    assert lock.find_phone(ADMIN_KEY) is None
    events = lock.read_events(after=last_seq).events
    assert events[0].kind is EventKind.FACTORY_RESET
    assert events[0].seq == last_seq + 1
    assert lock.serial == serial
    lock.press_set_button()
    lock.claim(phone_key=ADMIN_KEY)  # claimable again
    assert [u.number for u in lock.list_users(Actor.phone(ADMIN_KEY))] == [1]


def test_r_sec_5_reset_at_panel_needs_no_credential(env: Env) -> None:
    env.user_with_pin("135790")
    env.lock.factory_reset_at_panel()
    assert not env.lock.claimed
    decision = env.lock.enter_pin("135790")
    assert isinstance(decision, Decision)
    assert not decision.granted


def test_r_sec_1_inside_and_mechanical_opens_do_not_reset_the_run(env: Env) -> None:
    """R-SEC-1 counts verifications: opening from inside or with the mechanical key is
    not one, so it does not end a run of failures."""
    env.fail_pin(3)
    env.lock.open_from_inside()
    env.lock.mechanical_key()
    assert env.fail_pin(2).retry_after == 180.0
