"""Start/stop hygiene: no leaked processes or file descriptors, no noise, clean CLI."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus

from ble_lock.sim.errors import SimError
from ble_lock.sim.harness import BleHarness
from ble_lock.sim.simulator import Simulator
from ble_lock.testing.waiting import yield_to_loop

PERIPHERAL = f"{Path(__file__).parent / 'echo_peripheral.py'}:main"


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def children() -> set[int]:
    me = os.getpid()
    out: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == me:
            out.add(int(entry))
    return out


@pytest.mark.timeout(120)
async def test_hundred_start_stop_cycles_leak_nothing() -> None:
    # Warm up once (imports, the loop's child watcher) so the baseline is steady.
    async with Simulator(hosts=1):
        pass
    fds, kids = open_fds(), children()
    for _ in range(100):
        sim = await Simulator(hosts=1).start()
        bus = MessageBus(bus_address=sim.hosts[0].address)
        await bus.connect()
        reply = await bus.call(
            Message(
                destination="org.bluez",
                path="/",
                interface="org.freedesktop.DBus.ObjectManager",
                member="GetManagedObjects",
            )
        )
        assert "/org/bluez/hci0" in reply.body[0]
        bus.disconnect()
        await bus.wait_for_disconnect()
        await sim.stop()
    await yield_to_loop()
    assert open_fds() == fds
    assert children() == kids


@pytest.mark.timeout(60)
async def test_peripheral_and_central_shut_down_quietly(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING")
    kids = children()
    ble = await BleHarness.simulated()
    peripheral = await ble.start_peripheral(PERIPHERAL, "Quiet", ready="ready")
    central = ble.central(host=1)
    async with central.client(await central.find(name="Quiet")) as client:
        await client.start_notify("5e1a0002-0000-4000-8000-00805f9b34fb", lambda _c, _d: None)
    await ble.close()
    assert peripheral.proc.returncode == 0
    assert peripheral.lines[-1] == "stopped"  # bless stopped advertising and unregistered
    assert peripheral.stderr == ""
    assert children() == kids
    assert [r.getMessage() for r in caplog.records] == []  # no warnings from bleak or us
    assert "DBUS_SYSTEM_BUS_ADDRESS" not in os.environ or not os.environ[
        "DBUS_SYSTEM_BUS_ADDRESS"
    ].startswith("unix:path=/tmp/ble-sim-")


async def test_object_tree_and_introspection_look_like_bluez() -> None:
    async with Simulator(hosts=1, adapters=2) as sim:
        bus = MessageBus(bus_address=sim.hosts[0].address, bus_type=BusType.SYSTEM)
        await bus.connect()
        try:
            root = await bus.introspect("org.bluez", "/")
            assert "org.freedesktop.DBus.ObjectManager" in [i.name for i in root.interfaces]
            adapter = await bus.introspect("org.bluez", "/org/bluez/hci1")
            names = {i.name for i in adapter.interfaces}
            assert {
                "org.bluez.Adapter1",
                "org.bluez.GattManager1",
                "org.bluez.LEAdvertisingManager1",
            } <= names
            reply = await bus.call(
                Message(
                    destination="org.bluez",
                    path="/org/bluez/hci0",
                    interface="org.bluez.Adapter1",
                    member="RemoveDevice",
                    signature="o",
                    body=["/org/bluez/hci0/dev_00_00_00_00_00_00"],
                )
            )
            assert reply.message_type == MessageType.ERROR
            assert reply.error_name == "org.bluez.Error.DoesNotExist"
            reply = await bus.call(
                Message(
                    destination="org.bluez",
                    path="/org/bluez/hci0",
                    interface="org.bluez.Adapter1",
                    member="SetDiscoveryFilter",
                    signature="a{sv}",
                    body=[{"Bogus": __import__("dbus_fast").Variant("b", True)}],
                )
            )
            assert reply.error_name == "org.bluez.Error.InvalidArguments"
        finally:
            bus.disconnect()


async def test_bluetoothctl_shim_satisfies_bleak_version_probe() -> None:
    async with Simulator(hosts=1) as sim:
        proc = await asyncio.create_subprocess_exec(
            "bluetoothctl", "--version", stdout=asyncio.subprocess.PIPE, env=sim.hosts[0].env()
        )
        out, _ = await proc.communicate()
    assert out.strip() == b"bluetoothctl: 5.72"


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(SimError):
        Simulator(hosts=0)
    with pytest.raises(SimError):
        Simulator(hosts=2, adapters=(1,))


@pytest.mark.timeout(60)
async def test_module_cli_prints_addresses_and_stops_on_sigint() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ble_lock.sim",
        "--hosts",
        "2",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    lines = []
    while not lines or not lines[-1].startswith("# running"):
        lines.append((await asyncio.wait_for(proc.stdout.readline(), 20)).decode().strip())
    exports = [ln for ln in lines if ln.startswith("export DBUS_SYSTEM_BUS_ADDRESS=")]
    assert len(exports) == 2
    address = exports[0].split("=", 1)[1].strip("'")
    bus = MessageBus(bus_address=address)
    await bus.connect()
    reply = await bus.call(
        Message(
            destination="org.bluez",
            path="/",
            interface="org.freedesktop.DBus.ObjectManager",
            member="GetManagedObjects",
        )
    )
    assert "/org/bluez/hci0" in reply.body[0]
    bus.disconnect()
    proc.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0
    assert err == b""


@pytest.mark.timeout(60)
async def test_a_peripheral_that_dies_is_reported_with_its_stderr(tmp_path: Path) -> None:
    script = tmp_path / "broken.py"
    script.write_text("import sys\n\ndef main():\n    sys.exit('no adapter for me')\n")
    ble = await BleHarness.simulated(hosts=1)
    try:
        with pytest.raises(SimError, match="no adapter for me"):
            await ble.start_peripheral(f"{script}:main", host=0)
    finally:
        await ble.close()
