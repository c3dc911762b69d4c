"""The front panel: the emulator's local inputs as a Python API with JSON-ready replies.

:class:`FrontPanel` wraps the core's panel methods (``ble_lock.core.panel``) and reports
what the lock "says" after each input: the outcome (granted / denied with the reason's
:class:`~ble_lock.core.errors.ErrorCode` name), the user number, duress, the seconds left
in a lockout, a prompt line, and the display state. After every input it calls
``on_input`` so the emulator pushes what happened to subscribed phones (a duress alarm,
a keypad unlock) and re-arms its timers.

Replies are plain ``dict`` objects (the control socket sends them as JSON lines):

* every reply: ``{"ok": true, "prompt": str, "display": {...}, ...}``
* a decision (keypad confirm, card, biometric, remote, mechanical key): ``"outcome":
  "granted" | "denied"``, ``"reason"`` (ErrorCode name or null), ``"user"``,
  ``"method"``, ``"duress"``, ``"retry_after"`` (seconds, lockouts), ``"low_battery"``.
* ``keypad`` answers ``"decisions": [...]`` (one per confirm key) plus the fields of the
  last decision at the top level.
* an enrolment capture: ``"capture": {"session", "accepted", "captured", "needed",
  "done", "credential"}``.
* ``menu`` (R-USR-1: the master's PIN, card or fingerprint enters the menu):
  ``"outcome": "granted" | "denied"``, ``"user"``, ``"retry_after"``; the display's
  ``"menu"`` is the logged-in user's number until ``menu_exit`` or the keypad sleeps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ble_lock.core.errors import ErrorCode, InvalidInputError, NotFoundError, StateError
from ble_lock.core.lock import Lock
from ble_lock.core.model import Actor, CaptureResult, CredentialKind, Decision
from ble_lock.core.panel import CANCEL_KEYS, CONFIRM_KEYS
from ble_lock.peripheral.clock import EmulatorClock, ManualClock
from ble_lock.peripheral.state import Label

__all__ = ["MAX_KEYS", "FrontPanel", "Reply"]

Reply = dict[str, Any]
MAX_KEYS = 64
_BIOMETRICS = {"fingerprint": CredentialKind.FINGERPRINT, "face": CredentialKind.FACE,
               "palm": CredentialKind.PALM}
_DENIAL_PROMPTS = {
    ErrorCode.NO_MATCH: "wrong credential",
    ErrorCode.LOCKED_OUT: "keypad locked",
    ErrorCode.KEYPAD_ASLEEP: "touch the keypad first",
    ErrorCode.PRIVACY_MODE: "privacy mode: admins only",
    ErrorCode.ANTI_LOCK: "locked from inside",
    ErrorCode.OUTSIDE_VALIDITY: "not valid now",
    ErrorCode.CODE_ALREADY_USED: "code already used",
    ErrorCode.DUAL_AUTH_PENDING: "present the second credential",
}


def decision_json(decision: Decision) -> Reply:
    return {
        "outcome": "granted" if decision.granted else "denied",
        "reason": decision.reason.name if decision.reason is not None else None,
        "user": decision.user_number,
        "method": decision.method.name if decision.method is not None else None,
        "duress": decision.duress,
        "retry_after": (round(decision.retry_after, 3)
                        if decision.retry_after is not None else None),
        "low_battery": decision.low_battery,
    }


def _prompt(decision: Decision) -> str:
    if decision.granted:
        who = f"user {decision.user_number}" if decision.user_number is not None else "welcome"
        return f"opened ({who})" + (" - low battery" if decision.low_battery else "")
    text = _DENIAL_PROMPTS.get(decision.reason, "denied") if decision.reason else "denied"
    if decision.retry_after is not None:
        text += f": try again in {decision.retry_after:.0f} s"
    return text


def _hex(value: object, what: str, *, low: int, high: int) -> bytes:
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a hex string")
    try:
        raw = bytes.fromhex(value)
    except ValueError as exc:
        raise InvalidInputError(f"{what} must be a hex string") from exc
    if not low <= len(raw) <= high:
        raise InvalidInputError(f"{what} must be {low}..{high} bytes")
    return raw


class FrontPanel:
    """Local inputs of one emulated lock. Not thread-safe (the emulator's event loop)."""

    def __init__(self, lock: Lock, clock: EmulatorClock, *,
                 on_input: Callable[[], None] = lambda: None,
                 label: Callable[[], Label | None] = lambda: None,
                 flags: Callable[[], list[str]] = lambda: [],
                 on_factory_reset: Callable[[], None] = lambda: None) -> None:
        self._lock = lock
        self._clock = clock
        self._on_input = on_input
        self._label = label
        self._flags = flags
        self._on_factory_reset = on_factory_reset
        self._menu: Actor | None = None

    def __repr__(self) -> str:
        return f"FrontPanel({self._lock!r})"

    # -- reading

    def display(self) -> Reply:
        """What the lock shows and knows, without secrets."""
        lock = self._lock
        lockout = lock.lockout_remaining()
        run = lock.enrolling
        return {
            "bolt": lock.bolt.value, "door": lock.door.value,
            "keypad_awake": lock.keypad_awake, "pairing_mode": lock.pairing_mode,
            "claimed": lock.claimed, "alarm": lock.alarm_active,
            "battery": lock.battery_percent, "low_battery": lock.low_battery,
            "muted": lock.muted, "lockout_s": round(lockout, 3) if lockout else None,
            "enrolling": None if run is None else {
                "session": run.id, "kind": run.kind.name, "user": run.user_number,
                "captured": run.captured, "needed": run.captures_needed,
                "next_step": run.next_step},
            "flags": self._flags(),
            "menu": self._menu_user(),
        }

    def _menu_user(self) -> int | None:
        """The user logged in to the menu (R-USR-1), while the keypad is awake (R-MOD-8)."""
        if self._menu is not None and not self._lock.keypad_awake:
            self._menu = None
        return None if self._menu is None else self._menu.user_number

    @property
    def menu_actor(self) -> Actor | None:
        """The actor logged in at the panel's menu (R-USR-5's "logged-in user"), or None."""
        self._menu_user()
        return self._menu

    def status(self) -> Reply:
        lock = self._lock
        return self._reply("ready", lock_id=lock.lock_id.hex().upper(), serial=lock.serial,
                           profile=lock.profile.name, clock=self._clock.now(),
                           lock_time=lock.lock_time, manual_clock=self._clock.manual)

    def label(self) -> Reply:
        """The printed label (setup code and QR payload): the local equivalent of reading
        the sticker, for tests and ``ble-lock panel label``."""
        label = self._label()
        if label is None:
            raise NotFoundError("this lock's label was removed", code=ErrorCode.UNKNOWN_KEY)
        return {"ok": True, **label.to_json()}

    # -- inputs

    def keypad(self, keys: str) -> Reply:
        """Press ``keys`` in order: digits, ``#``/``✓`` confirm, ``*``/``↶`` cancel."""
        if not isinstance(keys, str) or not 1 <= len(keys) <= MAX_KEYS:
            raise InvalidInputError(f"keys must be 1..{MAX_KEYS} characters")
        for key in keys:  # validate before pressing anything: all or nothing
            if not (key.isascii() and key.isdigit()) and key not in CONFIRM_KEYS \
                    and key not in CANCEL_KEYS:
                raise InvalidInputError(f"unknown key {key!r}")
        decisions: list[Decision] = []
        try:
            for key in keys:
                decision = self._lock.press_key(key)
                if decision is not None:
                    decisions.append(decision)
        finally:
            self._on_input()
        out = [decision_json(d) for d in decisions]
        if not decisions:
            return self._reply("entry cancelled" if keys[-1] in CANCEL_KEYS else "...",
                               decisions=out)
        return self._reply(_prompt(decisions[-1]), decisions=out, **out[-1])

    def touch(self) -> Reply:
        return self._input(self._lock.touch_keypad, "keypad awake")

    def hold_zero(self) -> Reply:
        return self._input(self._lock.hold_zero, "muted until the keypad sleeps")

    def card(self, uid_hex: str) -> Reply:
        uid = _hex(uid_hex, "card uid", low=1, high=64)
        return self._decide(lambda: self._lock.tap_card(uid))

    def remote(self, remote_hex: str) -> Reply:
        remote = _hex(remote_hex, "remote id", low=1, high=64)
        return self._decide(lambda: self._lock.press_remote(remote))

    def biometric(self, kind: str, template_hex: str, step: str | None = None) -> Reply:
        if kind not in _BIOMETRICS:
            raise InvalidInputError(f"kind must be one of {sorted(_BIOMETRICS)}")
        template = _hex(template_hex, "template", low=1, high=1024)
        if step is not None and not isinstance(step, str):
            raise InvalidInputError("step must be a string")
        try:
            result = self._lock.present_biometric(_BIOMETRICS[kind], template, step=step)
        finally:
            self._on_input()
        if isinstance(result, CaptureResult):
            capture = {"session": result.session_id, "accepted": result.accepted,
                       "captured": result.captured, "needed": result.captures_needed,
                       "done": result.done, "credential": result.credential_id}
            prompt = ("enrolled" if result.done else
                      f"captured {result.captured}/{result.captures_needed}"
                      if result.accepted else "capture rejected: present again")
            return self._reply(prompt, capture=capture)
        return self._reply(_prompt(result), **decision_json(result))

    def mechanical_key(self) -> Reply:
        return self._decide(self._lock.mechanical_key)

    def inside_handle(self) -> Reply:
        return self._input(self._lock.open_from_inside, "opened from inside")

    def inside_button(self) -> Reply:
        return self._input(self._lock.inside_button, "locked")

    def thumb_turn(self, locked: bool) -> Reply:
        if not isinstance(locked, bool):
            raise InvalidInputError("locked must be true or false")
        return self._input(lambda: self._lock.set_thumb_turn(locked),
                           "thumb-turn locked" if locked else "thumb-turn open")

    def door(self, state: str) -> Reply:
        if state == "open":
            return self._input(self._lock.door_opened, "door open")
        if state == "closed":
            return self._input(self._lock.door_closed, "door closed")
        raise InvalidInputError("door state must be 'open' or 'closed'")

    def tamper(self) -> Reply:
        return self._input(self._lock.tamper, "tamper alarm")

    def battery(self, percent: int) -> Reply:
        return self._input(lambda: self._lock.set_battery(percent), f"battery {percent}%")

    def set_button(self) -> Reply:
        """SET: pairing mode (R-APP-1)."""
        return self._input(self._lock.press_set_button, "pairing mode")

    def claim(self, pin: str, confirm: str) -> Reply:
        """R-USR-2 at the keypad: the first admin with a PIN typed twice."""
        if not isinstance(pin, str) or not isinstance(confirm, str):
            raise InvalidInputError("pin and confirm must be strings",
                                    code=ErrorCode.MALFORMED_PIN)
        user = self._run(lambda: self._lock.claim_at_panel(pin, confirm))
        return self._reply(f"admin user {user.number} added", user=user.number)

    def menu(self, pin: str | None = None, card_hex: str | None = None,
             finger_hex: str | None = None) -> Reply:
        """R-USR-1: enter the menu with the master's PIN, card or fingerprint (exactly
        one). A refused credential counts toward the lockout (R-SEC-1)."""
        given = [x for x in (pin, card_hex, finger_hex) if x is not None]
        if len(given) != 1 or not all(isinstance(x, str) for x in given):
            raise InvalidInputError("give one of pin, card or finger (strings)")
        card = None if card_hex is None else _hex(card_hex, "card uid", low=1, high=64)
        finger = None if finger_hex is None else _hex(finger_hex, "template", low=1, high=1024)
        if pin is not None and not (pin.isascii() and pin.isdigit() and 1 <= len(pin) <= MAX_KEYS):
            raise InvalidInputError("a PIN is digits", code=ErrorCode.MALFORMED_PIN)

        def login() -> Actor | None:
            actor = self._lock.panel_admin_login(pin, card=card, fingerprint=finger)
            if actor is not None:
                self._lock.touch_keypad()  # the menu lasts while the keypad is awake
            return actor

        actor: Actor | None = self._run(login)
        self._menu = actor
        if actor is not None:
            return self._reply(f"menu (user {actor.user_number})", outcome="granted",
                               user=actor.user_number, retry_after=None)
        retry = self._lock.lockout_remaining()
        prompt = (f"keypad locked: try again in {retry:.0f} s" if retry
                  else "not a master credential")
        return self._reply(prompt, outcome="denied", user=None,
                           retry_after=None if retry is None else round(retry, 3))

    def menu_exit(self) -> Reply:
        """Leave the menu."""
        self._menu = None
        return self._reply("menu closed")

    def factory_reset(self) -> Reply:
        """R-SEC-5: SET held while the battery goes back in, then confirm (the emulator
        then makes a new static key)."""
        try:
            self._lock.factory_reset_at_panel()
            self._on_factory_reset()
        finally:
            self._on_input()
        return self._reply("factory reset")

    def advance_clock(self, seconds: float) -> Reply:
        """Manual clock only: move the lock clock, then run what fell due."""
        clock = self._clock
        if not isinstance(clock, ManualClock):
            raise StateError("the clock is real (start with --manual-clock)",
                                    code=ErrorCode.UNSUPPORTED_BY_PROFILE)
        now = clock.advance(seconds)
        return self._input(self._lock.tick, "", clock=now)

    # -- helpers

    def _run(self, action: Callable[[], Any]) -> Any:
        try:
            return action()
        finally:
            self._on_input()

    def _input(self, action: Callable[[], object], prompt: str, **extra: Any) -> Reply:
        self._run(action)
        return self._reply(prompt, **extra)

    def _decide(self, action: Callable[[], Decision]) -> Reply:
        decision: Decision = self._run(action)
        return self._reply(_prompt(decision), **decision_json(decision))

    def _reply(self, prompt: str, **fields: Any) -> Reply:
        return {"ok": True, "prompt": prompt, **fields, "display": self.display()}
