"""Credentials: R-CRD-1..7."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from core_env import Env

from ble_lock.core.errors import (
    CapacityError,
    ConflictError,
    ErrorCode,
    InvalidInputError,
    LockError,
    NotFoundError,
    StateError,
)
from ble_lock.core.model import (
    CaptureResult,
    CredentialKind,
    Decision,
    EnrolmentProgress,
    EnrolmentState,
    EventKind,
    Role,
    UnlockMethod,
)
from ble_lock.core.profile import DL20VC, FACE_PALM

K = CredentialKind


def pins(n: int) -> list[str]:
    """n distinct 6-digit PINs, none weak, none containing another."""
    return [f"{480000 + 37 * i:06d}" for i in range(n)]


def test_r_crd_1_kinds_per_profile(dl20: Env, fp: Env) -> None:
    """R-CRD-1: DL20VC has cards, face-palm has faces, palms and remote controls."""
    d_user, f_user = dl20.user(), fp.user()
    dl20.lock.add_card(dl20.admin, d_user.number, b"\x01\x02\x03\x04", "482915",
                       card_code_confirm="482915")
    with pytest.raises(StateError) as info:
        fp.lock.add_card(fp.admin, f_user.number, b"\x01\x02\x03\x04", "482915")
    assert info.value.code is ErrorCode.UNSUPPORTED_BY_PROFILE
    with pytest.raises(StateError):
        dl20.lock.begin_enrolment(dl20.admin, d_user.number, K.FACE)
    with pytest.raises(StateError):
        dl20.lock.add_remote_control(dl20.admin, d_user.number, b"remote-1")
    fp.enrol(f_user, K.FACE, b"face-1")
    fp.enrol(f_user, K.PALM, b"palm-1")
    fp.lock.add_remote_control(fp.admin, f_user.number, b"remote-1")
    face = fp.lock.present_biometric(K.FACE, b"face-1")
    assert isinstance(face, Decision)
    assert face.granted
    assert face.method is UnlockMethod.FACE
    remote = fp.lock.press_remote(b"remote-1")
    assert remote.granted
    assert remote.user_number == f_user.number
    assert not fp.lock.press_remote(b"remote-2").granted


def test_r_crd_1_mechanical_key_is_only_an_event(env: Env) -> None:
    decision = env.lock.mechanical_key()
    assert decision.granted
    assert decision.method is UnlockMethod.MECHANICAL_KEY
    last = env.lock.read_events(limit=500).events[-1]
    assert (last.kind, last.method) == (EventKind.UNLOCK, UnlockMethod.MECHANICAL_KEY)


@pytest.mark.parametrize("profile", [DL20VC, FACE_PALM], ids=lambda p: p.name)
def test_r_crd_2_pin_capacity_and_1_to_n(env_factory: Callable[..., Env],
                                        profile: object) -> None:
    """R-CRD-2: 50 PINs per lock, matched 1:N."""
    env = env_factory(profile)
    all_pins = pins(51)
    for pin in all_pins[:50]:
        env.user_with_pin(pin)
    with pytest.raises(CapacityError) as info:
        env.user_with_pin(all_pins[50])
    assert info.value.code is ErrorCode.CAPACITY_FULL
    decision = env.lock.enter_pin(all_pins[37])
    assert decision.granted
    assert decision.user_number == 2 + 37


def test_r_crd_2_fingerprint_capacity(env_factory: Callable[..., Env]) -> None:
    env = env_factory(DL20VC.custom(name="small", max_users=200))
    user = env.user()
    for i in range(50):
        env.enrol(user, K.FINGERPRINT, f"finger-{i}".encode())
    with pytest.raises(CapacityError) as info:
        env.lock.begin_enrolment(env.admin, user.number, K.FINGERPRINT)
    assert info.value.code is ErrorCode.CAPACITY_FULL


def test_r_crd_3_face_palm_per_user_limits(fp: Env) -> None:
    """R-CRD-3 (face-palm): <= 5 fingerprints, <= 3 faces, <= 2 palms, 1 PIN per user."""
    user = fp.user_with_pin("135790")
    with pytest.raises(CapacityError) as info:
        fp.lock.add_pin(fp.admin, user.number, "246813")
    assert info.value.code is ErrorCode.USER_LIMIT_REACHED
    for kind, limit in ((K.FINGERPRINT, 5), (K.FACE, 3), (K.PALM, 2)):
        for i in range(limit):
            fp.enrol(user, kind, f"{kind.name}-{i}".encode())
        with pytest.raises(CapacityError) as limited:
            fp.lock.begin_enrolment(fp.admin, user.number, kind)
        assert limited.value.code is ErrorCode.USER_LIMIT_REACHED


def test_r_crd_3_dl20vc_user_holds_several_pins(dl20: Env) -> None:
    """R-CRD-3 (DL20VC): a user may hold several PINs ("delete all PINs of the user")."""
    user = dl20.user()
    for pin in pins(3):
        dl20.lock.add_pin(dl20.admin, user.number, pin)
    assert len(dl20.lock.list_credentials(dl20.admin, user.number)) == 3
    assert dl20.lock.delete_user_credentials(dl20.admin, user.number, K.PIN) == 3
    assert not dl20.lock.enter_pin(pins(3)[0]).granted


def test_r_crd_4_fingerprint_six_captures(env: Env) -> None:
    """R-CRD-4: fingerprint = 6 captures; only the last one stores the template."""
    user = env.user()
    lock = env.lock
    session = lock.begin_enrolment(env.admin, user.number, K.FINGERPRINT)
    assert session.captures_needed == 6
    assert session.next_step == "centre"
    for i, step in enumerate(env.profile.enrol_steps[K.FINGERPRINT]):
        status = lock.enrolment_status(env.admin, session.id)
        assert status.captured == i
        assert status.next_step == step
        assert lock.list_credentials(env.admin, user.number) == []  # nothing before the last
        result = lock.present_biometric(K.FINGERPRINT, b"finger", step=step)
        assert isinstance(result, CaptureResult)
        assert result.accepted
    assert result.done
    steps = [e.detail for e in lock.drain_notifications() if e.kind is EventKind.ENROLMENT_STEP]
    # pushed to the app step by step
    assert steps == [EnrolmentProgress(captured=i, needed=6) for i in range(1, 7)]
    done = lock.enrolment_status(env.admin, session.id)
    assert done.state is EnrolmentState.DONE
    assert done.credential_id is not None
    verified = lock.present_biometric(K.FINGERPRINT, b"finger")
    assert isinstance(verified, Decision)
    assert verified.granted
    assert verified.user_number == user.number


def test_r_crd_4_face_five_poses(fp: Env) -> None:
    """R-CRD-4: face = 5 poses (straight, up, down, left, right)."""
    user = fp.user()
    session = fp.lock.begin_enrolment(fp.admin, user.number, K.FACE)
    assert session.captures_needed == 5
    assert fp.profile.enrol_steps[K.FACE] == ("straight", "up", "down", "left", "right")
    for step in fp.profile.enrol_steps[K.FACE]:
        fp.lock.present_biometric(K.FACE, b"face", step=step)
    assert fp.lock.enrolment_status(fp.admin, session.id).state is EnrolmentState.DONE


def test_r_crd_4_interrupted_enrolment_stores_nothing(env: Env) -> None:
    """R-CRD-4: cancelled or timed-out before the last capture: nothing is stored."""
    user = env.user()
    lock = env.lock
    session = lock.begin_enrolment(env.admin, user.number, K.FINGERPRINT)
    for step in env.profile.enrol_steps[K.FINGERPRINT][:5]:
        lock.present_biometric(K.FINGERPRINT, b"finger", step=step)
    cancelled = lock.cancel_enrolment(env.admin, session.id)
    assert cancelled.state is EnrolmentState.CANCELLED
    assert lock.list_credentials(env.admin, user.number) == []
    # the finger now verifies (and fails) instead of being captured
    after = lock.present_biometric(K.FINGERPRINT, b"finger")
    assert isinstance(after, Decision)
    assert after.reason is ErrorCode.NO_MATCH
    second = lock.begin_enrolment(env.admin, user.number, K.FINGERPRINT)
    lock.present_biometric(K.FINGERPRINT, b"finger")
    env.clock.advance(env.profile.enrolment_timeout_s)
    lock.tick()
    assert lock.enrolment_status(env.admin, second.id).state is EnrolmentState.CANCELLED
    assert lock.enrolling is None
    assert lock.list_credentials(env.admin, user.number) == []


def test_r_crd_4_enrolment_out_of_order(env: Env) -> None:
    """R-CRD-4: captures follow the steps; one session at a time; typed errors."""
    user = env.user()
    lock = env.lock
    session = lock.begin_enrolment(env.admin, user.number, K.FINGERPRINT)
    with pytest.raises(StateError) as info:
        lock.present_biometric(K.FINGERPRINT, b"finger", step="left")
    assert info.value.code is ErrorCode.ENROLMENT_OUT_OF_ORDER
    with pytest.raises(StateError) as busy:
        lock.begin_enrolment(env.admin, user.number, K.FINGERPRINT)
    assert busy.value.code is ErrorCode.ENROLMENT_OUT_OF_ORDER
    with pytest.raises(StateError) as unknown:  # NO_ENROLMENT's class (issue 13)
        lock.enrolment_status(env.admin, session.id + 1)
    assert unknown.value.code is ErrorCode.NO_ENROLMENT
    # another finger mid-session is a rejected capture, no progress
    lock.present_biometric(K.FINGERPRINT, b"finger")
    other = lock.present_biometric(K.FINGERPRINT, b"another")
    assert isinstance(other, CaptureResult)
    assert not other.accepted
    assert other.captured == 1
    with pytest.raises(InvalidInputError) as bad:
        lock.present_biometric(K.FINGERPRINT, b"")
    assert bad.value.code is ErrorCode.MALFORMED_TEMPLATE


def test_r_crd_4_duplicate_template_rejected(env: Env) -> None:
    user = env.user()
    env.enrol(user, K.FINGERPRINT, b"finger")
    with pytest.raises(ConflictError):
        env.enrol(user, K.FINGERPRINT, b"finger")
    assert len(env.lock.list_credentials(env.admin, user.number)) == 1


def test_r_crd_5_card_security_code(dl20: Env) -> None:
    """R-CRD-5: the first card sets a 6-digit code (twice); it never changes; later
    cards need it, also after a factory reset."""
    lock, admin = dl20.lock, dl20.admin
    user = dl20.user()
    with pytest.raises(InvalidInputError) as malformed:
        lock.add_card(admin, user.number, b"\x01\x02\x03\x04", "12345")
    assert malformed.value.code is ErrorCode.MALFORMED_CARD_CODE
    with pytest.raises(InvalidInputError) as mismatch:
        lock.add_card(admin, user.number, b"\x01\x02\x03\x04", "482915",
                      card_code_confirm="482916")
    assert mismatch.value.code is ErrorCode.MALFORMED_CARD_CODE
    assert not lock.card_code_set
    lock.add_card(admin, user.number, b"\x01\x02\x03\x04", "482915", card_code_confirm="482915")
    assert lock.card_code_set
    with pytest.raises(InvalidInputError) as wrong:
        lock.add_card(admin, user.number, b"\x05\x06\x07\x08", "111111")
    assert wrong.value.code is ErrorCode.WRONG_CARD_CODE
    lock.add_card(admin, user.number, b"\x05\x06\x07\x08", "482915")
    assert lock.tap_card(b"\x05\x06\x07\x08").user_number == user.number
    lock.factory_reset(admin)
    lock.press_set_button()
    lock.claim(phone_key=b"\xad" * 32)
    again = dl20.user()
    with pytest.raises(InvalidInputError) as after_reset:
        lock.add_card(admin, again.number, b"\x01\x02\x03\x04", "654321",
                      card_code_confirm="654321")
    assert after_reset.value.code is ErrorCode.WRONG_CARD_CODE
    lock.add_card(admin, again.number, b"\x01\x02\x03\x04", "482915")


def test_r_crd_6_duress_pin_and_fingerprint(env: Env) -> None:
    """R-CRD-6: a duress key unlocks normally AND raises a duress alarm."""
    lock = env.lock
    user = env.user()
    lock.add_pin(env.admin, user.number, "135790", duress=True)
    lock.drain_notifications()
    decision = lock.enter_pin("135790")
    assert decision.granted
    assert decision.duress
    alarms = [e for e in lock.drain_notifications() if e.kind is EventKind.DURESS_ALARM]
    assert len(alarms) == 1
    assert alarms[0].user_number == user.number
    assert alarms[0].duress  # the alarm record itself says so (event log, pushes)
    other = env.user()
    env.enrol(other, K.FINGERPRINT, b"finger", duress=True)
    bio = lock.present_biometric(K.FINGERPRINT, b"finger")
    assert isinstance(bio, Decision)
    assert bio.duress
    assert EventKind.DURESS_ALARM in [e.kind for e in lock.drain_notifications()]


def test_r_crd_6_only_pins_and_fingerprints_are_duress(fp: Env) -> None:
    user = fp.user()
    with pytest.raises(InvalidInputError):
        fp.lock.begin_enrolment(fp.admin, user.number, K.FACE, duress=True)


def test_r_crd_7_delete_per_user(dl20: Env) -> None:
    """R-CRD-7: per user, delete all fingerprints / PINs / duress keys; deregister."""
    lock, admin = dl20.lock, dl20.admin
    user = dl20.user()
    lock.add_pin(admin, user.number, "135790")
    lock.add_pin(admin, user.number, "246801", duress=True)
    dl20.enrol(user, K.FINGERPRINT, b"f1")
    assert lock.delete_user_credentials(admin, user.number, K.PIN, duress_only=True) == 1
    assert lock.enter_pin("135790").granted
    assert not lock.enter_pin("246801").granted
    assert lock.delete_user_credentials(admin, user.number, K.FINGERPRINT) == 1
    bio = lock.present_biometric(K.FINGERPRINT, b"f1")
    assert isinstance(bio, Decision)
    assert not bio.granted
    lock.delete_user(admin, user.number)
    assert not lock.enter_pin("135790").granted
    with pytest.raises(NotFoundError) as info:
        lock.delete_credential(admin, 999)
    assert info.value.code is ErrorCode.UNKNOWN_CREDENTIAL


def test_r_crd_7_clear_all_spares_logged_in_user(dl20: Env) -> None:
    """R-CRD-7: "clear all PINs" / "clear all cards" never remove the logged-in user's own."""
    lock, admin = dl20.lock, dl20.admin
    lock.add_pin(admin, 1, "975310")
    panel = lock.panel_admin_login("975310")
    assert panel is not None
    others = [dl20.user_with_pin(pin) for pin in pins(3)]
    lock.add_card(admin, 1, b"\xaa\xbb\xcc\xdd", "482915", card_code_confirm="482915")
    lock.add_card(admin, others[0].number, b"\x11\x22\x33\x44", "482915")
    assert lock.clear_credentials(panel, K.PIN) == 3
    assert lock.clear_credentials(panel, K.CARD) == 1
    assert lock.enter_pin("975310").granted
    assert lock.tap_card(b"\xaa\xbb\xcc\xdd").granted
    assert not lock.tap_card(b"\x11\x22\x33\x44").granted
    assert all(not lock.enter_pin(pin).granted for pin in pins(3)[:1])


def test_credential_errors_are_typed(env: Env) -> None:
    user = env.user_with_pin("135790")
    with pytest.raises(ConflictError) as dup:
        env.lock.add_pin(env.admin, env.user().number, "135790")
    assert dup.value.code is ErrorCode.ALREADY_EXISTS
    with pytest.raises(LockError) as bad:
        env.lock.add_pin(env.admin, user.number, "12ab56")
    assert bad.value.code is ErrorCode.MALFORMED_PIN


def test_own_phone_key_cannot_be_deleted(env: Env) -> None:
    own = env.lock.find_phone(b"\xad" * 32)
    assert own is not None
    with pytest.raises(LockError) as info:
        env.lock.delete_credential(env.admin, own.credential_id)
    assert info.value.code is ErrorCode.SELF_DELETE


def test_normal_user_lists_only_own_credentials(env: Env) -> None:
    bob = env.user_with_pin("135790")
    phone = env.phone(bob, b"\x05" * 32)
    env.user_with_pin("246801", role=Role.NORMAL)
    mine = env.lock.list_credentials(phone)
    assert {c.user_number for c in mine} == {bob.number}
    assert len(env.lock.list_credentials(env.admin)) == 4  # 2 phones, 2 PINs
