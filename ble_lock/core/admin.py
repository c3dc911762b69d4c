"""Settings and modes, lockout control, factory reset, time, events, system info,
visitor secret (R-MOD-*, R-SEC-1/5, R-APP-4/6/8)."""

from __future__ import annotations

from dataclasses import replace
from enum import Enum
from typing import Any

from ble_lock.core.enrolment import Enrolment
from ble_lock.core.errors import (
    ErrorCode,
    InvalidInputError,
    PermissionDeniedError,
    StateError,
)
from ble_lock.core.invites import InviteBook
from ble_lock.core.links import Links
from ble_lock.core.management import MAX_COUNTER, SECRET_VISITOR, KeepFactory, Management
from ble_lock.core.model import (
    Actor,
    ClockSet,
    CredentialKind,
    EventKind,
    LockBody,
    LockEvent,
    LockEventPage,
    Note,
    Role,
    Settings,
    SystemInfo,
    auto_lock_default,
)
from ble_lock.core.profile import Feature
from ble_lock.core.unlock import Unlock

__all__ = [
    "LOCK_ID_SECRET",
    "MAX_MAINTENANCE_S",
    "SERIAL_SECRET",
    "VERIFICATION_SECRET",
    "Admin",
]

SERIAL_SECRET = "factory.serial"  # noqa: S105 - a store key name, not a secret
LOCK_ID_SECRET = "factory.lock_id"  # noqa: S105 - a store key name, not a secret
VERIFICATION_SECRET = "factory.verification_code"  # noqa: S105 - a store key name
MAX_EVENT_PAGE = 500

# Which profile feature a setting needs (None: every profile has it).
_SETTING_FEATURE: dict[str, Feature | None] = {
    "anti_lock": Feature.ANTI_LOCK,
    "privacy_mode": Feature.PRIVACY_MODE,
    "dual_auth_mode": Feature.DUAL_AUTH,
    "passage_mode": Feature.PASSAGE_MODE,
    "active_card_detection": Feature.ACTIVE_CARD_DETECTION,
    "volume": None,
    "doorbell_volume": None,
    "door_direction": None,
    "lock_body": Feature.LOCK_BODY,
    "language": Feature.LANGUAGE,
    "keypad_sleep_s": None,
    "face_trigger": Feature.BIOMETRIC_TRIGGER,
    "palm_trigger": Feature.BIOMETRIC_TRIGGER,
    "countdown_lock": None,
    "countdown_s": None,
    "auto_lock_on_close": Feature.LOCK_BODY,
    "lockout_enabled": Feature.LOCKOUT_CONTROL,
    "sync_unlock": Feature.SYNC_UNLOCK,
    "sync_window_s": Feature.SYNC_UNLOCK,
    "utc_offset_min": None,
    "remote_unlock": None,  # R-APP-5
}
_RANGES: dict[str, tuple[int, int]] = {
    "volume": (0, 5),
    "doorbell_volume": (0, 5),
    "keypad_sleep_s": (5, 120),
    "countdown_s": (3, 300),
    "sync_window_s": (3, 120),
    "utc_offset_min": (-720, 840),
}
_LANGUAGES = frozenset({"zh-CN", "zh-TW", "en", "es", "fr", "de", "it", "pt", "ru", "ja"})


