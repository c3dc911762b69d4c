"""R-SYN-1 inside the lock: a link set with a countdown is pending until an admin
credential unlocks this door; pending links open and trigger nothing, expire by
themselves, are logged (R-SYN-4) and survive a restart with their deadline."""

from __future__ import annotations

from pathlib import Path

import pytest
from core_env import START, Env

from ble_lock.core.clock import FakeClock, FakeRng
from ble_lock.core.errors import ErrorCode, InvalidInputError
from ble_lock.core.links import CONFIRM_METHODS, DEFAULT_CONFIRM_S
from ble_lock.core.lock import Lock, provision
from ble_lock.core.model import (
    Actor,
    BoltState,
    CredentialKind,
    Decision,
    EventDetail,
    EventKind,
    LinkConfirmed,
    LinkExpired,
    LinkPending,
    Role,
    SyncTarget,
    UnlockMethod,
)
from ble_lock.core.profile import FACE_PALM
from ble_lock.core.store.sqlite import SqliteStore

PEER = b"peer-lock-0001"
PEER_KEY = b"\x50" * 32
ADMIN_PIN = "246813"
USER_PIN = "135790"


def pending(fp: Env, confirm_s: int = DEFAULT_CONFIRM_S) -> None:
    fp.lock.update_settings(fp.admin, sync_unlock=True)
    link = fp.lock.link_lock(fp.admin, PEER, PEER_KEY, confirm_s=confirm_s)
    assert link.pending
    assert link.confirm_by == fp.clock.now() + confirm_s


def link_events(fp: Env) -> list[tuple[EventDetail | None, int | None, UnlockMethod | None]]:
    return [(e.detail, e.user_number, e.method) for e in fp.lock.read_events(limit=500).events
            if e.kind is EventKind.LINK_CHANGED]


def test_r_syn_1_pending_link_opens_and_triggers_nothing(fp: Env) -> None:
    """R-SYN-1: a pending link: a statement from the peer is refused (LINK_PENDING) and
    an outside unlock of this door sends no statement to the peer."""
    fp.user_with_pin(USER_PIN)
    pending(fp)
    decision = fp.lock.apply_sync_statement(PEER)
    assert not decision.granted
    assert decision.reason is ErrorCode.LINK_PENDING
    assert fp.lock.bolt is BoltState.LOCKED
    fp.lock.drain_notifications()
    assert fp.lock.enter_pin(USER_PIN).granted  # a normal user: no confirmation either
    kinds = [e.kind for e in fp.lock.drain_notifications()]
    assert EventKind.SYNC_TRIGGER not in kinds
    link = fp.lock.find_link(PEER)
    assert link is not None
    assert link.pending


def test_r_syn_1_admin_pin_at_the_door_within_countdown_confirms(fp: Env) -> None:
    """R-SYN-1: an admin's PIN at this door within the countdown confirms the link; the
    confirming unlock itself opens no other door; afterwards the link works."""
    admin = fp.user_with_pin(ADMIN_PIN, Role.ADMIN)
    pending(fp)
    fp.lock.drain_notifications()
    fp.clock.advance(DEFAULT_CONFIRM_S - 1)
    assert fp.lock.enter_pin(ADMIN_PIN).granted
    kinds = [e.kind for e in fp.lock.drain_notifications()]
    assert EventKind.SYNC_TRIGGER not in kinds  # confirmation is not a sync unlock
    link = fp.lock.find_link(PEER)
    assert link is not None
    assert not link.pending
    assert link.confirmed_by == admin.number
    assert fp.lock.confirm_left(link) == 0
    assert link_events(fp)[-1] == (LinkConfirmed(peer=PEER), admin.number, UnlockMethod.PIN)
    fp.lock.inside_button()
    assert fp.lock.apply_sync_statement(PEER).granted
    fp.clock.advance(DEFAULT_CONFIRM_S * 2)
    fp.lock.tick()  # confirmed: no longer subject to the countdown
    assert fp.lock.find_link(PEER) is not None
    fp.lock.drain_notifications()
    fp.lock.enter_pin(ADMIN_PIN)
    triggers = [e.detail for e in fp.lock.drain_notifications()
                if e.kind is EventKind.SYNC_TRIGGER]
    assert triggers == [SyncTarget(peer=PEER)]


