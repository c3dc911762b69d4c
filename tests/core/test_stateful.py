# ruff: noqa: PT017 - a state machine branches on the error a step may or may not raise
"""Hypothesis state machine over the lock core, one per model profile.

Random sequences of user and credential management, keypad/card/fingerprint attempts,
clock jumps, mode changes (privacy, anti-lock with the thumb-turn, dual-auth, passage),
sync links and statements, the inside button, lockout lifts and factory resets, checked
against a small independent model. Invariants after every step: capacities and per-user
limits never exceeded, never zero admins once claimed, a deleted user's credentials never
verify (every keypad attempt is predicted exactly by the model), lockout windows exact
(the time left equals the model's to the microsecond), event sequence strictly
increasing, no unlock is granted that the decision table (``decision.TABLE``) forbids,
and passage mode always holds the door open (R-MOD-4, also when a sync window ends).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ble_lock.core.clock import FakeClock, FakeRng
from ble_lock.core.decision import RULE_ORDER, TABLE, Path, Rule, Verdict
from ble_lock.core.errors import ErrorCode, LockError
from ble_lock.core.lock import Lock, provision
from ble_lock.core.model import Actor, BoltState, CredentialKind, Decision, Role
from ble_lock.core.profile import DL20VC, FACE_PALM, Feature, Profile
from ble_lock.core.store import MemoryStore

ADMIN_KEY = b"\xad" * 32
PINS = ["135790", "246801", "975312", "864208", "192837", "918273", "507294", "382910"]
TEMPLATES = [b"finger-%d" % i for i in range(6)]
CARDS = [bytes([i, i, i, i]) for i in range(1, 6)]
CARD_CODE = "482915"
PEER = b"\xa0\x00\x00\x01"
PEER_KEY = b"\x33" * 32


def _small(profile: Profile) -> Profile:
    """Capacities low enough that random sequences hit them."""
    from dataclasses import replace
    from types import MappingProxyType

    caps = {k: min(v, 4) for k, v in profile.capacities.items()}
    return replace(profile, name=profile.name, max_users=5, capacities=MappingProxyType(caps))


@dataclass
class Model:
    users: dict[int, Role] = field(default_factory=dict)
    pins: dict[str, int] = field(default_factory=dict)  # pin -> user
    # R-SEC-1: a run of failures per input path; one lockout for the user-input paths
    failures: dict[str, deque[float]] = field(
        default_factory=lambda: {"keypad": deque(), "sensor": deque()})
    locked_until: float | None = None
    thumb_turn_locked: bool = False
    linked: bool = False
    passage: bool = False


class LockMachine(RuleBasedStateMachine):
    profile: Profile = DL20VC

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(1_750_000_000.0)
        self.store = MemoryStore()
        provision(self.store, FakeRng(3))
        self.prof = _small(self.profile)
        self.lock = Lock(store=self.store, profile=self.prof, clock=self.clock, rng=FakeRng(4))
        self.admin = Actor.phone(ADMIN_KEY)
        self.model = Model()
        self.last_seq = 0
        self._claim()

    def _claim(self) -> None:
        self.lock.press_set_button()
        self.lock.claim(phone_key=ADMIN_KEY)
        self.model = Model(users={1: Role.ADMIN},
                           thumb_turn_locked=self.model.thumb_turn_locked)
        if self.prof.has(Feature.SYNC_UNLOCK):  # linked from the start: statements count
            self.lock.link_lock(self.admin, PEER, PEER_KEY, confirm_s=0)
            self.lock.update_settings(self.admin, sync_unlock=True)
            self.model.linked = True

    # -- the decision table, from the model's view of modes (issue 11)

    def _forbidding(self, path: Path, role: Role | None) -> list[Rule]:
        """The rules whose cells refuse ``path`` in the model's state, in order."""
        settings, prof = self.lock.settings, self.prof
        outside_admin = role is not Role.ADMIN
        holds = {
            Rule.LOCKOUT: settings.lockout_enabled and self._model_retry() is not None,
            Rule.PRIVACY: prof.has(Feature.PRIVACY_MODE) and settings.privacy_mode
            and outside_admin,
            Rule.ANTI_LOCK: prof.has(Feature.ANTI_LOCK) and settings.anti_lock
            and self.model.thumb_turn_locked and outside_admin,
        }
        row = TABLE[path]
        return [r for r in RULE_ORDER if holds.get(r) and r in row.cells
                and row.cells[r].verdict is not Verdict.GRANT]

    def _check_table(self, path: Path, role: Role | None, decision: Decision) -> bool:
        """No unlock is granted that the table forbids; True if it forbade this one."""
        forbidding = self._forbidding(path, role)
        if forbidding:
            assert not decision.granted, (path, forbidding)
            assert decision.reason is TABLE[path].cells[forbidding[0]].reason
        return bool(forbidding)

    # -- model of R-SEC-1

    def _now(self) -> float:
        return self.clock.now()

    def _model_retry(self) -> float | None:
        m = self.model
        if m.locked_until is not None and self._now() >= m.locked_until:
            m.locked_until = None
        return None if m.locked_until is None else m.locked_until - self._now()

    def _model_fail(self, path: str) -> None:
        if not self.lock.settings.lockout_enabled:
            return
        m, now = self.model, self._now()
        run = m.failures[path]
        while run and now - run[0] >= self.prof.lockout_window_s:
            run.popleft()
        run.append(now)
        if len(run) >= self.prof.lockout_failures:
            self._model_clear()
            m.locked_until = now + self.prof.lockout_duration_s

    def _model_clear(self) -> None:
        for run in self.model.failures.values():
            run.clear()

    # -- management rules

    @rule(admin=st.booleans())
    def add_user(self, admin: bool) -> None:
        role = Role.ADMIN if admin else Role.NORMAL
        try:
            user = self.lock.add_user(self.admin, name="u", role=role)
        except LockError as exc:
            assert exc.code is ErrorCode.CAPACITY_FULL
            assert len(self.model.users) == self.prof.max_users
            return
        assert user.number not in self.model.users
        self.model.users[user.number] = role

    @rule(data=st.data())
    def delete_user(self, data: st.DataObject) -> None:
        number = data.draw(st.sampled_from(sorted(self.model.users)))
        try:
            self.lock.delete_user(self.admin, number)
        except LockError as exc:
            assert exc.code in (ErrorCode.SELF_DELETE, ErrorCode.LAST_ADMIN)
            assert number == 1 or list(self.model.users.values()).count(Role.ADMIN) == 1
            return
        del self.model.users[number]
        self.model.pins = {p: u for p, u in self.model.pins.items() if u != number}

    @rule(data=st.data(), admin=st.booleans())
    def change_role(self, data: st.DataObject, admin: bool) -> None:
        number = data.draw(st.sampled_from(sorted(self.model.users)))
        role = Role.ADMIN if admin else Role.NORMAL
        try:
            self.lock.update_user(self.admin, number, role=role)
        except LockError as exc:
            assert exc.code in (ErrorCode.LAST_ADMIN, ErrorCode.SELF_DELETE)
            assert number == 1 or exc.code is ErrorCode.LAST_ADMIN
            assert not (number == 1 and role is Role.ADMIN)
            return
        assert number != 1 or role is Role.ADMIN
        self.model.users[number] = role

    @rule(data=st.data(), pin=st.sampled_from(PINS))
    def add_pin(self, data: st.DataObject, pin: str) -> None:
        number = data.draw(st.sampled_from(sorted(self.model.users)))
        try:
            self.lock.add_pin(self.admin, number, pin)
        except LockError as exc:
            assert exc.code in (ErrorCode.CAPACITY_FULL, ErrorCode.USER_LIMIT_REACHED,
                                ErrorCode.ALREADY_EXISTS)
            assert exc.code is not ErrorCode.ALREADY_EXISTS or pin in self.model.pins
            return
        assert pin not in self.model.pins
        self.model.pins[pin] = number

    @rule(data=st.data(), template=st.sampled_from(TEMPLATES))
    def enrol_fingerprint(self, data: st.DataObject, template: bytes) -> None:
        number = data.draw(st.sampled_from(sorted(self.model.users)))
        try:
            session = self.lock.begin_enrolment(self.admin, number, CredentialKind.FINGERPRINT)
            for _ in range(session.captures_needed):
                self.lock.present_biometric(CredentialKind.FINGERPRINT, template)
        except LockError as exc:
            assert exc.code in (ErrorCode.CAPACITY_FULL, ErrorCode.USER_LIMIT_REACHED,
                                ErrorCode.ALREADY_EXISTS)

    @precondition(lambda self: self.prof.supports(CredentialKind.CARD))
    @rule(data=st.data(), card=st.sampled_from(CARDS))
    def add_card(self, data: st.DataObject, card: bytes) -> None:
        number = data.draw(st.sampled_from(sorted(self.model.users)))
        try:
            self.lock.add_card(self.admin, number, card, CARD_CODE, card_code_confirm=CARD_CODE)
        except LockError as exc:
            assert exc.code in (ErrorCode.CAPACITY_FULL, ErrorCode.ALREADY_EXISTS)

    @rule(data=st.data())
    def delete_a_credential(self, data: st.DataObject) -> None:
        creds = [c for c in self.lock.list_credentials(self.admin)
                 if c.public_key != ADMIN_KEY]
        if not creds:
            return
        cred = data.draw(st.sampled_from(creds))
        self.lock.delete_credential(self.admin, cred.id)
        if cred.kind is CredentialKind.PIN:
            self.model.pins = {p: u for p, u in self.model.pins.items() if u != cred.user_number
                               or self.lock.find_phone(ADMIN_KEY) is None
                               or self._pin_alive(p)}

    def _pin_alive(self, pin: str) -> bool:
        return self.lock.unlock.match_pin(pin) is not None

    @rule()
    def clear_pins(self) -> None:
        self.lock.clear_credentials(self.admin, CredentialKind.PIN)
        self.model.pins = {p: u for p, u in self.model.pins.items() if u == 1}

    # -- attempts

    @rule(pin=st.sampled_from([*PINS, "000000", "11111111"]),
          pad=st.text("0123456789", max_size=4))
    def enter_pin(self, pin: str, pad: str) -> None:
        entry = pad + pin if pin in PINS else pin
        decision = self.lock.enter_pin(entry)
        retry = self._model_retry()
        if retry is not None and self.lock.settings.lockout_enabled:
            assert decision.reason is ErrorCode.LOCKED_OUT
            assert decision.retry_after == retry
            return
        owner = self.model.pins.get(pin) if pin in PINS else None
        if owner is None:
            assert not decision.granted
            assert decision.reason is ErrorCode.NO_MATCH
            self._model_fail("keypad")
            assert decision.retry_after == self._model_retry()
            return
        if self._check_table(Path.PIN, self.model.users[owner], decision):
            return
        assert decision.granted, decision
        assert decision.user_number == owner
        self.model.failures["keypad"].clear()  # R-SEC-1: ends the keypad's run only
        assert not self.lock.settings.passage_mode  # R-MOD-4: a PIN success cancels it
        self.model.passage = False

    @rule(template=st.sampled_from(TEMPLATES))
    def present_finger(self, template: bytes) -> None:
        before = self._model_retry()
        decision = self.lock.present_biometric(CredentialKind.FINGERPRINT, template)
        if before is not None and self.lock.settings.lockout_enabled:
            assert decision.reason is ErrorCode.LOCKED_OUT  # type: ignore[union-attr]
            return
        if getattr(decision, "reason", None) is ErrorCode.NO_MATCH:
            self._model_fail("sensor")
        elif getattr(decision, "granted", False):
            self.model.failures["sensor"].clear()

    # -- time and modes

    @rule(seconds=st.sampled_from([0.5, 1.0, 59.0, 120.0, 179.999, 180.0, 299.0, 300.0, 3600.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.lock.tick()

    @rule(on=st.booleans())
    def passage(self, on: bool) -> None:
        self.lock.update_settings(self.admin, passage_mode=on)
        self.model.passage = on

    @rule()
    def inside_button(self) -> None:
        """R-LCK-2 with R-MOD-4: locks, and ends passage mode."""
        self.lock.inside_button()
        assert self.lock.bolt is BoltState.LOCKED
        assert not self.lock.settings.passage_mode
        self.model.passage = False

    @precondition(lambda self: self.prof.has(Feature.ANTI_LOCK))
    @rule(on=st.booleans())
    def anti_lock(self, on: bool) -> None:
        self.lock.update_settings(self.admin, anti_lock=on)

    @precondition(lambda self: self.prof.has(Feature.ANTI_LOCK))
    @rule(locked=st.booleans())
    def thumb_turn(self, locked: bool) -> None:
        self.lock.set_thumb_turn(locked)
        self.model.thumb_turn_locked = locked
        if locked:  # a manual lock: ends passage mode (R-MOD-4)
            self.model.passage = False

    @precondition(lambda self: self.prof.has(Feature.DUAL_AUTH))
    @rule(on=st.booleans())
    def dual_auth(self, on: bool) -> None:
        """R-MOD-3: the mode changes nothing for admins and normal users."""
        self.lock.update_settings(self.admin, dual_auth_mode=on)

    @precondition(lambda self: self.prof.has(Feature.SYNC_UNLOCK))
    @rule(on=st.booleans(), linked=st.booleans())
    def sync_link(self, on: bool, linked: bool) -> None:
        self.lock.update_settings(self.admin, sync_unlock=on)
        if linked and not self.model.linked:
            self.lock.link_lock(self.admin, PEER, PEER_KEY, confirm_s=0)
        elif not linked and self.model.linked:
            self.lock.unlink_lock(self.admin, PEER)
        self.model.linked = linked

    @precondition(lambda self: self.prof.has(Feature.SYNC_UNLOCK))
    @rule(wait=st.booleans())
    def sync_statement(self, wait: bool) -> None:
        """R-SYN-2 with R-MOD-1/2, R-SEC-1: a statement from the linked lock; ``wait``:
        then the sync window ends with the door closed (R-SYN-3)."""
        decision = self.lock.apply_sync_statement(PEER)
        if not (self.model.linked and self.lock.settings.sync_unlock):
            assert decision.reason is ErrorCode.PERMISSION_DENIED
            return
        if not self._check_table(Path.SYNC, None, decision):
            assert decision.granted, decision
            if wait:
                self.advance(float(self.lock.settings.sync_window_s))
                assert self.lock.bolt is (BoltState.UNLOCKED if self.model.passage
                                          else BoltState.LOCKED)

    @precondition(lambda self: self.prof.has(Feature.PRIVACY_MODE))
    @rule(on=st.booleans())
    def privacy(self, on: bool) -> None:
        self.lock.update_settings(self.admin, privacy_mode=on)

    @precondition(lambda self: self.prof.has(Feature.LOCKOUT_CONTROL))
    @rule(on=st.booleans())
    def lockout_switch(self, on: bool) -> None:
        self.lock.update_settings(self.admin, lockout_enabled=on)
        if not on:
            self._model_clear()
            self.model.locked_until = None

    @precondition(lambda self: self.prof.has(Feature.LOCKOUT_CONTROL))
    @rule()
    def lift(self) -> None:
        self.lock.lift_lockout(self.admin)
        self._model_clear()
        self.model.locked_until = None

    @rule()
    def factory_reset(self) -> None:
        self.lock.factory_reset(self.admin)
        assert not self.lock.claimed
        self.model.passage = False
        self._claim()

    # -- invariants

    @invariant()
    def capacities_never_exceeded(self) -> None:
        info = self.lock.system_info(self.admin)
        for kind, count in info.credentials.items():
            assert count <= self.prof.capacity(kind)
        assert info.users <= self.prof.max_users
        for number in self.model.users:
            creds = self.lock.list_credentials(self.admin, number)
            for kind in CredentialKind:
                limit = self.prof.per_user_limit(kind)
                if limit is not None:
                    assert sum(c.kind is kind for c in creds) <= limit

    @invariant()
    def users_match_and_never_zero_admins(self) -> None:
        users = {u.number: u.role for u in self.lock.list_users(self.admin)}
        assert users == self.model.users
        assert Role.ADMIN in users.values()

    @invariant()
    def deleted_credentials_never_match(self) -> None:
        alive = set(self.model.pins)
        for pin in PINS:
            match = self.lock.unlock.match_pin(pin)
            assert (match is not None) == (pin in alive)
            if match is not None:
                assert match.user_number in self.model.users

    @invariant()
    def lockout_window_exact(self) -> None:
        expected = self._model_retry() if self.lock.settings.lockout_enabled else None
        assert self.lock.lockout_remaining() == expected

    @invariant()
    def passage_holds_the_door_open(self) -> None:
        """R-MOD-4: only an admin, a PIN or card success and a manual lock end passage
        mode, and no automatic lock (sync window end, R-SYN-3) closes a door it holds."""
        assert self.lock.settings.passage_mode is self.model.passage
        if self.model.passage:
            assert self.lock.bolt is BoltState.UNLOCKED

    @invariant()
    def event_seq_strictly_increasing(self) -> None:
        events = self.lock.read_events(after=self.last_seq, limit=500).events
        seqs = [e.seq for e in events]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == len(seqs)
        if seqs:
            assert seqs[0] > self.last_seq
            self.last_seq = seqs[-1]


class Dl20vcMachine(LockMachine):
    profile = DL20VC


class FacePalmMachine(LockMachine):
    profile = FACE_PALM


_SETTINGS = settings(max_examples=80, stateful_step_count=40, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])
TestDl20vcStateful = Dl20vcMachine.TestCase
TestDl20vcStateful.settings = _SETTINGS
TestFacePalmStateful = FacePalmMachine.TestCase
TestFacePalmStateful.settings = _SETTINGS
