"""MTU, acquired sockets, faults, several centrals: bless and bleak over the simulator."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from pathlib import Path

import pytest
from bleak.exc import BleakDBusError
from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus

from ble_lock.sim.att import AttOp, Direction
from ble_lock.sim.harness import BleHarness
from ble_lock.sim.process import HostProcess
from ble_lock.testing.waiting import eventually

ECHO = "5e1a0002-0000-4000-8000-00805f9b34fb"
INFO = "5e1a0003-0000-4000-8000-00805f9b34fb"
INDICATE = "5e1a0005-0000-4000-8000-00805f9b34fb"
HERE = Path(__file__).parent
PERIPHERAL = f"{HERE / 'echo_peripheral.py'}:main"
CENTRAL = f"{HERE / 'echo_central.py'}:main"

pytestmark = pytest.mark.timeout(60)


async def start_echo(ble: BleHarness, name: str = "SimEcho") -> HostProcess:
    return await ble.start_peripheral(PERIPHERAL, name, host=0, ready="ready")


async def test_mtu_exchange_gives_517_by_default(ble_sim: BleHarness) -> None:
    await start_echo(ble_sim)
    central = ble_sim.central(host=1)
    async with central.client(await central.find(name="SimEcho")) as client:
        await client._backend._acquire_mtu()  # bleak's way to learn the MTU on BlueZ
        assert client.mtu_size == 517
        echo = client.services.get_characteristic(ECHO)
        assert echo is not None
        assert echo.max_write_without_response_size == 514


@pytest.mark.ble_sim(mtu=23)
async def test_mtu_23_limits_commands_and_notifications(ble_sim: BleHarness) -> None:
    await start_echo(ble_sim)
    central = ble_sim.central(host=1)
    async with central.client(await central.find(name="SimEcho")) as client:
        await client._backend._acquire_mtu()  # bleak's way to learn the MTU on BlueZ
        assert client.mtu_size == 23
        got: asyncio.Queue[bytes] = asyncio.Queue()
        await client.start_notify(ECHO, lambda _c, d: got.put_nowait(bytes(d)))
        await client.write_gatt_char(ECHO, b"c" * 20, response=False)
        assert await asyncio.wait_for(got.get(), 5) == b"c" * 20
        with pytest.raises(BleakDBusError) as err:
            await client.write_gatt_char(ECHO, b"c" * 21, response=False)
        assert err.value.dbus_error == "org.bluez.Error.Failed"
        # A notification longer than ATT_MTU-3 arrives cut, as BlueZ sends it.
        await client.write_gatt_char(ECHO, b"big:40", response=True)
        assert await asyncio.wait_for(got.get(), 5) == b"z" * 20


@pytest.mark.ble_sim(mtu=23)
async def test_long_write_uses_prepare_and_execute(ble_sim: BleHarness) -> None:
    peripheral = await start_echo(ble_sim)
    central = ble_sim.central(host=1)
    async with central.client(await central.find(name="SimEcho")) as client:
        assert ble_sim.sim is not None
        (link,) = ble_sim.sim.links()
        start = len(link.trace)
        await client.write_gatt_char(ECHO, bytes(range(30)), response=True)
        ops = [r.op for r in link.trace[start:]]
        assert ops.count(AttOp.PREPARE_WRITE_REQ) == 2  # 18 + 12 bytes
        assert AttOp.EXECUTE_WRITE_REQ in ops
        # bluetoothd hands the application one WriteValue per prepared chunk.
        assert await peripheral.expect(f"write {bytes(range(18)).hex()}", 5)
        assert await peripheral.expect(f"write {bytes(range(18, 30)).hex()}", 5)


async def test_acquire_notify_socket_path(ble_sim: BleHarness) -> None:
    peripheral = await start_echo(ble_sim)
    central = ble_sim.central(host=1)
    async with central.client(await central.find(name="SimEcho")) as client:
        got: asyncio.Queue[bytes] = asyncio.Queue()
        await client.start_notify(
            ECHO, lambda _c, d: got.put_nowait(bytes(d)), bluez={"use_start_notify": False}
        )
        await peripheral.expect("subscribed", 5)
        await client.write_gatt_char(ECHO, b"via-fd", response=True)
        assert await asyncio.wait_for(got.get(), 5) == b"via-fd"
        await client.stop_notify(ECHO)
        await peripheral.expect("unsubscribed", 5)


async def test_acquire_write_socket_becomes_write_commands(ble_sim: BleHarness) -> None:
    peripheral = await start_echo(ble_sim)
    central = ble_sim.central(host=1)
    async with central.client(await central.find(name="SimEcho")) as client:
        echo = client.services.get_characteristic(ECHO)
        assert echo is not None
        bus = MessageBus(bus_type=BusType.SYSTEM, negotiate_unix_fd=True)
        await bus.connect()
        try:
            reply = await bus.call(
                Message(
                    destination="org.bluez",
                    path=echo.obj[0],
                    interface="org.bluez.GattCharacteristic1",
                    member="AcquireWrite",
                    signature="a{sv}",
                    body=[{}],
                )
            )
            assert reply.message_type == MessageType.METHOD_RETURN, reply.body
            assert reply.body[1] == 517
            with socket.socket(fileno=reply.unix_fds[0]) as sock:
                sock.send(b"fd-write")
                await peripheral.expect(f"write {b'fd-write'.hex()}", 5)
        finally:
            bus.disconnect()


async def test_link_drop_seen_on_both_sides_then_reconnect(ble_sim: BleHarness) -> None:
    peripheral = await start_echo(ble_sim)
    central = ble_sim.central(host=1)
    device = await central.find(name="SimEcho")
    dropped = asyncio.Event()
    client = central.client(device, disconnected_callback=lambda _c: dropped.set())
    await client.connect()
    await client.start_notify(ECHO, lambda _c, _d: None)
    await peripheral.expect("subscribed", 5)
    assert ble_sim.sim is not None
    assert ble_sim.sim.drop_links(ble_sim.host(0), ble_sim.host(1)) == 1
    await asyncio.wait_for(dropped.wait(), 5)
    assert not client.is_connected
    await peripheral.expect("unsubscribed", 5)  # bless: no subscriber left
    incoming = ble_sim.host(0).adapter().devices[ble_sim.address(1)]
    assert not incoming.connected  # the peripheral's Device1 for the central
    async with central.client(device) as again:
        assert await again.read_gatt_char(INFO) == b"sim-echo SimEcho"


async def test_drop_after_n_att_operations(ble_sim: BleHarness) -> None:
    await start_echo(ble_sim)
    central = ble_sim.central(host=1)
    dropped = asyncio.Event()
    client = central.client(
        await central.find(name="SimEcho"), disconnected_callback=lambda _c: dropped.set()
    )
    await client.connect()
    assert ble_sim.sim is not None
    (link,) = ble_sim.sim.links()
    link.drop_after(2)
    await client.read_gatt_char(INFO)
    await client.read_gatt_char(INFO)
    await asyncio.wait_for(dropped.wait(), 5)
    assert link.down_reason == "fault: dropped after ATT operations"
    await client.disconnect()


async def test_refused_connection_then_allowed(ble_sim: BleHarness) -> None:
    await start_echo(ble_sim)
    central = ble_sim.central(host=1)
    device = await central.find(name="SimEcho")
    assert ble_sim.sim is not None
    ble_sim.sim.refuse_connections(ble_sim.host(0))
    with pytest.raises(BleakDBusError) as err:
        await central.client(device).connect()
    assert err.value.dbus_error == "org.bluez.Error.Failed"
    ble_sim.sim.refuse_connections(ble_sim.host(0), refuse=False)
    async with central.client(device) as client:
        assert client.is_connected


async def test_out_of_range_drops_link_and_hides_adverts(ble_sim: BleHarness) -> None:
    await start_echo(ble_sim)
    central = ble_sim.central(host=1)
    dropped = asyncio.Event()
    client = central.client(
        await central.find(name="SimEcho"), disconnected_callback=lambda _c: dropped.set()
    )
    await client.connect()
    assert ble_sim.sim is not None
    ble_sim.sim.set_in_range(ble_sim.host(0), ble_sim.host(1), False)
    await asyncio.wait_for(dropped.wait(), 5)
    await client.disconnect()
    with pytest.raises(Exception, match="no device"):
        await central.find(name="SimEcho", timeout=0.4)
    ble_sim.sim.set_in_range(ble_sim.host(0), ble_sim.host(1), True)
    assert (await central.find(name="SimEcho")).address == ble_sim.address(0)


@pytest.mark.ble_sim(hosts=3, adapters=(1, 4, 1))
async def test_four_centrals_on_adapters_and_one_in_another_process(ble_sim: BleHarness) -> None:
    peripheral = await start_echo(ble_sim)
    centrals = [ble_sim.central(host=1, adapter=f"hci{i}") for i in range(4)]
    queues: list[asyncio.Queue[bytes]] = [asyncio.Queue() for _ in centrals]
    async with contextlib.AsyncExitStack() as stack:
        for central, queue in zip(centrals, queues, strict=True):
            client = await stack.enter_async_context(
                central.client(await central.find(name="SimEcho"))
            )
            await client.start_notify(ECHO, lambda _c, d, q=queue: q.put_nowait(bytes(d)))
        other = await ble_sim.spawn(CENTRAL, "SimEcho", "from-host2", "hold", host=2)
        await other.expect("echo from-host2", 20)
        assert ble_sim.sim is not None
        assert len(ble_sim.sim.radio.links) == 5  # five centrals on one peripheral at once
        await client.write_gatt_char(ECHO, b"one", response=True)
        # bless notifies every subscriber: all in-process centrals see it.
        for queue in queues:
            while (value := await asyncio.wait_for(queue.get(), 5)) != b"one":
                pass
            assert value == b"one"
        assert await other.stop() == 0
    await peripheral.expect("unsubscribed", 5)
    assert os.environ["DBUS_SYSTEM_BUS_ADDRESS"] == ble_sim.host(1).address


async def test_indications_are_confirmed(ble_sim: BleHarness) -> None:
    await start_echo(ble_sim)
    central = ble_sim.central(host=1)
    async with central.client(await central.find(name="SimEcho")) as client:
        got: asyncio.Queue[bytes] = asyncio.Queue()
        await client.start_notify(INDICATE, lambda _c, d: got.put_nowait(bytes(d)))
        await client.write_gatt_char(ECHO, b"ind:hi", response=True)
        assert await asyncio.wait_for(got.get(), 5) == b"hi"
        assert ble_sim.sim is not None
        (link,) = ble_sim.sim.links()
        await eventually(lambda: AttOp.HANDLE_VALUE_CFM in [r.op for r in link.trace],
                         what="the indication's confirmation in the trace", timeout=5)
        ops = [(r.direction, r.op) for r in link.trace]
        assert (Direction.P2C, AttOp.HANDLE_VALUE_NTF) not in ops
        ind = ops.index((Direction.P2C, AttOp.HANDLE_VALUE_IND))
        assert (Direction.C2P, AttOp.HANDLE_VALUE_CFM) in ops[ind:]


async def test_notify_session_ends_when_its_dbus_client_leaves(ble_sim: BleHarness) -> None:
    peripheral = await start_echo(ble_sim)
    central = ble_sim.central(host=1)
    async with central.client(await central.find(name="SimEcho")) as client:
        echo = client.services.get_characteristic(ECHO)
        assert echo is not None
        bus = MessageBus(bus_type=BusType.SYSTEM)
        await bus.connect()
        reply = await bus.call(
            Message(
                destination="org.bluez",
                path=echo.obj[0],
                interface="org.bluez.GattCharacteristic1",
                member="StartNotify",
            )
        )
        assert reply.message_type == MessageType.METHOD_RETURN
        await peripheral.expect("subscribed", 5)
        bus.disconnect()  # bluetoothd drops the sessions of a client that left the bus
        await peripheral.expect("unsubscribed", 5)
        assert client.is_connected


async def test_connect_timeout_cancels_the_pending_connection(ble_sim: BleHarness) -> None:
    await start_echo(ble_sim)
    central = ble_sim.central(host=1)
    device = await central.find(name="SimEcho")
    assert ble_sim.sim is not None
    ble_sim.sim.set_in_range(ble_sim.host(0), ble_sim.host(1), False)
    with pytest.raises(TimeoutError):
        await central.client(device, timeout=0.3).connect()
    # bleak sent Disconnect while giving up: bluetoothd cancels the pending connection.
    remote = ble_sim.host(1).adapter().devices[ble_sim.address(0)]
    assert not remote.connecting
    ble_sim.sim.set_in_range(ble_sim.host(0), ble_sim.host(1), True)
    assert ble_sim.sim.links() == []
    async with central.client(device) as client:
        assert client.is_connected


async def test_bleak_retry_connector_establishes_a_connection(ble_sim: BleHarness) -> None:
    from bleak_retry_connector import BleakClientWithServiceCache, establish_connection

    await start_echo(ble_sim)
    central = ble_sim.central(host=1)
    device = await central.find(name="SimEcho")
    client = await establish_connection(
        BleakClientWithServiceCache, device, "SimEcho", max_attempts=2
    )
    try:
        assert await client.read_gatt_char(INFO) == b"sim-echo SimEcho"
    finally:
        await client.disconnect()
