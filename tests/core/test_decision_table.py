"""The one unlock decision, walked cell by cell on a real lock (issue 11).

Every (path × rule) cell of ``ble_lock.core.decision.TABLE`` — plus the "no rule" column
— is set up on a lock whose profile has every feature, the path is driven through the
lock's public API, and what the lock did (opened, refused with a reason, asked for a
second key, locked, ended passage mode, held the door open) must be what the table
says. The table in ``docs/core.md`` must be the one the code declares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path as FsPath
from types import MappingProxyType

import pytest
from core_env import START, Env, make_env

from ble_lock.core.clock import FakeRng
from ble_lock.core.decision import (
    RULE_ORDER,
    TABLE,
    Path,
    Rule,
    Situation,
    Verdict,
    decide,
    input_path,
    render_table,
)
from ble_lock.core.errors import ErrorCode
from ble_lock.core.lock import Lock
from ble_lock.core.model import (
    Actor,
    BoltState,
    Credential,
    CredentialKind,
    Decision,
    EventKind,
    Role,
    Settings,
    User,
)
from ble_lock.core.profile import DL20VC, FACE_PALM, Feature, Profile
from ble_lock.core.rules import visitor
from ble_lock.core.rules.lockout import Barrier, barrier_of, refused_by

#: A profile with every feature and credential kind, so every cell is reachable.
ALL = replace(FACE_PALM, name="all-features",
              capacities=MappingProxyType({**DL20VC.capacities, **FACE_PALM.capacities}),
              roles=frozenset(Role), features=frozenset(Feature))

PIN = "135790"
CARD = b"\xca\xfe\x00\x01"
CARD_CODE = "482915"
FINGER, FACE, PALM = b"finger-u", b"face-u", b"palm-u"
REMOTE = b"remote-u"
PHONE = b"\x11" * 32
PEER = b"\xb0\x0b\x00\x01"
PEER_KEY = b"\x22" * 32
DOC = FsPath(__file__).parents[2] / "docs" / "core.md"


@dataclass
class Rig:
    env: Env
    user: int
    phone: Actor

    @property
    def lock(self) -> Lock:
        return self.env.lock


#: What a path or a rule needs from the profile (a kind it stores, a feature it has).
NEEDS_KIND = {Path.FACE: CredentialKind.FACE, Path.PALM: CredentialKind.PALM,
              Path.CARD: CredentialKind.CARD, Path.REMOTE_CONTROL: CredentialKind.REMOTE_CONTROL}
NEEDS_FEATURE = {Path.SYNC: Feature.SYNC_UNLOCK, Path.SYNC_RELOCK: Feature.SYNC_UNLOCK,
                 Path.VISITOR_CODE: Feature.VISITOR_CODES, Path.AUTO_LOCK: Feature.LOCK_BODY,
                 Rule.PRIVACY: Feature.PRIVACY_MODE, Rule.ANTI_LOCK: Feature.ANTI_LOCK,
                 Rule.DUAL_AUTH: Feature.DUAL_AUTH, Rule.PASSAGE: Feature.PASSAGE_MODE}


def _reachable(profile: Profile, path: Path, rule: Rule | None) -> bool:
    kind = NEEDS_KIND.get(path)
    if kind is not None and not profile.supports(kind):
        return False
    return all(profile.has(NEEDS_FEATURE[x]) for x in (path, rule) if x in NEEDS_FEATURE)


def _rig(rule: Rule | None, profile: Profile = ALL) -> Rig:
    env = make_env(profile)
    lock, admin = env.lock, env.admin
    user = env.user(Role.DUAL_AUTH if rule is Rule.DUAL_AUTH else Role.NORMAL)
    duress = rule is Rule.DURESS
    lock.add_pin(admin, user.number, PIN, duress=duress)
    env.enrol(user, CredentialKind.FINGERPRINT, FINGER, duress=duress)
    for kind, template in ((CredentialKind.FACE, FACE), (CredentialKind.PALM, PALM)):
        if profile.supports(kind):
            env.enrol(user, kind, template)
    if profile.supports(CredentialKind.CARD):
        lock.add_card(admin, user.number, CARD, CARD_CODE, card_code_confirm=CARD_CODE)
    if profile.supports(CredentialKind.REMOTE_CONTROL):
        lock.add_remote_control(admin, user.number, REMOTE)
    phone = env.phone(user, PHONE)
    if profile.has(Feature.SYNC_UNLOCK):
        lock.link_lock(admin, PEER, PEER_KEY, confirm_s=0)
        lock.update_settings(admin, sync_unlock=True)
    lock.update_settings(admin, remote_unlock=True)  # R-APP-5: off is the rule's condition
    lock.drain_notifications()
    return Rig(env=env, user=user.number, phone=phone)


def _condition(rig: Rig, rule: Rule | None) -> None:
    """Make ``rule``'s condition hold (nothing for the "no rule" column)."""
    lock, admin = rig.lock, rig.env.admin
    if rule is Rule.LOCKOUT:
        rig.env.fail_pin(rig.env.profile.lockout_failures)
        assert lock.lockout_remaining() is not None
    elif rule is Rule.REMOTE_OFF:
        lock.update_settings(admin, remote_unlock=False)
    elif rule is Rule.VALIDITY:
        lock.update_user(admin, rig.user, valid_until=START - 10)  # R-USR-7: ended
    elif rule is Rule.PRIVACY:
        lock.update_settings(admin, privacy_mode=True)
    elif rule is Rule.ANTI_LOCK:
        lock.update_settings(admin, anti_lock=True)
        lock.set_thumb_turn(True)
    elif rule is Rule.DUAL_AUTH:
        lock.update_settings(admin, dual_auth_mode=True)
    elif rule is Rule.PASSAGE:
        lock.update_settings(admin, passage_mode=True)
    lock.drain_notifications()


