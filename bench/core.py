"""Verification cost of the lock core at 10,000 users (custom profile).

Every user holds a PIN (all PIN slots full), a card and a fingerprint. Measured:

* ``verify_pin_us``: a 20-digit virtual-PIN entry (R-PIN-3) that contains a valid PIN
  near its end, through ``Lock.enter_pin`` (20 key presses + confirm, 1:N match over 65
  candidate runs, grant, event log) -- the whole keypad path;
* ``match_pin_us``: the 1:N virtual-PIN match alone; ``match_pin_miss_us``: the same for
  a 20-digit entry that holds no PIN (all 65 runs hashed: the worst case);
* ``verify_card_us`` / ``verify_fingerprint_us``: ``tap_card`` / ``present_biometric``;
* ``verify_bluetooth_us``: ``unlock_bluetooth`` for a paired phone.

Each figure is the median of several rounds of many calls, in microseconds per call, on
a MemoryStore (the store's write cost is SQLite's to report). Usage:
``python bench/core.py [--json] [--users N]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable

from ble_lock.core import DL20VC, FACE_PALM, Actor, FakeClock, FakeRng, Lock, MemoryStore, provision
from ble_lock.core.model import CredentialKind, Role
from ble_lock.core.profile import Profile


def _profile(users: int) -> Profile:
    base = FACE_PALM.custom(name="bench", max_users=users + 1)
    scale = -(-(users + 1) // 50)
    caps = {kind: 50 * scale for kind in (CredentialKind.PIN, CredentialKind.FINGERPRINT,
                                          CredentialKind.BLUETOOTH_KEY)}
    caps[CredentialKind.CARD] = 50 * scale
    from dataclasses import replace
    from types import MappingProxyType

    return replace(base, capacities=MappingProxyType(caps), per_user_limits=MappingProxyType({}),
                   features=base.features | DL20VC.features, lockout_failures=10**9)


def _pin(i: int) -> str:
    # Distinct, not weak, 6..10 digits: spread the lengths so every length is searched.
    return str(1_000_003 + i * 7919)[: 6 + i % 5].rjust(6 + i % 5, "3")


def build(users: int) -> tuple[Lock, FakeClock, list[str]]:
    store = MemoryStore()
    rng = FakeRng(7)
    clock = FakeClock()
    provision(store, rng)
    lock = Lock(store=store, profile=_profile(users), clock=clock, rng=rng)
    lock.press_set_button()
    admin = Actor.phone(b"\xaa" * 32)
    lock.claim(phone_key=b"\xaa" * 32)
    pins: list[str] = []
    seen: set[str] = set()
    i = 0
    while len(pins) < users:
        pin = _pin(i)
        i += 1
        if pin in seen:
            continue
        seen.add(pin)
        pins.append(pin)
    for n, pin in enumerate(pins):
        user = lock.add_user(admin, name=f"u{n}", role=Role.NORMAL)
        lock.add_pin(admin, user.number, pin)
        lock.add_card(admin, user.number, n.to_bytes(4, "big"), "482915",
                      card_code_confirm="482915")
        session = lock.begin_enrolment(admin, user.number, CredentialKind.FINGERPRINT)
        for _ in range(session.captures_needed):
            lock.present_biometric(CredentialKind.FINGERPRINT, b"finger-" + n.to_bytes(4, "big"))
        invite = lock.issue_invite(admin, user_number=user.number)
        lock.redeem_invite(invite.invite_id, n.to_bytes(32, "big"))
    lock.drain_notifications()
    return lock, clock, pins


def _per_call_us(fn: Callable[[], object], calls: int, rounds: int = 7) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(samples)


def run(users: int) -> dict[str, float | int]:
    lock, _clock, pins = build(users)
    target = pins[users // 2]
    entry = ("9" * (20 - len(target) - 1)) + target + "9"  # 20 digits, PIN near the end
    assert len(entry) == 20
    card = (users // 3).to_bytes(4, "big")
    finger = b"finger-" + (users // 4).to_bytes(4, "big")
    phone = Actor.phone((users // 5).to_bytes(32, "big"))
    checks = [lock.enter_pin(entry), lock.tap_card(card),
              lock.present_biometric(CredentialKind.FINGERPRINT, finger),
              lock.unlock_bluetooth(phone)]
    assert all(d.granted for d in checks), checks  # type: ignore[union-attr]  # all Decisions
    assert lock.unlock.match_pin(entry) is not None
    miss = "9" * 20  # no PIN inside: all 65 runs are hashed and looked up (worst case)
    assert lock.unlock.match_pin(miss) is None
    results: dict[str, float | int] = {
        "users": users,
        "pins": lock.context.index.count(CredentialKind.PIN),
        "verify_pin_us": _per_call_us(lambda: lock.enter_pin(entry), 300),
        "match_pin_us": _per_call_us(lambda: lock.unlock.match_pin(entry), 1000),
        "match_pin_miss_us": _per_call_us(lambda: lock.unlock.match_pin(miss), 1000),
        "verify_card_us": _per_call_us(lambda: lock.tap_card(card), 1000),
        "verify_fingerprint_us": _per_call_us(
            lambda: lock.present_biometric(CredentialKind.FINGERPRINT, finger), 1000),
        "verify_bluetooth_us": _per_call_us(lambda: lock.unlock_bluetooth(phone), 1000),
    }
    lock.drain_notifications()
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in results.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--users", type=int, default=10_000)
    args = parser.parse_args(argv)
    results = run(args.users)
    if args.json:
        print(json.dumps(results))
    else:
        print(f"{'measure':<24}{'value':>12}")
        for key, value in results.items():
            unit = " us" if key.endswith("_us") else ""
            print(f"{key:<24}{value:>12}{unit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