def test_r_syn_1_admin_face_confirms_but_not_a_phone_or_a_duress_pin(fp: Env) -> None:
    """R-SYN-1: presence at the door: an admin's face confirms; the admin's phone (a
    Bluetooth unlock from up to 50 m), and an admin's duress PIN, do not."""
    admin = fp.user_with_pin(ADMIN_PIN, Role.ADMIN)
    coerced = fp.user(Role.ADMIN, name="coerced")
    fp.lock.add_pin(fp.admin, coerced.number, "97531864", duress=True)
    pending(fp)
    assert fp.lock.unlock_bluetooth(fp.admin).granted  # user 1 is an admin, by phone
    assert fp.lock.enter_pin("97531864").duress
    link = fp.lock.find_link(PEER)
    assert link is not None
    assert link.pending
    fp.enrol(admin, CredentialKind.FACE, b"admin-face")
    fp.lock.touch_keypad()
    face = fp.lock.present_biometric(CredentialKind.FACE, b"admin-face")
    assert isinstance(face, Decision)
    assert face.granted
    link = fp.lock.find_link(PEER)
    assert link is not None
    assert link.confirmed_by == admin.number
    assert UnlockMethod.BLUETOOTH not in CONFIRM_METHODS
    assert UnlockMethod.FACE in CONFIRM_METHODS


def test_r_syn_1_normal_users_pin_does_not_confirm_and_the_link_expires(fp: Env) -> None:
    """R-SYN-1: a normal user's PIN does not confirm; when the countdown ends the
    pending link is removed by ``tick`` at ``next_deadline`` and logged as expired."""
    fp.user_with_pin(USER_PIN)
    fp.user_with_pin(ADMIN_PIN, Role.ADMIN)
    pending(fp, confirm_s=30)
    deadline = fp.clock.now() + 30
    assert fp.lock.enter_pin(USER_PIN).granted
    fp.lock.inside_button()
    fp.clock.advance(25)  # past the keypad's sleep (R-MOD-8), another deadline
    fp.lock.tick()
    assert fp.lock.next_deadline() == deadline
    fp.clock.advance(4.9)
    fp.lock.tick()
    assert fp.lock.find_link(PEER) is not None
    fp.clock.advance(0.1)
    fp.lock.tick()
    assert fp.lock.find_link(PEER) is None
    assert fp.lock.list_links(fp.admin) == []
    assert link_events(fp)[-1] == (LinkExpired(peer=PEER), None, None)
    assert fp.lock.enter_pin(ADMIN_PIN).granted  # too late: nothing to confirm
    assert fp.lock.find_link(PEER) is None
    assert fp.lock.apply_sync_statement(PEER).reason is ErrorCode.PERMISSION_DENIED


def test_r_syn_1_countdown_bounds_and_session_confirmed_side(fp: Env) -> None:
    """R-SYN-1: the countdown is 10..300 s (0: the side where the admin enabled sync,
    confirmed by the admin's session); a link set again with a countdown needs a new
    confirmation."""
    for bad in (5, 301, -1, True):
        with pytest.raises(InvalidInputError):
            fp.lock.link_lock(fp.admin, PEER, PEER_KEY, confirm_s=bad)  # type: ignore[arg-type] # bad on purpose
    fp.lock.update_settings(fp.admin, sync_unlock=True)
    link = fp.lock.link_lock(fp.admin, PEER, PEER_KEY, confirm_s=0)
    assert not link.pending
    assert link.confirmed_by is None
    assert fp.lock.apply_sync_statement(PEER).granted
    again = fp.lock.link_lock(fp.admin, PEER, PEER_KEY, window_s=20, confirm_s=60)
    assert again.pending  # set again with a countdown: confirm again at the door
    assert again.window_s == 20
    assert fp.lock.apply_sync_statement(PEER).reason is ErrorCode.LINK_PENDING
    assert link_events(fp)[-1] == (LinkPending(peer=PEER, confirm_s=60), None, None)
    fp.clock.advance(60)
    assert fp.lock.list_links(fp.admin) == []  # expired by the listing itself


def test_r_syn_1_restart_keeps_a_pending_links_deadline(tmp_path: Path) -> None:
    """R-SYN-1: a pending link survives a restart (SQLite) with its deadline, stays
    pending, and expires on time."""
    clock = FakeClock(START)
    admin = Actor.phone(b"\xad" * 32)
    with SqliteStore(tmp_path / "lock.db") as store:
        provision(store, FakeRng(1))
        lock = Lock(store=store, profile=FACE_PALM, clock=clock, rng=FakeRng(2))
        lock.press_set_button()
        lock.claim(phone_key=b"\xad" * 32)
        lock.update_settings(admin, sync_unlock=True)
        lock.link_lock(admin, PEER, PEER_KEY, confirm_s=120)
    clock.advance(100)
    with SqliteStore(tmp_path / "lock.db") as store:
        again = Lock(store=store, profile=FACE_PALM, clock=clock, rng=FakeRng(3))
        link = again.find_link(PEER)
        assert link is not None
        assert link.confirm_by == START + 120
        assert again.confirm_left(link) == pytest.approx(20)
        assert again.next_deadline() == START + 120
        assert again.apply_sync_statement(PEER).reason is ErrorCode.LINK_PENDING
        clock.advance(20)
        again.tick()
        assert again.find_link(PEER) is None
