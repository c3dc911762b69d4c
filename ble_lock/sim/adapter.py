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
from ble_lock.sim.advertising import AdvertisingController
from ble_lock.sim.dbusobj import PROPS, DBusObject, ObjectServer, Reply
from ble_lock.sim.device import RemoteDevice, device_path
from ble_lock.sim.errors import BluezError, SimError
from ble_lock.sim.gatt_server import LocalGatt
from ble_lock.sim.radio import Advertisement, Link, Radio

ADV_IFACE = "org.bluez.LEAdvertisement1"
SCAN_RSP_NAME_MAX = 29
"""Bytes of a local name that fit a legacy scan response (31 minus the AD header);
a longer name is cut and sent as the shortened name (BlueZ ``src/shared/ad.c``)."""
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
        max_instances: int = 5,
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
        self._adverts: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        """(owner, path) -> (kernel instance, the advertisement's properties)."""
        self._link_instance: dict[Link, int] = {}
        self.advertising = AdvertisingController(
            address, rotation_s=lambda: radio.config.adv_rotation_s,
            publish=lambda adv: radio.set_advertisement(address, adv),
            max_instances=max_instances)
        self._server = server
        self._advertising = asyncio.Event()
        server.on_signal(self._on_signal)
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
            dev = RemoteDevice(self, sender, address_type=adv.address_type)
            dev.update_from_advert(adv, rssi, report_all=False)
            self.devices[sender] = dev
            self._server.add(dev)
        else:
            dev.update_from_advert(adv, rssi, report_all)

    def on_link_up(self, link: Link) -> None:
        if link.peripheral is self:
            self._link_instance[link] = self.advertising.connected()
            self._device(link.central.address).attach_incoming(link)

    def on_link_down(self, link: Link) -> None:
        if link.peripheral is self:
            instance = self._link_instance.pop(link, None)
            if instance is not None:
                self.advertising.disconnected(instance)
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
                "SupportedInstances": self.advertising.max_instances - len(self._adverts),
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
            gone = self._adverts.pop((sender, msg.body[0]), None)
            if gone is None:
                raise BluezError("DoesNotExist", "Does Not Exist")
            self.advertising.remove(gone[0])
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
        number = self.advertising.free_instance()
        if number is None:
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
        props = {k: v.value for k, v in reply.body[0].items()}
        adv = self._parse_advert(props)
        if adv_data_length(adv) > self.max_adv_len:
            raise BluezError("InvalidLength", "Advertising data too long.")
        if (sender, path) in self._adverts:
            raise BluezError("AlreadyExists", "Already Exists")
        number = self.advertising.free_instance()  # again: another one may have come first
        if number is None:
            raise BluezError("NotPermitted", "Maximum advertisements reached")
        self._adverts[(sender, path)] = (number, props)
        await self._server.add_match(
            f"type='signal',sender='{sender}',path='{path}',interface='{PROPS}',"
            f"member='PropertiesChanged'")
        self.advertising.add(number, adv)
        self._adverts_changed()

    def _on_signal(self, msg: Message) -> None:
        """bluetoothd watches a registered advertisement's properties: a change is parsed
        and the same instance refreshed (``src/advertising.c``: ``properties_changed`` ->
        ``refresh_advertisement`` -> ``MGMT_OP_ADD_ADVERTISING``)."""
        if (msg.member != "PropertiesChanged" or msg.sender is None or msg.path is None
                or not msg.body or msg.body[0] != ADV_IFACE):
            return
        entry = self._adverts.get((msg.sender, msg.path))
        if entry is None:
            return
        number, props = entry
        updated = dict(props)
        updated.update({k: v.value for k, v in msg.body[1].items()})
        try:
            adv = self._parse_advert(updated)
        except BluezError:
            return  # bluetoothd ignores a property it cannot parse
        if adv_data_length(adv) > self.max_adv_len:
            return  # refresh_legacy_adv: "Advertising data too long", nothing changes
        self._adverts[(msg.sender, msg.path)] = (number, updated)
        self.advertising.add(number, adv)

    def _parse_advert(self, p: dict[str, Any]) -> Advertisement:
        kind = str(p.get("Type", "peripheral"))
        if kind not in ("peripheral", "broadcast"):
            raise BluezError("InvalidArguments", f"Invalid advertising type {kind}")
        includes = [str(i) for i in p.get("Includes", [])]
        name = p.get("LocalName") or (
            self.alias or self.system_name if "local-name" in includes else None
        )
        return Advertisement(
            local_name=_scan_response_name(str(name)) if name else None,
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
        if current:
            self._advertising.set()
        else:
            self._advertising.clear()
        self.changed(ifaces.ADV_MANAGER.name, {
            "ActiveInstances": len(current),
            "SupportedInstances": self.advertising.max_instances - len(current)})

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
            for key in [k for k in self._adverts if k[0] == name]:
                self.advertising.remove(self._adverts.pop(key)[0])
            self._adverts_changed()
        for dev in list(self.devices.values()):
            with contextlib.suppress(Exception):
                await dev.drop_sessions(name)

    async def close(self) -> None:
        self.advertising.close()
        self.radio.detach(self)
        await self._gatt.close()


def _scan_response_name(name: str) -> str:
    """The name a scanner sees: cut to what fits the scan response (shortened name)."""
    raw = name.encode()
    if len(raw) <= SCAN_RSP_NAME_MAX:
        return name
    return raw[:SCAN_RSP_NAME_MAX].decode(errors="ignore")


def _unvariant(value: Any) -> Any:
    return value.value if isinstance(value, Variant) else value
