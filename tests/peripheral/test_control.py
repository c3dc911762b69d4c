"""The front panel's control socket, in process (no BLE): every op, every error path."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ble_lock.core.clock import FakeRng
from ble_lock.core.errors import ErrorCode, PermissionDeniedError
from ble_lock.core.lock import Lock, provision
from ble_lock.core.model import Actor, CredentialKind
from ble_lock.core.profile import get_profile
from ble_lock.core.store import MemoryStore
from ble_lock.peripheral.clock import ManualClock, RealClock
from ble_lock.peripheral.control import MAX_LINE, OPS, ControlServer, PanelAddress
from ble_lock.peripheral.panel import FrontPanel
from ble_lock.peripheral.panel_client import AsyncPanelClient, PanelClient
from ble_lock.peripheral.state import Label
from ble_lock.testing import START

PIN = "135790"


@dataclass
class Rig:
    lock: Lock
    clock: ManualClock
    panel: AsyncPanelClient
    server: ControlServer
    inputs: list[int]
    state_dir: Path


async def _rig(tmp_path: Path, profile: str = "dl20vc", *, tcp: bool = False,
               clock: ManualClock | RealClock | None = None) -> tuple[Rig, FrontPanel]:
    store = MemoryStore()
    factory = provision(store, FakeRng(1))
    manual = ManualClock(START)
    the_clock = clock or manual
    lock = Lock(store=store, profile=get_profile(profile), clock=the_clock, rng=FakeRng(2))
    inputs: list[int] = []
    label = Label(serial=factory.serial, lock_id=factory.lock_id,
                  setup_code=factory.setup_code, qr="BLELOCK1:X")
    front = FrontPanel(lock, the_clock, on_input=lambda: inputs.append(1),
                       label=lambda: label, flags=lambda: ["FACTORY_FRESH"])
    server = ControlServer(front, tmp_path, force_tcp=tcp)
    await server.start()
    client = await AsyncPanelClient.connect(tmp_path)
    return Rig(lock=lock, clock=manual, panel=client, server=server, inputs=inputs,
               state_dir=tmp_path), front


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r, _ = await _rig(tmp_path)
    yield r
    await r.panel.close()
    await r.server.close()


async def test_status_and_display_report_the_lock(rig: Rig) -> None:
    reply = await rig.panel.status()
    assert reply["ok"] is True
    assert reply["lock_id"] == rig.lock.lock_id.hex().upper()
    assert reply["profile"] == "dl20vc"
    assert reply["manual_clock"] is True
    assert reply["clock"] == START
    display = reply["display"]
    assert display["bolt"] == "locked"
    assert display["claimed"] is False
    assert display["flags"] == ["FACTORY_FRESH"]


async def test_claim_then_pin_opens_and_reports_the_user_r_usr_2_r_pin_3(rig: Rig) -> None:
    claimed = await rig.panel.call("claim", pin=PIN, confirm=PIN)
    assert claimed["user"] == 1
    reply = await rig.panel.keypad("42" + PIN + "#")  # R-PIN-3: a virtual PIN around it
    assert reply["outcome"] == "granted"
    assert reply["user"] == 1
    assert reply["method"] == "PIN"
    assert reply["display"]["bolt"] == "unlocked"
    assert len(reply["decisions"]) == 1
    assert rig.inputs  # the emulator hears of every input (pushes, timers)


async def test_wrong_pins_lock_the_keypad_and_report_time_left_r_sec_1(rig: Rig) -> None:
    await rig.panel.call("claim", pin=PIN, confirm=PIN)
    reply = await rig.panel.keypad("111111#" * 5)
    outcomes = [(d["outcome"], d["reason"]) for d in reply["decisions"]]
    assert outcomes == [("denied", "NO_MATCH")] * 5
    locked = await rig.panel.keypad(PIN + "#")
    assert locked["reason"] == "LOCKED_OUT"
    assert 0 < locked["retry_after"] <= 180
    assert "try again in" in locked["prompt"]
    assert locked["display"]["lockout_s"] > 0
    advanced = await rig.panel.advance(180)
    assert advanced["clock"] == START + 180
    assert advanced["display"]["lockout_s"] is None
    assert (await rig.panel.keypad(PIN + "#"))["outcome"] == "granted"


async def test_keypad_cancel_and_bad_keys(rig: Rig) -> None:
    reply = await rig.panel.keypad("123*")
    assert reply["decisions"] == []
    assert reply["prompt"] == "entry cancelled"
    bad = await rig.panel.request("keypad", keys="12a#")
    assert bad["error"]["name"] == "INVALID_ARGUMENT"
    too_long = await rig.panel.request("keypad", keys="1" * 65)
    assert too_long["error"]["code"] == int(ErrorCode.INVALID_ARGUMENT)


async def test_every_input_op_answers(rig: Rig) -> None:
    """One request per op: what the lock says, never a crash."""
    panel = rig.panel
    assert (await panel.call("touch"))["display"]["keypad_awake"] is True
    card = await panel.call("card", uid="04a1b2c3")
    assert card["outcome"] == "denied"
    assert card["method"] == "CARD"
    finger = await panel.call("biometric", kind="fingerprint", template="00ff" * 4)
    assert (finger["outcome"], finger["reason"]) == ("denied", "NO_MATCH")
    key = await panel.call("mechanical_key")
    assert (key["outcome"], key["method"]) == ("granted", "MECHANICAL_KEY")
    assert (await panel.call("inside_button"))["display"]["bolt"] == "locked"
    assert (await panel.call("inside_handle"))["display"]["bolt"] == "unlocked"
    assert (await panel.call("thumb_turn", locked=True))["display"]["bolt"] == "locked"
    assert (await panel.call("door", state="open"))["display"]["door"] == "open"
    assert (await panel.call("door", state="closed"))["display"]["door"] == "closed"
    assert (await panel.call("tamper"))["display"]["alarm"] is True
    low = await panel.call("battery", percent=5)
    assert low["display"]["low_battery"] is True
    assert low["display"]["battery"] == 5
    assert (await panel.call("set_button"))["display"]["pairing_mode"] is True
    label = await panel.call("label")
    assert label["lock_id"] == rig.lock.lock_id.hex().upper()
    assert label["setup_code"]
    await panel.call("claim", pin=PIN, confirm=PIN)
    assert (await panel.call("factory_reset"))["display"]["claimed"] is False
    assert (await panel.call("clock.advance", seconds=1))["clock"] == START + 1


async def test_profile_specific_ops(tmp_path: Path) -> None:
    rig, _ = await _rig(tmp_path, "face-palm")
    try:
        assert (await rig.panel.call("hold_zero"))["display"]["muted"] is True
        remote = await rig.panel.call("remote", remote_id="a1b2c3d4")
        assert remote["reason"] == "NO_MATCH"
        face = await rig.panel.call("biometric", kind="face", template="aa" * 8)
        assert face["method"] == "FACE"
        card = await rig.panel.request("card", uid="04a1b2c3")
        assert card["error"]["name"] == "UNSUPPORTED_BY_PROFILE"  # face-palm has no card
    finally:
        await rig.panel.close()
        await rig.server.close()


async def test_enrolment_captures_are_reported_r_crd_4(tmp_path: Path) -> None:
    rig, _ = await _rig(tmp_path)
    try:
        await rig.panel.call("claim", pin=PIN, confirm=PIN)
        actor = Actor.panel(1)  # the panel admin (the phone side is tested over BLE)
        run = rig.lock.begin_enrolment(actor, 1, CredentialKind.FINGERPRINT)
        shown = (await rig.panel.status())["display"]["enrolling"]
        assert shown["session"] == run.id
        assert shown["needed"] == 6
        last = {}
        for _ in range(6):
            last = await rig.panel.call("biometric", kind="fingerprint", template="ab" * 8)
        assert last["capture"]["done"] is True
        assert last["capture"]["credential"] is not None
        opened = await rig.panel.call("biometric", kind="fingerprint", template="ab" * 8)
        assert (opened["outcome"], opened["user"]) == ("granted", 1)
    finally:
        await rig.panel.close()
        await rig.server.close()


@pytest.mark.parametrize(
    ("line", "name"),
    [
        (b"not json\n", "PROTOCOL_ERROR"),
        (b"[1, 2]\n", "PROTOCOL_ERROR"),
        (b'{"op": "fly"}\n', "UNKNOWN_MESSAGE"),
        (b'{"nop": 1}\n', "UNKNOWN_MESSAGE"),
        (b'{"op": "keypad"}\n', "INVALID_ARGUMENT"),
        (b'{"op": "status", "extra": 1}\n', "INVALID_ARGUMENT"),
        (b'{"op": "battery", "percent": "full"}\n', "INVALID_ARGUMENT"),
        (b'{"op": "battery", "percent": true}\n', "INVALID_ARGUMENT"),
        (b'{"op": "card", "uid": "zz"}\n', "INVALID_ARGUMENT"),
        (b'{"op": "biometric", "kind": "iris", "template": "00"}\n', "INVALID_ARGUMENT"),
        (b'{"op": "thumb_turn", "locked": 1}\n', "INVALID_ARGUMENT"),
        (b'{"op": "door", "state": "ajar"}\n', "INVALID_ARGUMENT"),
        (b'{"op": "clock.advance", "seconds": -5}\n', "INVALID_ARGUMENT"),
        (b'{"op": "claim", "pin": "12", "confirm": "12"}\n', "MALFORMED_PIN"),
        (b'\xff\xfe\n', "PROTOCOL_ERROR"),
    ],
)
async def test_bad_requests_get_typed_errors_and_the_connection_lives(
        rig: Rig, line: bytes, name: str) -> None:
    reply = await rig.panel.send_raw(line)
    assert reply["ok"] is False
    assert reply["error"]["name"] == name
    assert reply["error"]["code"] == int(ErrorCode[name])
    assert reply["error"]["message"]
    assert (await rig.panel.status())["ok"] is True  # still usable


async def test_request_id_is_echoed_and_blank_lines_ignored(rig: Rig) -> None:
    reply = await rig.panel.send_raw(b'\n\n{"op": "status", "id": 7}\n')
    assert reply["id"] == 7


async def test_over_long_line_is_refused_and_the_connection_closed(rig: Rig) -> None:
    reply = await rig.panel.send_raw(b"{" + b" " * (MAX_LINE + 10) + b"}\n")
    assert reply["error"]["name"] == "MESSAGE_TOO_LARGE"
    with pytest.raises(Exception, match="panel"):
        await rig.panel.status()
    other = await AsyncPanelClient.connect(rig.state_dir)  # the server lives on
    assert (await other.status())["ok"] is True
    await other.close()


async def test_call_raises_the_typed_error(rig: Rig) -> None:
    with pytest.raises(Exception) as info:
        await rig.panel.call("clock.advance", seconds=1e12)
    assert getattr(info.value, "code", None) is ErrorCode.INVALID_ARGUMENT


async def test_real_clock_refuses_advance(tmp_path: Path) -> None:
    rig, _ = await _rig(tmp_path, clock=RealClock())
    try:
        reply = await rig.panel.request("clock.advance", seconds=1)
        assert reply["error"]["name"] == "UNSUPPORTED_BY_PROFILE"
        assert (await rig.panel.status())["manual_clock"] is False
    finally:
        await rig.panel.close()
        await rig.server.close()


async def test_unix_socket_is_owner_only_and_removed_on_close(rig: Rig) -> None:
    address = PanelAddress.load(rig.state_dir)
    assert address.kind == "unix"
    assert os.stat(address.path).st_mode & 0o777 == 0o600
    assert os.stat(rig.state_dir / "panel.addr").st_mode & 0o777 == 0o600
    await rig.panel.close()
    await rig.server.close()
    assert not (rig.state_dir / "panel.sock").exists()
    assert not (rig.state_dir / "panel.addr").exists()


async def test_tcp_fallback_needs_the_token(tmp_path: Path) -> None:
    rig, _ = await _rig(tmp_path, tcp=True)
    try:
        address = PanelAddress.load(tmp_path)
        assert address.kind == "tcp"
        assert address.host == "127.0.0.1"
        assert address.token is not None
        assert address.token not in repr(address)
        assert (await rig.panel.status())["ok"] is True  # the client sends the token
        reader, writer = await asyncio.open_connection(address.host, address.port)
        writer.write(b'{"op": "status"}\n')
        await writer.drain()
        reply = json.loads(await reader.readline())
        assert reply["error"]["name"] == "PERMISSION_DENIED"
        writer.close()
        bad = AsyncPanelClient(PanelAddress(kind="tcp", host=address.host,
                                            port=address.port, token="0" * 32),
                               *await asyncio.open_connection(address.host, address.port))
        try:
            with pytest.raises(PermissionDeniedError):
                await bad.call("status")
        finally:
            await bad.close()
    finally:
        await rig.panel.close()
        await rig.server.close()


async def test_long_state_dir_path_falls_back_to_tcp(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    rig, _ = await _rig(deep)
    try:
        assert PanelAddress.load(deep).kind == "tcp"
        assert (await rig.panel.status())["ok"] is True
    finally:
        await rig.panel.close()
        await rig.server.close()


async def test_blocking_client(rig: Rig) -> None:
    def run() -> dict[str, object]:
        with PanelClient.connect(rig.state_dir) as client:
            return client.keypad("1#")

    reply = await asyncio.to_thread(run)
    assert reply["outcome"] == "denied"


async def test_no_emulator_means_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(Exception) as info:
        await AsyncPanelClient.connect(tmp_path / "nothing")
    assert getattr(info.value, "code", None) is ErrorCode.LOCK_NOT_FOUND


def test_every_op_is_documented() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "peripheral.md").read_text()
    for op in OPS:
        assert f"`{op}`" in doc, op


def test_label_repr_hides_the_setup_code() -> None:
    label = Label(serial="BL1", lock_id=b"\x01\x02\x03\x04", setup_code="9876543210",
                  qr="BLELOCK1:01020304:9876543210:00")
    assert "9876543210" not in repr(label)
