"""The committed test vectors (tests/vectors/*.json) are what the code produces, and
every frame rebuilds from the JSON alone: the published keys, code and random values,
the primitives (``cryptography``, ``hashlib``), CPace's generator (checked against the
draft in test_cpace.py) and a third-party Noise library (``noiseprotocol``)."""

from __future__ import annotations

import base64
import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ble_lock.testing.vectors import ScriptedRng, generate
from ble_lock.wire.link.framing import Reassembler, fragment, parse_frame
from ble_lock.wire.link.gatt import Advertisement, FreshValue, LockInfo
from ble_lock.wire.security.cpace import calculate_generator, isk_ir
from ble_lock.wire.security.pairing import QrPayload

try:
    from noise.connection import Keypair, NoiseConnection
except ImportError:  # the test extra is missing: the Noise rebuild is skipped
    Keypair = NoiseConnection = None

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


def _aead(key: bytes, n: int, ad: bytes, plaintext: bytes) -> bytes:
    """ChaCha20-Poly1305 with the Noise nonce: 4 zero bytes, then n as u64 little endian."""
    return ChaCha20Poly1305(key).encrypt(bytes(4) + n.to_bytes(8, "little"), plaintext, ad)


def _x25519(scalar: bytes, point: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(scalar).exchange(
        X25519PublicKey.from_public_bytes(point))


def _flight(direction: str, channel: int, message: bytes, mtu: int) -> list[dict[str, str]]:
    return [{"dir": direction, "frame": f.hex()} for f in fragment(channel, message, mtu)]


def test_code_derivation_rebuilds_from_the_json_alone() -> None:
    """From the printed code to CPace's PRS with hashlib and base64 only (docs "Codes")."""
    v, code = _load("transport"), _load("transport")["code"]
    lock_id = bytes.fromhex(v["inputs"]["lock_id"])
    normalized = code["printed_code"].replace("-", "").replace(" ", "").upper()
    assert normalized == code["normalized_code"]
    context = b"setup:" + lock_id
    assert context.hex() == code["context"]
    person = bytes.fromhex(code["blake2b_person"])
    assert person == b"ble-lock-code\0\0\0"
    h = hashlib.blake2b(digest_size=32, person=person)
    h.update(len(context).to_bytes(2, "big") + context + normalized.encode("ascii"))
    assert h.hexdigest() == code["derived_secret"]
    transport = base64.b32encode(h.digest()[:20]).decode("ascii")
    assert len(transport) == 32
    assert transport == code["transport_code"]
    assert (b"BLELOCK1 code " + transport.encode("ascii")).hex() == code["prs"]


@pytest.mark.parametrize("mtu", ["23", "247"])
def test_pairing_vector_rebuilds_from_the_json_alone(mtu: str) -> None:
    """Every pairing frame from the published keys, code, sid, ya and yb: no RNG, no
    endpoint of ours (CPace's generator is checked against the draft in test_cpace)."""
    v = _load("transport")
    inputs, run = v["inputs"], v["mtu"][mtu]
    r, inter = {k: bytes.fromhex(x) for k, x in run["random"].items()}, run["pairing_intermediates"]
    lock_id = bytes.fromhex(inputs["lock_id"])
    code_ref = bytes.fromhex(inputs["code_ref"])
    ci = b"BLELOCK1 pairing" + lock_id
    assert ci.hex() == inter["ci"]
    g = calculate_generator(bytes.fromhex(v["code"]["prs"]), ci, r["sid"])
    assert g.hex() == inter["generator"]
    ya_pub, yb_pub = _x25519(r["ya"], g), _x25519(r["yb"], g)
    k = _x25519(r["ya"], yb_pub)
    assert k == _x25519(r["yb"], ya_pub)
    isk = isk_ir(r["sid"], k, ya_pub, code_ref, yb_pub, lock_id)
    keys = HKDF(algorithm=hashes.SHA256(), length=64, salt=b"",
                info=b"BLELOCK1 pairing keys").derive(isk)
    assert [ya_pub.hex(), yb_pub.hex(), k.hex(), isk.hex(), keys[:32].hex(), keys[32:].hex()] == [
        inter["Ya"], inter["Yb"], inter["K"], inter["ISK"], inter["k_lock"], inter["k_phone"]]
    k_lock, k_phone = keys[:32], keys[32:]
    version = inputs["protocol_version"]
    pair1 = bytes([0x10, version, len(code_ref)]) + code_ref + r["sid"] + ya_pub
    pair2 = b"\x11" + yb_pub + _aead(k_lock, 0, b"\x11",
                                     bytes.fromhex(inputs["lock_static_public"]))
    pair3 = b"\x12" + _aead(k_phone, 0, b"\x12", bytes.fromhex(inputs["phone_static_public"]))
    pair4 = b"\x13" + _aead(k_lock, 1, b"\x13", b"\x00")
    channel, size = r["pairing_channel"][0], int(mtu)
    assert run["pairing"] == (_flight("up", channel, pair1, size)
                              + _flight("down", channel, pair2, size)
                              + _flight("up", channel, pair3, size)
                              + _flight("down", channel, pair4, size))


def _noise(name: str, *, initiator: bool, static: bytes, remote_static: bytes | None,
           ephemeral: bytes, prologue: bytes) -> Any:
    conn = NoiseConnection.from_name(name.encode("ascii"))
    if initiator:
        conn.set_as_initiator()
    else:
        conn.set_as_responder()
    conn.set_keypair_from_private_bytes(Keypair.STATIC, static)
    if remote_static is not None:
        conn.set_keypair_from_public_bytes(Keypair.REMOTE_STATIC, remote_static)
    conn.set_keypair_from_private_bytes(Keypair.EPHEMERAL, ephemeral)  # published value
    conn.set_prologue(prologue)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "a preset ephemeral is for testing": it is
        conn.start_handshake()
    return conn


@pytest.mark.parametrize("mtu", ["23", "247"])
def test_session_vector_rebuilds_from_the_json_alone(mtu: str) -> None:
    """Every session frame (HS1, HS2, DATA both ways) and the handshake hash, rebuilt
    with a third-party Noise library from the published keys, ephemerals and the lock's
    freshness value (in clear in HS1, in the prologue, and back in HS2)."""
    pytest.importorskip("noise")
    v = _load("transport")
    inputs, run = v["inputs"], v["mtu"][mtu]
    r = {k: bytes.fromhex(x) for k, x in run["random"].items()}
    fresh, fresh_for = bytes.fromhex(run["session_fresh"]), run["session_fresh_for"]
    assert fresh == r["lock_fresh"]  # no rotation between the endpoint's draw and t = 1 s
    version, lock_id = inputs["protocol_version"], bytes.fromhex(inputs["lock_id"])
    prologue = b"BLELOCK" + bytes([version]) + lock_id + fresh
    assert prologue.hex() == run["prologue"]
    phone = _noise(inputs["noise_protocol"], initiator=True,
                   static=bytes.fromhex(inputs["phone_static_private"]),
                   remote_static=bytes.fromhex(inputs["lock_static_public"]),
                   ephemeral=r["phone_ephemeral_private"], prologue=prologue)
    lock = _noise(inputs["noise_protocol"], initiator=False,
                  static=bytes.fromhex(inputs["lock_static_private"]), remote_static=None,
                  ephemeral=r["lock_ephemeral_private"], prologue=prologue)
    first, second = bytes.fromhex(inputs["first_request"]), bytes.fromhex(inputs["second_request"])
    payload1 = inputs["counter"].to_bytes(8, "big") + first
    msg1 = bytes(phone.write_message(payload1))
    assert bytes(lock.read_message(msg1)) == payload1
    # status OK, the lock's current freshness value and its seconds, the answer
    payload2 = b"\x00" + fresh + bytes([fresh_for]) + b"OK " + first[:6]
    msg2 = bytes(lock.write_message(payload2))
    assert bytes(phone.read_message(msg2)) == payload2
    hs1 = bytes([0x01, version]) + fresh + msg1
    hs2 = b"\x02" + msg2
    data_up = b"\x03" + phone.encrypt(second)
    data_down = b"\x03" + lock.encrypt(b"OK " + second[:6])
    channel, size = r["session_channel"][0], int(mtu)
    assert run["session"] == (_flight("up", channel, hs1, size)
                              + _flight("down", channel, hs2, size)
                              + _flight("up", channel, data_up, size)
                              + _flight("down", channel, data_down, size))
    assert phone.get_handshake_hash().hex() == run["handshake_hash"]


def test_scripted_rng_names_an_unpublished_draw() -> None:
    rng = ScriptedRng("lock", [("yb", bytes(32))])
    with pytest.raises(AssertionError, match="expected yb"):
        rng.token_bytes(16)
    rng = ScriptedRng("lock", [])
    with pytest.raises(AssertionError, match=r"more than vectors\.py publishes"):
        rng.token_bytes(1)


def test_gatt_vectors_decode() -> None:
    v = _load("gatt")
    adv = Advertisement.parse(bytes.fromhex(v["advertising_data"]))
    assert int(adv.flags) == v["flags"]
    assert LockInfo.decode(bytes.fromhex(v["info"])).profile == v["info_profile"]
    fresh = FreshValue.decode(bytes.fromhex(v["fresh"]))
    session = _load("transport")["mtu"]["23"]
    assert (fresh.fresh.hex(), fresh.fresh_for) == (session["session_fresh"],
                                                    session["session_fresh_for"])
    assert QrPayload.parse(v["qr"]).lock_id == adv.lock_id
