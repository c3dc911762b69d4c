"""The emulator's pieces in process (no BLE): state directory, clocks, timer task, MTU."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ble_lock.central.app import AppClient, LockLink, claim_pairing
from ble_lock.core.clock import FakeRng
from ble_lock.core.errors import ErrorCode, InvalidInputError, StorageError
from ble_lock.core.lock import Lock, provision
from ble_lock.core.model import EventKind
from ble_lock.core.profile import get_profile
from ble_lock.core.store import MemoryStore
from ble_lock.peripheral.advertising import Advertiser
from ble_lock.peripheral.clock import ManualClock, OsRng, RealClock
from ble_lock.peripheral.control import handle_line
from ble_lock.peripheral.emulator import Emulator, EmulatorConfig
from ble_lock.peripheral.panel import FrontPanel
from ble_lock.peripheral.state import StateDir, atomic_write
from ble_lock.testing import START
from ble_lock.testing.waiting import eventually
from ble_lock.wire import messages as m
from ble_lock.wire.link.framing import START as FRAME_START
from ble_lock.wire.link.gatt import Advertisement, StateFlags
from ble_lock.wire.security.crypto import KeyPair, fingerprint, os_rng
from ble_lock.wire.security.pairing import QrPayload


class LinkClock(ManualClock):
    """A manual lock clock and a settable link clock (the real one is monotonic)."""

    def __init__(self, start: float) -> None:
        super().__init__(start)
        self.link = 1000.0

    def mono(self) -> float:
        return self.link


def _emulator(tmp_path: Path, clock: ManualClock | None = None, **kw: str) -> Emulator:
    emu = Emulator(EmulatorConfig(state_dir=tmp_path / "lock", clock=clock or ManualClock(START),
                                  **kw))  # type: ignore[arg-type]
    emu.build()
    return emu


# -- state directory


def test_first_open_provisions_then_reopens_the_same_lock(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "s")
    first = state.open(profile=None, rng=OsRng())
    assert first.first_start
    assert first.profile == "dl20vc"
    assert first.label is not None
    lock_id = first.label.lock_id
    first.store.close()
    again = state.open(profile="dl20vc", rng=OsRng())
    assert not again.first_start
    assert again.label is not None
    assert again.label.lock_id == lock_id
    assert again.static_key.public == first.static_key.public
    assert first.label.setup_code not in repr(again)
    assert "private" not in repr(again.static_key).lower() or "repr=False"
    again.store.close()
    for name in ("lock.db", "lock_key", "label.json", "factory.json"):
        assert os.stat(tmp_path / "s" / name).st_mode & 0o777 == 0o600


def test_crash_before_the_store_is_renamed_provisions_afresh(tmp_path: Path) -> None:
    d = tmp_path / "s"
    d.mkdir()
    (d / "lock.db.new").write_bytes(b"half written")
    (d / "label.json").write_text("{}")  # a label of a lock that never came to be
    opened = StateDir(d).open(profile=None, rng=OsRng())
    assert opened.first_start
    assert opened.label is not None  # rewritten for the new lock
    assert not (d / "lock.db.new").exists()
    opened.store.close()


def test_damaged_state_is_refused_with_typed_errors(tmp_path: Path) -> None:
    d = tmp_path / "s"
    StateDir(d).open(profile=None, rng=OsRng()).store.close()
    (d / "lock_key").write_bytes(b"short")
    with pytest.raises(StorageError) as info:
        StateDir(d).open(profile=None, rng=OsRng())
    assert info.value.code is ErrorCode.STORAGE_CORRUPT
    (d / "lock_key").unlink()
    with pytest.raises(StorageError, match="key is missing"):
        StateDir(d).open(profile=None, rng=OsRng())
    (d / "factory.json").write_text("not json")
    with pytest.raises(StorageError) as info:
        StateDir(d).open(profile=None, rng=OsRng())
    assert info.value.code is ErrorCode.STORAGE_CORRUPT


def test_unknown_or_changed_profile_is_refused(tmp_path: Path) -> None:
    # INVALID_ARGUMENT's class is InvalidInputError (issue 13: class derived from code)
    with pytest.raises(InvalidInputError) as info:
        StateDir(tmp_path / "a").open(profile="dl99", rng=OsRng())
    assert info.value.code is ErrorCode.INVALID_ARGUMENT
    StateDir(tmp_path / "b").open(profile="face-palm", rng=OsRng()).store.close()
    with pytest.raises(InvalidInputError, match="face-palm"):
        StateDir(tmp_path / "b").open(profile="dl20vc", rng=OsRng())


def test_removed_label_means_no_label_op(tmp_path: Path) -> None:
    emu = _emulator(tmp_path)
    (tmp_path / "lock" / "label.json").unlink()
    assert StateDir(tmp_path / "lock").read_label() is None
    assert emu.panel is not None
    emu.opened.store.close()  # type: ignore[union-attr]


def test_atomic_write_replaces_and_is_owner_only(tmp_path: Path) -> None:
    target = tmp_path / "f"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert os.stat(target).st_mode & 0o777 == 0o600
    assert not (tmp_path / "f.tmp").exists()


# -- clocks


def test_manual_clock_moves_only_when_advanced() -> None:
    clock = ManualClock(START)
    assert clock.now() == START
    assert clock.advance(2.5) == START + 2.5
    assert clock.lock_delay(START + 10) is None  # future deadlines wait for an advance
    assert clock.lock_delay(START) == 0.0
    for bad in (-1, float("nan"), float("inf"), True, "5", 1e12):
        with pytest.raises(InvalidInputError):
            clock.advance(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        ManualClock(-5)


def test_real_clock_delay() -> None:
    clock = RealClock()
    assert clock.lock_delay(None) is None
    assert clock.lock_delay(clock.now() - 5) == 0.0
    assert 50 < (clock.lock_delay(clock.now() + 60) or 0) <= 60


# -- the emulator without a radio


async def test_timer_task_runs_link_timeouts_and_lock_deadlines(tmp_path: Path) -> None:
    clock = LinkClock(START)
    emu = _emulator(tmp_path, clock)
    sent: list[bytes] = []
    emu.send_frame = sent.append  # type: ignore[method-assign]
    emu.start_tasks()
    try:
        # A PAIR1 that never finishes: START declares 100 bytes, 10 arrive.
        emu.receive_frame(bytes([9, FRAME_START, 0, 100, 0x10]) + bytes(9))
        assert sent == []
        clock.link += 6  # the 5 s reassembly timeout passes on the link clock
        emu.after_panel_input()  # any input wakes the task
        await eventually(lambda: bool(sent), what="the reassembly timeout's CLOSE", timeout=0.5)
        assert sent == [bytes([9, FRAME_START, 0, 2, 0x7F, int(ErrorCode.REASSEMBLY_TIMEOUT)])]
        # A lock deadline: the tamper alarm ends after 60 s of lock clock (R-SEC-2).
        lock = emu.lock
        assert lock is not None
        assert emu.panel is not None
        emu.panel.tamper()
        clock.advance(61)  # no tick here: the task must run it
        emu.after_panel_input()
        await eventually(
            lambda: EventKind.TAMPER_ALARM_END in [
                e.kind for e in lock.read_events(after=0, limit=100).events],
            what="the timer task ended the tamper alarm", timeout=0.5)
    finally:
        await emu.stop()


async def test_mtu_is_inferred_per_channel_from_the_phones_writes(tmp_path: Path) -> None:
    emu = _emulator(tmp_path)
    try:
        assert emu._infer_mtu(bytes([5, 0x80, 0, 200, 0x01]) + bytes(195)) == 203  # HS1
        assert emu._infer_mtu(bytes([5, 0x01]) + bytes(10)) == 203  # a short continuation
        assert emu._infer_mtu(bytes([5, 0x80, 0, 30, 0x03]) + bytes(29)) == 203  # DATA
        assert emu._infer_mtu(bytes([5, 0x80, 0, 20, 0x01]) + bytes(15)) == 23  # new HS1
        assert emu._infer_mtu(bytes([6, 0x80, 0, 9, 0x10]) + bytes(8)) == 23  # never < 23
        assert emu._infer_mtu(bytes([7]) + bytes(600)) == 517  # never > 517
        assert emu._infer_mtu(b"") is None
        assert emu._infer_mtu(b"\x00abc") is None
        emu.receive_frame(b"\x00")  # channel 0: dropped, nothing sent, no crash
        emu.receive_frame(b"")
    finally:
        await emu.stop()


async def test_flags_info_and_names(tmp_path: Path) -> None:
    emu = _emulator(tmp_path, profile="face-palm")
    try:
        lock = emu.lock
        assert lock is not None
        assert emu.flags() == StateFlags.FACTORY_FRESH  # face-palm: SET first (R-APP-1)
        assert emu.name == "BLELOCK-" + lock.lock_id.hex().upper()
        assert emu.info().profile == "face-palm"
        assert emu.panel is not None
        emu.panel.set_button()
        assert emu.flags() == StateFlags.FACTORY_FRESH | StateFlags.PAIRING_MODE
        emu.panel.claim("13579024", "13579024")
        emu.panel.battery(3)
        emu.panel.advance_clock(121)  # pairing mode ends after 120 s (R-APP-1)
        assert emu.flags() == StateFlags.PAIRED | StateFlags.LOW_BATTERY
        assert emu.panel.display()["flags"] == ["PAIRED", "LOW_BATTERY"]
        assert emu.label is not None
        assert emu.label.setup_code not in repr(emu)
    finally:
        await emu.stop()


async def test_custom_name(tmp_path: Path) -> None:
    emu = _emulator(tmp_path, name="FrontDoor")
    assert emu.name == "FrontDoor"
    await emu.stop()


@settings(max_examples=60, deadline=None)
@given(line=st.binary(max_size=200) | st.builds(
    lambda op, extra: json.dumps({"op": op, **extra}).encode(),
    st.sampled_from(["keypad", "card", "biometric", "battery", "door", "claim",
                     "clock.advance", "thumb_turn", "remote", "status"]),
    st.dictionaries(st.sampled_from(["keys", "uid", "kind", "template", "percent", "state",
                                     "pin", "confirm", "seconds", "locked", "remote_id"]),
                    st.none() | st.booleans() | st.integers() | st.text(max_size=30)
                    | st.floats(allow_nan=True), max_size=3)))
def test_any_request_line_gets_a_reply_never_an_exception(line: bytes) -> None:
    reply = handle_line(_PANEL, line)
    assert isinstance(reply["ok"], bool)
    if not reply["ok"]:
        assert set(reply["error"]) == {"code", "name", "message"}
        assert reply["error"]["name"] != "INTERNAL"
    json.dumps(reply)  # always serializable


def _make_panel() -> object:

    store = MemoryStore()
    provision(store, FakeRng(3))
    clock = ManualClock(START)
    return FrontPanel(Lock(store=store, profile=get_profile("face-palm"), clock=clock,
                           rng=FakeRng(4)), clock)


_PANEL = _make_panel()


async def test_factory_reset_at_the_panel_makes_a_new_static_key(tmp_path: Path) -> None:
    """docs/protocol.md key schedule: the lock's static key is new after a factory reset;
    the label keeps its setup code, its QR shows the new fingerprint (R-SEC-5)."""
    emu = _emulator(tmp_path)
    assert emu.panel is not None
    assert emu.label is not None
    old_key, old_label = emu.static_public, emu.label
    old_server = emu.server
    emu.panel.claim("13579024", "13579024")
    emu.panel.factory_reset()
    assert emu.static_public != old_key
    assert emu.server is not old_server
    assert emu.label.setup_code == old_label.setup_code
    assert emu.label.qr != old_label.qr
    assert emu.label.qr.endswith(fingerprint(emu.static_public).hex().upper())
    second = emu.static_public
    emu.panel.factory_reset()  # again, on a lock never claimed since: one new key each
    new_key = emu.static_public
    assert new_key not in (old_key, second)
    await emu.stop()
    reopened = StateDir(tmp_path / "lock").open(profile=None, rng=OsRng())
    assert reopened.static_key.public == new_key
    assert reopened.label is not None
    assert reopened.label.qr == emu.label.qr
    reopened.store.close()


async def test_a_response_frame_leaves_only_after_its_mutation_is_committed(
        tmp_path: Path) -> None:
    """SIGKILL loses nothing acknowledged: when the frame answering USER_ADD is notified,
    another connection to the store already sees the new user (committed, durable)."""

    emu = _emulator(tmp_path)
    db = tmp_path / "lock" / "lock.db"
    seen: list[tuple[bytes, int]] = []

    def users_on_disk() -> int:
        with sqlite3.connect(db) as other:
            return int(other.execute("SELECT count(*) FROM users").fetchone()[0])

    def capture(frame: bytes) -> None:
        seen.append((frame, users_on_disk()))

    emu.send_frame = capture  # type: ignore[method-assign]
    assert emu.label is not None
    qr = QrPayload.parse(emu.label.qr)
    phone = KeyPair.generate(os_rng)

    def exchange(peer: object) -> None:
        while True:
            out = peer.data_to_send()  # type: ignore[attr-defined]
            if not out:
                return
            for frame in out:
                start = len(seen)
                emu.receive_frame(frame)
                for answer, _ in seen[start:]:
                    peer.receive_data(answer, 0.0)  # type: ignore[attr-defined]

    pairing = claim_pairing(lock_id=qr.lock_id, setup_code=qr.setup_code, phone=phone,
                            rng=os_rng, lock_fingerprint=qr.fingerprint, mtu=100)
    pairing.start(0.0)
    exchange(pairing)
    assert pairing.lock_public == emu.static_public
    assert users_on_disk() == 1
    link = LockLink.open(app=AppClient(rng=os_rng), lock_id=qr.lock_id,
                         lock_public=emu.static_public, phone=phone, counter=1, rng=os_rng,
                         fresh=emu.fresh().fresh, mtu=100)
    rid = link.start(m.UserAdd(role=m.Role.NORMAL, name="Eve"), 0.0)
    assert rid is not None
    mark = len(seen)
    exchange(link)
    answer_frames = seen[mark:]
    assert answer_frames
    assert all(on_disk == 2 for _, on_disk in answer_frames)  # committed before sent
    assert link.app.result(rid, m.UserInfo).name == "Eve"
    await emu.stop()


async def test_advertiser_degrades_without_known_bless_internals() -> None:
    """Another bless version (or backend): plain BlessServer.start(), no manufacturer data."""
    class Backend:
        started = False

        def __init__(self) -> None:
            loop = asyncio.get_running_loop()
            self.setup_task = loop.create_future()
            self.setup_task.set_result(None)

        async def start(self) -> None:
            self.started = True

    server = Backend()
    advertiser = Advertiser(server)
    advert = Advertisement(lock_id=b"\x01\x02\x03\x04", flags=StateFlags.PAIRED)
    await advertiser.start(advert)
    assert server.started
    assert not advertiser.manufacturer_data
    await advertiser.update(Advertisement(lock_id=b"\x01\x02\x03\x04",
                                          flags=StateFlags.FACTORY_FRESH))  # a no-op
