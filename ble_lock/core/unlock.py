"""Unlock decisions, lock side: matching, then the one decision (``decision.py``).

Every path that opens, holds open or throws the bolt (keypad, card, biometrics, remote,
Bluetooth, visitor code, sync, mechanical key, inside, passage, countdown, auto-lock)
builds a :class:`~ble_lock.core.decision.Situation` here (:meth:`Unlock.situation`)
and carries out what :func:`~ble_lock.core.decision.decide` answers
(:meth:`Unlock.unlock`, :meth:`Unlock.lock_path`): lockout (R-SEC-1),
validity and schedules (R-USR-7), privacy (R-MOD-2), anti-lock (R-MOD-1), dual-auth
(R-USR-8), passage (R-MOD-4) and duress (R-CRD-6) are decided there and only there. A
grant logs the unlock, raises the duress alarm, ends passage mode when the table says so,
starts the countdown lock (R-LCK-3) and the sync trigger (R-SYN-2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ble_lock.core.decision import (
    FACTOR_KINDS,
    TABLE,
    Outcome,
    Path,
    Rule,
    Situation,
    Verdict,
    decide,
    input_path,
    unlock_method,
)
from ble_lock.core.errors import ErrorCode
from ble_lock.core.links import Links
from ble_lock.core.management import Management
from ble_lock.core.model import (
    Actor,
    ActorKind,
    BoltState,
    Credential,
    CredentialKind,
    Decision,
    EventDetail,
    EventKind,
    Note,
    Role,
    SyncSource,
    SyncTarget,
    UnlockMethod,
)
from ble_lock.core.profile import Feature
from ble_lock.core.rules.lockout import InputPath, path_of_method

__all__ = ["Unlock"]

#: R-SEC-1: the paths a lockout refuses (a LOCKOUT cell in the decision table), each with
#: the input path whose run it answers to (in a 1-tuple: that path may be None, no run);
#: derived once, asked on every attempt.
_LOCKOUT_RUNS: dict[Path, tuple[InputPath | None]] = {
    path: (input_path(path),) for path, row in TABLE.items() if Rule.LOCKOUT in row.cells}

_PIN = CredentialKind.PIN


class Unlock:
    """The decision pipeline shared by the panel, Bluetooth and sync: matching, the one
    decision, and carrying its outcome out on the bolt."""

    def __init__(self, ctx: Management, links: Links) -> None:
        self._ctx = ctx
        self._dev = ctx.device
        self._links = links

    @property
    def low_battery(self) -> bool:
        """R-SEC-3: below the profile's threshold every operation warns."""
        return self._dev.battery < self._ctx.profile.low_battery_percent

    @property
    def bolt(self) -> BoltState:
        return self._dev.bolt

    # -- matching (R-CRD-2: 1:N by keyed digest)

    def match_pin(self, entry: str) -> Credential | None:
        """R-PIN-3: the longest stored PIN found as a contiguous run of ``entry``."""
        table = self._ctx.index.by_digest[_PIN]
        if not table:
            return None
        copy = self._ctx.hasher.prepared(_PIN).copy  # hot loop: 65 candidates for 20 digits
        get = table.get
        data = entry.encode()
        n = len(data)
        for length in sorted(self._ctx.index.pin_lengths, reverse=True):
            for start in range(n - length + 1):
                h = copy()
                h.update(data[start:start + length])
                cred_id = get(h.digest())
                if cred_id is not None:
                    return self._ctx.index.credentials[cred_id]
        return None

    def match(self, kind: CredentialKind, material: bytes) -> Credential | None:
        return self._ctx.index.lookup(kind, self._ctx.hasher.digest(int(kind), material))

    # -- the one decision

    def lockout_for(self, path: Path) -> float | None:
        """R-SEC-1: seconds left in the lockout that refuses an attempt on ``path`` (None:
        not locked out, or no lockout applies to ``path``). The one place the decision
        asks the lockout: the keypad, sensors and card answer to the system lockout, and
        so do Bluetooth keys and sync statements (no run of their own); the remote
        control to the system lockout and its own limiter (``lockout.py``)."""
        run = _LOCKOUT_RUNS.get(path)  # one lookup: an enum's hash is a Python call
        if run is None:
            return None
        return self._ctx.locked_out(run[0])

    def verified(self, path: Path) -> None:
        """R-SEC-1: a successful verification on ``path`` ends that path's run of failures
        only; a Bluetooth key, a sync statement or the mechanical key ends no run."""
        method = unlock_method(path)
        if method is not None:
            self._ctx.lockout_success(method)

    def situation(self, path: Path, cred: Credential | None = None, *,
                   identified: bool = True,
                   code_denial: ErrorCode | None = None) -> Situation:
        ctx, dev = self._ctx, self._dev
        user = None if cred is None else ctx.user(cred.user_number)
        # Only the dual-auth rule reads the keys, and only for a DUAL_AUTH user (R-USR-8).
        keys = () if user is None or user.role is not Role.DUAL_AUTH else tuple(
            c for c in ctx.index.of_user(user.number) if c.kind in FACTOR_KINDS)
        profile = ctx.profile
        return Situation(
            path=path, features=profile.features, settings=ctx.settings,
            wall=ctx.wall(), now=ctx.now(), locked_out=self.lockout_for(path),
            thumb_turn_locked=dev.thumb_turn_locked, identified=identified, user=user,
            credential=cred, user_keys=keys, dual_pending=dev.dual_pending,
            dual_window=profile.dual_auth_window_s, code_denial=code_denial)

    def decide(self, path: Path, cred: Credential | None = None, *,
                     identified: bool = True,
                     code_denial: ErrorCode | None = None) -> Outcome:
        return decide(self.situation(path, cred, identified=identified,
                                      code_denial=code_denial))

    def unlock(self, path: Path, method: UnlockMethod, cred: Credential | None = None, *,
                identified: bool = True, code_denial: ErrorCode | None = None,
                outside: bool = True, detail: EventDetail | None = None,
                verified: bool | None = None,
                on_grant: Callable[[], None] | None = None) -> Decision:
        """Decide an attempt to open on ``path`` and carry the outcome out. ``verified``
        (default: a credential was identified) ends a run of failures (R-SEC-1);
        ``on_grant`` runs in the grant's transaction."""
        outcome = decide(self.situation(path, cred, identified=identified,
                                         code_denial=code_denial))
        user = None if cred is None else cred.user_number
        if outcome.verdict is Verdict.SECOND_FACTOR:
            assert outcome.dual_first is not None
            self._dev.dual_pending = outcome.dual_first
            self.verified(path)
            self._ctx.emit(EventKind.DUAL_AUTH_PENDING, user_number=user, method=method)
            return Decision(granted=False, reason=outcome.reason, method=method,
                            user_number=user, low_battery=self.low_battery)
        if not outcome.opens:
            reason = outcome.reason or ErrorCode.PERMISSION_DENIED
            if outcome.counts_failure:
                return self.no_match(method, reason)
            return self.denied(method, reason, user=user, retry_after=outcome.retry_after)
        if outcome.dual_complete:
            self._dev.dual_pending = None
            method = UnlockMethod.DUAL_AUTH
        if on_grant is None:  # the grant opens its own transaction
            return self._grant(method, path, user_number=user,
                               credential_id=None if cred is None else cred.id,
                               duress=outcome.alarm, outside=outside,
                               ends_passage=outcome.ends_passage, detail=detail,
                               verified=cred is not None if verified is None else verified)
        with self._ctx.tx():
            on_grant()
            return self._grant(method, path, user_number=user,
                               credential_id=None if cred is None else cred.id,
                               duress=outcome.alarm, outside=outside,
                               ends_passage=outcome.ends_passage, detail=detail,
                               verified=cred is not None if verified is None else verified)

    def lock_path(self, path: Path, detail: str, *, cred: Credential | None = None,
                   identified: bool = True, method: UnlockMethod | None = None) -> Outcome:
        """Decide a lock on ``path`` (R-LCK-*, R-MOD-4) and carry it out."""
        outcome = self.decide(path, cred, identified=identified)
        if outcome.verdict is Verdict.END_PASSAGE:
            with self._ctx.tx():
                self._end_passage()
                self._lock_bolt(detail, user_number=None if cred is None else cred.user_number,
                                method=method)
        elif outcome.verdict is Verdict.LOCK:
            self._lock_bolt(detail, user_number=None if cred is None else cred.user_number,
                            method=method)
        return outcome

    def hold_open(self) -> None:
        """R-MOD-4: passage mode holds the door open (when it is set, and at start-up)."""
        if self.decide(Path.PASSAGE).verdict is Verdict.HOLD:
            self.unlock_bolt()
            self._dev.relock_at = None

    def _end_passage(self) -> None:
        if self._ctx.settings.passage_mode:
            self._ctx.put_settings(replace(self._ctx.settings, passage_mode=False))

    # -- carrying out

    def denied(self, method: UnlockMethod, reason: ErrorCode, *,
                user: int | None = None, retry_after: float | None = None,
                log: bool = True) -> Decision:
        if log:
            self._ctx.emit(EventKind.UNLOCK_FAILED, method=method, reason=reason, user_number=user)
        return Decision(granted=False, reason=reason, retry_after=retry_after, method=method,
                        user_number=user, low_battery=self.low_battery)

    def no_match(self, method: UnlockMethod,
                  reason: ErrorCode = ErrorCode.NO_MATCH) -> Decision:
        """R-SEC-1: a failed verification, counted on its input path's run; the 5th in a
        row within 5 minutes trips that path's barrier (``lockout.py``)."""
        retry = self._ctx.register_failure(path_of_method(method), EventKind.UNLOCK_FAILED,
                                       method=method, reason=reason)
        return Decision(granted=False, reason=reason, retry_after=retry,
                        method=method, low_battery=self.low_battery)

    def _grant(self, method: UnlockMethod, path: Path, *, user_number: int | None,
               credential_id: int | None = None, duress: bool = False, outside: bool = True,
               ends_passage: bool = False, detail: EventDetail | None = None,
               verified: bool = True) -> Decision:
        if verified:  # R-SEC-1: a successful verification ends its own path's run
            self.verified(path)
        with self._ctx.tx():
            kind = EventKind.SYNC_UNLOCK if method is UnlockMethod.SYNC else EventKind.UNLOCK
            self._ctx.emit(kind, user_number=user_number, method=method, duress=duress,
                       credential_id=credential_id, detail=detail)
            if duress:  # R-CRD-6: opens AND raises the alarm
                self._ctx.emit(EventKind.DURESS_ALARM, user_number=user_number, method=method,
                           duress=True, credential_id=credential_id)
            if ends_passage:  # R-MOD-4
                self._end_passage()
            if outside and method is not UnlockMethod.SYNC:
                self._trigger_sync()
                # R-SYN-1: after the trigger, so the confirming unlock opens no other door
                self._links.confirm(user_number, method, duress)
            # The door acts once the grant is durable: with the event and, on the 0-RTT
            # Bluetooth path, the phone's replay counter (one commit, issue 15).
            self._ctx.after_commit(self._open_after_grant)
        return Decision(granted=True, user_number=user_number, method=method, duress=duress,
                        credential_id=credential_id, low_battery=self.low_battery)

    def _open_after_grant(self) -> None:
        self.unlock_bolt()
        self._dev.keypad.confirm_lit = False

    def unlock_bolt(self) -> None:
        self._dev.bolt = BoltState.UNLOCKED
        settings = self._ctx.settings  # R-LCK-3; passage mode holds it open (decided at expiry)
        self._dev.relock_at = (self._ctx.now() + settings.countdown_s
                               if settings.countdown_lock else None)

    def _lock_bolt(self, detail: str, *, user_number: int | None = None,
                   method: UnlockMethod | None = None) -> None:
        self._dev.bolt = BoltState.LOCKED
        self._dev.relock_at = None
        self._dev.sync_relock_at = None
        self._dev.keypad.confirm_lit = False
        self._ctx.emit(EventKind.LOCKED, user_number=user_number, method=method,
                       detail=Note(text=detail))

    def _trigger_sync(self) -> None:
        """R-SYN-2: an outside unlock asks every linked lock to open too (the emulator
        sends the statement; the event is how it learns, and the log shows it, R-SYN-4)."""
        # The setting first: a plain attribute, and off on most locks.
        if not (self._ctx.settings.sync_unlock and self._ctx.profile.has(Feature.SYNC_UNLOCK)):
            return
        for link in self._links.confirmed():  # R-SYN-1: a pending link triggers nothing
            self._ctx.emit(EventKind.SYNC_TRIGGER, detail=SyncTarget(peer=link.peer_lock_id))

    # -- Bluetooth (the protocol calls these after authenticating the phone)

    def _phone_credential(self, actor: Actor) -> Credential | None:
        if actor.kind is not ActorKind.PHONE:
            return None
        cred_id = self._ctx.index.phones.get(actor.phone_key or b"")
        return None if cred_id is None else self._ctx.index.credentials[cred_id]

    def unlock_bluetooth(self, actor: Actor) -> Decision:
        """Unlock for a paired phone (R-APP-3), decided like every path: lockout,
        revocation, key and user validity, schedule, privacy, anti-lock; a dual-auth
        user's phone is one key of two (R-USR-8, ``docs/core.md``)."""
        cred = self._phone_credential(actor)
        if cred is not None and self._ctx.user(cred.user_number).role is Role.REMOTE_ONLY:
            # R-APP-5: a remote-only user's key opens only as a remote unlock, logged as
            # such with its user and key (the gateway's identity); the setting decides
            return self.unlock(Path.REMOTE, UnlockMethod.REMOTE, cred, outside=True)
        return self.unlock(Path.BLUETOOTH, UnlockMethod.BLUETOOTH, cred,
                            identified=cred is not None)

    def lock_bluetooth(self, actor: Actor) -> Decision:
        """Lock for a paired phone whose key and user are valid now; in passage mode the
        lock ends passage mode (R-MOD-4)."""
        method = UnlockMethod.BLUETOOTH
        cred = self._phone_credential(actor)
        outcome = self.lock_path(Path.BLUETOOTH_LOCK, "bluetooth", cred=cred,
                                  identified=cred is not None, method=method)
        user = None if cred is None else cred.user_number
        if outcome.verdict is Verdict.DENY:
            return self.denied(method, outcome.reason or ErrorCode.PERMISSION_DENIED,
                                user=user)
        return Decision(granted=True, user_number=user, method=method,
                        credential_id=None if cred is None else cred.id,
                        low_battery=self.low_battery)

    # -- sync unlock (R-SYN-2/3, lock side)

    def apply_sync_statement(self, peer_lock_id: bytes) -> Decision:
        """R-SYN-2/3: the protocol verified a fresh statement from a linked lock: decided
        like every path (lockout, privacy and anti-lock refuse it: nobody is identified
        at this door, R-MOD-1/2), then open for the link's window; if the door is not
        opened in time, relock (``tick``; not in passage mode, R-MOD-4)."""
        method = UnlockMethod.SYNC
        link = self._links.find_link(peer_lock_id)
        if link is None or not self._ctx.profile.has(Feature.SYNC_UNLOCK) \
                or not self._ctx.settings.sync_unlock:
            return self.denied(method, ErrorCode.PERMISSION_DENIED)
        if link.pending:  # R-SYN-1: not confirmed at this door yet: opens nothing
            return self.denied(method, ErrorCode.LINK_PENDING)
        decision = self.unlock(Path.SYNC, method, detail=SyncSource(peer=link.peer_lock_id))
        if decision.granted:
            window = link.window_s
            # after the grant's own action (the bolt), once it is durable
            self._ctx.after_commit(lambda: self._sync_window(window))
        return decision

    def _sync_window(self, window_s: float) -> None:
        self._dev.relock_at = None
        self._dev.sync_relock_at = self._ctx.now() + window_s
