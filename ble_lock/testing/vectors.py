"""Test vectors of the secure transport, generated from fixed keys and published random
values (``docs/protocol.md``, "Test vectors").

``python -m ble_lock.testing.vectors tests/vectors`` rewrites the JSON files;
``tests/wire/test_vectors.py`` checks that the committed files are what the code
produces, and rebuilds every frame from the JSON alone (primitives and a third-party
Noise library, none of our RNG or endpoints).

Every random value the endpoints draw is published in ``transport.json`` under
``random`` (the lock's first freshness value, drawn when the endpoint is made; channel
ids; CPace sid/ya/yb; Noise ephemeral private keys). The session's HS1 names that
freshness value (``session_fresh``: what the fresh characteristic shows at t = 1 s,
accepted 30 s) in clear and in the Noise prologue (``prologue``). The endpoints
get them through :class:`ScriptedRng`, which serves them in the order the code draws
them and fails loudly, naming the value it expected, when the code draws anything else:
a new draw must get a name and a place in the file.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ble_lock.core.hashing import CODE_PERSON, derive_code_secret, normalize_code, setup_context
from ble_lock.testing.loopback import Loopback
from ble_lock.wire.endpoints.directory import InMemoryDirectory
from ble_lock.wire.endpoints.lock import LockEndpoint
from ble_lock.wire.endpoints.phone import PhonePairing, PhoneSession
from ble_lock.wire.events import EndpointEvent, RequestReceived
from ble_lock.wire.link.framing import fragment
from ble_lock.wire.link.gatt import Advertisement, FreshValue, LockInfo, StateFlags
from ble_lock.wire.link.transport_messages import PROTOCOL_VERSION
from ble_lock.wire.security.cpace import calculate_generator, isk_ir, scalar_mult
from ble_lock.wire.security.crypto import KeyPair, fingerprint, hkdf, sha256
from ble_lock.wire.security.handshake import PROTOCOL_NAME, prologue
from ble_lock.wire.security.pairing import QrPayload, pairing_secret, setup_transport_code

__all__ = ["ScriptedRng", "generate", "main"]

LOCK_ID = bytes.fromhex("0badc0de")
LOCK_PRIVATE = bytes.fromhex("a0" * 31 + "4f")
PHONE_PRIVATE = bytes.fromhex("5e" * 31 + "77")
SETUP_CODE = "4711-0815"  # as printed on the label
UNLOCK = b"UNLOCK door=1 req=0001"
SECOND_REQUEST = b"STATUS"
COUNTER = 1
MTUS = (23, 247)


def _value(label: str, n: int) -> bytes:
    """A fixed, random-looking value of the vectors (never a real key)."""
    return sha256(b"ble-lock vector " + label.encode())[:n]


# (side, name, value) in the order the endpoints draw them: per MTU, the lock's first
# freshness value (when the endpoint is made), a pairing, then a session. The channel
# ids must not be 0 (phone.random_channel redraws 0).
def _draws(mtu: int) -> list[tuple[str, str, bytes]]:
    return [
        ("lock", "lock_fresh", _value(f"fresh {mtu}", 16)),
        ("phone", "pairing_channel", bytes([0x7A])),
        ("phone", "sid", _value(f"sid {mtu}", 16)),
        ("phone", "ya", _value(f"ya {mtu}", 32)),
        ("lock", "yb", _value(f"yb {mtu}", 32)),
        ("phone", "session_channel", bytes([0xC6])),
        ("phone", "phone_ephemeral_private", _value(f"phone e {mtu}", 32)),
        ("lock", "lock_ephemeral_private", _value(f"lock e {mtu}", 32)),
    ]


class ScriptedRng:
    """Serves published values in order; a draw of another size, or one too many, is a
    bug in the vectors (raises ``AssertionError`` naming the expected value)."""

    __slots__ = ("_side", "_values")

    def __init__(self, side: str, values: Sequence[tuple[str, bytes]]) -> None:
        self._side = side
        self._values = list(values)

    def token_bytes(self, n: int) -> bytes:
        """The next published value, which must be ``n`` bytes long."""
        if not self._values:
            raise AssertionError(f"{self._side} drew {n} bytes more than vectors.py publishes")
        name, value = self._values.pop(0)
        if len(value) != n:
            raise AssertionError(f"{self._side} drew {n} bytes where vectors.py expected "
                                 f"{name} ({len(value)} bytes)")
        return value

    def check_done(self) -> None:
        if self._values:
            raise AssertionError(f"{self._side} never drew {[n for n, _ in self._values]}")


def _app(endpoint: LockEndpoint, event: EndpointEvent) -> None:
    if isinstance(event, RequestReceived):
        endpoint.respond(event.channel, b"OK " + event.payload[:6])


def _frames(link: Loopback, start: int) -> list[dict[str, str]]:
    return [{"dir": d, "frame": f.hex()} for d, f in link.transcript[start:]]


def _pairing_and_session(mtu: int) -> dict[str, Any]:
    lock_key = KeyPair.from_private_bytes(LOCK_PRIVATE)
    phone_key = KeyPair.from_private_bytes(PHONE_PRIVATE)
    draws = _draws(mtu)
    phone_rng = ScriptedRng("phone", [(n, v) for side, n, v in draws if side == "phone"])
    lock_rng = ScriptedRng("lock", [(n, v) for side, n, v in draws if side == "lock"])
    code = setup_transport_code(SETUP_CODE, LOCK_ID)  # pairing from the printed code
    lock = LockEndpoint(lock_id=LOCK_ID, static_key=lock_key, rng=lock_rng, mtu=mtu,
                        directory=InMemoryDirectory(setup_code=code))
    link = Loopback(lock=lock, app=_app)
    pairing = PhonePairing(lock_id=LOCK_ID, code=code, phone=phone_key, rng=phone_rng,
                           expected_fingerprint=fingerprint(lock_key.public), mtu=mtu)
    pairing.start(0.0)
    link.run([pairing], 0.0)
    pair_frames = _frames(link, 0)
    mark = len(link.transcript)
    fresh, fresh_for = lock.freshness(1.0)  # what the phone read from the fresh characteristic
    session = PhoneSession(lock_id=LOCK_ID, lock_public=lock_key.public, phone=phone_key,
                           counter=COUNTER, rng=phone_rng, mtu=mtu, fresh=fresh)
    session.start(UNLOCK, 1.0)
    link.run([session], 1.0)
    session.send(SECOND_REQUEST)
    link.run([session], 2.0)
    phone_rng.check_done()
    lock_rng.check_done()
    assert session.handshake_hash is not None
    return {"random": {name: value.hex() for _, name, value in draws},
            "pairing_intermediates": _cpace_intermediates(draws),
            "pairing": pair_frames, "session_fresh": fresh.hex(),
            "session_fresh_for": fresh_for, "prologue": prologue(LOCK_ID, fresh).hex(),
            "session": _frames(link, mark),
            "handshake_hash": session.handshake_hash.hex()}


def _code_derivation() -> dict[str, Any]:
    """From the printed setup code to CPace's PRS (docs/protocol.md, "Codes")."""
    context = setup_context(LOCK_ID)
    secret = derive_code_secret(SETUP_CODE, context)
    code = setup_transport_code(SETUP_CODE, LOCK_ID)
    return {"printed_code": SETUP_CODE, "normalized_code": normalize_code(SETUP_CODE),
            "blake2b_person": CODE_PERSON.hex(), "context": context.hex(),
            "derived_secret": secret.hex(), "transport_code": code,
            "prs": pairing_secret(code).hex()}


