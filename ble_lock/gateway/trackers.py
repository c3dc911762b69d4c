"""Where the gateway's locks are: advertisement trackers.

A tracker knows which configured locks are around and gives a connector for each
(``Connector``, ``ble_lock/central/transport.py``). :class:`BleakTracker` scans with
bleak and keeps the last device seen per configured lock id (bounded by the
configuration); :class:`StaticTracker` serves fixed connectors (in-memory locks of
``ble_lock.testing.memory_lock``, tests and benchmarks).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ble_lock.central.discovery import LockAdvert, parse_bleak
from ble_lock.central.transport import (
    Connector,
    DisconnectCallback,
    GattLink,
    NotifyCallback,
    bleak_connector,
)
from ble_lock.core.errors import ErrorCode, TransportError

if TYPE_CHECKING:
    from bleak.backends.device import BLEDevice

__all__ = ["BleakTracker", "StaticTracker", "Tracker"]

SeenCallback = Callable[[bytes], None]


class Tracker(Protocol):
    def known(self, lock_id: bytes) -> bool:
        """Whether the lock was seen (so a connection may be tried)."""

    def connector(self, lock_id: bytes) -> Connector:
        """A connector reaching the lock wherever it was last seen."""

    async def run(self, on_seen: SeenCallback) -> None:
        """Track until cancelled; ``on_seen(lock_id)`` for each advertisement."""

    def advert(self, lock_id: bytes) -> LockAdvert | None:
        """The lock's last advertisement (address, RSSI), or None if there is none."""


class StaticTracker:
    """Locks at fixed connectors, always "seen"."""

    def __init__(self, connectors: Mapping[bytes, Connector]) -> None:
        self._connectors = dict(connectors)

    def __repr__(self) -> str:
        return f"StaticTracker(locks={len(self._connectors)})"

    def known(self, lock_id: bytes) -> bool:
        return lock_id in self._connectors

    def connector(self, lock_id: bytes) -> Connector:
        return self._connectors[lock_id]

    def advert(self, lock_id: bytes) -> LockAdvert | None:
        return None  # no radio: no address, no RSSI

    async def run(self, on_seen: SeenCallback) -> None:
        for lock_id in self._connectors:
            on_seen(lock_id)
        await asyncio.Event().wait()


class BleakTracker:
    """A continuous bleak scan; remembers the device of each configured lock, from its
    connectable advertisements only (``LockAdvert.connectable``)."""

    def __init__(self, lock_ids: Iterable[bytes], *, adapter: str | None = None,
                 max_attempts: int = 2) -> None:
        self._wanted = frozenset(lock_ids)
        self._adapter = adapter
        self._max_attempts = max_attempts
        self._devices: dict[bytes, BLEDevice] = {}
        self._adverts: dict[bytes, LockAdvert] = {}
        self.last_seen: dict[bytes, float] = {}

    def __repr__(self) -> str:
        return f"BleakTracker(adapter={self._adapter}, seen={len(self._devices)})"

    def known(self, lock_id: bytes) -> bool:
        return lock_id in self._devices

    def advert(self, lock_id: bytes) -> LockAdvert | None:
        return self._adverts.get(lock_id)

    def connector(self, lock_id: bytes) -> Connector:
        async def connect(on_notify: NotifyCallback, on_disconnect: DisconnectCallback
                          ) -> GattLink:
            device = self._devices.get(lock_id)
            if device is None:
                raise TransportError(f"lock {lock_id.hex().upper()} not seen yet",
                                     code=ErrorCode.LOCK_NOT_FOUND)
            return await bleak_connector(device, adapter=self._adapter,
                                         max_attempts=self._max_attempts)(
                on_notify, on_disconnect)

        return connect

    async def run(self, on_seen: SeenCallback) -> None:
        from bleak import BleakScanner

        def found(device: BLEDevice, adv: Any) -> None:
            advert = parse_bleak(device, adv)
            # a non-connectable advert (a stale advertising instance after a lock's
            # process died: docs/peripheral.md) is no sign the lock is back
            if advert is None or not advert.connectable or advert.lock_id not in self._wanted:
                return
            self._devices[advert.lock_id] = device
            self._adverts[advert.lock_id] = advert
            self.last_seen[advert.lock_id] = time.monotonic()
            on_seen(advert.lock_id)

        kwargs: dict[str, Any] = {}
        if self._adapter is not None:
            kwargs["bluez"] = {"adapter": self._adapter}
        async with BleakScanner(found, **kwargs):
            await asyncio.Event().wait()
