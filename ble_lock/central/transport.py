"""The GATT link a :class:`~ble_lock.central.client.LockClient` talks through.

:class:`GattLink` is what the client needs from a connection to a lock: write a frame
to the command characteristic (write without response), hear the response
characteristic's notifications, read the info and fresh characteristics, know the ATT MTU and
notice a disconnection. :class:`BleakLink` is that over bleak, connected through
``bleak_retry_connector.establish_connection`` (retries with backoff);
:mod:`ble_lock.testing.memory_lock` has an in-process one for tests.

A *connector* is an ``async () -> GattLink``: the client calls it again to reconnect
after a link drop.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from ble_lock.core.errors import ErrorCode, TransportError
from ble_lock.wire.link.gatt import COMMAND_UUID, FRESH_UUID, INFO_UUID, RESPONSE_UUID

if TYPE_CHECKING:
    from bleak import BleakClient
    from bleak.backends.device import BLEDevice

__all__ = [
    "BleakLink",
    "Connector",
    "GattLink",
    "NotifyCallback",
    "bleak_connector",
]

_log = logging.getLogger(__name__)

NotifyCallback = Callable[[bytes], None]
DisconnectCallback = Callable[[], None]


class GattLink(Protocol):
    """One connection to a lock's GATT service, notifications already on."""

    @property
    def mtu(self) -> int:
        """The ATT MTU of this link (frames are cut to ``mtu - 3``)."""
        ...

    @property
    def address(self) -> str: ...

    @property
    def connected(self) -> bool: ...

    async def write(self, frame: bytes) -> None:
        """One frame to the command characteristic, write without response."""
        ...

    async def read_info(self) -> bytes:
        """The info characteristic's value."""
        ...

    async def read_fresh(self) -> bytes:
        """The fresh characteristic's value (the lock's freshness value, 17 bytes)."""
        ...

    async def close(self) -> None: ...


Connector = Callable[[NotifyCallback, DisconnectCallback], Awaitable[GattLink]]
"""Opens a link: ``await connector(on_notify, on_disconnect)``; called again to reconnect."""


class BleakLink:
    """A :class:`GattLink` over a connected, subscribed ``BleakClient``."""

    __slots__ = ("_client", "_closing", "_mtu")

    def __init__(self, client: BleakClient, mtu: int) -> None:
        self._client = client
        self._mtu = mtu
        self._closing = False

    def __repr__(self) -> str:
        return f"BleakLink({self.address!r}, mtu={self._mtu}, connected={self.connected})"

    @property
    def client(self) -> BleakClient:
        return self._client

    @property
    def mtu(self) -> int:
        return self._mtu

    @property
    def address(self) -> str:
        return str(self._client.address)

    @property
    def connected(self) -> bool:
        return bool(self._client.is_connected) and not self._closing

    async def write(self, frame: bytes) -> None:
        from bleak.exc import BleakError

        try:
            await self._client.write_gatt_char(COMMAND_UUID, frame, response=False)
        except (BleakError, EOFError, BrokenPipeError, OSError) as exc:
            raise TransportError(f"write failed: {exc}", code=ErrorCode.DISCONNECTED) from exc

    async def read_info(self) -> bytes:
        return await self._read(INFO_UUID)

    async def read_fresh(self) -> bytes:
        return await self._read(FRESH_UUID)

    async def _read(self, uuid: str) -> bytes:
        from bleak.exc import BleakError

        try:
            return bytes(await self._client.read_gatt_char(uuid))
        except (BleakError, EOFError, BrokenPipeError, OSError) as exc:
            raise TransportError(f"read failed: {exc}", code=ErrorCode.DISCONNECTED) from exc

    async def close(self) -> None:
        self._closing = True
        with contextlib.suppress(Exception):  # already gone is fine: we are leaving
            await self._client.disconnect()