def _visitor_code(rig: Rig, rule: Rule | None) -> str:
    secret = rig.lock.visitor_secret(rig.env.admin)
    if rule is Rule.VALIDITY:  # R-APP-4: the code's own window ended
        return visitor.generate_periodic_code(secret, valid_from=START - 10 * 86400,
                                              valid_until=START - 86400)
    return visitor.generate_one_time_code(secret, now=START)


OPENS: dict[Path, Callable[[Rig, Rule | None], Decision]] = {
    Path.PIN: lambda r, _: r.lock.enter_pin(PIN),
    Path.FINGERPRINT: lambda r, _: r.lock.present_biometric(
        CredentialKind.FINGERPRINT, FINGER),  # type: ignore[return-value]
    Path.FACE: lambda r, _: r.lock.present_biometric(
        CredentialKind.FACE, FACE),  # type: ignore[return-value]
    Path.PALM: lambda r, _: r.lock.present_biometric(
        CredentialKind.PALM, PALM),  # type: ignore[return-value]
    Path.CARD: lambda r, _: r.lock.tap_card(CARD),
    Path.BLUETOOTH: lambda r, _: r.lock.unlock_bluetooth(r.phone),
    Path.REMOTE_CONTROL: lambda r, _: r.lock.press_remote(REMOTE),
    Path.VISITOR_CODE: lambda r, rule: r.lock.enter_pin(_visitor_code(r, rule)),
    Path.MECHANICAL_KEY: lambda r, _: r.lock.mechanical_key(),
    Path.SYNC: lambda r, _: r.lock.apply_sync_statement(PEER),
    # R-APP-5: the rig's user becomes remote-only (a gateway's user); last: it changes
    # what the rig's phone is for the drivers after it
    Path.REMOTE: lambda r, _: _remote_unlock(r),
}


def _remote_unlock(rig: Rig) -> Decision:
    rig.lock.update_user(rig.env.admin, rig.user, role=Role.REMOTE_ONLY)
    rig.lock.drain_notifications()
    return rig.lock.unlock_bluetooth(rig.phone)


def _open_verdict(decision: Decision) -> tuple[Verdict, ErrorCode | None]:
    if decision.granted:
        return Verdict.GRANT, None
    if decision.reason is ErrorCode.DUAL_AUTH_PENDING:
        return Verdict.SECOND_FACTOR, decision.reason
    return Verdict.DENY, decision.reason


def _inside_handle(rig: Rig, rule: Rule | None) -> Verdict:
    rig.lock.open_from_inside()
    return Verdict.GRANT if rig.lock.bolt is BoltState.UNLOCKED else Verdict.DENY


def _restart(rig: Rig, rule: Rule | None) -> Verdict:
    """Path.PASSAGE: what passage mode does to the bolt when the lock starts (R-MOD-4)."""
    env = rig.env
    lock = Lock(store=env.store, profile=env.profile, clock=env.clock, rng=FakeRng(9))
    return Verdict.HOLD if lock.bolt is BoltState.UNLOCKED else Verdict.NOTHING


