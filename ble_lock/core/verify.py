"""Unlock decisions: matching, lockout, validity, modes, dual-auth, grant.

Every unlock path (keypad, card, biometrics, remote, Bluetooth, sync) ends in
:meth:`VerifyMixin._decide`, so the rules apply the same everywhere:

* R-SEC-1 lockout first (a locked-out lock does not even try to match);
* no match -> a failure toward the lockout of its input path (``lockout.py``);
* R-USR-7 validity window and week-day schedule, revoked/expired Bluetooth keys;
* R-MOD-2 privacy mode and R-MOD-1 anti-lock: admins only;
* R-USR-8 dual-auth users present two different keys;
* grant: R-CRD-6 duress alarm, R-MOD-4 passage cancel, R-LCK-3 countdown, R-SYN-2 trigger.
"""

from __future__ import annotations

from dataclasses import replace

from ble_lock.core.errors import ErrorCode
from ble_lock.core.lockout import path_of_method
from ble_lock.core.model import (
    Actor,
    ActorKind,
    BoltState,
    Credential,
    CredentialKind,
    Decision,
    EventKind,
    Role,
    Settings,
    UnlockMethod,
    User,
)
from ble_lock.core.profile import Feature
from ble_lock.core.schedule import user_allowed_at
from ble_lock.core.synclinks import SyncLinksMixin

__all__ = ["ELECTRONIC_KEYS", "VerifyMixin"]

#: R-USR-8: the "electronic keys" a dual-auth user combines.
ELECTRONIC_KEYS = frozenset(
    {CredentialKind.PIN, CredentialKind.FINGERPRINT, CredentialKind.CARD,
     CredentialKind.FACE, CredentialKind.PALM}
)
_PIN = CredentialKind.PIN


