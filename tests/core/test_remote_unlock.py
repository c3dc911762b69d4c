"""R-APP-5: remote unlock with a remote-only user's key (Matter's RemoteOnly user type),
decided inside the lock by the one decision (``decision.py``: ``Path.REMOTE``,
``Rule.REMOTE_OFF``)."""

from __future__ import annotations

import pytest

from ble_lock.core.errors import ErrorCode, PermissionDeniedError
from ble_lock.core.model import EventKind, Role, UnlockMethod
from ble_lock.core.profile import DL20VC, FACE_PALM, Profile
from tests.core.core_env import make_env

GATEWAY_KEY = b"\x47" * 32


@pytest.mark.parametrize("profile", [FACE_PALM, DL20VC], ids=lambda p: p.name)
def test_remote_unlock_is_off_by_default_and_logged_as_remote_when_on(
        profile: Profile) -> None:
    env = make_env(profile)
    lock = env.lock
    assert lock.settings.remote_unlock is False
    gateway = env.phone(env.user(Role.REMOTE_ONLY, name="gateway"), GATEWAY_KEY)
    lock.drain_notifications()
    refused = lock.unlock_bluetooth(gateway)
    assert not refused.granted
    assert refused.reason is ErrorCode.REMOTE_UNLOCK_OFF
    assert refused.method is UnlockMethod.REMOTE
    failed = lock.drain_notifications()[-1]
    assert (failed.kind, failed.method) == (EventKind.UNLOCK_FAILED, UnlockMethod.REMOTE)
    lock.update_settings(env.admin, remote_unlock=True)
    granted = lock.unlock_bluetooth(gateway)
    assert granted.granted
    assert granted.method is UnlockMethod.REMOTE
    unlock = next(e for e in lock.drain_notifications() if e.kind is EventKind.UNLOCK)
    assert unlock.method is UnlockMethod.REMOTE
    assert unlock.user_number == granted.user_number == 2  # the gateway's identity
    assert unlock.credential_id == granted.credential_id is not None


def test_a_remote_only_key_manages_nothing_but_reads_the_log() -> None:
    env = make_env(FACE_PALM)
    lock = env.lock
    gateway = env.phone(env.user(Role.REMOTE_ONLY, name="gateway"), GATEWAY_KEY)
    with pytest.raises(PermissionDeniedError):
        lock.add_user(gateway, name="intruder")
    with pytest.raises(PermissionDeniedError):
        lock.update_settings(gateway, remote_unlock=True)
    with pytest.raises(PermissionDeniedError):
        lock.visitor_secret(gateway)
    assert lock.events(gateway).events  # R-APP-6: it carries the alarms off the radio
    assert lock.get_settings(gateway).remote_unlock is False  # shown, never changed
    normal = env.phone(env.user(Role.NORMAL, name="n"), b"\x48" * 32)
    with pytest.raises(PermissionDeniedError):
        lock.events(normal)
    with pytest.raises(PermissionDeniedError):
        lock.get_settings(normal)


def test_a_normal_users_phone_is_no_remote_unlock() -> None:
    """The path is the key's, decided in the lock: a normal phone opens as Bluetooth
    whatever the remote setting."""
    env = make_env(FACE_PALM)
    phone = env.phone(env.user(Role.NORMAL), b"\x49" * 32)
    decision = env.lock.unlock_bluetooth(phone)
    assert decision.granted
    assert decision.method is UnlockMethod.BLUETOOTH
