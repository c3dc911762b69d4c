"""Core records -> wire records (no secrets: digests and key material never leave)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from ble_lock.core.errors import ErrorCode, error_for
from ble_lock.core.model import (
    BoltState,
    Credential,
    Decision,
    EnrolmentSession,
    LockEvent,
    Settings,
    User,
    WeekdaySchedule,
)
from ble_lock.wire import messages as m
from ble_lock.wire.messages.codec import MAX_DETAIL
from ble_lock.wire.messages.details import render_detail

__all__ = [
    "SETTING_NAMES",
    "core_schedules",
    "credential_info",
    "decision",
    "enrolment",
    "event_record",
    "lock_settings",
    "lock_state",
    "page",
    "secs",
    "user_info",
    "validity",
]

T = TypeVar("T")


def secs(value: float | None) -> int | None:
    return None if value is None else max(0, int(value))


def validity(valid_from: float | None, valid_until: float | None) -> m.Validity:
    return m.Validity(valid_from=secs(valid_from), valid_until=secs(valid_until))


def schedule(s: WeekdaySchedule) -> m.Schedule:
    return m.Schedule(days_mask=s.days_mask, start_minute=s.start_minute, end_minute=s.end_minute)


def core_schedules(schedules: Sequence[m.Schedule]) -> tuple[WeekdaySchedule, ...]:
    return tuple(
        WeekdaySchedule(days_mask=s.days_mask, start_minute=s.start_minute,
                        end_minute=s.end_minute)
        for s in schedules
    )


def user_info(user: User) -> m.UserInfo:
    return m.UserInfo(
        user_number=user.number,
        role=user.role,
        name=m.clip_text(user.name, 32),
        validity=validity(user.valid_from, user.valid_until),
        schedules=tuple(schedule(s) for s in user.schedules),
    )


def credential_info(cred: Credential) -> m.CredentialInfo:
    return m.CredentialInfo(
        credential_id=cred.id,
        user_number=cred.user_number,
        kind=cred.kind,
        duress=cred.duress,
        label=m.clip_text(cred.label, 16),
        revoked=cred.revoked,
        validity=validity(cred.valid_from, cred.valid_until),
    )


def enrolment(session: EnrolmentSession) -> m.Enrolment:
    return m.Enrolment(
        session_id=session.id,
        kind=session.kind,
        user_number=session.user_number,
        captured=session.captured,
        captures_needed=session.captures_needed,
        next_step=m.clip_text(session.next_step or "", 16),
        state=session.state,
        credential_id=session.credential_id,
    )


def event_record(event: LockEvent) -> m.EventRecord:
    return m.EventRecord(
        seq=event.seq,
        at_ms=max(0, int(event.timestamp * 1000)),
        kind=event.kind,
        user_number=event.user_number,
        method=event.method,
        duress=event.duress,
        reason=None if event.reason is None else int(event.reason),
        credential_id=event.credential_id,
        detail=m.clip_text(render_detail(event.detail), MAX_DETAIL),
    )


SETTING_NAMES: tuple[str, ...] = tuple(f for f in m.LockSettings.__dataclass_fields__)


def lock_settings(settings: Settings) -> m.LockSettings:
    return m.LockSettings(**{name: getattr(settings, name) for name in SETTING_NAMES})


def lock_state(bolt: BoltState) -> m.LockState:
    return m.LockState.LOCKED if bolt is BoltState.LOCKED else m.LockState.UNLOCKED


def page(items: Sequence[T], after: int, key: Callable[[T], int], size: int
          ) -> tuple[tuple[T, ...], bool]:
    rest = [item for item in items if key(item) > after]
    return tuple(rest[:size]), len(rest) > size


def decision(outcome: Decision) -> m.Unlocked:
    """A denial is a value in the core; on the wire it is an error response (R-SEC-1
    keeps the seconds left in the text)."""
    if outcome.granted:
        return m.Unlocked(user_number=outcome.user_number or 0)
    reason = outcome.reason or ErrorCode.PERMISSION_DENIED
    text = reason.name.lower().replace("_", " ")
    if outcome.retry_after is not None:
        text += f"; retry in {outcome.retry_after:.0f} s"
    raise error_for(reason, text)
