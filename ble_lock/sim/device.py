"""org.bluez.Device1: a remote device as one adapter sees it, and the central end of a link.

On Connect: ``Connected`` becomes true, the central exchanges the ATT MTU, discovers the
peer's GATT database, exports it, and only then sets ``ServicesResolved`` (what bleak waits
for). A link going down, for whatever reason, is seen as ``ServicesResolved``/``Connected``
turning false and the GATT objects being removed, as with bluetoothd.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from dbus_fast import Message, Variant

from ble_lock.sim import att_client, ifaces
from ble_lock.sim.att import AttError
from ble_lock.sim.dbusobj import DBusObject, Reply
from ble_lock.sim.errors import BluezError
from ble_lock.sim.radio import Advertisement, ConnectError, Link, LinkDown
from ble_lock.sim.remote_gatt import RemoteCharacteristic, mirror

if TYPE_CHECKING:
    from ble_lock.sim.adapter import Adapter

DEVICE = ifaces.DEVICE.name


def device_path(adapter_path: str, address: str) -> str:
    return f"{adapter_path}/dev_{address.replace(':', '_')}"


class RemoteDevice(DBusObject):
    def __init__(self, adapter: Adapter, address: str, *, address_type: str = "public"
                 ) -> None:
        super().__init__(device_path(adapter.path, address), [ifaces.DEVICE])
        self.adapter = adapter
        self.address = address
        self.address_type = address_type
        self.name: str | None = None
        self.alias: str | None = None
        self.uuids: list[str] = []
        self.manufacturer_data: dict[int, bytes] = {}
        self.service_data: dict[str, bytes] = {}
        self.tx_power: int | None = None
        self.appearance: int | None = None
        self.rssi: int | None = None
        self.paired = False
        self.trusted = False
        self.blocked = False
        self.link: Link | None = None
        self.services_resolved = False
        self._gatt: list[DBusObject] = []
        self._connecting: asyncio.Task[None] | None = None

    @property
    def connecting(self) -> bool:
        return self._connecting is not None

    @property
    def connected(self) -> bool:
        return self.link is not None and self.link.up

    def props(self, iface: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Address": self.address,
            "AddressType": self.address_type,
            "Alias": self.alias or self.name or self.address.replace(":", "-"),
            "Paired": self.paired,
            "Bonded": self.paired,
            "Trusted": self.trusted,
            "Blocked": self.blocked,
            "LegacyPairing": False,
            "Connected": self.connected,
            "UUIDs": list(self.uuids),
            "Adapter": self.adapter.path,
            "ServicesResolved": self.services_resolved,
        }
        optional = {
            "Name": self.name,
            "RSSI": self.rssi,
            "TxPower": self.tx_power,
            "Appearance": self.appearance,
            "ManufacturerData": (
                {k: Variant("ay", v) for k, v in self.manufacturer_data.items()}
                if self.manufacturer_data
                else None
            ),
            "ServiceData": (
                {k: Variant("ay", v) for k, v in self.service_data.items()}
                if self.service_data
                else None
            ),
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        return out

    def set_prop(self, iface: str, name: str, value: Any) -> None:
        if name == "Alias":
            self.alias = str(value) or None
        elif name == "Trusted":
            self.trusted = bool(value)
        elif name == "Blocked":
            self.blocked = bool(value)
            if self.blocked and self.link is not None:
                self.link.drop("blocked")
        self.changed(DEVICE, {name: self.props(DEVICE)[name]})

    # -- advertising reports ------------------------------------------------------------

    def update_from_advert(self, adv: Advertisement, rssi: int, report_all: bool) -> None:
        """Apply an advertising report; emit what changed (everything if ``report_all``)."""
        new: dict[str, Any] = {"RSSI": rssi}
        if adv.local_name is not None:
            new["Name"] = adv.local_name
            if self.alias is None:
                new["Alias"] = adv.local_name
        uuids = sorted(set(self.uuids) | set(adv.service_uuids))
        if uuids != self.uuids:
            new["UUIDs"] = uuids
        if adv.manufacturer_data:
            new["ManufacturerData"] = {
                k: Variant("ay", v) for k, v in adv.manufacturer_data.items()
            }
        if adv.service_data:
            new["ServiceData"] = {k: Variant("ay", v) for k, v in adv.service_data.items()}
        if adv.tx_power is not None:
            new["TxPower"] = adv.tx_power
        current = self.props(DEVICE)
        changed = {k: v for k, v in new.items() if report_all or current.get(k) != v}
        self.name = adv.local_name if adv.local_name is not None else self.name
        self.uuids = uuids
        self.manufacturer_data = dict(adv.manufacturer_data) or self.manufacturer_data
        self.service_data = dict(adv.service_data) or self.service_data
        self.tx_power = adv.tx_power if adv.tx_power is not None else self.tx_power
        self.appearance = adv.appearance if adv.appearance is not None else self.appearance
        self.rssi = rssi
        if changed:
            self.changed(DEVICE, changed)

    def clear_rssi(self) -> None:
        """Discovery stopped: bluetoothd invalidates RSSI and TxPower."""
        if self.rssi is not None or self.tx_power is not None:
            self.rssi = None
            self.tx_power = None
            self.changed(DEVICE, {}, invalidated=["RSSI", "TxPower"])

    # -- methods ----------------------------------------------------------------------------

    async def call(self, iface: str, member: str, msg: Message) -> Reply:
        if member == "Connect":
            await self.connect()
        elif member == "Disconnect":
            pending, self._connecting = self._connecting, None
            if pending is not None:  # bluetoothd cancels a pending connection
                pending.cancel()
                await asyncio.wait({pending}, timeout=5.0)
            if self.link is not None:
                self.link.drop("local host terminated connection")
        elif member == "Pair":
            await self.pair()
        else:
            raise BluezError("NotSupported", f"{member} is not supported")
        return Reply()

    async def connect(self) -> None:
        if self.connected:
            return
        if self.blocked:
            raise BluezError("Failed", "Device is blocked")
        if self._connecting is not None:
            raise BluezError("InProgress", "In Progress")
        task = asyncio.get_running_loop().create_task(self._connect())
        self._connecting = task
        try:
            await asyncio.wait({task})
        finally:
            if self._connecting is task:
                self._connecting = None
            if not task.done():  # we were cancelled ourselves (simulator stopping)
                task.cancel()
        if task.cancelled():
            if self.link is not None:
                self.link.drop("connection cancelled")
            raise BluezError("Failed", "Operation cancelled")
        task.result()

    async def _connect(self) -> None:
        try:
            link = await self.adapter.radio.connect(self.adapter, self.address)
        except ConnectError as exc:
            raise BluezError("Failed", str(exc)) from None
        self.link = link
        link.sink = self
        self.changed(DEVICE, {"Connected": True})
        try:
            await link.exchange_mtu(self.adapter.preferred_mtu)
            db = await att_client.discover(link)
        except (LinkDown, AttError):
            raise BluezError("Failed", "Software caused connection abort") from None
        self._gatt = mirror(self.path, db, link)
        assert self.server is not None
        for obj in self._gatt:
            self.server.add(obj)
        uuids = sorted(set(self.uuids) | {s.uuid for s in db})
        self.uuids = uuids
        self.services_resolved = True
        self.changed(DEVICE, {"UUIDs": uuids, "ServicesResolved": True})

    async def pair(self) -> None:
        if self.paired:
            raise BluezError("AlreadyExists", "Already Exists")
        if not self.connected:
            await self.connect()
        assert self.link is not None
        self.link.encrypted = True  # no SMP: pairing always succeeds, keys are not modelled
        self.paired = True
        self.changed(DEVICE, {"Paired": True, "Bonded": True})

    # -- link events (CentralSink, and peripheral-side bookkeeping) -------------------------

    def attach_incoming(self, link: Link) -> None:
        """Peripheral side: a central connected to us."""
        self.link = link
        self.changed(DEVICE, {"Connected": True})

    def on_notification(self, value_handle: int, value: bytes) -> None:
        for obj in self._gatt:
            if isinstance(obj, RemoteCharacteristic) and obj.char.value_handle == value_handle:
                obj.on_notification(value)

    def on_link_down(self, link: Link) -> None:
        if link is not self.link:
            return
        if self.services_resolved:
            self.services_resolved = False
            self.changed(DEVICE, {"ServicesResolved": False})
        self.changed(DEVICE, {"Connected": False})
        for obj in reversed(self._gatt):
            if isinstance(obj, RemoteCharacteristic):
                obj.close()
            if self.server is not None:
                self.server.remove(obj)
        self._gatt = []

    async def drop_sessions(self, sender: str) -> None:
        for obj in self._gatt:
            if isinstance(obj, RemoteCharacteristic):
                await obj.drop_session(sender)
