"""Advertising the lock's state flags with bless, connectable through every change.

bless's API advertises only its name and first service UUID. On BlueZ the emulator does
what ``BlessServer.start()`` does step by step, but registers its own
``org.bluez.LEAdvertisement1`` object carrying the manufacturer data
(``gatt.Advertisement``: company 0xFFFF, version, lock id, flags), and keeps the lock
connectable through every state change (claim, pairing mode, battery, flags):

* **One advertisement, registered once, updated in place.** A flags change sets the new
  ``ManufacturerData`` and emits ``PropertiesChanged`` on the advertisement object;
  bluetoothd re-parses the property and refreshes the *same* advertising instance
  (BlueZ ``src/advertising.c``: ``properties_changed`` -> ``refresh_advertisement`` ->
  ``MGMT_OP_ADD_ADVERTISING`` for the instance it already has). The instance is never
  removed while the emulator runs.
* Why not "register a new one, unregister the old one" (what this module did before):
  the kernel remembers which instance a central connected through and, when that link
  drops, re-enables *that* instance (``net/bluetooth/hci_event.c``,
  ``hci_disconn_complete_evt``: ``hdev->cur_adv_instance = conn->adv_instance``). If it
  was removed meanwhile, its flags read as 0, so the controller advertises
  **non-connectable from a non-resolvable private address** with the last data
  (``hci_sync.c``: ``hci_enable_advertising_sync``/``hci_update_random_address_sync``).
  The phone saw the lock id and could not connect. Keeping the instance avoids that.
* **Advertising again while connected.** Legacy advertising stops when a central
  connects (Core spec, LE Set Advertising Enable; the kernel clears ``HCI_LE_ADV`` in
  ``le_conn_complete_evt``) and the kernel restarts it only on that link's disconnect or
  when an instance is (re)scheduled. So that a second phone can connect while one is
  connected, the advertiser watches ``org.bluez.Device1.Connected`` on its adapter and,
  after a central connected, refreshes the advertisement in place (the same
  ``PropertiesChanged``), which reschedules the instance and re-enables it.

If bluetoothd ignores the property change (it would be an old BlueZ), the advertised
flags are stale but the lock stays connectable; the info characteristic carries the flags
anyway (``docs/protocol.md``). ``BlessServer.stop()`` unregisters our advertisement as its
own.

Elsewhere (macOS CoreBluetooth, Windows) ``start()`` is plain ``BlessServer.start()``: the
name (``BLELOCK-<lock id>``) and the service UUID are advertised, the info characteristic
carries the flags (``docs/protocol.md``, Advertisement).
"""

import logging
from typing import Any

from ble_lock.wire.link.gatt import COMPANY_ID, SERVICE_UUID, Advertisement

__all__ = ["Advertiser"]

_log = logging.getLogger(__name__)

ADV_MANAGER = "org.bluez.LEAdvertisingManager1"
_DEVICE = "org.bluez.Device1"
_PROPS = "org.freedesktop.DBus.Properties"


def _advert_class() -> Any:
    """The ``org.bluez.LEAdvertisement1`` service class (dbus-next, BlueZ only), or None."""
    try:
        from dbus_next.constants import PropertyAccess
        from dbus_next.service import ServiceInterface, dbus_property, method
        from dbus_next.signature import Variant
    except ImportError:  # not on BlueZ
        return None

    class LockAdvertisement(ServiceInterface):
        """The lock's advertisement: type peripheral (connectable), the service UUID, the
        manufacturer data and the name (bluetoothd puts the name in the scan response)."""

        def __init__(self, path: str, name: str, payload: bytes) -> None:
            super().__init__("org.bluez.LEAdvertisement1")
            self.path = path
            self._name = name
            self._payload = payload
            self.released = False

        def _manufacturer(self) -> dict[int, Any]:
            return {COMPANY_ID: Variant("ay", self._payload)}

        # Why the ignores below: dbus-next takes each property's D-Bus signature from the
        # method's return annotation ("s", "as", "a{qv}"), which is a signature string, not
        # a Python type, so mypy (name-defined / valid-type) and ruff (F821 / F722) must be
        # told to leave it; and dbus-next ships no type hints (untyped-decorator). This is
        # dbus-next's documented way to declare a ServiceInterface.

        @dbus_property(access=PropertyAccess.READ)  # type: ignore[untyped-decorator]
        def Type(self) -> "s":  # type: ignore[name-defined]  # noqa: F821
            return "peripheral"

        @dbus_property(access=PropertyAccess.READ)  # type: ignore[untyped-decorator]
        def ServiceUUIDs(self) -> "as":  # type: ignore[valid-type]  # noqa: F722
            return [SERVICE_UUID]

        @dbus_property(access=PropertyAccess.READ)  # type: ignore[untyped-decorator]
        def ManufacturerData(self) -> "a{qv}":  # type: ignore[valid-type]  # noqa: F722
            return self._manufacturer()

        @dbus_property(access=PropertyAccess.READ)  # type: ignore[untyped-decorator]
        def LocalName(self) -> "s":  # type: ignore[name-defined]  # noqa: F821
            return self._name

        @method()  # type: ignore[untyped-decorator]
        def Release(self) -> None:
            self.released = True
            _log.warning("bluetoothd released the advertisement %s", self.path)

        def set_payload(self, payload: bytes) -> None:
            """New manufacturer data; bluetoothd refreshes the instance in place."""
            self._payload = payload
            self.refresh()

        def refresh(self) -> None:
            """Emit ``PropertiesChanged(ManufacturerData)``: bluetoothd re-adds the same
            instance, which also re-enables advertising after a connection stopped it."""
            self.emit_properties_changed({"ManufacturerData": self._manufacturer()})

    return LockAdvertisement