class VerifyMixin(SyncLinksMixin):
    """The decision pipeline shared by the panel and Bluetooth."""

    @property
    def low_battery(self) -> bool:
        """R-SEC-3: below the profile's threshold every operation warns."""
        return self._battery < self._profile.low_battery_percent

    @property
    def bolt(self) -> BoltState:
        return self._bolt

    # -- matching (R-CRD-2: 1:N by keyed digest)

    def _match_pin(self, entry: str) -> Credential | None:
        """R-PIN-3: the longest stored PIN found as a contiguous run of ``entry``."""
        table = self._index.by_digest[_PIN]
        if not table:
            return None
        copy = self._hasher.prepared(_PIN).copy  # hot loop: 65 candidates for 20 digits
        get = table.get
        data = entry.encode()
        n = len(data)
        for length in sorted(self._index.pin_lengths, reverse=True):
            for start in range(n - length + 1):
                h = copy()
                h.update(data[start:start + length])
                cred_id = get(h.digest())
                if cred_id is not None:
                    return self._index.credentials[cred_id]
        return None

    def _match(self, kind: CredentialKind, material: bytes) -> Credential | None:
        return self._index.lookup(kind, self._hasher.digest(int(kind), material))

    # -- the pipeline

    def _denied(self, method: UnlockMethod, reason: ErrorCode, *,
                user: int | None = None, retry_after: float | None = None,
                log: bool = True) -> Decision:
        if log:
            self._emit(EventKind.UNLOCK_FAILED, method=method, reason=reason, user_number=user)
        return Decision(granted=False, reason=reason, retry_after=retry_after, method=method,
                        user_number=user, low_battery=self.low_battery)

    def _lockout_denial(self, method: UnlockMethod) -> Decision | None:
        retry = self._method_locked_out(method)
        if retry is None:
            return None
        return self._denied(method, ErrorCode.LOCKED_OUT, retry_after=retry)

    def _no_match(self, method: UnlockMethod,
                  reason: ErrorCode = ErrorCode.NO_MATCH) -> Decision:
        """R-SEC-1: a failed verification; the 5th within 5 minutes locks the keypad."""
        retry = self._register_failure(path_of_method(method), EventKind.UNLOCK_FAILED,
                                       method=method, reason=reason)
        return Decision(granted=False, reason=reason, retry_after=retry,
                        method=method, low_battery=self.low_battery)

    def _user_denial(self, user: User, cred: Credential | None, *,
                     outside: bool, modes: bool = True) -> ErrorCode | None:
        now = self._wall()
        if cred is not None:
            if cred.revoked:
                return ErrorCode.KEY_REVOKED
            if (cred.valid_from is not None and now < cred.valid_from) or \
                    (cred.valid_until is not None and now >= cred.valid_until):
                return ErrorCode.KEY_EXPIRED
        if not user_allowed_at(user, now, self._settings.utc_offset_min):
            return ErrorCode.OUTSIDE_VALIDITY  # R-USR-7
        return self._mode_denial(user.role, outside=outside) if modes else None

    def _mode_denial(self, role: Role | None, *, outside: bool) -> ErrorCode | None:
        settings = self._settings
        if role is Role.ADMIN:
            return None
        if self._profile.has(Feature.PRIVACY_MODE) and settings.privacy_mode:
            return ErrorCode.PRIVACY_MODE  # R-MOD-2
        if (outside and self._profile.has(Feature.ANTI_LOCK) and settings.anti_lock
                and self._thumb_turn_locked):
            return ErrorCode.ANTI_LOCK  # R-MOD-1
        return None

    def _decide(self, method: UnlockMethod, cred: Credential | None, *,
                outside: bool = True) -> Decision:
        """Decide on an attempt whose credential was matched (or not)."""
        blocked = self._lockout_denial(method)
        if blocked is not None:
            return blocked
        if cred is None:
            return self._no_match(method)
        user = self._user(cred.user_number)
        reason = self._user_denial(user, cred, outside=outside)
        if reason is not None:
            return self._denied(method, reason, user=user.number)
        if self._dual_auth_applies(user, cred):
            pending = self._dual_step(user, cred, method)
            if pending is not None:
                return pending
            method = UnlockMethod.DUAL_AUTH
        return self._grant(method, user_number=user.number, credential_id=cred.id,
                           duress=cred.duress, outside=outside,
                           cancels_passage=cred.kind in (CredentialKind.PIN,
                                                         CredentialKind.CARD))

    def _dual_auth_applies(self, user: User, cred: Credential) -> bool:
        return (user.role is Role.DUAL_AUTH and self._profile.has(Feature.DUAL_AUTH)
                and self._settings.dual_auth_mode and cred.kind in ELECTRONIC_KEYS)

    def _dual_step(self, user: User, cred: Credential, method: UnlockMethod) -> Decision | None:
        """R-USR-8: None when this is the second, different key within the window."""
        keys = [c for c in self._index.of_user(user.number) if c.kind in ELECTRONIC_KEYS]
        if len(keys) < 2:
            return self._denied(method, ErrorCode.NO_CREDENTIALS, user=user.number)
        now = self._mono()
        pending = self._dual_pending
        if pending is not None and pending[0] == user.number and pending[1] != cred.id \
                and now < pending[2]:
            self._dual_pending = None
            return None
        self._dual_pending = (user.number, cred.id, now + self._profile.dual_auth_window_s)
        self._lockout_success(method, cred.id)
        self._emit(EventKind.DUAL_AUTH_PENDING, user_number=user.number, method=method)
        return Decision(granted=False, reason=ErrorCode.DUAL_AUTH_PENDING, method=method,
                        user_number=user.number, low_battery=self.low_battery)

    def _grant(self, method: UnlockMethod, *, user_number: int | None,
               credential_id: int | None = None, duress: bool = False, outside: bool = True,
               cancels_passage: bool = False, detail: str = "",
               verified: bool = True) -> Decision:
        if verified:  # R-SEC-1: a successful verification ends its own path's run
            self._lockout_success(method, credential_id)
        with self._tx():
            kind = EventKind.SYNC_UNLOCK if method is UnlockMethod.SYNC else EventKind.UNLOCK
            self._emit(kind, user_number=user_number, method=method, duress=duress,
                       credential_id=credential_id, detail=detail)
            if duress:  # R-CRD-6: opens AND raises the alarm
                self._emit(EventKind.DURESS_ALARM, user_number=user_number, method=method,
                           duress=True, credential_id=credential_id)
            if cancels_passage and self._settings.passage_mode:  # R-MOD-4
                self._put_settings(replace(self._settings, passage_mode=False))
            if outside and method is not UnlockMethod.SYNC:
                self._trigger_sync()
                # R-SYN-1: after the trigger, so the confirming unlock opens no other door
                self._confirm_links(user_number, method, duress)
        self._unlock_bolt()
        self._keypad.confirm_lit = False
        return Decision(granted=True, user_number=user_number, method=method, duress=duress,
                        credential_id=credential_id, low_battery=self.low_battery)

    def _put_settings(self, settings: Settings) -> None:
        self._store.put_settings(settings)
        self._settings = settings
        self._emit(EventKind.SETTINGS_CHANGED)

    def _unlock_bolt(self) -> None:
        self._bolt = BoltState.UNLOCKED
        settings = self._settings
        if settings.countdown_lock and not settings.passage_mode:  # R-LCK-3
            self._relock_at = self._mono() + settings.countdown_s
        else:
            self._relock_at = None

    def _lock_bolt(self, detail: str, *, user_number: int | None = None,
                   method: UnlockMethod | None = None) -> None:
        self._bolt = BoltState.LOCKED
        self._relock_at = None
        self._sync_relock_at = None
        self._keypad.confirm_lit = False
        self._emit(EventKind.LOCKED, user_number=user_number, method=method, detail=detail)

    def _trigger_sync(self) -> None:
        """R-SYN-2: an outside unlock asks every linked lock to open too (the emulator
        sends the statement; the event is how it learns, and the log shows it, R-SYN-4)."""
        if not (self._profile.has(Feature.SYNC_UNLOCK) and self._settings.sync_unlock):
            return
        for link in self._confirmed_links():  # R-SYN-1: a pending link triggers nothing
            self._emit(EventKind.SYNC_TRIGGER, detail=link.peer_lock_id.hex())

    # -- Bluetooth (the protocol calls these after authenticating the phone)

    def _phone_credential(self, actor: Actor) -> Credential | None:
        if actor.kind is not ActorKind.PHONE:
            return None
        cred_id = self._index.phones.get(actor.phone_key or b"")
        return None if cred_id is None else self._index.credentials[cred_id]

    def unlock_bluetooth(self, actor: Actor) -> Decision:
        """Unlock for a paired phone: lockout, revoked, key/user validity, schedule,
        privacy and anti-lock modes are all checked here (R-APP-3)."""
        method = UnlockMethod.BLUETOOTH
        blocked = self._lockout_denial(method)
        if blocked is not None:
            return blocked
        cred = self._phone_credential(actor)
        if cred is None:
            return self._denied(method, ErrorCode.UNKNOWN_KEY)
        user = self._user(cred.user_number)
        reason = self._user_denial(user, cred, outside=True)
        if reason is not None:
            return self._denied(method, reason, user=user.number)
        return self._grant(method, user_number=user.number, credential_id=cred.id)

    def lock_bluetooth(self, actor: Actor) -> Decision:
        """Lock for a paired phone whose key and user are valid now."""
        method = UnlockMethod.BLUETOOTH
        cred = self._phone_credential(actor)
        if cred is None:
            return self._denied(method, ErrorCode.UNKNOWN_KEY)
        user = self._user(cred.user_number)
        reason = self._user_denial(user, cred, outside=False, modes=False)  # locking is safe
        if reason is not None:
            return self._denied(method, reason, user=user.number)
        self._lock_bolt("bluetooth", user_number=user.number, method=method)
        return Decision(granted=True, user_number=user.number, method=method,
                        credential_id=cred.id, low_battery=self.low_battery)
