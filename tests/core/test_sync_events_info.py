"""Sync unlock lock side (R-SYN-2..3), event log (R-APP-6), system info (R-APP-8),
visitor codes at the keypad (R-APP-4), time set, and secrets kept out of reprs."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from core_env import START, Env

from ble_lock.core.clock import FakeRng
from ble_lock.core.errors import ErrorCode, InvalidInputError, StateError
from ble_lock.core.hashing import KeyedHasher
from ble_lock.core.model import ALARM_KINDS, BoltState, EventKind, SyncTarget, UnlockMethod
from ble_lock.core.profile import FACE_PALM
from ble_lock.core.rules import visitor

PEER = b"peer-lock-0001"
PEER_KEY = b"\x50" * 32


def linked(fp: Env, **settings: object) -> None:
    fp.lock.update_settings(fp.admin, sync_unlock=True, **settings)
    fp.lock.link_lock(fp.admin, PEER, PEER_KEY, confirm_s=0)
    fp.lock.drain_notifications()


def test_r_syn_2_outside_unlock_triggers_linked_lock(fp: Env) -> None:
    """R-SYN-2: while enabled, unlocking from outside also asks the linked lock to open."""
    fp.user_with_pin("135790")
    linked(fp)
    link = fp.lock.find_link(PEER)
    assert link is not None
    assert link.peer_public_key == PEER_KEY
    assert link.window_s == 10  # R-SYN-3 default
    fp.lock.enter_pin("135790")
    triggers = [e for e in fp.lock.drain_notifications() if e.kind is EventKind.SYNC_TRIGGER]
    assert [e.detail for e in triggers] == [SyncTarget(peer=PEER)]
    assert EventKind.SYNC_TRIGGER in ALARM_KINDS
    fp.lock.open_from_inside()  # inside: no trigger
    assert EventKind.SYNC_TRIGGER not in [e.kind for e in fp.lock.drain_notifications()]
    fp.lock.update_settings(fp.admin, sync_unlock=False)
    fp.lock.enter_pin("135790")
    assert EventKind.SYNC_TRIGGER not in [e.kind for e in fp.lock.drain_notifications()]


def test_r_syn_3_relock_when_door_not_opened_in_window(fp: Env) -> None:
    """R-SYN-3: the linked door opens for the window (10 s) and relocks if not opened."""
    linked(fp)
    lock, clock = fp.lock, fp.clock
    decision = lock.apply_sync_statement(PEER)
    assert decision.granted
    assert decision.method is UnlockMethod.SYNC
    assert lock.bolt is BoltState.UNLOCKED
    assert lock.next_deadline() == clock.now() + 10
    clock.advance(9.9)
    lock.tick()
    assert lock.bolt is BoltState.UNLOCKED
    clock.advance(0.1)
    lock.tick()
    assert lock.bolt is BoltState.LOCKED
    kinds = [e.kind for e in lock.drain_notifications()]
    assert kinds.index(EventKind.SYNC_UNLOCK) < kinds.index(EventKind.SYNC_RELOCK)  # logged
    # opened in time: no relock
    lock.apply_sync_statement(PEER)
    clock.advance(5)
    lock.door_opened()
    clock.advance(30)
    lock.tick()
    assert lock.bolt is BoltState.UNLOCKED


def test_r_syn_3_window_adjustable_and_unlinked_denied(fp: Env, dl20: Env) -> None:
    lock, clock = fp.lock, fp.clock
    assert not lock.apply_sync_statement(PEER).granted  # not linked, not enabled
    linked(fp)
    lock.link_lock(fp.admin, PEER, PEER_KEY, window_s=30, confirm_s=0)
    lock.apply_sync_statement(PEER)
    clock.advance(29)
    lock.tick()
    assert lock.bolt is BoltState.UNLOCKED
    clock.advance(1)
    lock.tick()
    assert lock.bolt is BoltState.LOCKED
    with pytest.raises(InvalidInputError):
        lock.link_lock(fp.admin, PEER, PEER_KEY, window_s=1000)
    assert lock.apply_sync_statement(b"stranger").reason is ErrorCode.PERMISSION_DENIED
    lock.unlink_lock(fp.admin, PEER)
    assert lock.find_link(PEER) is None
    with pytest.raises(StateError) as info:
        dl20.lock.link_lock(dl20.admin, PEER, PEER_KEY)
    assert info.value.code is ErrorCode.UNSUPPORTED_BY_PROFILE


def test_r_app_6_event_log(env: Env) -> None:
    """R-APP-6: every unlock (method, user, duress), failure, alarm and admin change,
    with strictly increasing sequence numbers and timestamps."""
    lock, clock = env.lock, env.clock
    user = env.user_with_pin("135790")
    clock.advance(5)
    lock.enter_pin("135790")
    lock.enter_pin("000000")
    lock.tamper()
    page = lock.events(env.admin, limit=500)
    kinds = [e.kind for e in page.events]
    for kind in (EventKind.USER_ADDED, EventKind.CREDENTIAL_ADDED, EventKind.UNLOCK,
                 EventKind.UNLOCK_FAILED, EventKind.TAMPER_ALARM):
        assert kind in kinds
    seqs = [e.seq for e in page.events]
    assert seqs == sorted(set(seqs))
    unlock = next(e for e in page.events if e.kind is EventKind.UNLOCK)
    assert (unlock.user_number, unlock.method, unlock.duress) == (user.number,
                                                                  UnlockMethod.PIN, False)
    assert unlock.timestamp == START + 5
    failed = next(e for e in page.events if e.kind is EventKind.UNLOCK_FAILED)
    assert failed.reason is ErrorCode.NO_MATCH
    # cursor paging
    first = lock.events(env.admin, after=0, limit=2)
    assert first.more
    rest = lock.events(env.admin, after=first.next_cursor, limit=500)
    assert [e.seq for e in first.events + rest.events] == seqs
    # no secret in any event
    assert all("135790" not in repr(e) for e in page.events)


def test_r_app_6_log_is_bounded_and_counts_drops(env_factory: Callable[..., Env]) -> None:
    from dataclasses import replace

    env = env_factory(replace(FACE_PALM, event_log_size=10))
    for _ in range(20):
        env.lock.mechanical_key()
    page = env.lock.read_events(limit=500)
    assert len(page.events) == 10
    assert page.dropped > 0
    assert page.events[-1].seq - page.events[0].seq == 9
    assert page.dropped == page.events[0].seq - 1


def test_r_app_6_alarms_are_pushed(fp: Env) -> None:
    """R-APP-6 pushes: duress, tamper, lockout, low battery, door opened."""
    lock = fp.lock
    user = fp.user()
    lock.add_pin(fp.admin, user.number, "135790", duress=True)
    lock.drain_notifications()
    lock.enter_pin("135790")
    lock.tamper()
    lock.set_battery(10)
    lock.door_opened()
    fp.fail_pin(5)
    alarms = {e.kind for e in lock.drain_notifications() if e.kind in ALARM_KINDS}
    assert alarms == {EventKind.DURESS_ALARM, EventKind.TAMPER_ALARM, EventKind.LOW_BATTERY,
                      EventKind.DOOR_OPENED, EventKind.LOCKOUT}
    assert lock.drain_notifications() == []


def test_set_time_moves_wall_clock_not_timers(env: Env) -> None:
    lock = env.lock
    lock.set_time(env.admin, START + 86_400)
    assert lock.lock_time == START + 86_400
    lock.mechanical_key()
    assert lock.read_events(limit=500).events[-1].timestamp == START + 86_400
    lock.tamper()
    assert lock.next_deadline() == env.clock.now() + 60  # timers on the injected clock


def test_r_app_8_system_info(env: Env) -> None:
    """R-APP-8: serial number, verification code, firmware version."""
    info = env.lock.system_info(env.admin)
    assert info.serial == "BL0000000042"
    assert len(info.verification_code) == 6
    assert info.verification_code.isalpha()
    assert info.verification_code not in repr(info)
    assert info.firmware_version == env.profile.firmware_version
    assert info.model == env.profile.name
    assert info.users == 1
    assert info.credentials[next(iter(info.credentials))] >= 0
    assert info.capacities[min(info.capacities)] == 50


def test_r_app_4_one_time_visitor_code_opens_once(fp: Env) -> None:
    """R-APP-4: a one-time code made offline from the shared secret opens once."""
    secret = fp.lock.visitor_secret(fp.admin)
    code = visitor.generate_one_time_code(secret, now=int(START))
    first = fp.lock.enter_pin(code)
    assert first.granted
    assert first.method is UnlockMethod.VISITOR_CODE
    second = fp.lock.enter_pin(code)
    assert second.reason is ErrorCode.CODE_ALREADY_USED
    other = visitor.generate_one_time_code(secret, now=int(START), nonce=1)
    assert fp.lock.enter_pin("12" + other[:14] + "34").reason is ErrorCode.NO_MATCH
    assert fp.lock.enter_pin(other).granted


def test_r_app_4_periodic_code_window(fp: Env) -> None:
    secret = fp.lock.visitor_secret(fp.admin)
    start = int(START) + 7200
    code = visitor.generate_periodic_code(secret, valid_from=start, valid_until=start + 3600)
    assert fp.lock.enter_pin(code).reason is ErrorCode.OUTSIDE_VALIDITY
    fp.clock.advance(7200)
    assert fp.lock.enter_pin(code).granted
    assert fp.lock.enter_pin(code).granted  # periodic: reusable inside its window
    fp.clock.advance(3600 * 2)
    assert fp.lock.enter_pin(code).reason is ErrorCode.OUTSIDE_VALIDITY


def test_r_app_4_guessing_is_bounded_by_lockout(fp: Env) -> None:
    secret = fp.lock.visitor_secret(fp.admin)
    code = visitor.generate_one_time_code(secret, now=int(START))
    for i in range(5):
        wrong = code[:-1] + str((int(code[-1]) + 1 + i) % 10)
        decision = fp.lock.enter_pin(wrong)
        assert not decision.granted
    assert fp.lock.enter_pin(code).reason is ErrorCode.LOCKED_OUT


def test_r_app_4_rotation_and_privacy(fp: Env, dl20: Env) -> None:
    secret = fp.lock.visitor_secret(fp.admin)
    code = visitor.generate_periodic_code(secret, valid_from=int(START),
                                          valid_until=int(START) + 86_400)
    fp.lock.update_settings(fp.admin, privacy_mode=True)
    assert fp.lock.enter_pin(code).reason is ErrorCode.PRIVACY_MODE  # R-MOD-2
    fp.lock.update_settings(fp.admin, privacy_mode=False)
    fp.lock.rotate_visitor_secret(fp.admin)
    assert fp.lock.visitor_secret(fp.admin) != secret
    assert not fp.lock.enter_pin(code).granted
    # DL20VC has them too ("remote temporary password authorisation" in its manual).
    dl20_code = visitor.generate_one_time_code(dl20.lock.visitor_secret(dl20.admin),
                                               now=int(START))
    assert dl20.lock.enter_pin(dl20_code).granted
    with pytest.raises(StateError) as info:  # but no privacy mode (R-MOD-2 is face-palm)
        dl20.lock.update_settings(dl20.admin, privacy_mode=True)
    assert info.value.code is ErrorCode.UNSUPPORTED_BY_PROFILE


def test_secrets_never_in_reprs(env: Env) -> None:
    lock = env.lock
    user = env.user_with_pin("135790")
    issued = lock.issue_invite(env.admin, user_number=user.number)
    invites = lock.list_invites(env.admin)
    creds = lock.list_credentials(env.admin)
    texts = [repr(lock), repr(issued), repr(invites), repr(creds), repr(env.store),
             repr(KeyedHasher(b"k" * 32)), repr(FakeRng(b"seed")),
             repr(lock.system_info(env.admin))]
    for text in texts:
        assert issued.code not in text
        assert "135790" not in text
        assert "digest" not in text
        assert "secret=" not in text
        assert "verification_code" not in text
