"""Advertising the lock's state flags with bless.

bless's API advertises only its name and first service UUID. On BlueZ its advertisement
is an ``org.bluez.LEAdvertisement1`` object whose ``ManufacturerData`` property BlueZ
reads once, at ``RegisterAdvertisement``. So, without touching bless's code, the emulator
does what ``BlessServer.start()`` does step by step, but sets the manufacturer data
(``gatt.Advertisement``: company 0xFFFF, version, lock id, flags) on the advertisement
object before registering it; when the flags change it registers a new advertisement and
then unregisters the old one (no gap: BlueZ advertises the newest). ``BlessServer.stop()``
then stops our advertisement as its own.

Elsewhere (macOS CoreBluetooth, Windows) ``start()`` is plain ``BlessServer.start()``: the
name (``BLELOCK-<lock id>``) and the service UUID are advertised, the info characteristic
carries the flags (``docs/protocol.md``, Advertisement).
"""

from __future__ import annotations

import logging
from typing import Any

from ble_lock.wire.link.gatt import COMPANY_ID, SERVICE_UUID, Advertisement

__all__ = ["Advertiser"]

_log = logging.getLogger(__name__)


def _bluez_parts() -> tuple[Any, Any, Any] | None:
    try:
        from bless.backends.bluezdbus.dbus.advertisement import (
            BlueZLEAdvertisement,
            Type,
        )
        from dbus_next.signature import Variant
    except ImportError:  # not on BlueZ
        return None
    return BlueZLEAdvertisement, Type, Variant


class Advertiser:
    """Starts a bless server and keeps its advertisement's flags current."""

    def __init__(self, server: Any) -> None:
        self._server = server
        self._parts = _bluez_parts() if hasattr(server, "app") or hasattr(
            server, "setup_task") else None
        self._index = 0
        self._current: Advertisement | None = None
        self.manufacturer_data = False
        """True when the advertisement carries the manufacturer data (BlueZ)."""

    def __repr__(self) -> str:
        return f"Advertiser(manufacturer_data={self.manufacturer_data})"

    async def start(self, advert: Advertisement) -> None:
        if self._parts is not None:
            await self._server.setup_task
            if not self._bless_internals_known():
                _log.warning("unknown bless internals: advertising without manufacturer data")
                self._parts = None
        if self._parts is None:
            await self._server.start()
            self._current = advert
            return
        server = self._server
        server.bus.export(server.app.path, server.app)
        await server.app.register(server.adapter)
        await server.app.set_name(server.adapter, server.app.app_name)
        await self._register(advert)
        self.manufacturer_data = True

    def _bless_internals_known(self) -> bool:
        """What the BlueZ path uses of bless 0.3 (checked, so that another bless version
        degrades to plain advertising instead of failing)."""
        app = getattr(self._server, "app", None)
        parts = self._parts
        return (app is not None and parts is not None and hasattr(self._server, "adapter")
                and all(hasattr(app, a) for a in ("register", "set_name", "advertisements",
                                                  "bus", "path", "app_name"))
                and isinstance(app.advertisements, list)
                and all(hasattr(parts[0], a) for a in ("ManufacturerData", "ServiceUUIDs")))

    async def update(self, advert: Advertisement) -> None:
        """Advertise new flags (no-op if unchanged or the platform cannot carry them)."""
        if not self.manufacturer_data:
            self._current = advert
            return
        if advert == self._current:
            return
        app = self._server.app
        old = app.advertisements[-1] if app.advertisements else None
        await self._register(advert)
        if old is not None:
            app.advertisements.remove(old)
            iface = self._server.adapter.get_interface("org.bluez.LEAdvertisingManager1")
            await iface.call_unregister_advertisement(old.path)
            app.bus.unexport(old.path)

    async def _register(self, advert: Advertisement) -> None:
        assert self._parts is not None
        adv_cls, adv_type, variant = self._parts
        app = self._server.app
        self._index += 1
        obj = adv_cls(adv_type.PERIPHERAL, self._index, app)
        obj._service_uuids.append(SERVICE_UUID)
        obj._manufacturer_data = {COMPANY_ID: variant("ay", advert.manufacturer_payload())}
        app.advertisements.append(obj)
        app.bus.export(obj.path, obj)
        iface = self._server.adapter.get_interface("org.bluez.LEAdvertisingManager1")
        try:
            await iface.call_register_advertisement(obj.path, {})
        except Exception:
            app.advertisements.remove(obj)
            app.bus.unexport(obj.path)
            raise
        self._current = advert
        _log.debug("advertising flags %s", advert.flags)
