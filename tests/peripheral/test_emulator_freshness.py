"""Issue 10 on the real emulator, in process (no radio): the fresh characteristic follows
the link clock, a captured first message dies with its value, and a failure behind the
endpoint ends only its own channel."""

from __future__ import annotations

from pathlib import Path

import pytest

from ble_lock.central.app import AppClient, LockLink, claim_pairing
from ble_lock.core.errors import ErrorCode
from ble_lock.core.model import EventKind
from ble_lock.lockapp.service import Answer, LockService
from ble_lock.peripheral.clock import ManualClock
from ble_lock.peripheral.emulator import Emulator, EmulatorConfig
from ble_lock.wire import messages as m
from ble_lock.wire.endpoints.phone import PhonePairing
from ble_lock.wire.errors import RemoteProtocolError
from ble_lock.wire.security.crypto import KeyPair, os_rng
from ble_lock.wire.security.freshness import MAX_AGE, ROTATION
from ble_lock.wire.security.pairing import QrPayload
from tests.peripheral.test_emulator_unit import START, LinkClock


class Rig:
    """An emulator whose notifications come back to one phone object at a time."""

    def __init__(self, tmp_path: Path, clock: ManualClock | None = None) -> None:
        self.clock = clock or LinkClock(START)
        self.emu = Emulator(EmulatorConfig(state_dir=tmp_path / "lock", clock=self.clock))
        self.emu.build()
        self.out: list[bytes] = []
        self.emu.send_frame = self.out.append  # type: ignore[method-assign]
        self.phone = KeyPair.generate(os_rng)
        assert self.emu.label is not None
        self.qr = QrPayload.parse(self.emu.label.qr)

    def exchange(self, peer: PhonePairing | LockLink) -> None:
        while frames := peer.data_to_send():
            for frame in frames:
                self.emu.receive_frame(frame)
                answers = list(self.out)
                self.out.clear()
                for answer in answers:
                    peer.receive_data(answer, self.phone_now())

    def claim(self) -> None:
        pairing = claim_pairing(lock_id=self.qr.lock_id, setup_code=self.qr.setup_code,
                                phone=self.phone, rng=os_rng,
                                lock_fingerprint=self.qr.fingerprint, mtu=100)
        pairing.start(self.phone_now())
        self.exchange(pairing)
        assert pairing.lock_public == self.emu.static_public

    def phone_now(self) -> float:
        """The phone's clock: the emulator's link clock (monotonic seconds)."""
        return self.clock.mono()

    def link(self, counter: int) -> LockLink:
        return LockLink.open(app=AppClient(rng=os_rng), lock_id=self.qr.lock_id,
                             lock_public=self.emu.static_public, phone=self.phone,
                             counter=counter, rng=os_rng, fresh=self.emu.fresh().fresh,
                             mtu=100)

    def unlocks(self) -> int:
        assert self.emu.lock is not None
        page = self.emu.lock.read_events(limit=1000)
        return sum(1 for e in page.events if e.kind is EventKind.UNLOCK)


async def test_the_fresh_characteristic_follows_the_link_clock(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    first = rig.emu.fresh()
    assert ROTATION <= first.fresh_for <= MAX_AGE
    rig.clock.link += ROTATION
    assert rig.emu.fresh().fresh != first.fresh
    await rig.emu.stop()


async def test_a_captured_unlock_dies_with_its_value_on_the_emulator(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.claim()
    link = rig.link(counter=1)
    link.start(m.Unlock(), rig.clock.link)
    captured = link.data_to_send()  # never reached the lock
    rig.clock.link += MAX_AGE
    before = rig.unlocks()
    for frame in captured:
        rig.emu.receive_frame(frame)
    rig.out.clear()
    assert rig.unlocks() == before
    fresh = rig.link(counter=2)  # the owner's next tap: one round trip
    rid = fresh.start(m.Unlock(), rig.clock.link)
    assert rid is not None
    rig.exchange(fresh)
    assert fresh.app.result(rid, m.Unlocked).user_number == 1
    assert rig.unlocks() == before + 1
    await rig.emu.stop()


class _BrokenService(LockService):
    def answer(self, phone_key: bytes, payload: bytes, *, early: bool = False) -> Answer:
        raise RuntimeError("a bug behind the endpoint")  # what LockServer calls


async def test_a_failure_behind_the_endpoint_closes_only_its_channel(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.claim()
    server = rig.emu.server
    assert server is not None
    assert rig.emu.lock is not None
    working = server.service
    server.service = _BrokenService(rig.emu.lock)
    link = rig.link(counter=1)
    link.start(m.Unlock(), rig.clock.link)
    with pytest.raises(RemoteProtocolError) as closed:
        rig.exchange(link)
    assert closed.value.code is ErrorCode.INTERNAL
    assert server.endpoint.next_timer() is None  # the channel is gone, not dangling
    server.service = working
    again = rig.link(counter=2)
    rid = again.start(m.Unlock(), rig.clock.link)
    assert rid is not None
    rig.exchange(again)
    assert again.app.result(rid, m.Unlocked).user_number == 1
    await rig.emu.stop()
