"""PIN rules: R-PIN-1..4."""

from __future__ import annotations

import pytest
from core_env import Env
from hypothesis import given, settings
from hypothesis import strategies as st

from ble_lock.core.errors import ErrorCode, InvalidInputError
from ble_lock.core.profile import DL20VC, FACE_PALM
from ble_lock.core.rules.pins import check_pin, is_weak_pin, virtual_pin_runs


@pytest.mark.parametrize("pin", ["12345", "12345678901", "12a456", "", "１２３４５６", "12 3456"])
def test_r_pin_1_malformed(env: Env, pin: str) -> None:
    """R-PIN-1: a PIN is 6-10 (ASCII) digits."""
    user = env.user()
    with pytest.raises(InvalidInputError) as info:
        env.lock.add_pin(env.admin, user.number, pin)
    assert info.value.code is ErrorCode.MALFORMED_PIN


def test_r_pin_1_entered_twice(env: Env) -> None:
    user = env.user()
    with pytest.raises(InvalidInputError) as info:
        env.lock.add_pin(env.admin, user.number, "135790", pin_confirm="135791")
    assert info.value.code is ErrorCode.PIN_MISMATCH
    env.lock.add_pin(env.admin, user.number, "1357902468", pin_confirm="1357902468")
    assert env.lock.enter_pin("1357902468").granted


@pytest.mark.parametrize("pin", ["123456", "654321", "111111", "0123456789", "9876543210",
                                 "3456789"])
def test_r_pin_2_weak_pins_rejected_on_face_palm(pin: str) -> None:
    """R-PIN-2 (face-palm): consecutive ascending/descending and all-same are rejected;
    DL20VC's manual has no such rule."""
    assert is_weak_pin(pin)
    with pytest.raises(InvalidInputError) as info:
        check_pin(pin, FACE_PALM)
    assert info.value.code is ErrorCode.WEAK_PIN
    check_pin(pin, DL20VC)


def test_r_pin_2_weak_pin_through_the_lock(fp: Env, dl20: Env) -> None:
    with pytest.raises(InvalidInputError) as info:
        fp.lock.add_pin(fp.admin, fp.user().number, "123456")
    assert info.value.code is ErrorCode.WEAK_PIN
    dl20.lock.add_pin(dl20.admin, dl20.user().number, "123456")
    assert dl20.lock.enter_pin("123456").granted


@pytest.mark.parametrize("pin", ["135790", "123457", "112233", "909090", "1234567890"[::2] + "1"])
def test_r_pin_2_not_weak(pin: str) -> None:
    assert not is_weak_pin(pin)


def test_r_pin_3_virtual_pin(env: Env) -> None:
    """R-PIN-3: any digits before and after the PIN, up to 20 in all."""
    env.user_with_pin("135790")
    lock = env.lock
    assert lock.enter_pin("000135790000").granted  # xxx123456xxx
    assert lock.enter_pin("13579099").granted
    assert lock.enter_pin("8" * 14 + "135790").granted  # exactly 20 digits
    too_long = lock.enter_pin("8" * 15 + "135790")  # 21 digits: refused
    assert not too_long.granted
    assert too_long.reason is ErrorCode.NO_MATCH
    assert not lock.enter_pin("1357").granted
    assert not lock.enter_pin("13579").granted
    assert not lock.enter_pin("1357 90".replace(" ", "8")).granted


def test_r_pin_3_longest_pin_wins(dl20: Env) -> None:
    short = dl20.user_with_pin("135790")
    long = dl20.user_with_pin("1357902")
    assert dl20.lock.enter_pin("91357902").user_number == long.number
    assert dl20.lock.enter_pin("91357909").user_number == short.number


@settings(max_examples=60, deadline=None)
@given(prefix=st.text("0123456789", max_size=7), suffix=st.text("0123456789", max_size=7),
       pin=st.text("0123456789", min_size=6, max_size=6))
def test_r_pin_3_runs_contain_every_embedding(prefix: str, suffix: str, pin: str) -> None:
    """R-PIN-3: the search visits every contiguous run of every stored length."""
    entry = prefix + pin + suffix
    assert pin in set(virtual_pin_runs(entry, [6, 7, 8, 9, 10]))
    assert sum(1 for _ in virtual_pin_runs("1" * 20, range(6, 11))) == 65


def test_r_pin_4_confirm_and_cancel_keys(dl20: Env, fp: Env) -> None:
    """R-PIN-4: `#` (DL20VC) / ✓ (face-palm) confirms; `*` / ↶ cancels the entry."""
    for env, confirm, cancel in ((dl20, "#", "*"), (fp, "✓", "↶")):
        env.user_with_pin("135790")
        lock = env.lock
        for key in "999":
            assert lock.press_key(key) is None
        assert lock.press_key(cancel) is None
        for key in "135790":
            lock.press_key(key)
        decision = lock.press_key(confirm)
        assert decision is not None
        assert decision.granted
        for key in "13579":
            lock.press_key(key)
        lock.press_key(cancel)
        lock.press_key("0")
        after_cancel = lock.press_key(confirm)
        assert after_cancel is not None
        assert not after_cancel.granted  # "0" alone, the cancelled digits are gone
    with pytest.raises(InvalidInputError):
        dl20.lock.press_key("A")


def test_r_pin_3_overlong_keypad_entry_is_bounded(env: Env) -> None:
    """R-PIN-3: more than 20 digits is a failed entry, and the buffer stays bounded."""
    env.user_with_pin("135790")
    for _ in range(1000):
        env.lock.press_key("7")
    assert len(env.lock.context.device.keypad.digits) == env.profile.keypad_max_digits + 1
    for key in "135790":
        env.lock.press_key(key)
    decision = env.lock.press_key("#")
    assert decision is not None
    assert decision.reason is ErrorCode.NO_MATCH