def _cpace_intermediates(draws: list[tuple[str, str, bytes]]) -> dict[str, str]:
    """The pairing values, from the published sid, ya and yb."""
    value = {name: v for _, name, v in draws}
    sid, ya, yb = value["sid"], value["ya"], value["yb"]
    prs = pairing_secret(setup_transport_code(SETUP_CODE, LOCK_ID))
    ci = b"BLELOCK1 pairing" + LOCK_ID
    g = calculate_generator(prs, ci, sid)
    ya_pub, yb_pub = scalar_mult(ya, g), scalar_mult(yb, g)
    k = scalar_mult(ya, yb_pub)
    isk = isk_ir(sid, k, ya_pub, b"", yb_pub, LOCK_ID)
    keys = hkdf(b"", isk, 64, info=b"BLELOCK1 pairing keys")
    return {"ci": ci.hex(), "generator": g.hex(), "Ya": ya_pub.hex(), "Yb": yb_pub.hex(),
            "K": k.hex(), "ISK": isk.hex(), "k_lock": keys[:32].hex(),
            "k_phone": keys[32:].hex()}


def generate() -> dict[str, dict[str, Any]]:
    """Every vector file's content, by file name."""
    lock_key = KeyPair.from_private_bytes(LOCK_PRIVATE)
    phone_key = KeyPair.from_private_bytes(PHONE_PRIVATE)
    inputs = {"protocol_version": PROTOCOL_VERSION, "noise_protocol": PROTOCOL_NAME.decode(),
              "lock_id": LOCK_ID.hex(), "lock_static_private": LOCK_PRIVATE.hex(),
              "lock_static_public": lock_key.public.hex(),
              "phone_static_private": PHONE_PRIVATE.hex(),
              "phone_static_public": phone_key.public.hex(),
              "lock_fingerprint": fingerprint(lock_key.public).hex(),
              "code_ref": "", "counter": COUNTER,
              "first_request": UNLOCK.hex(), "app": "answers b'OK ' + request[:6]",
              "second_request": SECOND_REQUEST.hex()}
    runs = {str(mtu): _pairing_and_session(mtu) for mtu in MTUS}
    message = bytes(range(50))
    adv = Advertisement(lock_id=LOCK_ID, flags=StateFlags.FACTORY_FRESH | StateFlags.PAIRING_MODE)
    info = LockInfo(lock_id=LOCK_ID, flags=adv.flags, profile="DL30")
    fresh = FreshValue(fresh=bytes.fromhex(runs["23"]["session_fresh"]),
                       fresh_for=runs["23"]["session_fresh_for"])
    qr = QrPayload(lock_id=LOCK_ID, setup_code=SETUP_CODE,
                   fingerprint=fingerprint(lock_key.public))
    return {
        "framing": {"channel": 7, "message": message.hex(),
                    "frames": {str(m): [f.hex() for f in fragment(7, message, m)]
                               for m in (23, 64, 247)}},
        "transport": {"inputs": inputs, "code": _code_derivation(),
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
