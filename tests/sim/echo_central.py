"""A bleak central in its own process (on another simulated host): connect, echo, report."""

from __future__ import annotations

import asyncio
import os

from bleak import BleakClient, BleakScanner

ECHO = "5e1a0002-0000-4000-8000-00805f9b34fb"


async def main(args: list[str]) -> None:
    name, message = args[0], args[1].encode()
    adapter = os.environ.get("BLE_ADAPTER", "hci0")
    device = await BleakScanner.find_device_by_name(name, timeout=10, bluez={"adapter": adapter})
    if device is None:
        print("not found", flush=True)
        return
    got: asyncio.Queue[bytes] = asyncio.Queue()
    async with BleakClient(device, bluez={"adapter": adapter}) as client:
        await client.start_notify(ECHO, lambda _c, d: got.put_nowait(bytes(d)))
        print("connected", flush=True)
        await client.write_gatt_char(ECHO, message, response=True)
        while True:  # notifications from other centrals' writes may come first
            value = await asyncio.wait_for(got.get(), 10)
            if value == message:
                break
        print(f"echo {value.decode()}", flush=True)
        if args[2:] == ["hold"]:  # keep the link until the test stops this process
            await asyncio.Event().wait()