def _lock_verdict(rig: Rig, passage_before: bool, denied: bool = False) -> Verdict:
    lock = rig.lock
    if denied:
        return Verdict.DENY
    if lock.bolt is BoltState.UNLOCKED:
        return Verdict.HOLD if lock.settings.passage_mode else Verdict.DENY
    if passage_before and not lock.settings.passage_mode:
        return Verdict.END_PASSAGE
    return Verdict.LOCK


def _manual(action: Callable[[Rig], object], *,
            open_first: Callable[[Rig], object] = lambda r: r.lock.mechanical_key(),
            ) -> Callable[[Rig, Rule | None], Verdict]:
    def run(rig: Rig, rule: Rule | None) -> Verdict:
        open_first(rig)
        assert rig.lock.bolt is BoltState.UNLOCKED
        passage = rig.lock.settings.passage_mode
        result = action(rig)
        return _lock_verdict(rig, passage, isinstance(result, Decision) and not result.granted)
    return run


def _thumb_turn(rig: Rig) -> None:
    rig.lock.set_thumb_turn(False)
    rig.lock.set_thumb_turn(True)


def _countdown(rig: Rig, rule: Rule | None) -> Verdict:
    lock = rig.lock
    lock.update_settings(rig.env.admin, countdown_lock=True, countdown_s=5)
    lock.mechanical_key()
    passage = lock.settings.passage_mode
    rig.env.clock.advance(5)
    lock.tick()
    return _lock_verdict(rig, passage)


def _auto_lock(rig: Rig, rule: Rule | None) -> Verdict:
    lock = rig.lock
    lock.mechanical_key()
    passage = lock.settings.passage_mode
    lock.door_opened()
    lock.door_closed()
    return _lock_verdict(rig, passage)


LOCKS: dict[Path, Callable[[Rig, Rule | None], Verdict]] = {
    Path.PASSAGE: _restart,
    Path.INSIDE_HANDLE: _inside_handle,
    Path.INSIDE_BUTTON: _manual(lambda r: r.lock.inside_button()),
    Path.THUMB_TURN: _manual(_thumb_turn),
    Path.OUTSIDE_CONFIRM: _manual(lambda r: r.lock.press_key("#"),
                                  open_first=lambda r: r.lock.open_from_inside()),
    Path.BLUETOOTH_LOCK: _manual(lambda r: r.lock.lock_bluetooth(r.phone)),
    Path.COUNTDOWN: _countdown,
    Path.AUTO_LOCK: _auto_lock,
}


def _sync_relock(rule: Rule | None, profile: Profile) -> tuple[Rig, Verdict]:
    """R-SYN-3: the door opened by a statement, then the rule's condition, then the end
    of the window (the statement first: most conditions refuse statements)."""
    rig = _rig(rule, profile)
    assert rig.lock.apply_sync_statement(PEER).granted
    _condition(rig, rule)
    passage = rig.lock.settings.passage_mode
    rig.env.clock.advance(rig.lock.find_link(PEER).window_s)  # type: ignore[union-attr]
    rig.lock.tick()
    return rig, _lock_verdict(rig, passage)


#: Every cell on the all-features profile, and on each real profile every cell it can
#: reach (a mode it lacks cannot be set, a kind it lacks cannot be presented).
CELLS = [(profile, path, rule) for profile in (ALL, DL20VC, FACE_PALM) for path in TABLE
         for rule in (None, *RULE_ORDER) if _reachable(profile, path, rule)]


def test_every_path_has_a_driver() -> None:
    assert set(OPENS) | set(LOCKS) | {Path.SYNC_RELOCK} == set(Path)


def test_every_cell_is_walked() -> None:
    assert {(p, r) for prof, p, r in CELLS if prof is ALL} == {
        (p, r) for p in Path for r in (None, *RULE_ORDER)}


@pytest.mark.parametrize(("profile", "path", "rule"), CELLS,
                         ids=[f"{pr.name}-{p.name}-{r.name if r else 'NONE'}"
                              for pr, p, r in CELLS])
