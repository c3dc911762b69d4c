"""Test vectors of the secure transport, generated from fixed keys and a fixed RNG.

``python -m ble_lock.protocol.vectors tests/vectors`` rewrites the JSON files;
``tests/protocol/test_vectors.py`` regenerates them and checks them against the
committed files, and re-derives the plaintexts from the published keys.

RNG: ``DeterministicRng(seed)`` is SHA-256(seed || counter as 8 bytes big endian) for
counter = 0, 1, ..., concatenated; each side has its own seed. Draw order, phone:
channel id (1 byte, redrawn while 0), then pairing sid (16), ya (32); then per session
the channel id and the ephemeral private key (32). Lock: its first freshness value (16,
when the endpoint is made), yb (32) per pairing, then the ephemeral private key (32) per
session. The session's HS1 names that freshness value (read at t = 1 s: accepted 30 s).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ble_lock.protocol.cpace import calculate_generator, isk_ir, scalar_mult
from ble_lock.protocol.crypto import DeterministicRng, KeyPair, fingerprint, hkdf
from ble_lock.protocol.directory import InMemoryDirectory
from ble_lock.protocol.events import Event, RequestReceived
from ble_lock.protocol.framing import fragment
from ble_lock.protocol.gatt import Advertisement, FreshValue, LockInfo, StateFlags
from ble_lock.protocol.lock_endpoint import LockEndpoint
from ble_lock.protocol.loopback import Loopback
from ble_lock.protocol.pairing import QrPayload, pairing_secret
from ble_lock.protocol.phone import PhonePairing, PhoneSession

__all__ = ["generate", "main"]

LOCK_ID = bytes.fromhex("0badc0de")
LOCK_PRIVATE = bytes.fromhex("a0" * 31 + "4f")
PHONE_PRIVATE = bytes.fromhex("5e" * 31 + "77")
SETUP_CODE = "4711-0815"
UNLOCK = b"UNLOCK door=1 req=0001"


def _app(endpoint: LockEndpoint, event: Event) -> None:
    if isinstance(event, RequestReceived):
        endpoint.respond(event.channel, b"OK " + event.payload[:6])


def _frames(link: Loopback, start: int) -> list[dict[str, str]]:
    return [{"dir": d, "frame": f.hex()} for d, f in link.transcript[start:]]


def _pairing_and_session(mtu: int) -> dict[str, Any]:
    lock_key = KeyPair.from_private_bytes(LOCK_PRIVATE)
    phone_key = KeyPair.from_private_bytes(PHONE_PRIVATE)
    phone_rng, lock_rng = DeterministicRng(b"phone"), DeterministicRng(b"lock")
    lock = LockEndpoint(lock_id=LOCK_ID, static_key=lock_key, rng=lock_rng, mtu=mtu,
                        directory=InMemoryDirectory(setup_code=SETUP_CODE))
    link = Loopback(lock=lock, app=_app)
    pairing = PhonePairing(lock_id=LOCK_ID, code=SETUP_CODE, phone=phone_key, rng=phone_rng,
                           expected_fingerprint=fingerprint(lock_key.public), mtu=mtu)
    pairing.start(0.0)
    link.run([pairing], 0.0)
    pair_frames = _frames(link, 0)
    mark = len(link.transcript)
    fresh, _ = lock.freshness(1.0)  # what the phone read from the fresh characteristic
    session = PhoneSession(lock_id=LOCK_ID, lock_public=lock_key.public, phone=phone_key,
                           counter=1, rng=phone_rng, mtu=mtu, fresh=fresh)
    session.start(UNLOCK, 1.0)
    link.run([session], 1.0)
    session.send(b"STATUS")
    link.run([session], 2.0)
    assert session.handshake_hash is not None
    return {"pairing": pair_frames, "session": _frames(link, mark),
            "pairing_channel": pairing.channel, "session_channel": session.channel,
            "session_fresh": fresh.hex(),
            "handshake_hash": session.handshake_hash.hex()}


def _cpace_intermediates() -> dict[str, str]:
    """Re-derive the pairing values from the documented RNG draw order."""
    phone_rng, lock_rng = DeterministicRng(b"phone"), DeterministicRng(b"lock")
    while phone_rng(1)[0] == 0:  # the pairing channel id
        pass
    lock_rng(16)  # the lock's first freshness value
    sid, ya, yb = phone_rng(16), phone_rng(32), lock_rng(32)
    prs = pairing_secret(SETUP_CODE)
    g = calculate_generator(prs, b"BLELOCK1 pairing" + LOCK_ID, sid)
    ya_pub, yb_pub = scalar_mult(ya, g), scalar_mult(yb, g)
    k = scalar_mult(ya, yb_pub)
    isk = isk_ir(sid, k, ya_pub, b"", yb_pub, LOCK_ID)
    keys = hkdf(b"", isk, 64, info=b"BLELOCK1 pairing keys")
    return {"ci": (b"BLELOCK1 pairing" + LOCK_ID).hex(), "sid": sid.hex(), "ya": ya.hex(),
            "yb": yb.hex(), "generator": g.hex(), "Ya": ya_pub.hex(), "Yb": yb_pub.hex(),
            "K": k.hex(), "ISK": isk.hex(), "k_lock": keys[:32].hex(),
            "k_phone": keys[32:].hex()}


def generate() -> dict[str, dict[str, Any]]:
    lock_key = KeyPair.from_private_bytes(LOCK_PRIVATE)
    phone_key = KeyPair.from_private_bytes(PHONE_PRIVATE)
    keys = {"lock_id": LOCK_ID.hex(), "lock_static_private": LOCK_PRIVATE.hex(),
            "lock_static_public": lock_key.public.hex(),
            "phone_static_private": PHONE_PRIVATE.hex(),
            "phone_static_public": phone_key.public.hex(),
            "setup_code": SETUP_CODE, "prs": pairing_secret(SETUP_CODE).hex(),
            "lock_fingerprint": fingerprint(lock_key.public).hex(),
            "phone_rng_seed": "phone", "lock_rng_seed": "lock"}
    runs = {str(mtu): _pairing_and_session(mtu) for mtu in (23, 247)}
    message = bytes(range(50))
    adv = Advertisement(lock_id=LOCK_ID, flags=StateFlags.FACTORY_FRESH | StateFlags.PAIRING_MODE)
    info = LockInfo(lock_id=LOCK_ID, flags=adv.flags, profile="DL30")
    fresh = FreshValue(fresh=bytes.fromhex(runs["23"]["session_fresh"]), fresh_for=30)
    qr = QrPayload(lock_id=LOCK_ID, setup_code=SETUP_CODE,
                   fingerprint=fingerprint(lock_key.public))
    return {
        "framing": {"channel": 7, "message": message.hex(),
                    "frames": {str(m): [f.hex() for f in fragment(7, message, m)]
                               for m in (23, 64, 247)}},
        "transport": {"inputs": keys | {"first_request": UNLOCK.hex(), "counter": 1,
                                        "app": "answers b'OK ' + request[:6]",
                                        "second_request": b"STATUS".hex()},
                      "pairing_intermediates": _cpace_intermediates(),
                      "mtu": runs},
        "gatt": {"advertising_data": adv.advertising_data().hex(),
                 "scan_response": adv.scan_response().hex(),
                 "info": info.encode().hex(), "info_profile": "DL30",
                 "fresh": fresh.encode().hex(),
                 "flags": int(adv.flags), "qr": qr.to_text()},
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "tests/vectors")
    out.mkdir(parents=True, exist_ok=True)
    for name, content in generate().items():
        (out / f"{name}.json").write_text(json.dumps(content, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