def _coerce(name: str, value: Any, current: Any) -> Any:
    """Check one setting's type and range; enums accept their value too."""
    if isinstance(current, Enum):
        try:
            return type(current)(value)
        except ValueError:
            raise InvalidInputError(f"bad value for {name}") from None
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise InvalidInputError(f"{name} is a bool")
        return value
    if isinstance(current, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInputError(f"{name} is an int")
        low, high = _RANGES[name]
        if not low <= value <= high:
            raise InvalidInputError(f"{name} must be {low}..{high}")
        return value
    if name == "language" and value not in _LANGUAGES:
        raise InvalidInputError(f"language must be one of {sorted(_LANGUAGES)}")
    return value

MAX_MAINTENANCE_S = 3600
"""The longest maintenance window an admin can open (R-APP-8, docs/firmware.md)."""


class Admin:
    """Management of the lock as a whole: settings, lockout, reset, time, events."""

    def __init__(self, ctx: Management, unlock: Unlock, enrolment: Enrolment,
                 invites: InviteBook, links: Links) -> None:
        self._ctx = ctx
        self._dev = ctx.device
        self._unlock = unlock
        self._enrolment = enrolment
        self._invites = invites
        self._links = links
        self._maintenance_until: float | None = None

    # -- settings and modes

    def get_settings(self, actor: Actor) -> Settings:
        """The current settings. Admins, and remote-only users (a gateway shows the
        lock's door sensor and remote-unlock setting, R-APP-5)."""
        user = self._ctx.authorize(actor, admin=False)
        if user.role not in (Role.ADMIN, Role.REMOTE_ONLY):
            raise PermissionDeniedError("admin only", code=ErrorCode.PERMISSION_DENIED)
        return self._ctx.settings

    @property
    def settings(self) -> Settings:
        """The current settings (for the emulator's display; no authorization)."""
        return self._ctx.settings

    def update_settings(self, actor: Actor, *, request_id: bytes | None = None,
                        **changes: Any) -> Settings:
        """Change settings by field name of :class:`Settings` (``time_offset`` is
        ``set_time``'s). A setting the profile lacks -> UNSUPPORTED_BY_PROFILE."""
        self._ctx.authorize(actor)
        new = self._validated_settings(changes)

        def apply() -> Settings:
            self._apply_settings(new)
            return self._ctx.settings

        return self._ctx.mutate(actor, request_id, apply)

    def _validated_settings(self, changes: dict[str, Any]) -> Settings:
        values: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in _SETTING_FEATURE:
                raise InvalidInputError(f"unknown setting {name!r}")
            feature = _SETTING_FEATURE[name]
            if feature is not None and not self._ctx.profile.has(feature):
                raise StateError(f"{name} not supported by {self._ctx.profile.name}",
                                 code=ErrorCode.UNSUPPORTED_BY_PROFILE)
            values[name] = _coerce(name, value, getattr(self._ctx.settings, name))
        new = replace(self._ctx.settings, **values)
        if (new.lock_body is LockBody.BODY_5085 and new.auto_lock_on_close
                and "auto_lock_on_close" in changes):  # R-LCK-4: needs the door sensor
            raise StateError("auto-lock on close needs the 6068 lock body",
                             code=ErrorCode.UNSUPPORTED_BY_PROFILE)
        body_changed = new.lock_body is not self._ctx.settings.lock_body
        if "auto_lock_on_close" not in changes and body_changed:
            new = replace(new, auto_lock_on_close=auto_lock_default(new.lock_body))  # R-LCK-4
        return new

    def _apply_settings(self, new: Settings) -> None:
        old = self._ctx.settings
        if new == old:
            return
        self._ctx.put_settings(new)
        if not new.lockout_enabled:  # switched off: a running lockout ends too
            self._ctx.lift_lockout(pairing=False)  # the pairing limiter stays (lockout.py)
        if new.passage_mode and not old.passage_mode:  # R-MOD-4: the door stays open
            self._unlock.hold_open()

    @property
    def muted(self) -> bool:
        """R-MOD-2 privacy mode and R-MOD-6 one-time mute silence the prompts."""
        privacy = self._ctx.profile.has(Feature.PRIVACY_MODE) and self._ctx.settings.privacy_mode
        return privacy or self._dev.keypad.muted_once or self._ctx.settings.volume == 0

    # -- lockout (R-SEC-1, face-palm: the app lifts it and can switch it off)

    def lift_lockout(self, actor: Actor, *, request_id: bytes | None = None) -> None:
        """End a running lockout and forget recent failures. Admin only."""
        self._ctx.authorize(actor)
        if not self._ctx.profile.has(Feature.LOCKOUT_CONTROL):
            raise StateError("lockout lift not supported", code=ErrorCode.UNSUPPORTED_BY_PROFILE)

        def apply() -> None:
            self._ctx.lift_lockout()
            self._ctx.emit(EventKind.LOCKOUT_LIFTED)

        self._ctx.mutate(actor, request_id, apply)

    # -- maintenance window (R-APP-8: online upgrade, docs/firmware.md)

    def open_maintenance_window(self, actor: Actor, duration_s: int, *,
                                request_id: bytes | None = None) -> float:
        """Let firmware management (SMP, which has no authentication of its own) in for
        ``duration_s`` seconds (1..MAX_MAINTENANCE_S; 0 closes it). Admin only; logged.
        Returns the lock-clock time it closes at."""
        user = self._ctx.authorize(actor)
        if not 0 <= duration_s <= MAX_MAINTENANCE_S:
            raise InvalidInputError(f"a maintenance window lasts 0..{MAX_MAINTENANCE_S} s")
        until = self._ctx.now() + duration_s

        def apply() -> None:
            self._maintenance_until = until if duration_s else None
            self._ctx.emit(EventKind.MAINTENANCE_WINDOW, user_number=user.number,
                           detail=Note(text=f"{duration_s}s"))

        self._ctx.mutate(actor, request_id, apply)
        return until

    @property
    def maintenance_open(self) -> bool:
        """Whether the maintenance window is open now (the SMP server asks each request)."""
        until = self._maintenance_until
        return until is not None and self._ctx.now() < until

    # -- factory reset (R-SEC-5)

    def factory_reset(self, actor: Actor) -> None:
        """Erase every user, credential and setting. Admin only. Not idempotent-recorded
        (the records are erased too); the event log and its sequence survive."""
        self._ctx.authorize(actor)
        self.reset_now()

    def reset_now(self) -> None:
        with self._ctx.tx():
            self._ctx.store.factory_reset(keep_secrets=KeepFactory())
            self._ctx.rekey()
            self._ctx.settings = Settings()
            self._ctx.lift_lockout()
            self._ctx.emit(EventKind.FACTORY_RESET)
        self._invites.clear()
        self._links.clear()
        self._enrolment.reset()
        self._dev.reset()

    # -- time (the lock's wall clock = injected clock + offset)

    def set_time(self, actor: Actor, unix_time: float, *,
                 request_id: bytes | None = None) -> float:
        """Set the lock's wall clock to ``unix_time`` (stored as an offset from the
        injected clock; timers keep running on the injected clock). Admin only."""
        self._ctx.authorize(actor)
        if not 0 <= unix_time < 2**32:
            raise InvalidInputError("time out of range")

        def apply() -> float:
            offset = float(unix_time) - self._ctx.clock.now()
            self._ctx.put_settings(replace(self._ctx.settings, time_offset=offset))
            self._ctx.emit(EventKind.TIME_SET, detail=ClockSet(unix_time=unix_time))
            return offset

        return self._ctx.mutate(actor, request_id, apply)

    @property
    def lock_time(self) -> float:
        """The lock's wall clock (unix seconds)."""
        return self._ctx.wall()

    # -- events (R-APP-6)

    def events(self, actor: Actor, *, after: int = 0, limit: int = 100) -> LockEventPage:
        """Events with ``seq > after``, oldest first. Admins, and remote-only users (a
        gateway carries the alarms off the radio, R-APP-6)."""
        user = self._ctx.authorize(actor, admin=False)
        if user.role not in (Role.ADMIN, Role.REMOTE_ONLY):
            raise PermissionDeniedError("admin only", code=ErrorCode.PERMISSION_DENIED)
        return self.read_events(after=after, limit=limit)

    def read_events(self, *, after: int = 0, limit: int = 100) -> LockEventPage:
        """The log without authorization (emulator display, tests)."""
        limit = max(1, min(limit, MAX_EVENT_PAGE))
        after = max(0, min(after, MAX_COUNTER))  # a 64-bit cursor from the wire
        page = self._ctx.store.events_after(after, limit + 1)
        events = tuple(page[:limit])
        return LockEventPage(events=events, next_cursor=events[-1].seq if events else after,
                         dropped=self._ctx.store.get_counter("events_dropped"),
                         more=len(page) > limit)

    def drain_notifications(self) -> list[LockEvent]:
        """Events committed since the last drain (for pushes: alarms are those whose
        kind is in ``model.ALARM_KINDS``). Bounded: the oldest are dropped first."""
        out = list(self._ctx.notifications)
        self._ctx.notifications.clear()
        return out

    # -- system info (R-APP-8)

    def system_info(self, actor: Actor) -> SystemInfo:
        """Serial, verification code, firmware version and status. Any valid user."""
        self._ctx.authorize(actor, admin=False)
        return self._system_info()

    def _system_info(self) -> SystemInfo:
        store = self._ctx.store
        kinds = [k for k in CredentialKind if self._ctx.profile.supports(k)]
        return SystemInfo(
            serial=(store.get_secret(SERIAL_SECRET) or b"").decode(),
            verification_code=(store.get_secret(VERIFICATION_SECRET) or b"").decode(),
            firmware_version=self._ctx.profile.firmware_version, model=self._ctx.profile.name,
            battery_percent=self._dev.battery, low_battery=self._unlock.low_battery,
            video_available=not (self._ctx.profile.has(Feature.LOW_BATTERY_VIDEO)
                                 and self._unlock.low_battery),  # R-SEC-3
            claimed=bool(self._ctx.index.users), users=len(self._ctx.index.users),
            credentials={k: self._ctx.index.count(k) for k in kinds},
            capacities={k: self._ctx.profile.capacity(k) for k in kinds},
        )

    @property
    def serial(self) -> str:
        return (self._ctx.store.get_secret(SERIAL_SECRET) or b"").decode()

    @property
    def lock_id(self) -> bytes:
        """The lock's public id on the air (R-APP-1: in the QR code and the advertisement)."""
        return self._ctx.store.get_secret(LOCK_ID_SECRET) or b""

    def visitor_secret(self, actor: Actor) -> bytes:
        """R-APP-4: the secret admins' phones generate visitor codes from. Admin only."""
        self._ctx.authorize(actor)
        if not self._ctx.profile.has(Feature.VISITOR_CODES):
            raise StateError("no visitor codes", code=ErrorCode.UNSUPPORTED_BY_PROFILE)
        return self._ctx.visitor_key()

    def rotate_visitor_secret(self, actor: Actor, *, request_id: bytes | None = None) -> None:
        """R-APP-4: a new visitor secret revokes every outstanding visitor code (the only
        offline revocation, docs/visitor-codes.md); fetch it with ``visitor_secret``
        (not returned, so no idempotency record holds it). Admin only."""
        self._ctx.authorize(actor)
        if not self._ctx.profile.has(Feature.VISITOR_CODES):
            raise StateError("no visitor codes", code=ErrorCode.UNSUPPORTED_BY_PROFILE)

        def apply() -> None:
            self._ctx.store.put_secret(SECRET_VISITOR, self._ctx.rng.token_bytes(32))
            self._ctx.emit(EventKind.SETTINGS_CHANGED, detail=Note(text="visitor secret rotated"))

        self._ctx.mutate(actor, request_id, apply)