def test_decision_table_cell(profile: Profile, path: Path, rule: Rule | None) -> None:
    """Issue 11: each (path × rule) cell does on a real lock what the table declares
    (R-SEC-1, R-USR-7, R-MOD-1/2/3/4, R-USR-8, R-CRD-6, R-LCK-1..4, R-SYN-2/3)."""
    row = TABLE[path]
    cell = row.cells.get(rule) if rule is not None else None
    expected = cell.verdict if cell is not None else row.base
    if path is Path.SYNC_RELOCK:
        rig, verdict = _sync_relock(rule, profile)
        assert verdict is expected
        return
    rig = _rig(rule, profile)
    _condition(rig, rule)
    passage = rig.lock.settings.passage_mode
    if path in OPENS:
        verdict, reason = _open_verdict(OPENS[path](rig, rule))
        assert verdict is expected, (path, rule, reason)
        if cell is not None and cell.reason is not None and rule is not Rule.VALIDITY:
            assert reason is cell.reason
        if rule is Rule.VALIDITY and cell is not None:
            assert reason in (ErrorCode.OUTSIDE_VALIDITY, ErrorCode.KEY_EXPIRED)
        notes = rig.lock.drain_notifications()
        alarm = any(e.kind is EventKind.DURESS_ALARM for e in notes)
        assert alarm == (cell is not None and cell.alarm)
        if passage and verdict is Verdict.GRANT:
            ends = cell is not None and cell.ends_passage
            assert rig.lock.settings.passage_mode is not ends
    else:
        assert LOCKS[path](rig, rule) is expected


UNIDENTIFIED: dict[Path, Callable[[Lock], Decision]] = {
    Path.PIN: lambda lock: lock.enter_pin("97531864"),
    Path.FINGERPRINT: lambda lock: lock.present_biometric(
        CredentialKind.FINGERPRINT, b"nobody"),  # type: ignore[return-value]
    Path.FACE: lambda lock: lock.present_biometric(
        CredentialKind.FACE, b"nobody"),  # type: ignore[return-value]
    Path.PALM: lambda lock: lock.present_biometric(
        CredentialKind.PALM, b"nobody"),  # type: ignore[return-value]
    Path.CARD: lambda lock: lock.tap_card(b"\x0b\xad"),
    Path.REMOTE_CONTROL: lambda lock: lock.press_remote(b"nobody"),
    Path.BLUETOOTH: lambda lock: lock.unlock_bluetooth(Actor.phone(b"\x99" * 32)),
    Path.BLUETOOTH_LOCK: lambda lock: lock.lock_bluetooth(Actor.phone(b"\x99" * 32)),
}


@pytest.mark.parametrize("path", sorted(UNIDENTIFIED, key=lambda p: p.name),
                         ids=lambda p: p.name)
def test_unidentified_credential(path: Path) -> None:
    """Issue 11 / R-SEC-1: nothing identified is refused with the row's reason, and
    counts toward the lockout exactly where the table says."""
    row = TABLE[path]
    assert set(UNIDENTIFIED) == {p for p, r in TABLE.items() if r.unidentified is not None}
    lock = make_env(ALL).lock
    for _ in range(ALL.lockout_failures):
        decision = UNIDENTIFIED[path](lock)
        assert not decision.granted
        assert decision.reason is row.unidentified
    run = input_path(path)  # R-SEC-1: the failures count on the path's own run
    assert (lock.lockout_remaining(run) is not None) is row.counts_unidentified
    system = row.counts_unidentified and run is not None and barrier_of(run) is Barrier.SYSTEM
    assert (lock.lockout_remaining() is not None) is system  # the remote's limiter is its own


@pytest.mark.parametrize("tripped", [Path.PIN, Path.FINGERPRINT, Path.CARD,
                                     Path.REMOTE_CONTROL], ids=lambda p: p.name)
def test_lockout_column_names_the_lockouts(tripped: Path) -> None:
    """R-SEC-1 per input path: a run tripped on ``tripped``'s path refuses exactly the
    paths whose lockout cell names its barrier (the keypad, sensor and card trip the
    system lockout, refusing every path with a lockout cell; the remote control's limiter
    refuses the remote control only); the table's text says the same."""
    rig = _rig(None)
    barrier = barrier_of(input_path(tripped))  # type: ignore[arg-type]
    for _ in range(ALL.lockout_failures):
        UNIDENTIFIED[tripped](rig.lock)
    refused = set()
    for path, action in OPENS.items():
        decision = action(rig, None)
        if decision.reason is ErrorCode.LOCKED_OUT:
            refused.add(path)
        else:
            assert decision.granted, (path, decision.reason)
    assert refused == {p for p, row in TABLE.items() if Rule.LOCKOUT in row.cells
                       and barrier in refused_by(input_path(p))}
    assert refused == {p for p in OPENS if barrier.value in render_table().splitlines()[
        2 + list(TABLE).index(p)].split(" | ")[2]}


def test_docs_carry_the_decision_table() -> None:
    """docs/core.md shows the table the code declares (one declaration per fact)."""
    assert render_table() in DOC.read_text()


