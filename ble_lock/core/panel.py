"""The front panel: local inputs the emulator calls (each runs the timers first).

Keypad (R-PIN-3/4, R-MOD-6/8, R-LCK-1), card (R-MOD-5), biometrics (R-CRD-4, R-MOD-9),
remote control, mechanical key, door sensor (R-LCK-4), inside button (R-LCK-2), thumb-turn
(R-MOD-1), tamper (R-SEC-2), battery (R-SEC-3), SET button (R-APP-1, R-SEC-5).
"""

from __future__ import annotations

import math

from ble_lock.core.admin import Admin
from ble_lock.core.decision import Path, Rule, auto_lock_applies
from ble_lock.core.enrolment import Enrolment, check_template
from ble_lock.core.errors import ErrorCode, InvalidInputError, StateError
from ble_lock.core.keys import Keys
from ble_lock.core.management import Management
from ble_lock.core.model import (
    BIOMETRIC_KINDS,
    Actor,
    BatteryLevel,
    BoltState,
    CaptureResult,
    Credential,
    CredentialKind,
    Decision,
    DoorState,
    EventKind,
    Note,
    Role,
    Trigger,
    UnlockMethod,
)
from ble_lock.core.profile import Feature
from ble_lock.core.rules import visitor
from ble_lock.core.timers import Timers
from ble_lock.core.unlock import Unlock

__all__ = ["CANCEL_KEYS", "CONFIRM_KEYS", "Panel"]

CONFIRM_KEYS = frozenset({"#", "✓", "confirm"})  # R-PIN-4: DL20VC '#', face-palm ✓
CANCEL_KEYS = frozenset({"*", "↶", "cancel"})
_METHOD = {
    CredentialKind.FINGERPRINT: UnlockMethod.FINGERPRINT,
    CredentialKind.FACE: UnlockMethod.FACE,
    CredentialKind.PALM: UnlockMethod.PALM,
}
_PATH = {
    CredentialKind.FINGERPRINT: Path.FINGERPRINT,
    CredentialKind.FACE: Path.FACE,
    CredentialKind.PALM: Path.PALM,
}
MAX_CARD_UID = 64


