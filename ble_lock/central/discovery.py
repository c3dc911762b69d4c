"""Finding locks: parse what a scan sees, list nearby locks, find one by address, name
or lock id (docs/protocol.md, "Advertisement").

The lock id comes from the manufacturer data (company 0xFFFF) or, where a platform
drops it (a lock emulated on macOS advertises only its name and service UUID), from the
name ``BLELOCK-<id>``. Nothing here is trusted: :class:`~ble_lock.central.client.LockClient`
confirms the id with the info characteristic after connecting.

Only connectable advertisements are connection targets. BlueZ does not tell whether an
advertisement was connectable, but the address does: Linux advertises non-connectably
from a fresh *non-resolvable private address* (random, top two bits 00;
``net/bluetooth/hci_sync.c``, ``hci_update_random_address_sync``), and a lock whose
advertising instance went stale does exactly that (issue 12, docs/peripheral.md). Such
adverts are skipped, and a phone that knows the lock's address (keystore) also accepts
that address when its advertisement does not (or no longer) carry the lock id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ble_lock.central.availability import reaching_bluetooth
from ble_lock.core.errors import ErrorCode, TransportError
from ble_lock.wire.errors import RemoteProtocolError
from ble_lock.wire.link.gatt import (
    COMPANY_ID,
    SERVICE_UUID,
    Advertisement,
    StateFlags,
    lock_id_from_name,
)

if TYPE_CHECKING:
    from bleak.backends.device import BLEDevice

__all__ = ["LockAdvert", "find_lock", "is_non_resolvable_private", "matches", "parse_advert",
           "parse_bleak", "scan"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LockAdvert:
    """A lock seen in a scan. ``flags``/``version`` are None when only the name was seen."""

    lock_id: bytes
    address: str
    name: str | None = None
    flags: StateFlags | None = None
    version: int | None = None
    rssi: int | None = None
    connectable: bool = True
    """False for an advertiser address no connection can be made to (see module doc)."""

    @property
    def lock_hex(self) -> str:
        return self.lock_id.hex().upper()


def is_non_resolvable_private(address: str, address_type: str | None) -> bool:
    """Whether ``address`` is a non-resolvable private address: a random address whose
    two most significant bits are 00 (Core spec Vol 6 Part B 1.3.2.2). Public addresses
    and ``address_type`` None (not BlueZ: unknown) are not."""
    if address_type != "random":
        return False
    try:
        top = int(address.split(":")[0], 16)
    except ValueError:
        return False
    return top >> 6 == 0


def parse_advert(*, address: str, name: str | None, manufacturer_data: Mapping[int, bytes],
                 service_uuids: Iterable[str] = (), rssi: int | None = None,
                 address_type: str | None = None) -> LockAdvert | None:
    """A :class:`LockAdvert` if this advertisement is a ble-lock's, else None.

    Manufacturer data under our company id wins; a malformed one is ignored (the name
    may still identify the lock). A device that names neither is not a lock.
    ``address_type`` (BlueZ ``public``/``random``) marks non-connectable advertisers.
    """
    connectable = not is_non_resolvable_private(address, address_type)
    payload = manufacturer_data.get(COMPANY_ID)
    if payload is not None:
        try:
            adv = Advertisement.from_manufacturer_payload(bytes(payload))
        except RemoteProtocolError:
            adv = None
        ours = SERVICE_UUID in {u.lower() for u in service_uuids}
        if adv is not None and (ours or (name and lock_id_from_name(name) == adv.lock_id)):
            return LockAdvert(lock_id=adv.lock_id, address=address, name=name, flags=adv.flags,
                              version=adv.version, rssi=rssi, connectable=connectable)
    lock_id = lock_id_from_name(name) if name else None
    if lock_id is None:
        return None
    return LockAdvert(lock_id=lock_id, address=address, name=name, rssi=rssi,
                      connectable=connectable)


def _address_type(device: BLEDevice) -> str | None:
    details = device.details
    if isinstance(details, dict) and isinstance(details.get("props"), dict):
        value = details["props"].get("AddressType")
        return str(value) if value is not None else None
    return None


def parse_bleak(device: BLEDevice, adv: Any) -> LockAdvert | None:
    """:func:`parse_advert` of what a bleak scanner callback got (device, advertisement data)."""
    return parse_advert(address=device.address, name=adv.local_name or device.name,
                        manufacturer_data=adv.manufacturer_data,
                        service_uuids=adv.service_uuids, rssi=adv.rssi,
                        address_type=_address_type(device))


def matches(advert: LockAdvert, *, address: str | None = None, name: str | None = None,
            lock_id: bytes | None = None) -> bool:
    """Whether ``advert`` is the lock asked for (every given criterion must hold)."""
    if address is not None and advert.address.upper() != address.upper():
        return False
    if name is not None and advert.name != name:
        return False
    return lock_id is None or advert.lock_id == lock_id


def _bluez(adapter: str | None) -> dict[str, Any]:
    return {} if adapter is None else {"bluez": {"adapter": adapter}}


async def scan(*, timeout: float = 5.0, adapter: str | None = None,
               stop_after: int | None = None) -> list[LockAdvert]:
    """Locks nearby that can be connected to, strongest first; returns early once
    ``stop_after`` locks were seen."""
    from bleak import BleakScanner

    seen: dict[str, LockAdvert] = {}
    enough = asyncio.Event()

    def found(device: BLEDevice, adv: Any) -> None:
        advert = parse_bleak(device, adv)
        if advert is not None and advert.connectable:
            seen[advert.address] = advert
            if stop_after is not None and len(seen) >= stop_after:
                enough.set()

    # no bus / BlueZ / adapter: BLUETOOTH_UNAVAILABLE, not "move closer"
    with reaching_bluetooth():
        async with BleakScanner(found, **_bluez(adapter)):
            try:
                async with asyncio.timeout(timeout):
                    await enough.wait()
            except TimeoutError:
                pass
    return sorted(seen.values(), key=lambda a: (-(a.rssi if a.rssi is not None else -999),
                                                a.lock_hex))


async def find_lock(*, address: str | None = None, name: str | None = None,
                    lock_id: bytes | None = None, adapter: str | None = None,
                    timeout: float = 10.0, known_address: str | None = None
                    ) -> tuple[BLEDevice, LockAdvert]:
    """Scan until the lock asked for shows up, advertising connectably;
    ``TransportError(LOCK_NOT_FOUND)`` after ``timeout`` seconds.

    ``known_address``: where this phone last reached the lock (keystore). A device at
    that address is taken when its advertisement does not name another lock, even if it
    carries no lock id; the info characteristic confirms the id after connecting.
    """
    from bleak import BleakScanner

    if address is None and name is None and lock_id is None:
        raise ValueError("find_lock needs an address, a name or a lock id")
    hits: dict[str, LockAdvert] = {}

    known = known_address.upper() if known_address else None

    def wanted(device: BLEDevice, adv: Any) -> bool:
        advert = parse_bleak(device, adv)
        if (known is not None and device.address.upper() == known and lock_id is not None
                and (advert is None or advert.lock_id == lock_id)):
            hits[device.address] = advert or LockAdvert(
                lock_id=lock_id, address=device.address, name=adv.local_name or device.name,
                rssi=adv.rssi)
            return True
        if advert is None or not advert.connectable or not matches(
                advert, address=address, name=name, lock_id=lock_id):
            return False
        hits[device.address] = advert
        return True

    with reaching_bluetooth():  # no bus / BlueZ / adapter: BLUETOOTH_UNAVAILABLE
        device = await BleakScanner.find_device_by_filter(wanted, timeout=timeout,
                                                          **_bluez(adapter))
    if device is None:
        what = ", ".join(f"{k}={v}" for k, v in (("address", address), ("name", name),
                         ("lock id", lock_id.hex().upper() if lock_id else None)) if v)
        raise TransportError(f"no lock with {what} found within {timeout:g} s",
                             code=ErrorCode.LOCK_NOT_FOUND)
    return device, hits[device.address]
