"""bless (peripheral process, host A) and bleak (this process, host B) over the simulator."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from bleak import BleakScanner
from bleak.exc import (
    BleakDBusError,
    BleakError,
    BleakGATTProtocolError,
    BleakGATTProtocolErrorCode,
)

from ble_lock.sim.att import AttOp, Direction
from ble_lock.sim.harness import BleHarness

ECHO_SERVICE = "5e1a0001-0000-4000-8000-00805f9b34fb"
ECHO = "5e1a0002-0000-4000-8000-00805f9b34fb"
INFO = "5e1a0003-0000-4000-8000-00805f9b34fb"
SECRET = "5e1a0004-0000-4000-8000-00805f9b34fb"
PAIRED = "5e1a0006-0000-4000-8000-00805f9b34fb"
PERIPHERAL = f"{Path(__file__).parent / 'echo_peripheral.py'}:main"

pytestmark = pytest.mark.timeout(60)


async def start_echo(ble: BleHarness, name: str = "SimEcho", host: int = 0) -> None:
    await ble.start_peripheral(PERIPHERAL, name, host=host, ready="ready")


async def test_scan_by_service_uuid_and_by_name(ble_sim: BleHarness) -> None:
    await start_echo(ble_sim)
    central = ble_sim.central(host=1)
    by_uuid = await central.find(service_uuid=ECHO_SERVICE)
    by_name = await central.find(name="SimEcho")
    assert by_uuid.address == by_name.address == ble_sim.address(0)
    assert by_name.name == "SimEcho"


async def test_scan_filter_excludes_other_services(ble_sim: BleHarness) -> None:
    await start_echo(ble_sim)
    central = ble_sim.central(host=1)
    other = "0000abcd-0000-1000-8000-00805f9b34fb"
    found = await BleakScanner.discover(timeout=0.5, service_uuids=[other], bluez=central.bluez)
    assert found == []
    found = await BleakScanner.discover(
        timeout=1.0, service_uuids=[ECHO_SERVICE], bluez=central.bluez
    )
    assert [d.address for d in found] == [ble_sim.address(0)]


async def test_connect_read_write_notify(ble_hosts: BleHarness) -> None:
    """Runs on the simulator, or on two real adapters with --ble-adapter (twice)."""
    await start_echo(ble_hosts)
    central = ble_hosts.central(host=1)
    device = await central.find(name="SimEcho")
    async with central.client(device) as client:
        assert client.is_connected
        assert await client.read_gatt_char(INFO) == b"sim-echo SimEcho"
        got: asyncio.Queue[bytes] = asyncio.Queue()
        await client.start_notify(ECHO, lambda _c, data: got.put_nowait(bytes(data)))
        await client.write_gatt_char(ECHO, b"with-response", response=True)
        assert await asyncio.wait_for(got.get(), 5) == b"with-response"
        await client.write_gatt_char(ECHO, b"command", response=False)
        assert await asyncio.wait_for(got.get(), 5) == b"command"
        assert await client.read_gatt_char(ECHO) == b"command"
    if ble_hosts.sim is not None:
        assert ble_hosts.sim.links() == []  # disconnected


async def test_trace_counts_round_trips(ble_sim: BleHarness) -> None:
    await start_echo(ble_sim)
    central = ble_sim.central(host=1)
    async with central.client(await central.find(name="SimEcho")) as client:
        assert ble_sim.sim is not None
        (link,) = ble_sim.sim.links()
        got: asyncio.Queue[bytes] = asyncio.Queue()
        await client.start_notify(ECHO, lambda _c, data: got.put_nowait(bytes(data)))
        start = len(link.trace)
        await client.write_gatt_char(ECHO, b"abc", response=True)
        await asyncio.wait_for(got.get(), 5)
        ops = [(r.direction, r.op, r.size) for r in link.trace[start:]]
        assert (Direction.C2P, AttOp.WRITE_REQ, 6) in ops
        assert (Direction.P2C, AttOp.HANDLE_VALUE_NTF, 6) in ops
        assert (Direction.P2C, AttOp.WRITE_RSP, 1) in ops
        assert link.trace[0].op == AttOp.EXCHANGE_MTU_REQ


async def test_gatt_errors_map_to_bleak_protocol_errors(ble_sim: BleHarness) -> None:
    await start_echo(ble_sim)
    central = ble_sim.central(host=1)
    async with central.client(await central.find(name="SimEcho")) as client:
        with pytest.raises(BleakGATTProtocolError) as err:
            await client.read_gatt_char(SECRET)
        assert err.value.code == BleakGATTProtocolErrorCode.READ_NOT_PERMITTED
        with pytest.raises(BleakGATTProtocolError) as err:
            await client.write_gatt_char(INFO, b"x", response=True)
        assert err.value.code == BleakGATTProtocolErrorCode.REQUEST_NOT_SUPPORTED
        with pytest.raises(BleakGATTProtocolError) as err:
            await client.write_gatt_char(ECHO, b"fail:0x85", response=True)
        assert err.value.code == 0x85  # the application's own ATT error code
        with pytest.raises(BleakGATTProtocolError) as err:
            await client.write_gatt_char(ECHO, b"crash", response=True)
        assert err.value.code == BleakGATTProtocolErrorCode.UNLIKELY_ERROR


async def test_paths_and_handles_follow_bluez(ble_sim: BleHarness) -> None:
    await start_echo(ble_sim)
    central = ble_sim.central(host=1)
    async with central.client(await central.find(name="SimEcho")) as client:
        service = client.services.get_service(ECHO_SERVICE)
        assert service is not None
        assert service.handle == 0x000A
        path = service.obj[0]
        assert path.endswith("/org/bluez/hci0/dev_00_5E_1A_00_00_01/service000a")
        echo = service.get_characteristic(ECHO)
        assert echo is not None
        assert echo.obj[0] == f"{path}/char000b"
        assert [d.uuid for d in echo.descriptors] == ["00002902-0000-1000-8000-00805f9b34fb"]
        assert echo.descriptors[0].obj[0] == f"{path}/char000b/desc000d"


async def test_not_connected_operations_raise(ble_sim: BleHarness) -> None:
    await start_echo(ble_sim)
    central = ble_sim.central(host=1)
    client = central.client(await central.find(name="SimEcho"))
    with pytest.raises(BleakError):
        await client.read_gatt_char(INFO)


async def test_encrypted_read_needs_pairing(ble_sim: BleHarness) -> None:
    await start_echo(ble_sim)
    central = ble_sim.central(host=1)
    async with central.client(await central.find(name="SimEcho")) as client:
        with pytest.raises(BleakDBusError) as err:
            await client.read_gatt_char(PAIRED)
        assert err.value.dbus_error == "org.bluez.Error.NotPermitted"
        assert err.value.dbus_error_details == "Not paired"
        await client.pair()
        assert await client.read_gatt_char(PAIRED) == b"bonded"
        remote = ble_sim.host(1).adapter().devices[ble_sim.address(0)]
        assert remote.paired


async def test_unpair_removes_the_device_and_it_can_be_found_again(ble_sim: BleHarness) -> None:
    await start_echo(ble_sim)
    central = ble_sim.central(host=1)
    dropped = asyncio.Event()
    client = central.client(
        await central.find(name="SimEcho"), disconnected_callback=lambda _c: dropped.set()
    )
    await client.connect()
    await client.unpair()  # RemoveDevice: disconnects and forgets the device
    await asyncio.wait_for(dropped.wait(), 5)
    assert ble_sim.address(0) not in ble_sim.host(1).adapter().devices
    assert ble_sim.sim is not None
    assert ble_sim.sim.links() == []
    async with central.client(await central.find(name="SimEcho")) as again:
        assert await again.read_gatt_char(INFO) == b"sim-echo SimEcho"
