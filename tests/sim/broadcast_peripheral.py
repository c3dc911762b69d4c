"""A peripheral process that only broadcasts: a ``Type broadcast`` LE advertisement (no
GATT application) with the manufacturer data given as hex, company 0xFFFF. The simulator,
like the kernel, sends it non-connectable from a non-resolvable private address."""

import asyncio
import os

from dbus_next.aio import MessageBus
from dbus_next.constants import BusType, PropertyAccess
from dbus_next.service import ServiceInterface, dbus_property, method
from dbus_next.signature import Variant

PATH = "/org/example/broadcast0"


class Broadcast(ServiceInterface):  # type: ignore[misc]
    def __init__(self, payload: bytes) -> None:
        super().__init__("org.bluez.LEAdvertisement1")
        self._payload = payload

    @dbus_property(access=PropertyAccess.READ)  # type: ignore[misc]
    def Type(self) -> "s":  # type: ignore[name-defined]  # noqa: F821
        return "broadcast"

    @dbus_property(access=PropertyAccess.READ)  # type: ignore[misc]
    def ManufacturerData(self) -> "a{qv}":  # type: ignore[valid-type]  # noqa: F722
        return {0xFFFF: Variant("ay", self._payload)}

    @method()  # type: ignore[misc]
    def Release(self) -> None:
        pass


async def main(args: list[str]) -> None:
    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    adapter = os.environ.get("BLE_ADAPTER") or "hci0"
    bus.export(PATH, Broadcast(bytes.fromhex(args[0])))
    intro = await bus.introspect("org.bluez", f"/org/bluez/{adapter}")
    obj = bus.get_proxy_object("org.bluez", f"/org/bluez/{adapter}", intro)
    manager = obj.get_interface("org.bluez.LEAdvertisingManager1")
    await manager.call_register_advertisement(PATH, {})
    print("ready", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        bus.disconnect()
