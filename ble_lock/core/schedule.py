"""Validity windows and week-day schedules (R-USR-7; Matter's week-day schedule model)."""

from __future__ import annotations

import time

from ble_lock.core.errors import ErrorCode, InvalidInputError
from ble_lock.core.model import User, WeekdaySchedule

__all__ = ["check_schedule", "check_window", "schedule_allows", "user_allowed_at"]

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


def check_window(valid_from: float | None, valid_until: float | None) -> None:
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
    if user.valid_from is not None and now < user.valid_from:
        return False
    if user.valid_until is not None and now >= user.valid_until:
        return False
    return schedule_allows(user.schedules, now + utc_offset_min * 60)
