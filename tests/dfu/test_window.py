"""The maintenance window (R-APP-8, docs/firmware.md): opened by an admin over the secure
protocol, for a duration, logged; a normal user's request is refused inside the lock. A
real lock in this process (MemoryLock) behind the real LockServer, fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from ble_lock.core.errors import ErrorCode, InvalidInputError, PermissionDeniedError
from ble_lock.testing.memory_lock import MemoryLock
from ble_lock.wire import messages as m
from tests.central._phones import phones_for

pytestmark = pytest.mark.timeout(30)


async def test_an_admin_opens_the_window_for_its_duration_and_it_is_logged(
        tmp_path: Path) -> None:
    lock = MemoryLock()
    async with phones_for(lock, tmp_path) as phones:
        owner = await phones.owner()
        assert not lock.lock.maintenance_open
        await owner.open_maintenance_window(300)
        assert lock.lock.maintenance_open
        lock.clock.advance(299)
        assert lock.lock.maintenance_open
        lock.clock.advance(1)
        assert not lock.lock.maintenance_open  # closes by itself
        await owner.open_maintenance_window(60)
        await owner.open_maintenance_window(0)  # and an admin can close it early
        assert not lock.lock.maintenance_open
        events = [e for e in await owner.events() if e.kind is m.EventKind.MAINTENANCE_WINDOW]
        assert [(e.user_number, e.detail) for e in events] == [
            (1, "300s"), (1, "60s"), (1, "0s")]


async def test_a_normal_user_cannot_open_the_window(tmp_path: Path) -> None:
    lock = MemoryLock()
    async with phones_for(lock, tmp_path) as phones:
        owner = await phones.owner()
        carl = await owner.add_user("Carl")
        guest = await phones.invited(owner, "guest", carl.user_number)
        with pytest.raises(PermissionDeniedError) as refused:
            await guest.open_maintenance_window(600)
        assert refused.value.code is ErrorCode.PERMISSION_DENIED
        assert not lock.lock.maintenance_open
        kinds = [e.kind for e in await owner.events()]
        assert m.EventKind.MAINTENANCE_WINDOW not in kinds


async def test_a_window_longer_than_an_hour_is_refused(tmp_path: Path) -> None:
    lock = MemoryLock()
    async with phones_for(lock, tmp_path) as phones:
        owner = await phones.owner()
        with pytest.raises(InvalidInputError):
            await owner.open_maintenance_window(3601)
        assert not lock.lock.maintenance_open
