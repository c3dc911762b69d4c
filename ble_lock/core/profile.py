"""Model profiles: the differences between the two manuals as data (RULES.md intro).

``dl20vc`` is the EZVIZ CS-DL20VC (keypad, fingerprint, card, master/normal/dual-auth);
``face-palm`` the EZVIZ face + palm-vein lock. A custom profile (``Profile.custom``) may
raise capacities, e.g. the benchmark's 10,000 users.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from types import MappingProxyType

from ble_lock.core.errors import ErrorCode, InvalidInputError
from ble_lock.core.model import CredentialKind, Role

__all__ = ["DL20VC", "FACE_PALM", "PROFILES", "Feature", "Profile", "get_profile"]


class Feature(Enum):
    """Optional behaviours a profile has or lacks."""

    ANTI_LOCK = "anti-lock"  # R-MOD-1
    PRIVACY_MODE = "privacy-mode"  # R-MOD-2
    DUAL_AUTH = "dual-auth"  # R-MOD-3 / R-USR-8
    PASSAGE_MODE = "passage-mode"  # R-MOD-4
    ACTIVE_CARD_DETECTION = "active-card-detection"  # R-MOD-5
    ONE_TIME_MUTE = "one-time-mute"  # R-MOD-6
    LANGUAGE = "language"  # R-MOD-7
    LOCK_BODY = "lock-body"  # R-MOD-7 / R-LCK-4
    BIOMETRIC_TRIGGER = "biometric-trigger"  # R-MOD-9
    WEAK_PIN_CHECK = "weak-pin-check"  # R-PIN-2
    LOCKOUT_CONTROL = "lockout-control"  # R-SEC-1: app lifts / switches off
    VISITOR_CODES = "visitor-codes"  # R-APP-4
    SYNC_UNLOCK = "sync-unlock"  # R-SYN-*
    CLAIM_NEEDS_PAIRING_MODE = "claim-needs-pairing-mode"  # R-APP-1 (QR shown by SET)
    LOW_BATTERY_VIDEO = "low-battery-video"  # R-SEC-3


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """Everything that differs between lock models, as data."""

    name: str
    max_users: int
    capacities: Mapping[CredentialKind, int]
    per_user_limits: Mapping[CredentialKind, int] = field(default_factory=dict)
    enrol_steps: Mapping[CredentialKind, tuple[str, ...]] = field(default_factory=dict)
    roles: frozenset[Role] = frozenset({Role.ADMIN, Role.NORMAL, Role.REMOTE_ONLY})
    features: frozenset[Feature] = frozenset()
    pin_min: int = 6
    pin_max: int = 10
    keypad_max_digits: int = 20  # R-PIN-3
    card_code_digits: int = 6  # R-CRD-5
    lockout_failures: int = 5  # R-SEC-1
    lockout_window_s: float = 300.0
    lockout_duration_s: float = 180.0
    tamper_alarm_s: float = 60.0  # R-SEC-2
    low_battery_percent: int = 20  # R-SEC-3
    dual_auth_window_s: float = 10.0  # R-USR-8: second key within this time
    enrolment_timeout_s: float = 60.0  # R-CRD-4: an abandoned session stores nothing
    pairing_mode_s: float = 120.0  # R-APP-1
    event_log_size: int = 1000  # R-APP-6
    idempotency_per_actor: int = 32
    firmware_version: str = "1.0.0"

    def has(self, feature: Feature) -> bool:
        return feature in self.features

    def supports(self, kind: CredentialKind) -> bool:
        return self.capacities.get(kind, 0) > 0

    def capacity(self, kind: CredentialKind) -> int:
        return self.capacities.get(kind, 0)

    def per_user_limit(self, kind: CredentialKind) -> int | None:
        """None = only the lock-wide capacity applies (DL20VC, R-CRD-3)."""
        return self.per_user_limits.get(kind)

    def custom(self, *, name: str | None = None, scale: int | None = None,
               max_users: int | None = None) -> Profile:
        """A copy with raised capacities (``scale`` multiplies every capacity)."""
        caps = dict(self.capacities)
        if scale is not None:
            if scale < 1:
                raise InvalidInputError("scale must be >= 1", code=ErrorCode.INVALID_ARGUMENT)
            caps = {kind: cap * scale for kind, cap in caps.items()}
        return replace(
            self,
            name=name or f"{self.name}-custom",
            capacities=MappingProxyType(caps),
            max_users=max_users if max_users is not None else self.max_users,
        )


_FINGER_STEPS = ("centre", "centre", "top", "bottom", "left", "right")  # R-CRD-4: 6 captures
_FACE_STEPS = ("straight", "up", "down", "left", "right")  # R-CRD-4: 5 poses
_PALM_STEPS = ("palm", "palm", "palm")

DL20VC = Profile(
    name="dl20vc",
    max_users=100,
    capacities=MappingProxyType(
        {
            CredentialKind.PIN: 50,
            CredentialKind.CARD: 50,
            CredentialKind.FINGERPRINT: 50,
            CredentialKind.BLUETOOTH_KEY: 50,
        }
    ),
    enrol_steps=MappingProxyType({CredentialKind.FINGERPRINT: _FINGER_STEPS}),
    roles=frozenset({Role.ADMIN, Role.NORMAL, Role.DUAL_AUTH, Role.REMOTE_ONLY}),
    features=frozenset(
        {
            Feature.ANTI_LOCK,
            Feature.DUAL_AUTH,
            Feature.PASSAGE_MODE,
            Feature.ACTIVE_CARD_DETECTION,
            Feature.VISITOR_CODES,  # manual: "支持远程临时密码授权" (remote temporary passwords)
        }
    ),
)

FACE_PALM = Profile(
    name="face-palm",
    max_users=100,
    capacities=MappingProxyType(
        {
            CredentialKind.PIN: 50,
            CredentialKind.FINGERPRINT: 50,
            CredentialKind.FACE: 50,
            CredentialKind.PALM: 50,
            CredentialKind.BLUETOOTH_KEY: 50,
            CredentialKind.REMOTE_CONTROL: 10,
        }
    ),
    per_user_limits=MappingProxyType(
        {
            CredentialKind.FINGERPRINT: 5,
            CredentialKind.FACE: 3,
            CredentialKind.PALM: 2,
            CredentialKind.PIN: 1,
        }
    ),
    enrol_steps=MappingProxyType(
        {
            CredentialKind.FINGERPRINT: _FINGER_STEPS,
            CredentialKind.FACE: _FACE_STEPS,
            CredentialKind.PALM: _PALM_STEPS,
        }
    ),
    features=frozenset(
        {
            Feature.PRIVACY_MODE,
            Feature.PASSAGE_MODE,
            Feature.ONE_TIME_MUTE,
            Feature.LANGUAGE,
            Feature.LOCK_BODY,
            Feature.BIOMETRIC_TRIGGER,
            Feature.WEAK_PIN_CHECK,
            Feature.LOCKOUT_CONTROL,
            Feature.VISITOR_CODES,
            Feature.SYNC_UNLOCK,
            Feature.CLAIM_NEEDS_PAIRING_MODE,
            Feature.LOW_BATTERY_VIDEO,
        }
    ),
)

PROFILES: Mapping[str, Profile] = MappingProxyType({p.name: p for p in (DL20VC, FACE_PALM)})


def get_profile(name: str) -> Profile:
    """Look a built-in profile up by name (``dl20vc`` or ``face-palm``)."""
    try:
        return PROFILES[name]
    except KeyError:
        raise InvalidInputError(
            f"unknown model profile {name!r} (known: {', '.join(PROFILES)})",
            code=ErrorCode.INVALID_ARGUMENT,
        ) from None