class Panel:
    """Local inputs. Denials are :class:`Decision` values; bad input raises."""

    def __init__(self, ctx: Management, *, unlock: Unlock, enrolment: Enrolment, keys: Keys,
                 admin: Admin, timers: Timers) -> None:
        self._ctx = ctx
        self._dev = ctx.device
        self._unlock = unlock
        self._enrolment = enrolment
        self._keys = keys
        self._admin = admin
        self._timers = timers

    # -- keypad

    @property
    def keypad_awake(self) -> bool:
        until = self._dev.keypad.awake_until
        return until is not None and self._ctx.now() < until

    def touch_keypad(self) -> None:
        """Wake the keypad (R-MOD-5 / R-MOD-9 manual trigger); it sleeps after
        ``keypad_sleep_s`` without input (R-MOD-8)."""
        self._dev.keypad.awake_until = self._ctx.now() + self._ctx.settings.keypad_sleep_s

    def press_key(self, key: str) -> Decision | None:
        """One key: a digit, confirm (``#``/``✓``) or cancel (``*``/``↶``). Confirm
        verifies the entry (R-PIN-3/4) and returns the decision; confirm on an empty
        entry while ✓ is lit locks the door (R-LCK-1)."""
        if not (key in CONFIRM_KEYS or key in CANCEL_KEYS or (len(key) == 1 and key.isdigit()
                                                              and key.isascii())):
            raise InvalidInputError(f"unknown key {key!r}")
        self._timers.tick()
        self.touch_keypad()
        pad = self._dev.keypad
        if key in CANCEL_KEYS:
            pad.digits.clear()
            return None
        if key not in CONFIRM_KEYS:
            if len(pad.digits) <= self._ctx.profile.keypad_max_digits:  # one past: "too long"
                pad.digits.append(key)
            return None
        entry = "".join(pad.digits)
        pad.digits.clear()
        if not entry:
            if pad.confirm_lit:
                self._unlock.lock_path(Path.OUTSIDE_CONFIRM, "outside confirm key")  # R-LCK-1
            return None
        return self._verify_entry(entry)

    def enter_pin(self, entry: str) -> Decision:
        """Type ``entry`` and confirm (convenience for ``press_key``)."""
        if not entry or not (entry.isascii() and entry.isdigit()):
            raise InvalidInputError("a keypad entry is digits", code=ErrorCode.MALFORMED_PIN)
        for digit in entry:
            self.press_key(digit)
        decision = self.press_key("#")
        assert decision is not None
        return decision

    def _verify_entry(self, entry: str) -> Decision:
        profile = self._ctx.profile
        if len(entry) > profile.keypad_max_digits or len(entry) < profile.pin_min:
            return self._unlock.unlock(Path.PIN, UnlockMethod.PIN, identified=False)
        if len(entry) == visitor.CODE_LENGTH and self._ctx.profile.has(Feature.VISITOR_CODES):
            grant = visitor.parse_visitor_code(self._ctx.visitor_key(), entry)
            if grant is not None:  # a code of this lock: no fallback to PINs (doc)
                return self._visitor_decision(grant)
        cred = self._unlock.match_pin(entry)
        return self._unlock.unlock(Path.PIN, UnlockMethod.PIN, cred, identified=cred is not None)

    def _visitor_decision(self, grant: visitor.VisitorGrant) -> Decision:
        """R-APP-4: inside its window, a one-time code not used before, then the one
        decision (modes that admit non-admins, R-MOD-1/2). A refused code is a keypad
        failure (R-SEC-1)."""
        now = self._ctx.wall()
        one_time = grant.kind is visitor.VisitorKind.ONE_TIME
        denial = None
        if not grant.is_valid_at(math.floor(now)):
            denial = ErrorCode.OUTSIDE_VALIDITY
        elif one_time and self._ctx.store.is_code_used(grant.code_id):
            denial = ErrorCode.CODE_ALREADY_USED

        def consume() -> None:
            self._ctx.store.prune_used_codes(now)
            if one_time:
                self._ctx.store.mark_code_used(grant.code_id, grant.valid_until)

        return self._unlock.unlock(Path.VISITOR_CODE, UnlockMethod.VISITOR_CODE, code_denial=denial,
                            detail=Note(text=grant.kind.name.lower()), verified=True,
                            on_grant=consume)

    def hold_zero(self) -> None:
        """R-MOD-6 (face-palm): hold 0 for a one-time mute, until the keypad sleeps."""
        if not self._ctx.profile.has(Feature.ONE_TIME_MUTE):
            raise StateError("no one-time mute on this model",
                                    code=ErrorCode.UNSUPPORTED_BY_PROFILE)
        self.touch_keypad()
        self._dev.keypad.muted_once = True

    # -- other credentials

    def tap_card(self, card_uid: bytes) -> Decision:
        """A card at the reader (R-MOD-5: with active detection off the keypad must be
        awake, else the card is ignored with ``KEYPAD_ASLEEP``)."""
        if not isinstance(card_uid, bytes | bytearray) or not 1 <= len(card_uid) <= MAX_CARD_UID:
            raise InvalidInputError("card UID must be 1..64 bytes")
        self._ctx.kind_supported(CredentialKind.CARD)
        self._timers.tick()
        if not self._ctx.settings.active_card_detection and not self.keypad_awake:
            return Decision(granted=False, reason=ErrorCode.KEYPAD_ASLEEP,
                            method=UnlockMethod.CARD, low_battery=self._unlock.low_battery)
        cred = self._unlock.match(CredentialKind.CARD, bytes(card_uid))
        return self._unlock.unlock(Path.CARD, UnlockMethod.CARD, cred, identified=cred is not None)

    def present_biometric(self, kind: CredentialKind, template: bytes, *,
                          step: str | None = None) -> Decision | CaptureResult:
        """A finger, face or palm at the sensor: a capture while an enrolment of that
        kind runs (R-CRD-4; ``step`` names the pose), a verification otherwise.
        R-MOD-9: with a manual trigger, face/palm need the keypad touched first."""
        if kind not in BIOMETRIC_KINDS:
            raise InvalidInputError(f"{kind.name} is not a biometric")
        sample = check_template(template)
        self._ctx.kind_supported(kind)
        self._timers.tick()
        if self._enrolment.capturing(kind):
            return self._enrolment.capture(kind, sample, step)
        trigger = {CredentialKind.FACE: self._ctx.settings.face_trigger,
                   CredentialKind.PALM: self._ctx.settings.palm_trigger}.get(kind)
        if trigger is Trigger.MANUAL and not self.keypad_awake:
            return Decision(granted=False, reason=ErrorCode.KEYPAD_ASLEEP, method=_METHOD[kind],
                            low_battery=self._unlock.low_battery)
        cred = self._unlock.match(kind, sample)
        return self._unlock.unlock(_PATH[kind], _METHOD[kind], cred, identified=cred is not None)

    def press_remote(self, remote_id: bytes) -> Decision:
        """A paired Bluetooth remote-control accessory pressed (R-APP-7)."""
        self._ctx.kind_supported(CredentialKind.REMOTE_CONTROL)
        self._timers.tick()
        cred = self._unlock.match(CredentialKind.REMOTE_CONTROL, bytes(remote_id))
        return self._unlock.unlock(Path.REMOTE_CONTROL, UnlockMethod.REMOTE_CONTROL, cred,
                            identified=cred is not None)

    def mechanical_key(self) -> Decision:
        """The mechanical key always opens (R-CRD-1, R-MOD-2); only an event in software."""
        self._timers.tick()
        return self._unlock.unlock(Path.MECHANICAL_KEY, UnlockMethod.MECHANICAL_KEY)

    # -- inside and door

    def open_from_inside(self) -> None:
        """The inside handle: unaffected by anti-lock (R-MOD-1); ✓ lights outside (R-LCK-1)."""
        self._timers.tick()
        if self._unlock.unlock(Path.INSIDE_HANDLE, UnlockMethod.INSIDE, outside=False).granted:
            self._dev.keypad.confirm_lit = True

    def inside_button(self) -> None:
        """R-LCK-2: the electronic button on the back panel locks; in passage mode it
        ends passage mode too (R-MOD-4), so a restart does not open the door again."""
        self._timers.tick()
        self._unlock.lock_path(Path.INSIDE_BUTTON, "inside button")

    def set_thumb_turn(self, locked: bool) -> None:
        """R-MOD-1: the inside thumb-turn; locking it throws the bolt (and ends passage
        mode, R-MOD-4, like every manual lock)."""
        self._timers.tick()
        self._dev.thumb_turn_locked = locked
        if locked:
            self._unlock.lock_path(Path.THUMB_TURN, "thumb-turn")

    @property
    def door(self) -> DoorState:
        return self._dev.door

    def door_opened(self) -> None:
        """Door sensor: open (pushed as an alarm, R-APP-6); ends a sync window (R-SYN-3)."""
        self._timers.tick()
        self._dev.door = DoorState.OPEN
        self._dev.sync_relock_at = None
        self._ctx.emit(EventKind.DOOR_OPENED)

    def door_closed(self) -> None:
        """Door sensor: closed; R-LCK-4 auto-lock with the 6068 body when enabled (on by
        default with that body), decided like every lock (R-MOD-4: not in passage mode)."""
        self._timers.tick()
        self._dev.door = DoorState.CLOSED
        self._ctx.emit(EventKind.DOOR_CLOSED)
        if (auto_lock_applies(self._ctx.profile.features, self._ctx.settings)
                and self._dev.bolt is BoltState.UNLOCKED):
            self._unlock.lock_path(Path.AUTO_LOCK, "auto-lock on close")

    # -- alarms and power

    @property
    def alarm_active(self) -> bool:
        """R-SEC-2: the tamper alarm sounds for ``tamper_alarm_s`` (about 60 s)."""
        return self._dev.tamper_until is not None and self._ctx.now() < self._dev.tamper_until

    def tamper(self) -> None:
        """Forced removal of the lock (R-SEC-2)."""
        self._dev.tamper_until = self._ctx.now() + self._ctx.profile.tamper_alarm_s
        self._ctx.emit(EventKind.TAMPER_ALARM)

    @property
    def battery_percent(self) -> int:
        return self._dev.battery

    def set_battery(self, percent: int) -> None:
        """Battery level; crossing below the threshold raises LOW_BATTERY (R-SEC-3)."""
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
            raise InvalidInputError("battery percent must be 0..100")
        was_low = self._unlock.low_battery
        self._dev.battery = percent
        if self._unlock.low_battery and not was_low:
            self._ctx.emit(EventKind.LOW_BATTERY, detail=BatteryLevel(percent=percent))

    # -- SET button

    def press_set_button(self) -> None:
        """R-APP-1: SET enters pairing mode (face-palm shows the QR code)."""
        self._keys.enter_pairing_mode()

    def factory_reset_at_panel(self) -> None:
        """R-SEC-5: SET held while the battery goes back in, then confirm."""
        self._admin.reset_now()

    def panel_admin_login(self, entry: str | None = None, *, card: bytes | None = None,
                          fingerprint: bytes | None = None) -> Actor | None:
        """SET + an admin's PIN, card or fingerprint enters the menu (R-USR-1; DL20VC:
        "使用主用户的指纹、密码或感应卡验证成功后，即可进入主菜单"). Exactly one of
        ``entry`` (keypad digits, R-PIN-3 applies), ``card`` (UID) or ``fingerprint``
        (template). The returned actor is the "logged-in user" of R-USR-5 / R-CRD-7;
        None when refused: locked out, nothing matched (a failure toward the lockout,
        R-SEC-1), not an admin, or outside the admin's validity (R-USR-7)."""
        given = [x for x in (entry, card, fingerprint) if x is not None]
        if len(given) != 1:
            raise InvalidInputError("give one of a PIN entry, a card or a fingerprint")
        path, method, cred = self._menu_credential(entry, card, fingerprint)
        if self._unlock.lockout_for(path) is not None:
            return None
        user = None if cred is None else self._ctx.index.users.get(cred.user_number)
        if user is None or user.role is not Role.ADMIN:
            self._unlock.no_match(method)
            return None
        if self._unlock.decide(path, cred).rule is Rule.VALIDITY:  # R-USR-7
            return None
        self._unlock.verified(path)  # R-SEC-1: ends this path's run only (a PIN: the keypad's)
        return Actor.panel(user.number)

    def _menu_credential(self, entry: str | None, card: bytes | None,
                         fingerprint: bytes | None) -> tuple[Path, UnlockMethod,
                                                              Credential | None]:
        if card is not None:
            self._ctx.kind_supported(CredentialKind.CARD)
            if not isinstance(card, bytes | bytearray) or not 1 <= len(card) <= MAX_CARD_UID:
                raise InvalidInputError("card UID must be 1..64 bytes")
            return (Path.CARD, UnlockMethod.CARD,
                    self._unlock.match(CredentialKind.CARD, bytes(card)))
        if fingerprint is not None:
            sample = check_template(fingerprint)
            self._ctx.kind_supported(CredentialKind.FINGERPRINT)
            return (Path.FINGERPRINT, UnlockMethod.FINGERPRINT,
                    self._unlock.match(CredentialKind.FINGERPRINT, sample))
        assert entry is not None
        ok = (entry.isascii() and entry.isdigit()
              and len(entry) <= self._ctx.profile.keypad_max_digits)
        return Path.PIN, UnlockMethod.PIN, self._unlock.match_pin(entry) if ok else None