def _pinned_client_class(device: BLEDevice) -> type[BleakClient]:
    """A client class that always uses ``device``.

    On Linux ``establish_connection`` swaps the device for an already connected one of
    the same address, on *any* adapter of the host; a phone (or a test host) with
    several adapters must keep its own adapter, or two centrals would share one link.
    """
    from bleak_retry_connector import BleakClientWithServiceCache

    class _Pinned(BleakClientWithServiceCache):
        def __init__(self, _found: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(device, *args, **kwargs)

    return _Pinned


async def _learn_mtu(client: BleakClient) -> int:
    """The ATT MTU, from public bleak API only.

    On BlueZ (5.62 and later) each characteristic carries the link's ``MTU`` property, set
    by the exchange BlueZ makes before resolving services; bleak shows it as the command
    characteristic's ``max_write_without_response_size`` (MTU - 3). Elsewhere bleak knows
    the MTU (``mtu_size``). The command characteristic missing or unreadable means the
    cached GATT objects are stale (``TransportError``). An older BlueZ, without the
    property, gives the minimum MTU: 23 (frames are then only split more)."""
    from bleak.backends import BleakBackend

    try:
        char = client.services.get_characteristic(COMMAND_UUID)
        if char is None:
            raise LookupError(f"no characteristic {COMMAND_UUID}")
        from_char = char.max_write_without_response_size + 3
    except Exception as exc:  # bleak raises D-Bus errors, KeyErrors, BleakError here
        raise TransportError(f"cannot learn the MTU: {exc!r}",
                             code=ErrorCode.CONNECTION_FAILED) from exc
    if client.backend_id == BleakBackend.BLUEZ_DBUS:
        return max(23, from_char)
    return max(23, int(client.mtu_size))  # CoreBluetooth, WinRT: bleak knows the MTU


def bleak_connector(device: BLEDevice, *, adapter: str | None = None,
                    max_attempts: int = 4) -> Connector:
    """A connector for ``device`` (from a scan), on ``adapter`` (BlueZ: ``hci1``...).

    Services are taken from bleak's cache when it has them (a reconnect costs no
    discovery); if subscribing then fails (the lock restarted and its GATT objects
    changed), the cache is cleared and the connection made again with a discovery.
    """

    async def connect(on_notify: NotifyCallback, on_disconnect: DisconnectCallback) -> GattLink:
        try:
            return await _connect_once(device, adapter, max_attempts, on_notify, on_disconnect,
                                       use_cache=True)
        except _StaleServices:
            return await _connect_once(device, adapter, max_attempts, on_notify,
                                       on_disconnect, use_cache=False)

    return connect


class _StaleServices(Exception):
    pass


FRESH_CLIENTS = 2
"""Rounds of ``establish_connection``, each with a new ``BleakClient``. bleak-retry-connector
reuses one client for all its attempts; when BlueZ drops ``ServicesResolved`` right after
resolving (seen on real BlueZ under load, docs/testing.md), that client believes it is
still connected and refuses every further attempt with "Client is already connected"."""
_STUCK = "already connected"


async def _connect_once(device: BLEDevice, adapter: str | None, max_attempts: int,
                        on_notify: NotifyCallback, on_disconnect: DisconnectCallback, *,
                        use_cache: bool) -> GattLink:
    from bleak.exc import BleakError
    from bleak_retry_connector import establish_connection

    kwargs: dict[str, Any] = {}
    if adapter is not None:
        kwargs["bluez"] = {"adapter": adapter}
    for fresh in range(FRESH_CLIENTS):
        try:
            client = await establish_connection(
                _pinned_client_class(device), device, device.name or device.address,
                disconnected_callback=lambda _c: on_disconnect(), max_attempts=max_attempts,
                use_services_cache=use_cache, **kwargs)
            break
        except (BleakError, TimeoutError, EOFError, BrokenPipeError, OSError) as exc:
            if fresh + 1 < FRESH_CLIENTS and _STUCK in str(exc):
                _log.info("connecting to %s: %s; again with a new client", device.address, exc)
                continue
            raise TransportError(f"cannot connect to {device.address}: {exc}",
                                 code=ErrorCode.CONNECTION_FAILED) from exc
    try:
        mtu = await _learn_mtu(client)
        await client.start_notify(RESPONSE_UUID, lambda _c, data: on_notify(bytes(data)))
    except (BleakError, TransportError, EOFError, BrokenPipeError, OSError) as exc:
        with contextlib.suppress(Exception):
            await client.disconnect()
        if use_cache:
            raise _StaleServices from exc
        raise TransportError(f"cannot subscribe to {device.address}: {exc}",
                             code=ErrorCode.CONNECTION_FAILED) from exc
    _log.debug("connected to %s (mtu %d)", device.address, mtu)
    return BleakLink(client, mtu)
