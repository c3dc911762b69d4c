"""The lock core at scale: opening the store, adding a user, and every verification.

Usage: ``python bench/core.py [--json] [--users N] [--open-sizes 10000,100000]``.

A lock on a custom profile (face-palm features plus cards, capacities raised) holds
``--users`` users (100,000 by default), each with a PIN (6-10 digits, all distinct), a
card, a fingerprint and a Bluetooth key: four credentials per user. The records are
written straight through the store interface in one transaction (the core's services add
them one request at a time, which at this size takes minutes and is not what is
measured here), with the lock's own keyed digests, so the lock that opens the store is
an ordinary one.

Measured in process CPU time (``time.process_time``: other jobs on a shared machine do
not count), each as the median of several rounds with the minimum and maximum:

* ``open_<n>_s``: ``SqliteStore(path)`` + ``Lock(...)`` on a file holding ``n`` users
  and ``4 n`` credentials, closed cleanly before (loading, the in-memory index; no
  integrity check: see ``SqliteStore``). ``open_<n>_checked_s``: the same with
  ``check=True``, the open after a crash (``PRAGMA quick_check`` first). Their floor,
  measured in the same process between the rounds: the raw ``SELECT`` of the same user
  and credential columns plus the construction of as many ``User`` and ``Credential``
  objects from values already in memory, the cheapest way (``object.__new__`` and the
  slot setters, straight-line), the GC paused as the store pauses it -- what any loader
  of these records pays.
* ``add_user_<n>_us``: ``Lock.add_user`` at ``--users`` users (the lowest free number,
  R-USR-3); floor: the same call on a lock of 1,000 users (the ratio shows the growth).
* ``verify_*_us`` at ``--users`` users: a 20-digit virtual-PIN entry with a valid PIN
  inside (R-PIN-3; 20 key presses, the 1:N search, grant, event log), the 1:N search
  alone (hit and worst-case miss), ``tap_card``, ``present_biometric``,
  ``unlock_bluetooth``; on a MemoryStore (SQLite's write cost is the store's figure).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ble_lock.core import DL20VC, FACE_PALM, Actor, FakeClock, FakeRng, Lock, MemoryStore, provision
from ble_lock.core.hashing import KeyedHasher
from ble_lock.core.model import Credential, CredentialKind, Role, User
from ble_lock.core.profile import Profile
from ble_lock.core.store import Store
from ble_lock.core.store.codec import gc_paused
from ble_lock.core.store.sqlite import (
    CREDENTIAL_COLUMNS,
    USER_COLUMNS,
    SqliteStore,
)

ADMIN_KEY = b"\xaa" * 32
HEADROOM = 2_000  # users add_user may add on top


def _profile(users: int) -> Profile:
    base = FACE_PALM.custom(name="bench", max_users=users + 1 + HEADROOM)
    room = 50 * -(-(users + 1 + HEADROOM) // 50)
    caps = {kind: room for kind in (CredentialKind.PIN, CredentialKind.FINGERPRINT,
                                    CredentialKind.BLUETOOTH_KEY, CredentialKind.CARD)}
    return replace(base, capacities=MappingProxyType(caps), per_user_limits=MappingProxyType({}),
                   features=base.features | DL20VC.features, lockout_failures=10**9)


def _pins(users: int) -> list[str]:
    """Distinct, not weak, 6..10 digits: lengths spread so every length is searched."""
    pins: list[str] = []
    seen: set[str] = set()
    i = 0
    while len(pins) < users:
        pin = str(1_000_003 + i * 7919)[: 6 + i % 5].rjust(6 + i % 5, "3")
        i += 1
        if pin not in seen:
            seen.add(pin)
            pins.append(pin)
    return pins


def _open(store: Store, users: int, clock: FakeClock | None = None) -> Lock:
    return Lock(store=store, profile=_profile(users), clock=clock or FakeClock(), rng=FakeRng(7))


def populate(store: Store, users: int) -> list[str]:
    """Provision, claim (admin = user 1) and add ``users`` users with four credentials
    each, in one transaction; returns the PINs (user ``n + 2`` holds ``pins[n]``)."""
    provision(store, FakeRng(7))
    lock = _open(store, users)
    lock.press_set_button()
    lock.claim(phone_key=ADMIN_KEY)
    hasher: KeyedHasher = lock.context.hasher
    pins = _pins(users)
    cid = store.get_counter("credential_id")
    now = lock.context.wall()
    with store.transaction():
        for n, pin in enumerate(pins):
            number = n + 2
            store.put_user(User(number=number, name=f"u{n}", role=Role.NORMAL, created_at=now))
            phone = n.to_bytes(32, "big")
            extras: tuple[tuple[CredentialKind, bytes, dict[str, Any]], ...] = (
                    (CredentialKind.PIN, pin.encode(), {"length": len(pin)}),
                    (CredentialKind.CARD, n.to_bytes(4, "big"), {}),
                    (CredentialKind.FINGERPRINT, b"finger-" + n.to_bytes(4, "big"), {}),
                    (CredentialKind.BLUETOOTH_KEY, phone, {"public_key": phone}))
            for kind, material, extra in extras:
                cid += 1
                store.put_credential(Credential(
                    id=cid, kind=kind, user_number=number, created_at=now,
                    digest=hasher.digest(int(kind), material), **extra))
        store.set_counter("credential_id", cid)
    return pins


@contextmanager
def _sqlite_file(users: int) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bench-core-") as tmp:
        path = Path(tmp) / "lock.db"
        store = SqliteStore(path)
        populate(store, users)
        store.close()
        yield path


def _stats(samples: list[float], scale: float, digits: int) -> tuple[float, float, float]:
    return (round(statistics.median(samples) * scale, digits),
            round(min(samples) * scale, digits), round(max(samples) * scale, digits))


def _put(out: dict[str, Any], name: str, unit: str, stats: tuple[float, float, float]) -> None:
    out[f"{name}_{unit}"], out[f"{name}_min_{unit}"], out[f"{name}_max_{unit}"] = stats


def _label(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def _slot_setters(cls: type) -> list[Callable[[object, object], None]]:
    return [cls.__dict__[f.name].__set__ for f in fields(cls)]


def _open_floor(path: Path) -> float:
    """Raw SELECT of the same columns + building as many records from values in memory,
    the cheapest way Python builds a frozen slotted dataclass (``object.__new__`` and one
    slot descriptor ``__set__`` per field: what its ``__init__`` does, without the
    ``object.__setattr__`` per field)."""
    with gc_paused():  # as the store loads: no collection walks the rows being built
        return _open_floor_paused(path)


def _open_floor_paused(path: Path) -> float:
    conn = sqlite3.connect(path)
    try:
        t0 = time.process_time()
        users = conn.execute(f"SELECT {USER_COLUMNS} FROM users ORDER BY number").fetchall()
        creds = conn.execute(
            f"SELECT {CREDENTIAL_COLUMNS} FROM credentials ORDER BY id").fetchall()
        elapsed = time.process_time() - t0
    finally:
        conn.close()
    digest, pin, normal = bytes(32), CredentialKind.PIN, Role.NORMAL
    new = object.__new__
    u0, u1, u2, u3, u4, u5, u6 = _slot_setters(User)
    c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11 = _slot_setters(Credential)
    t0 = time.process_time()
    for i in range(len(users)):  # straight-line, as a generated builder is
        o = new(User)
        u0(o, i), u1(o, "u"), u2(o, normal), u3(o, None), u4(o, None), u5(o, ()), u6(o, 0.0)
    for i in range(len(creds)):
        o = new(Credential)
        c0(o, i), c1(o, pin), c2(o, i), c3(o, digest), c4(o, False), c5(o, ""), c6(o, 6)
        c7(o, None), c8(o, False), c9(o, None), c10(o, None), c11(o, 0.0)
    return elapsed + time.process_time() - t0


def measure_open(users: int, rounds: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with _sqlite_file(users) as path:
        figure, checked, floor = [], [], []
        for _ in range(rounds):  # alternating: a passing load weighs on both
            for check, samples in ((None, figure), (True, checked)):
                t0 = time.process_time()
                store = SqliteStore(path, check=check)
                lock = _open(store, users)
                samples.append(time.process_time() - t0)
                assert store.checked is (check is True)  # closed cleanly: no check by default
                assert len(lock.context.index.credentials) == 4 * users + 1  # + the admin's key
                store.close()
            floor.append(_open_floor(path))
    name = f"open_{_label(users)}"
    _put(out, name, "s", _stats(figure, 1, 3))
    _put(out, f"{name}_floor", "s", _stats(floor, 1, 3))
    out[f"{name}_ratio"] = round(statistics.median(figure) / statistics.median(floor), 2)
    _put(out, f"{name}_checked", "s", _stats(checked, 1, 3))
    out[f"{name}_checked_ratio"] = round(statistics.median(checked) / statistics.median(floor), 2)
    return out


def _per_call_us(fn: Callable[[], object], calls: int, rounds: int = 7) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(calls):
            fn()
        samples.append((time.process_time() - start) / calls * 1e6)
    return samples


def _memory_lock(users: int) -> tuple[Lock, list[str]]:
    store = MemoryStore()
    pins = populate(store, users)
    return _open(store, users), pins


def _add_user_samples(lock: Lock, calls: int) -> list[float]:
    admin = Actor.phone(ADMIN_KEY)
    return _per_call_us(lambda: lock.add_user(admin, name="new", role=Role.NORMAL),
                        calls // 7 or 1)


def run(users: int, open_sizes: list[int], open_rounds: int = 5) -> dict[str, Any]:
    out: dict[str, Any] = {"users": users}
    for size in open_sizes:
        out.update(measure_open(size, open_rounds if size <= 20_000 else 3))
    lock, pins = _memory_lock(users)
    out["pins"] = lock.context.index.count(CredentialKind.PIN)
    target = pins[users // 2]
    entry = ("9" * (20 - len(target) - 1)) + target + "9"  # 20 digits, PIN near the end
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
    verify: dict[str, Callable[[], object]] = {
        "verify_pin": lambda: lock.enter_pin(entry),
        "match_pin": lambda: lock.unlock.match_pin(entry),
        "match_pin_miss": lambda: lock.unlock.match_pin(miss),
        "verify_card": lambda: lock.tap_card(card),
        "verify_fingerprint": lambda: lock.present_biometric(CredentialKind.FINGERPRINT, finger),
        "verify_bluetooth": lambda: lock.unlock_bluetooth(phone),
    }
    for name, fn in verify.items():
        _put(out, name, "us", _stats(_per_call_us(fn, 300 if name == "verify_pin" else 1000),
                                     1, 2))
    lock.drain_notifications()
    small, _ = _memory_lock(1000)
    big_samples, small_samples = [], []
    for _ in range(3):  # alternating rounds
        big_samples += _add_user_samples(lock, 210)
        small_samples += _add_user_samples(small, 210)
    name = f"add_user_{_label(users)}"
    _put(out, name, "us", _stats(big_samples, 1, 2))
    _put(out, f"{name}_floor", "us", _stats(small_samples, 1, 2))
    out[f"{name}_ratio"] = round(statistics.median(big_samples)
                                 / statistics.median(small_samples), 2)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--open-sizes", default="10000,100000",
                        help="comma-separated user counts of the open measurement")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.open_sizes.split(",") if s]
    results = run(args.users, sizes)
    if args.json:
        print(json.dumps(results))
        return 0
    print(f"{'figure':<26}{'median [min-max]':>30}{'floor median [min-max]':>30}{'ratio':>8}")
    for key, value in results.items():
        if key.endswith(("_us", "_s")) and "_min_" not in key and "_max_" not in key \
                and "_floor_" not in key:
            unit = "us" if key.endswith("_us") else "s"
            base = key[: -len(unit) - 1]
            span = f"{value} [{results[base + '_min_' + unit]}-{results[base + '_max_' + unit]}]"
            floor = results.get(f"{base}_floor_{unit}")
            floor_span = "" if floor is None else (
                f"{floor} [{results[base + '_floor_min_' + unit]}-"
                f"{results[base + '_floor_max_' + unit]}]")
            ratio = results.get(f"{base}_ratio", "")
            print(f"{key:<26}{span:>30}{floor_span:>30}{ratio!s:>8}")
    print(f"users {results['users']}, pins {results['pins']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
