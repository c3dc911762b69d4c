"""org.bluez.Adapter1 + GattManager1 + LEAdvertisingManager1: one simulated controller.

An adapter is a node on the radio: it advertises what applications registered, scans while
D-Bus clients hold discovery sessions (filtered like bluetoothd's merged discovery filter),
keeps a Device1 object per remote device, and serves its GATT applications over links.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from dbus_fast import Message, MessageType, Variant

from ble_lock.sim import att, ifaces
from ble_lock.sim.dbusobj import PROPS, DBusObject, ObjectServer, Reply
from ble_lock.sim.device import RemoteDevice, device_path
from ble_lock.sim.errors import BluezError, SimError
from ble_lock.sim.gatt_server import LocalGatt
from ble_lock.sim.radio import Advertisement, Link, Radio

ADV_IFACE = "org.bluez.LEAdvertisement1"
_FILTER_KEYS = {
    "UUIDs",
    "RSSI",
    "Pathloss",
    "Transport",
    "DuplicateData",
    "Discoverable",
    "Pattern",
}


@dataclass(slots=True, kw_only=True)
class _Filter:
    uuids: set[str] = field(default_factory=set)
    rssi: int | None = None
    transport: str = "auto"
    duplicate_data: bool = True
    pattern: str = ""

    def matches(self, address: str, adv: Advertisement, rssi: int) -> bool:
        if self.transport == "bredr":
            return False
        if self.uuids and not self.uuids & {att.uuid128(u) for u in adv.service_uuids}:
            return False
        if self.rssi is not None and rssi < self.rssi:
            return False
        name = adv.local_name or ""
        return not self.pattern or address.startswith(self.pattern) or name.startswith(self.pattern)


def _parse_filter(options: dict[str, Variant]) -> _Filter:
    unknown = set(options) - _FILTER_KEYS
    if unknown:
        raise BluezError("InvalidArguments", f"Invalid arguments in method call: {sorted(unknown)}")
    v = {k: o.value for k, o in options.items()}
    transport = str(v.get("Transport", "auto"))
    if transport not in ("auto", "bredr", "le"):
        raise BluezError("InvalidArguments", "Invalid arguments in method call")
    return _Filter(
        uuids={att.uuid128(str(u)) for u in v.get("UUIDs", [])},
        rssi=int(v["RSSI"]) if "RSSI" in v else None,
        transport=transport,
        duplicate_data=bool(v.get("DuplicateData", True)),
        pattern=str(v.get("Pattern", "")),
    )


def adv_data_length(adv: Advertisement) -> int:
    """Legacy advertising payload bytes (the local name goes in the scan response)."""
    size = 3  # Flags
    base = att.uuid128("0000")[8:]
    sizes = [2 if att.uuid128(u).endswith(base) else 16 for u in adv.service_uuids]
    for width in (2, 16):
        n = sizes.count(width)
        size += 2 + width * n if n else 0
    size += sum(4 + len(v) for v in adv.manufacturer_data.values())
    size += sum(
        2 + (2 if att.uuid128(u).endswith(base) else 16) + len(v)
        for u, v in adv.service_data.items()
    )
    size += 3 if adv.tx_power is not None else 0
    size += 4 if adv.appearance is not None else 0
    return size


class Adapter(DBusObject):
    """``/org/bluez/hciN`` on one host, and a node on the radio."""

    def __init__(
        self,
        server: ObjectServer,
        radio: Radio,
        name: str,
        address: str,
        *,
        preferred_mtu: int = att.MAX_MTU,
        max_adv_len: int = 31,
    ) -> None:
        super().__init__(
            f"/org/bluez/{name}", [ifaces.ADAPTER, ifaces.GATT_MANAGER, ifaces.ADV_MANAGER]
        )
        self.hci = name
        self.radio = radio
        self._address = address
        self._mtu = preferred_mtu
        self.max_adv_len = max_adv_len
        self.system_name = f"sim-{address[-8:].replace(':', '')}"
        self.alias: str | None = None
        self.powered = True
        self.devices: dict[str, RemoteDevice] = {}
        self._sessions: dict[str, _Filter | None] = {}
        self._filters: dict[str, _Filter] = {}
        self._adverts: dict[tuple[str, str], Advertisement] = {}
        self._server = server
        self._advertising = asyncio.Event()
        self._gatt = LocalGatt(server, radio.config, self._incoming_device_path)

    # -- Node ----------------------------------------------------------------------------

    @property
    def address(self) -> str:
        return self._address

    @property
    def preferred_mtu(self) -> int:
        return self._mtu

    @property
    def gatt(self) -> LocalGatt:
        return self._gatt

    def on_advertisement(self, sender: str, adv: Advertisement, rssi: int) -> None:
        sessions = [self._filters.get(s, _Filter()) for s in self._sessions]
        matching = [f for f in sessions if f.matches(sender, adv, rssi)]
        if not matching:
            return
        report_all = any(not f.duplicate_data for f in matching)
        dev = self.devices.get(sender)
        if dev is None:
            dev = RemoteDevice(self, sender)
            dev.update_from_advert(adv, rssi, report_all=False)
            self.devices[sender] = dev
            self._server.add(dev)
        else:
            dev.update_from_advert(adv, rssi, report_all)

    def on_link_up(self, link: Link) -> None:
        if link.peripheral is self:
            self._device(link.central.address).attach_incoming(link)

    def on_link_down(self, link: Link) -> None:
        if link.peripheral is self:
            dev = self.devices.get(link.central.address)
            if dev is not None:
                dev.on_link_down(link)

    def _device(self, address: str) -> RemoteDevice:
        dev = self.devices.get(address)
        if dev is None:
            dev = RemoteDevice(self, address)
            self.devices[address] = dev
            self._server.add(dev)
        return dev

    def _incoming_device_path(self, link: Link) -> str:
        return device_path(self.path, link.central.address)

    # -- properties ------------------------------------------------------------------------

    def props(self, iface: str) -> dict[str, Any]:
        if iface == ifaces.ADAPTER.name:
            return {
                "Address": self.address,
                "AddressType": "public",
                "Name": self.system_name,
                "Alias": self.alias or self.system_name,
                "Class": 0,
                "Powered": self.powered,
                "Discoverable": False,
                "DiscoverableTimeout": 180,
                "Pairable": True,
                "PairableTimeout": 0,
                "Discovering": bool(self._sessions),
                "UUIDs": [],
                "Modalias": "usb:v1D6Bp0246d0548",
                "Roles": ["central", "peripheral"],
            }
        if iface == ifaces.ADV_MANAGER.name:
            return {
                "ActiveInstances": len(self._adverts),
                "SupportedInstances": 4,
                "SupportedIncludes": ["tx-power", "appearance", "local-name"],
                "SupportedSecondaryChannels": [],
            }
        return {}

    def set_prop(self, iface: str, name: str, value: Any) -> None:
        if name == "Alias":
            self.alias = str(value) or None
        elif name == "Powered":
            self.powered = bool(value)
        elif name not in ("Discoverable", "DiscoverableTimeout", "Pairable", "PairableTimeout"):
            raise BluezError("NotPermitted", f"{name} is read-only")
        self.changed(iface, {name: self.props(iface)[name]})

    # -- methods ---------------------------------------------------------------------------

    async def call(self, iface: str, member: str, msg: Message) -> Reply:
        sender = msg.sender or ""
        if member == "SetDiscoveryFilter":
            self._set_filter(sender, msg.body[0])
        elif member == "GetDiscoveryFilters":
            return Reply(sig="as", body=[sorted(_FILTER_KEYS)])
        elif member == "StartDiscovery":
            self._start_discovery(sender)
        elif member == "StopDiscovery":
            if sender not in self._sessions:
                raise BluezError("Failed", "No discovery started")
            self._stop_discovery(sender)
        elif member == "RemoveDevice":
            self._remove_device(msg.body[0])
        elif member == "RegisterApplication":
            await self._gatt.register(sender, msg.body[0])
            await self._watch(sender)
        elif member == "UnregisterApplication":
            if not self._gatt.unregister(sender, msg.body[0]):
                raise BluezError("DoesNotExist", "Does Not Exist")
        elif member == "RegisterAdvertisement":
            await self._register_advert(sender, msg.body[0])
        elif member == "UnregisterAdvertisement":
            if self._adverts.pop((sender, msg.body[0]), None) is None:
                raise BluezError("DoesNotExist", "Does Not Exist")
            self._adverts_changed()
        return Reply()

    def _set_filter(self, sender: str, options: dict[str, Variant]) -> None:
        if options:
            self._filters[sender] = _parse_filter(options)
        else:
            self._filters.pop(sender, None)

    def _start_discovery(self, sender: str) -> None:
        if not self.powered:
            raise BluezError("NotReady", "Resource Not Ready")
        if sender in self._sessions:
            raise BluezError("InProgress", "Operation already in progress")
        was = bool(self._sessions)
        self._sessions[sender] = None
        self.radio.start_scan(self.address)
        if not was:
            self.changed(ifaces.ADAPTER.name, {"Discovering": True})

    def _stop_discovery(self, sender: str) -> None:
        self._sessions.pop(sender, None)
        if self._sessions:
            return
        self.radio.stop_scan(self.address)
        self.changed(ifaces.ADAPTER.name, {"Discovering": False})
        for dev in self.devices.values():
            dev.clear_rssi()

    def _remove_device(self, path: str) -> None:
        dev = next((d for d in self.devices.values() if d.path == path), None)
        if dev is None:
            raise BluezError("DoesNotExist", "Does Not Exist")
        if dev.link is not None:
            dev.link.drop("device removed")
        del self.devices[dev.address]
        self._server.remove(dev)

    async def _watch(self, sender: str) -> None:
        rule = f"type='signal',sender='{sender}',interface='{PROPS}',member='PropertiesChanged'"
        await self._server.add_match(rule)

    async def _register_advert(self, sender: str, path: str) -> None:
        if (sender, path) in self._adverts:
            raise BluezError("AlreadyExists", "Already Exists")
        if len(self._adverts) >= 4:
            raise BluezError("NotPermitted", "Maximum advertisements reached")
        reply = await self._server.call(
            Message(
                destination=sender,
                path=path,
                interface=PROPS,
                member="GetAll",
                signature="s",
                body=[ADV_IFACE],
            ),
            self.radio.config.att_timeout_s,
        )
        if reply.message_type != MessageType.METHOD_RETURN:
            raise BluezError("Failed", "Failed to parse advertisement.")
        adv = self._parse_advert({k: v.value for k, v in reply.body[0].items()})
        if adv_data_length(adv) > self.max_adv_len:
            raise BluezError("InvalidLength", "Advertising data too long.")
        self._adverts[(sender, path)] = adv
        self._adverts_changed()

    def _parse_advert(self, p: dict[str, Any]) -> Advertisement:
        kind = str(p.get("Type", "peripheral"))
        if kind not in ("peripheral", "broadcast"):
            raise BluezError("InvalidArguments", f"Invalid advertising type {kind}")
        includes = [str(i) for i in p.get("Includes", [])]
        name = p.get("LocalName") or (
            self.alias or self.system_name if "local-name" in includes else None
        )
        return Advertisement(
            local_name=str(name) if name else None,
            service_uuids=tuple(att.uuid128(str(u)) for u in p.get("ServiceUUIDs", []) if u),
            manufacturer_data={
                int(k): bytes(_unvariant(v)) for k, v in p.get("ManufacturerData", {}).items()
            },
            service_data={
                att.uuid128(str(k)): bytes(_unvariant(v))
                for k, v in p.get("ServiceData", {}).items()
            },
            tx_power=int(p["TxPower"]) if "tx-power" in includes and "TxPower" in p else None,
            appearance=int(p["Appearance"]) if "Appearance" in p else None,
            connectable=kind == "peripheral",
        )

    def _adverts_changed(self) -> None:
        current = list(self._adverts.values())
        self.radio.set_advertisement(self.address, current[-1] if current else None)
        if current:
            self._advertising.set()
        else:
            self._advertising.clear()
        self.changed(ifaces.ADV_MANAGER.name, {"ActiveInstances": len(current)})

    def is_advertising(self) -> bool:
        return bool(self._adverts)

    async def wait_advertising(self, timeout: float) -> None:
        """Until an application registered an advertisement on this adapter."""
        try:
            await asyncio.wait_for(self._advertising.wait(), timeout)
        except TimeoutError:
            raise SimError(f"nothing advertised on {self.hci} within {timeout}s") from None

    # -- clients leaving the bus --------------------------------------------------------------

    async def client_gone(self, name: str) -> None:
        """A D-Bus client disconnected: bluetoothd drops everything it held."""
        if name in self._sessions:
            self._stop_discovery(name)
        self._filters.pop(name, None)
        self._gatt.unregister(name)
        if any(owner == name for owner, _ in self._adverts):
            self._adverts = {k: v for k, v in self._adverts.items() if k[0] != name}
            self._adverts_changed()
        for dev in list(self.devices.values()):
            with contextlib.suppress(Exception):
                await dev.drop_sessions(name)

    async def close(self) -> None:
        self.radio.detach(self)
        await self._gatt.close()


def _unvariant(value: Any) -> Any:
    return value.value if isinstance(value, Variant) else value
