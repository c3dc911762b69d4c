"""The committed test vectors (tests/vectors/*.json) are what the code produces, and
their published intermediate values check out independently."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ble_lock.protocol.crypto import CipherState, DeterministicRng, KeyPair
from ble_lock.protocol.envelope import Hs1, MsgType, Pair1, Pair2, decode
from ble_lock.protocol.framing import Reassembler, parse_frame
from ble_lock.protocol.gatt import Advertisement, LockInfo
from ble_lock.protocol.handshake import ResponderHandshake
from ble_lock.protocol.pairing import QrPayload
from ble_lock.protocol.vectors import generate

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def _load(name: str) -> Any:
    return json.loads((VECTORS / f"{name}.json").read_text())


@pytest.mark.parametrize("name", ["framing", "transport", "gatt"])
def test_committed_vectors_match_the_code(name: str) -> None:
    assert _load(name) == json.loads(json.dumps(generate()[name]))


def _messages(frames: list[dict[str, str]], direction: str) -> list[bytes]:
    r, out = Reassembler(), []
    for f in frames:
        if f["dir"] == direction:
            m = r.feed(parse_frame(bytes.fromhex(f["frame"])), 0.0)
            if m is not None:
                out.append(m)
    return out


def test_framing_vector_reassembles() -> None:
    v = _load("framing")
    for mtu, frames in v["frames"].items():
        assert all(len(bytes.fromhex(f)) <= int(mtu) - 3 for f in frames)
        got = _messages([{"dir": "up", "frame": f} for f in frames], "up")
        assert got == [bytes.fromhex(v["message"])]


@pytest.mark.parametrize("mtu", ["23", "247"])
def test_pairing_vector_values_check_out(mtu: str) -> None:
    v = _load("transport")
    inter, inputs = v["pairing_intermediates"], v["inputs"]
    pair1, pair2 = (decode(m) for m in (_messages(v["mtu"][mtu]["pairing"], "up")[0],
                                        _messages(v["mtu"][mtu]["pairing"], "down")[0]))
    assert isinstance(pair1, Pair1)
    assert isinstance(pair2, Pair2)
    assert pair1.sid.hex() == inter["sid"]
    assert pair1.ya.hex() == inter["Ya"]
    assert pair2.yb.hex() == inter["Yb"]
    confirm = CipherState(bytes.fromhex(inter["k_lock"]))
    lock_public = confirm.decrypt(bytes([MsgType.PAIR2]), pair2.confirm)
    assert lock_public.hex() == inputs["lock_static_public"]


@pytest.mark.parametrize("mtu", ["23", "247"])
def test_session_vector_decrypts_with_the_published_lock_key(mtu: str) -> None:
    v = _load("transport")
    inputs = v["inputs"]
    hs1 = decode(_messages(v["mtu"][mtu]["session"], "up")[0])
    assert isinstance(hs1, Hs1)
    lock = KeyPair.from_private_bytes(bytes.fromhex(inputs["lock_static_private"]))
    assert hs1.fresh.hex() == v["mtu"][mtu]["session_fresh"]  # in clear, and in the prologue
    responder = ResponderHandshake(lock_id=bytes.fromhex(inputs["lock_id"]), lock=lock,
                                   rng=DeterministicRng(b"unused"), fresh=hs1.fresh)
    phone_key, first = responder.read_msg1(hs1)
    assert phone_key.hex() == inputs["phone_static_public"]
    assert first.counter == inputs["counter"]
    assert first.payload.hex() == inputs["first_request"]


def test_gatt_vectors_decode() -> None:
    v = _load("gatt")
    adv = Advertisement.parse(bytes.fromhex(v["advertising_data"]))
    assert int(adv.flags) == v["flags"]
    assert LockInfo.decode(bytes.fromhex(v["info"])).profile == v["info_profile"]
    assert QrPayload.parse(v["qr"]).lock_id == adv.lock_id