# -- the pure function: one order


def _situation(**kw: object) -> Situation:
    user = User(number=2, name="u", role=Role.DUAL_AUTH, valid_until=START - 1)
    pin = Credential(id=7, kind=CredentialKind.PIN, user_number=2, digest=b"d", duress=True)
    finger = Credential(id=8, kind=CredentialKind.FINGERPRINT, user_number=2, digest=b"e")
    settings = Settings(privacy_mode=True, anti_lock=True, dual_auth_mode=True,
                        passage_mode=True)
    base: dict[str, object] = dict(
        path=Path.PIN, features=frozenset(Feature), settings=settings, wall=START,
        now=START, locked_out=42.0, thumb_turn_locked=True, user=user, credential=pin,
        user_keys=(pin, finger), dual_window=10.0)
    base.update(kw)
    return Situation(**base)  # type: ignore[arg-type]


def test_rules_run_in_the_documented_order() -> None:
    """Issue 11: with every condition holding, each rule in RULE_ORDER decides in turn as
    the ones before it are lifted (R-SEC-1, R-USR-7, R-MOD-2, R-MOD-1, R-USR-8, R-MOD-4,
    R-CRD-6)."""
    s = _situation()
    seen = []
    for lift in ({"locked_out": None},
                 {"user": replace(s.user, valid_until=None)},  # type: ignore[type-var]
                 {"settings": replace(s.settings, privacy_mode=False)},
                 {"thumb_turn_locked": False}):
        outcome = decide(s)
        seen.append(outcome.rule)
        s = replace(s, **lift)  # type: ignore[arg-type]
    outcome = decide(s)
    assert seen == [Rule.LOCKOUT, Rule.VALIDITY, Rule.PRIVACY, Rule.ANTI_LOCK]
    assert (outcome.verdict, outcome.rule) == (Verdict.SECOND_FACTOR, Rule.DUAL_AUTH)
    assert outcome.dual_first is not None
    assert outcome.dual_first.until == START + 10.0
    s = replace(s, user=replace(s.user, role=Role.ADMIN))  # type: ignore[type-var]
    outcome = decide(s)
    assert (outcome.verdict, outcome.ends_passage, outcome.alarm) == (Verdict.GRANT, True, True)


def test_lockout_answers_before_matching() -> None:
    """R-SEC-1: a locked-out lock says LOCKED_OUT for an unknown credential too (no
    oracle), and an unknown one outside a lockout is a counted NO_MATCH."""
    locked = decide(_situation(identified=False, user=None, credential=None))
    assert (locked.reason, locked.retry_after, locked.counts_failure) == (
        ErrorCode.LOCKED_OUT, 42.0, False)
    free = decide(_situation(identified=False, user=None, credential=None, locked_out=None))
    assert (free.reason, free.counts_failure) == (ErrorCode.NO_MATCH, True)


def test_r_usr_8_pair_needs_a_key_at_the_door() -> None:
    """R-USR-8: a phone after a phone is a new first key; a PIN after the phone opens."""
    phone = Credential(id=9, kind=CredentialKind.BLUETOOTH_KEY, user_number=2, digest=b"f")
    phone2 = Credential(id=10, kind=CredentialKind.BLUETOOTH_KEY, user_number=2, digest=b"g")
    dual = User(number=2, name="u", role=Role.DUAL_AUTH)
    settings = Settings(dual_auth_mode=True)
    first = decide(_situation(path=Path.BLUETOOTH, credential=phone, user=dual,
                              settings=settings, locked_out=None, user_keys=(phone, phone2)))
    assert first.verdict is Verdict.SECOND_FACTOR
    again = decide(_situation(path=Path.BLUETOOTH, credential=phone2, user=dual,
                              settings=settings, locked_out=None, user_keys=(phone, phone2),
                              dual_pending=first.dual_first))
    assert again.verdict is Verdict.SECOND_FACTOR
    pin = Credential(id=7, kind=CredentialKind.PIN, user_number=2, digest=b"d")
    done = decide(_situation(credential=pin, user=dual, settings=settings, locked_out=None,
                             user_keys=(phone, pin), dual_pending=first.dual_first))
    assert (done.verdict, done.dual_complete) == (Verdict.GRANT, True)
    late = decide(_situation(credential=pin, user=dual, settings=settings, locked_out=None,
                             user_keys=(phone, pin), dual_pending=first.dual_first,
                             now=START + 10.0))
    assert late.verdict is Verdict.SECOND_FACTOR
