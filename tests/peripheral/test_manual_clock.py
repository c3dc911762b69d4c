"""One clock for the whole emulated lock: the manual clock's ``advance`` (the panel's
``clock.advance``) moves the lock clock and the link clock alike, so freshness values and
session timers age with the lock's windows, and what fell due is run before the panel
answers (no test waits for a timer task)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ble_lock.core.errors import ErrorCode
from ble_lock.peripheral.clock import ManualClock, RealClock
from ble_lock.testing import START
from ble_lock.wire import messages as m
from ble_lock.wire.endpoints.lock import Timeouts
from ble_lock.wire.errors import RemoteProtocolError
from ble_lock.wire.link.framing import START as FRAME_START
from ble_lock.wire.security.freshness import MAX_AGE
from tests.peripheral.test_emulator_freshness import Rig as FreshnessRig


def test_advance_moves_the_lock_clock_and_the_link_clock_alike() -> None:
    clock = ManualClock(START)
    assert (clock.now(), clock.mono()) == (START, 0.0)
    assert clock.advance(31) == START + 31
    assert (clock.now(), clock.mono()) == (START + 31, 31.0)
    # Deadlines on either reading: due ones at once, future ones at the next advance.
    assert clock.link_delay(31.0) == 0.0
    assert clock.link_delay(31.5) is None
    assert clock.lock_delay(START + 31) == 0.0
    assert clock.lock_delay(START + 32) is None
    assert clock.link_delay(None) is None
    real = RealClock()
    delay = real.link_delay(real.mono() + 5)
    assert delay is not None
    assert 0 < delay <= 5


class Rig(FreshnessRig):
    """An emulator on a manual clock (no timer task running), one phone whose own clock
    stands still (its timers are not under test here)."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path, ManualClock(START))

    def phone_now(self) -> float:
        return 0.0

    def advance(self, seconds: float) -> None:
        panel = self.emu.panel
        assert panel is not None
        assert panel.advance_clock(seconds)["ok"] is True


async def test_clock_advance_expires_the_fresh_value(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    first = rig.emu.fresh()
    assert first.fresh_for == MAX_AGE  # the clock stands still: a full lifetime left
    assert rig.emu.fresh() == first
    rig.advance(MAX_AGE)
    later = rig.emu.fresh()
    assert later.fresh != first.fresh
    await rig.emu.stop()


async def test_clock_advance_ends_an_idle_session_exactly_at_its_timeout(tmp_path: Path
                                                                         ) -> None:
    """The 120 s idle timer runs on the manual clock: nothing before it, the CLOSE
    notified by the time the panel answered the advance that reached it."""
    rig = Rig(tmp_path)
    rig.claim()
    link = rig.link(counter=1)
    rid = link.start(m.Unlock(), 0.0)
    assert rid is not None
    rig.exchange(link)
    assert link.app.result(rid, m.Unlocked).user_number == 1
    idle = Timeouts().idle
    rig.advance(idle - 1)
    assert rig.out == []
    rig.advance(1)
    close = bytes([link.channel, FRAME_START, 0, 2, 0x7F, int(ErrorCode.SESSION_TIMEOUT)])
    assert rig.out == [close]
    with pytest.raises(RemoteProtocolError) as ended:
        link.receive_data(close, 0.0)
    assert ended.value.code is ErrorCode.SESSION_TIMEOUT
    await rig.emu.stop()
