"""Validity windows and week-day schedules (R-USR-7; Matter's week-day schedule model)."""

from __future__ import annotations

import time

from ble_lock.core.errors import ErrorCode, InvalidInputError
from ble_lock.core.model import Credential, User, WeekdaySchedule

__all__ = ["check_schedule", "check_window", "schedule_allows", "user_allowed_at",
           "validity_denial", "within"]

MINUTES_PER_DAY = 24 * 60
ALL_DAYS = 0x7F


def check_schedule(schedule: WeekdaySchedule) -> None:
    """Reject a malformed schedule with ``INVALID_SCHEDULE``."""
    if not 0 < schedule.days_mask <= ALL_DAYS:
        raise InvalidInputError("days mask must be 1..127 (bit 0 = Sunday)",
                                code=ErrorCode.INVALID_SCHEDULE)
    if not 0 <= schedule.start_minute < schedule.end_minute <= MINUTES_PER_DAY:
        raise InvalidInputError("need 0 <= start_minute < end_minute <= 1440",
                                code=ErrorCode.INVALID_SCHEDULE)


def within(valid_from: float | None, valid_until: float | None, now: float) -> bool:
    """THE validity-window check (R-USR-7, R-APP-3): ``valid_from <= now < valid_until``,
    a missing bound being open. Users, phone keys and invites all go through here."""
    return (valid_from is None or now >= valid_from) and (valid_until is None or now < valid_until)


def check_window(valid_from: float | None, valid_until: float | None) -> None:
    """Reject a window that ends before it starts with ``INVALID_SCHEDULE``."""
    if valid_from is not None and valid_until is not None and valid_until <= valid_from:
        raise InvalidInputError("valid_until must be after valid_from",
                                code=ErrorCode.INVALID_SCHEDULE)


def schedule_allows(schedules: tuple[WeekdaySchedule, ...], local: float) -> bool:
    """True if no schedule restricts the user, or one covers the local time ``local``."""
    if not schedules:
        return True
    tm = time.gmtime(local)
    day_bit = 1 << ((tm.tm_wday + 1) % 7)  # tm_wday: Monday = 0; Matter: bit 0 = Sunday
    minute = tm.tm_hour * 60 + tm.tm_min
    return any(
        s.days_mask & day_bit and s.start_minute <= minute < s.end_minute for s in schedules
    )


def user_allowed_at(user: User, now: float, utc_offset_min: int) -> bool:
    """R-USR-7: inside the user's validity window and week-day schedule at ``now``."""
    if not within(user.valid_from, user.valid_until, now):
        return False
    return schedule_allows(user.schedules, now + utc_offset_min * 60)


def validity_denial(credential: Credential | None, user: User | None, now: float,
                    utc_offset_min: int) -> ErrorCode | None:
    """Why a presented key (or credential) and its user are not valid at ``now``, or None:
    revoked (``KEY_REVOKED``), outside the key's window (``KEY_EXPIRED``, R-APP-3), the
    user outside their window or schedule (``OUTSIDE_VALIDITY``, R-USR-7). The one check
    behind both the management calls' authorization and the unlock decision."""
    if credential is not None:
        if credential.revoked:
            return ErrorCode.KEY_REVOKED
        if not within(credential.valid_from, credential.valid_until, now):
            return ErrorCode.KEY_EXPIRED
    if user is not None and not user_allowed_at(user, now, utc_offset_min):
        return ErrorCode.OUTSIDE_VALIDITY
    return None
