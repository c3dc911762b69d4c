"""A small bless GATT server for the simulator's own tests (runs in its own process).

Service ECHO_SERVICE:
- ECHO (read, write, write-without-response, notify): a write stores the value and notifies it.
- INFO (read): b"sim-echo" + the server name.
- SECRET (notify only): reading it is not permitted.
- INDICATE (read, indicate): writing b"ind:<data>" to ECHO indicates <data> here.
- PAIRED (read, encryption required): b"bonded".
Prints "ready", then "subscribed"/"unsubscribed" as bless's view of the connection changes,
and "write <hex>" for each write it receives. Writing b"fail:0x85" makes the write fail with
that application error code; b"crash" raises a plain exception.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from bless import BlessServer
from bless.backends.attribute import GATTAttributePermissions
from bless.backends.characteristic import (
    GATTCharacteristicProperties as Props,
)
from dbus_next.errors import DBusError

ECHO_SERVICE = "5e1a0001-0000-4000-8000-00805f9b34fb"
ECHO = "5e1a0002-0000-4000-8000-00805f9b34fb"
INFO = "5e1a0003-0000-4000-8000-00805f9b34fb"
SECRET = "5e1a0004-0000-4000-8000-00805f9b34fb"
INDICATE = "5e1a0005-0000-4000-8000-00805f9b34fb"
PAIRED = "5e1a0006-0000-4000-8000-00805f9b34fb"
RW = GATTAttributePermissions.readable | GATTAttributePermissions.writeable


async def main(args: list[str]) -> None:
    name = args[0] if args else "SimEcho"
    server = BlessServer(name=name, adapter=os.environ.get("BLE_ADAPTER"))

    def on_read(char: Any, **kwargs: Any) -> bytes:
        return bytes(char.value)

    def on_write(char: Any, value: Any, **kwargs: Any) -> None:
        data = bytes(value)
        print(f"write {data.hex()}", flush=True)
        if data.startswith(b"big:"):  # ask for a notification of that many bytes
            data = b"z" * int(data[4:])
        if data.startswith(b"fail:"):  # an application error code for the central
            raise DBusError("org.bluez.Error.Failed", data[5:].decode())
        if data == b"crash":
            raise RuntimeError("application bug")
        if data.startswith(b"ind:"):
            indicated = server.get_characteristic(INDICATE)
            indicated.value = data[4:]
            server.update_value(ECHO_SERVICE, INDICATE)
            return
        char.value = data
        if str(char.uuid) == ECHO:
            server.update_value(ECHO_SERVICE, ECHO)

    server.read_request_func = on_read
    server.write_request_func = on_write
    await server.add_new_service(ECHO_SERVICE)
    echo_props = Props.read | Props.write | Props.write_without_response | Props.notify
    await server.add_new_characteristic(ECHO_SERVICE, ECHO, echo_props, bytearray(b""), RW)
    await server.add_new_characteristic(
        ECHO_SERVICE, INFO, Props.read, bytearray(b"sim-echo " + name.encode()), RW
    )
    await server.add_new_characteristic(ECHO_SERVICE, SECRET, Props.notify, bytearray(b"x"), RW)
    await server.add_new_characteristic(
        ECHO_SERVICE, INDICATE, Props.read | Props.indicate, bytearray(b""), RW
    )
    encrypted = (
        GATTAttributePermissions.readable | GATTAttributePermissions.read_encryption_required
    )
    await server.add_new_characteristic(
        ECHO_SERVICE, PAIRED, Props.read, bytearray(b"bonded"), encrypted
    )
    await server.start()
    print("ready", flush=True)
    connected = False
    try:
        while True:
            now = await server.is_connected()
            if now != connected:
                connected = now
                print("subscribed" if now else "unsubscribed", flush=True)
            await asyncio.sleep(0.02)
    finally:
        await server.stop()
        print("stopped", flush=True)