class Advertiser:
    """Starts a bless server and keeps its advertisement current and connectable."""

    def __init__(self, server: Any) -> None:
        self._server = server
        self._cls = _advert_class() if hasattr(server, "app") or hasattr(
            server, "setup_task") else None
        self._advert: Any = None
        self._current: Advertisement | None = None
        self._connected: set[str] = set()
        self.manufacturer_data = False
        """True when the advertisement carries the manufacturer data (BlueZ)."""
        self.refreshes = 0
        """How many times the advertisement was refreshed in place (flags or reconnect)."""
        self.on_disconnected: Any = None
        """Called with the ``Device1`` path when a central disconnects (the SMP service
        drops a partly received request)."""

    def __repr__(self) -> str:
        return f"Advertiser(manufacturer_data={self.manufacturer_data})"

    @property
    def connected(self) -> frozenset[str]:
        """The centrals connected to this adapter (``Device1`` paths), as last seen."""
        return frozenset(self._connected)

    async def start(self, advert: Advertisement) -> None:
        if self._cls is not None:
            await self._server.setup_task
            if not self._bless_internals_known():
                _log.warning("unknown bless internals: advertising without manufacturer data")
                self._cls = None
        if self._cls is None:
            await self._server.start()
            self._current = advert
            return
        server = self._server
        app = server.app
        server.bus.export(app.path, app)
        await app.register(server.adapter)
        await app.set_name(server.adapter, app.app_name)
        await self._watch_connections()
        obj = self._cls(f"{app.base_path}/lockadvert0", app.app_name,
                        advert.manufacturer_payload())
        app.bus.export(obj.path, obj)
        app.advertisements.append(obj)  # BlessServer.stop() unregisters it
        try:
            await server.adapter.get_interface(ADV_MANAGER).call_register_advertisement(
                obj.path, {})
        except Exception:
            app.advertisements.remove(obj)
            app.bus.unexport(obj.path)
            raise
        self._advert = obj
        self._current = advert
        self.manufacturer_data = True
        _log.debug("advertising flags %s", advert.flags)

    def _bless_internals_known(self) -> bool:
        """What the BlueZ path uses of bless 0.3's public attributes (checked, so that
        another bless version degrades to plain advertising instead of failing)."""
        app = getattr(self._server, "app", None)
        return (app is not None and hasattr(self._server, "adapter")
                and hasattr(self._server, "bus")
                and all(hasattr(app, a) for a in ("register", "set_name", "advertisements",
                                                  "bus", "path", "base_path", "app_name"))
                and isinstance(app.advertisements, list))

    async def update(self, advert: Advertisement) -> None:
        """Advertise new flags in place (no-op if unchanged or the platform cannot carry
        them). The advertising instance stays the same: the lock stays connectable."""
        if not self.manufacturer_data:
            self._current = advert
            return
        if advert == self._current:
            return
        self._current = advert
        self._advert.set_payload(advert.manufacturer_payload())
        self.refreshes += 1
        _log.debug("advertising flags %s", advert.flags)

    # -- connections ---------------------------------------------------------------------

    async def _watch_connections(self) -> None:
        """Watch ``Device1.Connected`` under our adapter (bluetoothd's signals)."""
        from dbus_next.constants import MessageType
        from dbus_next.message import Message

        bus = self._server.bus
        adapter_path = str(self._server.adapter.path)
        rule = (f"type='signal',sender='org.bluez',interface='{_PROPS}',"
                f"member='PropertiesChanged',arg0='{_DEVICE}',"
                f"path_namespace='{adapter_path}'")
        reply = await bus.call(Message(destination="org.freedesktop.DBus",
                                       path="/org/freedesktop/DBus",
                                       interface="org.freedesktop.DBus", member="AddMatch",
                                       signature="s", body=[rule]))
        if reply is None or reply.message_type != MessageType.METHOD_RETURN:
            _log.warning("cannot watch connections: a second phone may not connect while "
                         "one is connected")
            return

        def on_message(msg: Any) -> None:
            if (msg.message_type == MessageType.SIGNAL and msg.member == "PropertiesChanged"
                    and msg.interface == _PROPS and msg.body and msg.body[0] == _DEVICE
                    and str(msg.path).startswith(adapter_path + "/")):
                changed = msg.body[1]
                if "Connected" in changed:
                    self._on_connected(str(msg.path), bool(changed["Connected"].value))

        bus.add_message_handler(on_message)

    def _on_connected(self, path: str, connected: bool) -> None:
        if not connected:
            # The kernel re-enables the instance this link came through: ours, still there.
            self._connected.discard(path)
            if self.on_disconnected is not None:
                self.on_disconnected(path)
            return
        self._connected.add(path)
        if self._advert is not None:
            self._advert.refresh()
            self.refreshes += 1
