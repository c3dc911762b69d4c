"""The one unlock decision: every way the door opens, locks or stays open, as one table.

Every path that can open the bolt, keep it open or throw it (:class:`Path`) is decided
by :func:`decide`, a pure function of a :class:`Situation` (the path, who was identified,
the settings and the profile's features, the thumb-turn, the lockout, the time and the
pending dual-auth key). The lock (``unlock.py``) builds the situation, calls
:func:`decide` and carries the :class:`Outcome` out; no path keeps a check of its own.

The rules run in one order, :data:`RULE_ORDER`:

1. R-SEC-1 lockout — first, before anything is matched: a locked-out lock answers
   ``LOCKED_OUT`` whatever was presented, so it is no oracle for which PINs exist;
   then an unidentified credential is a failure (``NO_MATCH``) counted on the run of its
   input path (:func:`input_path`; ``lockout.py``). Which lockout refuses a path is
   ``lockout.refused_by``: the keypad, sensors and card trip the system lockout, which
   refuses every one of them, Bluetooth keys, sync statements and the remote control;
   the remote control also answers to its own limiter;
2. R-USR-7 validity windows and week-day schedules (and a Bluetooth key's revocation and
   window, a visitor code's window);
3. R-MOD-2 privacy mode, 4. R-MOD-1 anti-lock: admins only — before dual-auth, so nobody
   is asked for a second key that would be refused anyway;
5. R-USR-8 / R-MOD-3 dual-auth: two different keys within the profile's window;
6. R-MOD-4 passage mode; 7. R-CRD-6 duress.

R-APP-5 remote unlock (a remote-only user's key, e.g. a gateway's): refused while the
lock's "remote unlock" setting is off (off by default), right after the lockout and
before validity, so a switched-off lock answers the same whoever asks; then every mode
applies as to a Bluetooth key.

:data:`TABLE` says, for every path and rule, what happens when that rule's condition
holds (``None``: the rule does not apply to the path). A cell whose verdict is
:attr:`Verdict.GRANT` modifies a grant (ends passage mode, raises the duress alarm) and
the next rules still run; any other verdict decides. ``docs/core.md`` carries the table
as :func:`render_table` prints it (a test compares them).

Decisions taken here (issue 11):

* R-USR-8: a dual-auth user's phone (Bluetooth key) is one factor of two; the other,
  different key must be presented at the door (PIN, fingerprint, card...) within the
  window, before or after the phone. Two remote keys (phones, the remote accessory) never
  make a pair.
* R-MOD-1/2 with R-SYN-2: a sync statement is an automatic unlock with nobody identified
  at this door, so privacy mode and anti-lock (thumb-turn locked) refuse it — also when an
  admin unlocked the other door: an admin opens this door with their own credential.
* R-MOD-4: the automatic locks (countdown, auto-lock on close, the end of a sync window)
  never lock a door held open by passage mode; a manual lock (inside button, thumb-turn,
  outside ✓, a phone's lock) ends passage mode and locks, so the state that is stored is
  the state of the bolt and a restart opens nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from ble_lock.core.errors import ErrorCode
from ble_lock.core.model import (
    DURESS_KINDS,
    Credential,
    CredentialKind,
    LockBody,
    Role,
    Settings,
    UnlockMethod,
    User,
)
from ble_lock.core.profile import Feature
from ble_lock.core.rules.lockout import InputPath, path_of_method, refused_by
from ble_lock.core.rules.schedule import validity_denial

__all__ = [
    "AT_DOOR_KINDS",
    "FACTOR_KINDS",
    "RULE_ORDER",
    "TABLE",
    "Cell",
    "DualPending",
    "Outcome",
    "Path",
    "Row",
    "Rule",
    "Situation",
    "Verdict",
    "auto_lock_applies",
    "decide",
    "input_path",
    "render_table",
    "unlock_method",
]


class Path(Enum):
    """Every way the bolt is opened, held open or thrown."""

    PIN = "keypad PIN"
    FINGERPRINT = "fingerprint"
    FACE = "face"
    PALM = "palm"
    CARD = "card"
    BLUETOOTH = "Bluetooth key"
    REMOTE = "remote unlock"
    REMOTE_CONTROL = "remote accessory"
    VISITOR_CODE = "visitor code"
    MECHANICAL_KEY = "mechanical key"
    SYNC = "sync statement"
    PASSAGE = "passage mode"
    INSIDE_HANDLE = "inside handle"
    INSIDE_BUTTON = "inside button"
    THUMB_TURN = "thumb-turn locked"
    OUTSIDE_CONFIRM = "outside ✓"
    BLUETOOTH_LOCK = "Bluetooth lock"
    COUNTDOWN = "countdown"
    AUTO_LOCK = "auto-lock on close"
    SYNC_RELOCK = "sync window end"


class Rule(Enum):
    """The rules, each with the id it cites."""

    LOCKOUT = "R-SEC-1"
    REMOTE_OFF = "R-APP-5"
    VALIDITY = "R-USR-7"
    PRIVACY = "R-MOD-2"
    ANTI_LOCK = "R-MOD-1"
    DUAL_AUTH = "R-USR-8"
    PASSAGE = "R-MOD-4"
    DURESS = "R-CRD-6"


#: The one order in which the rules run.
RULE_ORDER = (Rule.LOCKOUT, Rule.REMOTE_OFF, Rule.VALIDITY, Rule.PRIVACY, Rule.ANTI_LOCK,
              Rule.DUAL_AUTH, Rule.PASSAGE, Rule.DURESS)


class Verdict(Enum):
    """What the lock does."""

    GRANT = "grant"  # open the bolt
    DENY = "deny"  # stay as is, with a reason
    SECOND_FACTOR = "second factor"  # R-USR-8: wait for a different key
    LOCK = "lock"  # throw the bolt
    END_PASSAGE = "end passage"  # R-MOD-4: end passage mode and throw the bolt
    HOLD = "hold open"  # R-MOD-4: passage mode keeps the door open (an automatic lock refused)
    NOTHING = "no change"  # nothing holds the door open


@dataclass(frozen=True, slots=True, kw_only=True)
class Cell:
    """What one rule does to one path when its condition holds."""

    verdict: Verdict
    reason: ErrorCode | None = None
    ends_passage: bool = False
    alarm: bool = False
    counts_failure: bool = False

    def text(self) -> str:
        """The cell as the doc's table shows it."""
        parts = [self.verdict.value]
        if self.reason is not None:
            parts[0] += f" `{self.reason.name}`"
        if self.ends_passage and self.verdict is Verdict.GRANT:
            parts.append("ends passage")
        if self.alarm:
            parts.append("duress alarm")
        if self.counts_failure:
            parts.append("counts a failure")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One path: what it does when no rule stops it, and its cells."""

    base: Verdict
    cells: dict[Rule, Cell]
    #: The reason when nothing was identified (None: the path needs no credential).
    unidentified: ErrorCode | None = None
    #: Whether an unidentified attempt counts toward the lockout (R-SEC-1).
    counts_unidentified: bool = False


_DENY_LOCKOUT = Cell(verdict=Verdict.DENY, reason=ErrorCode.LOCKED_OUT)
_DENY_VALIDITY = Cell(verdict=Verdict.DENY, reason=ErrorCode.OUTSIDE_VALIDITY)
_DENY_PRIVACY = Cell(verdict=Verdict.DENY, reason=ErrorCode.PRIVACY_MODE)
_DENY_ANTI_LOCK = Cell(verdict=Verdict.DENY, reason=ErrorCode.ANTI_LOCK)
_SECOND = Cell(verdict=Verdict.SECOND_FACTOR, reason=ErrorCode.DUAL_AUTH_PENDING)
_GRANT = Cell(verdict=Verdict.GRANT)
_GRANT_ENDS_PASSAGE = Cell(verdict=Verdict.GRANT, ends_passage=True)
_DURESS = Cell(verdict=Verdict.GRANT, alarm=True)
_END_PASSAGE = Cell(verdict=Verdict.END_PASSAGE)
_HOLD = Cell(verdict=Verdict.HOLD)


def _credential_row(kind: CredentialKind, *, ends_passage: bool) -> Row:
    cells = {Rule.LOCKOUT: _DENY_LOCKOUT, Rule.VALIDITY: _DENY_VALIDITY,
             Rule.PRIVACY: _DENY_PRIVACY, Rule.ANTI_LOCK: _DENY_ANTI_LOCK,
             Rule.DUAL_AUTH: _SECOND,
             Rule.PASSAGE: _GRANT_ENDS_PASSAGE if ends_passage else _GRANT}
    if kind in DURESS_KINDS:
        cells[Rule.DURESS] = _DURESS
    return Row(base=Verdict.GRANT, unidentified=ErrorCode.NO_MATCH, counts_unidentified=True,
               cells=cells)


_MANUAL_LOCK = Row(base=Verdict.LOCK, cells={Rule.PASSAGE: _END_PASSAGE})
_AUTOMATIC_LOCK = Row(base=Verdict.LOCK, cells={Rule.PASSAGE: _HOLD})
_ALWAYS_OPENS = Row(base=Verdict.GRANT, cells={})

#: Every path × every rule. R-MOD-4: only a PIN or a card ends passage mode on a grant.
TABLE: dict[Path, Row] = {
    Path.PIN: _credential_row(CredentialKind.PIN, ends_passage=True),
    Path.FINGERPRINT: _credential_row(CredentialKind.FINGERPRINT, ends_passage=False),
    Path.FACE: _credential_row(CredentialKind.FACE, ends_passage=False),
    Path.PALM: _credential_row(CredentialKind.PALM, ends_passage=False),
    Path.CARD: _credential_row(CredentialKind.CARD, ends_passage=True),
    # R-APP-3: the phone's key; an unknown key is not a guess (pairing is bounded apart)
    Path.BLUETOOTH: Row(base=Verdict.GRANT, unidentified=ErrorCode.UNKNOWN_KEY, cells={
        Rule.LOCKOUT: _DENY_LOCKOUT, Rule.VALIDITY: _DENY_VALIDITY,
        Rule.PRIVACY: _DENY_PRIVACY, Rule.ANTI_LOCK: _DENY_ANTI_LOCK,
        Rule.DUAL_AUTH: _SECOND, Rule.PASSAGE: _GRANT}),
    # R-APP-5: "through the network", with a remote-only user's key; the setting decides
    # (an unknown key is no remote user: it is refused on the Bluetooth row)
    Path.REMOTE: Row(base=Verdict.GRANT, cells={
        Rule.LOCKOUT: _DENY_LOCKOUT,
        Rule.REMOTE_OFF: Cell(verdict=Verdict.DENY, reason=ErrorCode.REMOTE_UNLOCK_OFF),
        Rule.VALIDITY: _DENY_VALIDITY, Rule.PRIVACY: _DENY_PRIVACY,
        Rule.ANTI_LOCK: _DENY_ANTI_LOCK, Rule.PASSAGE: _GRANT}),
    Path.REMOTE_CONTROL: Row(base=Verdict.GRANT, unidentified=ErrorCode.NO_MATCH,
                             counts_unidentified=True, cells={
        Rule.LOCKOUT: _DENY_LOCKOUT, Rule.VALIDITY: _DENY_VALIDITY,
        Rule.PRIVACY: _DENY_PRIVACY, Rule.ANTI_LOCK: _DENY_ANTI_LOCK,
        Rule.DUAL_AUTH: _SECOND, Rule.PASSAGE: _GRANT}),
    # R-APP-4: nobody identified; its own window is its validity, a refusal is a failure
    Path.VISITOR_CODE: Row(base=Verdict.GRANT, cells={
        Rule.LOCKOUT: _DENY_LOCKOUT,
        Rule.VALIDITY: Cell(verdict=Verdict.DENY, reason=ErrorCode.OUTSIDE_VALIDITY,
                            counts_failure=True),
        Rule.PRIVACY: _DENY_PRIVACY, Rule.ANTI_LOCK: _DENY_ANTI_LOCK, Rule.PASSAGE: _GRANT}),
    Path.MECHANICAL_KEY: _ALWAYS_OPENS,  # R-CRD-1, R-MOD-2: always opens
    # R-SYN-2: an automatic unlock, nobody identified at this door
    Path.SYNC: Row(base=Verdict.GRANT, cells={
        Rule.LOCKOUT: _DENY_LOCKOUT, Rule.PRIVACY: _DENY_PRIVACY,
        Rule.ANTI_LOCK: _DENY_ANTI_LOCK, Rule.PASSAGE: _GRANT}),
    # R-MOD-4: set by an admin, held across restarts; nothing to hold when it is off
    Path.PASSAGE: Row(base=Verdict.NOTHING, cells={Rule.PASSAGE: _HOLD}),
    Path.INSIDE_HANDLE: _ALWAYS_OPENS,  # R-MOD-1: inside operation unaffected
    Path.INSIDE_BUTTON: _MANUAL_LOCK,  # R-LCK-2
    Path.THUMB_TURN: _MANUAL_LOCK,  # R-MOD-1
    Path.OUTSIDE_CONFIRM: _MANUAL_LOCK,  # R-LCK-1
    Path.BLUETOOTH_LOCK: Row(base=Verdict.LOCK, unidentified=ErrorCode.UNKNOWN_KEY, cells={
        Rule.VALIDITY: _DENY_VALIDITY, Rule.PASSAGE: _END_PASSAGE}),
    Path.COUNTDOWN: _AUTOMATIC_LOCK,  # R-LCK-3
    Path.AUTO_LOCK: _AUTOMATIC_LOCK,  # R-LCK-4
    Path.SYNC_RELOCK: _AUTOMATIC_LOCK,  # R-SYN-3
}

#: Each path's unlock method of the same name (derived once from the two enums).
_UNLOCK_METHODS: dict[Path, UnlockMethod | None] = {
    path: UnlockMethod.__members__.get(path.name) for path in Path}


def unlock_method(path: Path) -> UnlockMethod | None:
    """The unlock method of the same name as ``path`` (None: a path that is no unlock
    method of its own: passage, the inside handle and button, the locks)."""
    return _UNLOCK_METHODS[path]


def input_path(path: Path) -> InputPath | None:
    """R-SEC-1: the input path whose failure run an attempt on ``path`` counts on and a
    success on it ends (None: no run, e.g. a Bluetooth key or a sync statement)."""
    method = unlock_method(path)
    return None if method is None else path_of_method(method)


#: R-USR-8: keys presented at the door; a dual-auth pair needs at least one of them.
AT_DOOR_KINDS = frozenset({CredentialKind.PIN, CredentialKind.FINGERPRINT, CredentialKind.CARD,
                           CredentialKind.FACE, CredentialKind.PALM})
#: R-USR-8: the "electronic keys" a dual-auth user combines: the phone and the remote
#: accessory are one each, never both of a pair (one key of a pair is at the door).
FACTOR_KINDS = AT_DOOR_KINDS | {CredentialKind.BLUETOOTH_KEY, CredentialKind.REMOTE_CONTROL}


@dataclass(frozen=True, slots=True, kw_only=True)
class DualPending:
    """R-USR-8: the first key of a dual-auth user, waiting for a different second one."""

    user_number: int
    credential_id: int
    kind: CredentialKind
    until: float  # injected clock


@dataclass(slots=True, kw_only=True)
class Situation:
    """Everything the decision looks at; built by the lock for each attempt. Nothing
    changes it after it is built (:func:`decide` only reads it); not ``frozen``: a frozen
    dataclass sets each of its 16 fields through ``object.__setattr__``, which more than
    doubled its construction on every unlock (issue 10 lock CPU)."""

    path: Path
    features: frozenset[Feature]
    settings: Settings
    wall: float  # the lock's wall clock: validity, schedules
    now: float  # the injected lock clock (Management.now, not monotonic): the dual-auth window
    locked_out: float | None = None  # seconds left in the lockout (R-SEC-1)
    thumb_turn_locked: bool = False
    identified: bool = True  # False: a credential was presented and matched nothing
    user: User | None = None
    credential: Credential | None = None
    #: The identified user's electronic keys (R-USR-8 needs two; only a DUAL_AUTH user's
    #: are read).
    user_keys: tuple[Credential, ...] = ()
    dual_pending: DualPending | None = None
    #: R-USR-8: seconds a first key waits for the second (the profile's).
    dual_window: float = 0.0
    #: R-APP-4: why a visitor code is not valid now (outside its window, a one-time code
    #: used already); None: valid, or not a visitor code.
    code_denial: ErrorCode | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """The decision: a verdict, its reason and the rule that took it, and the effects a
    grant carries."""

    verdict: Verdict
    reason: ErrorCode | None = None
    rule: Rule | None = None
    retry_after: float | None = None
    ends_passage: bool = False
    alarm: bool = False
    counts_failure: bool = False
    #: R-USR-8: the grant completes a dual-auth pair (method ``DUAL_AUTH``).
    dual_complete: bool = False
    #: R-USR-8: the key to remember as the first of a pair (with SECOND_FACTOR).
    dual_first: DualPending | None = None

    @property
    def opens(self) -> bool:
        """Whether the bolt is to be opened."""
        return self.verdict is Verdict.GRANT


def _mode_on(s: Situation, feature: Feature, value: bool) -> bool:
    return feature in s.features and value


def _not_admin(s: Situation) -> bool:
    return s.user is None or s.user.role is not Role.ADMIN


def _validity_reason(s: Situation) -> ErrorCode | None:
    """R-USR-7 (and R-APP-3/4 for keys and codes): why the presented thing is not valid now."""
    if s.code_denial is not None:
        return s.code_denial
    return validity_denial(s.credential, s.user, s.wall, s.settings.utc_offset_min)


def _locked_out(s: Situation) -> bool:
    return s.locked_out is not None


def _invalid(s: Situation) -> bool:
    return _validity_reason(s) is not None


def _private(s: Situation) -> bool:
    return s.settings.privacy_mode and Feature.PRIVACY_MODE in s.features and _not_admin(s)


def _anti_locked(s: Situation) -> bool:
    return (s.settings.anti_lock and s.thumb_turn_locked and Feature.ANTI_LOCK in s.features
            and _not_admin(s))


def _dual_user(s: Situation) -> bool:
    return (s.user is not None and s.user.role is Role.DUAL_AUTH
            and s.credential is not None and s.credential.kind in FACTOR_KINDS
            and _mode_on(s, Feature.DUAL_AUTH, s.settings.dual_auth_mode))


def _remote_off(s: Situation) -> bool:
    return not s.settings.remote_unlock


def _passage(s: Situation) -> bool:
    return _mode_on(s, Feature.PASSAGE_MODE, s.settings.passage_mode)


def _duress(s: Situation) -> bool:
    return s.credential is not None and s.credential.duress


#: Each rule's condition (a lookup, not a chain of comparisons: it runs on every attempt).
_CONDITIONS: dict[Rule, Callable[[Situation], bool]] = {
    Rule.LOCKOUT: _locked_out, Rule.REMOTE_OFF: _remote_off, Rule.VALIDITY: _invalid,
    Rule.PRIVACY: _private, Rule.ANTI_LOCK: _anti_locked, Rule.DUAL_AUTH: _dual_user,
    Rule.PASSAGE: _passage, Rule.DURESS: _duress}


def _dual(s: Situation, cell: Cell) -> Outcome | None:
    """R-USR-8: None when ``s`` completes a pair (a different key of the same user within
    the window, at least one of the two at the door); else the first step."""
    assert s.user is not None  # _dual_user checked both
    assert s.credential is not None
    cred, pending = s.credential, s.dual_pending
    if len({c.id for c in s.user_keys if c.kind in FACTOR_KINDS}) < 2:
        return Outcome(verdict=Verdict.DENY, reason=ErrorCode.NO_CREDENTIALS, rule=Rule.DUAL_AUTH)
    if (pending is not None and pending.user_number == s.user.number
            and pending.credential_id != cred.id and s.now < pending.until
            and (pending.kind in AT_DOOR_KINDS or cred.kind in AT_DOOR_KINDS)):
        return None
    return Outcome(verdict=cell.verdict, reason=cell.reason, rule=Rule.DUAL_AUTH,
                   dual_first=DualPending(user_number=s.user.number, credential_id=cred.id,
                                          kind=cred.kind, until=s.now + s.dual_window))


#: The rules of each row in :data:`RULE_ORDER` with their conditions, derived from
#: :data:`TABLE` once (the decision runs on every attempt: no per-call walk over the
#: rules a row lacks).
_ORDERED_CELLS: dict[Path, tuple[tuple[Rule, Cell, Callable[[Situation], bool]], ...]] = {
    path: tuple((rule, row.cells[rule], _CONDITIONS[rule])
                for rule in RULE_ORDER if rule in row.cells)
    for path, row in TABLE.items()}


#: Each path's row with its ordered cells: one lookup per decision (an enum's hash is a
#: Python-level call).
_ROWS: dict[Path, tuple[Row, tuple[tuple[Rule, Cell, Callable[[Situation], bool]], ...]]] = {
    path: (row, _ORDERED_CELLS[path]) for path, row in TABLE.items()}


#: A row's base verdict with no effects, one (frozen) instance per verdict.
_PLAIN_OUTCOMES = {verdict: Outcome(verdict=verdict) for verdict in Verdict}


def decide(s: Situation) -> Outcome:
    """The outcome of ``s``: the rules of ``TABLE[s.path]`` in :data:`RULE_ORDER`."""
    row, cells = _ROWS[s.path]
    ends_passage = alarm = dual_complete = False
    for rule, cell, holds in cells:
        if rule is Rule.VALIDITY and row.unidentified is not None and not s.identified:
            return Outcome(verdict=Verdict.DENY, reason=row.unidentified,
                           counts_failure=row.counts_unidentified)
        if not holds(s):
            continue
        if rule is Rule.DUAL_AUTH:
            step = _dual(s, cell)
            if step is not None:
                return step
            dual_complete = True
            continue
        if cell.verdict is not Verdict.GRANT:
            reason = cell.reason
            if rule is Rule.VALIDITY:
                reason = _validity_reason(s)
            return Outcome(verdict=cell.verdict, reason=reason, rule=rule,
                           retry_after=s.locked_out if rule is Rule.LOCKOUT else None,
                           counts_failure=cell.counts_failure)
        ends_passage = ends_passage or cell.ends_passage
        alarm = alarm or cell.alarm
    if row.unidentified is not None and not s.identified:  # a row without a validity cell
        return Outcome(verdict=Verdict.DENY, reason=row.unidentified,
                       counts_failure=row.counts_unidentified)
    if not (ends_passage or alarm or dual_complete):
        return _PLAIN_OUTCOMES[row.base]  # immutable: the common case is not rebuilt
    return Outcome(verdict=row.base, ends_passage=ends_passage, alarm=alarm,
                   dual_complete=dual_complete)


def auto_lock_applies(features: frozenset[Feature], settings: Settings) -> bool:
    """R-LCK-4: auto-lock on close needs the door sensor of the 6068 lock body."""
    return (Feature.LOCK_BODY in features and settings.lock_body is LockBody.BODY_6068
            and settings.auto_lock_on_close)


def _cell_text(path: Path, rule: Rule, cell: Cell) -> str:
    """A cell as the doc shows it; the lockout column names the lockouts that refuse the
    path and the failure run it counts on (R-SEC-1 per input path, ``lockout.py``)."""
    text = cell.text()
    if rule is Rule.LOCKOUT:
        run = input_path(path)
        barriers = " or ".join(b.value for b in refused_by(run))
        text += f" ({barriers}); " + ("no run" if run is None else f"{run.value} run")
    return text


def render_table() -> str:
    """The decision table as markdown (``docs/core.md`` carries exactly this)."""
    head = ["path", "no rule"] + [f"{r.name.lower().replace('_', '-')} ({r.value})"
                                  for r in RULE_ORDER]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for path, row in TABLE.items():
        base = row.base.value
        if row.unidentified is not None:
            base += f"; unidentified: deny `{row.unidentified.name}`"
            if row.counts_unidentified:
                base += ", counts a failure"
        cells = [_cell_text(path, r, row.cells[r]) if r in row.cells else "—"
                 for r in RULE_ORDER]
        lines.append("| " + " | ".join([path.value, base, *cells]) + " |")
    return "\n".join(lines) + "\n"
