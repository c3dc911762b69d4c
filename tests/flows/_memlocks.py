"""In-memory locks (the real core and protocol, no radio) for gateway tests and the
benchmark: ``ble_lock.testing.memory_lock.MemoryLock`` claimed by one admin keystore."""

from __future__ import annotations

from pathlib import Path

from ble_lock.central.client import LockClient
from ble_lock.central.keystore import Keystore
from ble_lock.gateway.config import GatewayConfig, LockEntry
from ble_lock.testing.memory_lock import MemoryLock
from ble_lock.wire import messages as m

ADMIN_PIN = "246801"


def memory_locks(n: int) -> list[MemoryLock]:
    return [MemoryLock(lock_id=bytes([0xA0, 0, i >> 8, i & 0xFF]), seed=(i % 200) + 1)
            for i in range(n)]


async def claim_all(locks: list[MemoryLock], keystore: Keystore, *, sync: bool = False
                    ) -> None:
    """The admin claims every lock and gives itself a PIN (user 1)."""
    for mem in locks:
        async with LockClient(mem.connector(), keystore=keystore, lock_id=mem.lock_id) as c:
            await c.claim(mem.setup_code, lock_fingerprint=mem.fingerprint)
            await c.add_pin(1, ADMIN_PIN)
            if sync:
                await c.set_settings(m.SettingsSet(sync_unlock=True))


def config(locks: list[MemoryLock], tmp: Path, *, poll_interval_s: float = 0.2,
           relay: bool = True) -> GatewayConfig:
    return GatewayConfig(
        locks=tuple(LockEntry(lock_id=mem.lock_id, name=f"lock {i}")
                    for i, mem in enumerate(locks)),
        state=tmp / "cursors.json", output=str(tmp / "events.jsonl"),
        poll_interval_s=poll_interval_s, backoff_min_s=0.01, backoff_max_s=0.1,
        request_timeout_s=5.0, relay=relay)
