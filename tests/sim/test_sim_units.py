"""Pieces of the simulator on their own: filters, advert sizes, error mapping, links."""

from __future__ import annotations

import asyncio

import pytest
from dbus_fast import Variant

from ble_lock.sim import att
from ble_lock.sim.adapter import _parse_filter, adv_data_length
from ble_lock.sim.att import AttError, AttOp, CharDef, Direction, ServiceDef
from ble_lock.sim.errors import BluezError, SimError
from ble_lock.sim.harness import BleHarness
from ble_lock.sim.link import LinkDown
from ble_lock.sim.radio import Advertisement, ConnectError, Link, Radio, RadioConfig
from ble_lock.testing.waiting import eventually

UUID = "5e1a0001-0000-4000-8000-00805f9b34fb"
ADV = Advertisement(local_name="Lock-42", service_uuids=(UUID,))


def test_discovery_filter_uuids_rssi_pattern_transport() -> None:
    f = _parse_filter({"UUIDs": Variant("as", [UUID.upper()]), "RSSI": Variant("n", -60)})
    assert f.matches("00:11", ADV, -50)
    assert not f.matches("00:11", ADV, -70)
    assert not f.matches("00:11", Advertisement(service_uuids=("180f",)), -50)
    by_pattern = _parse_filter({"Pattern": Variant("s", "Lock")})
    assert by_pattern.matches("00:11", ADV, -90)
    assert not by_pattern.matches("00:11", Advertisement(local_name="Other"), -90)
    assert _parse_filter({"Pattern": Variant("s", "00:11")}).matches("00:11:22", ADV, -1)
    assert not _parse_filter({"Transport": Variant("s", "bredr")}).matches("00:11", ADV, -1)
    assert _parse_filter({}).duplicate_data is True
    assert _parse_filter({"DuplicateData": Variant("b", False)}).duplicate_data is False


@pytest.mark.parametrize(
    "options",
    [{"Nope": Variant("b", True)}, {"Transport": Variant("s", "radio")}],
)
def test_bad_discovery_filters_are_invalid_arguments(options: dict[str, Variant]) -> None:
    with pytest.raises(BluezError) as err:
        _parse_filter(options)
    assert err.value.name == "org.bluez.Error.InvalidArguments"


def test_legacy_advert_length() -> None:
    assert adv_data_length(ADV) == 3 + 18  # flags + one 128-bit UUID; the name is in scan rsp
    assert adv_data_length(Advertisement(service_uuids=("180f", "180a"))) == 3 + 6
    big = Advertisement(service_uuids=(UUID,), manufacturer_data={0xFFFF: bytes(8)})
    assert adv_data_length(big) == 3 + 18 + 12


def test_att_errors_map_like_bluez() -> None:
    assert att.dbus_error_from_att(att.READ_NOT_PERMITTED) == (
        "org.bluez.Error.NotPermitted",
        "Read not permitted",
    )
    assert att.dbus_error_from_att(0x80) == (
        "org.bluez.Error.Failed",
        "Operation failed with ATT error: 0x80",
    )
    assert att.att_code_from_app_error("org.bluez.Error.NotPermitted", "", 0x03) == 0x03
    assert att.att_code_from_app_error("org.freedesktop.DBus.Error.Failed", "", 0x02) == 0x0E
    assert att.att_code_from_app_error("org.bluez.Error.Failed", "0x85", 0x02) == 0x85
    assert att.att_code_from_app_error("org.bluez.Error.Failed", "0x20", 0x02) == 0x80
    assert att.att_code_from_app_error("org.bluez.Error.Failed", "nope", 0x02) == 0x80
    assert att.uuid128("2902") == att.CCCD_UUID


class _Server:
    def __init__(self) -> None:
        self.values: dict[int, bytes] = {0x0C: bytes(range(60))}

    def database(self) -> tuple[ServiceDef, ...]:
        char = CharDef(handle=0x0B, value_handle=0x0C, uuid=UUID, flags=("read",), descriptors=())
        return (
            ServiceDef(
                handle=0x0A, end_handle=0x0C, uuid=UUID, primary=True, characteristics=(char,)
            ),
        )

    async def read(self, link: Link, handle: int, offset: int) -> bytes:
        if handle not in self.values:
            raise AttError(att.READ_NOT_PERMITTED)
        return self.values[handle][offset:][: link.mtu - 1]

    async def write(
        self, link: Link, handle: int, offset: int, value: bytes, request: bool
    ) -> None:
        self.values[handle] = value

    def link_closed(self, link: Link) -> None:
        self.closed = link


class _Node:
    def __init__(self, address: str, mtu: int = 517) -> None:
        self.address = address
        self.preferred_mtu = mtu
        self.gatt = _Server()
        self.reports: list[str] = []
        self.downs: list[Link] = []

    def on_advertisement(self, sender: str, adv: Advertisement, rssi: int) -> None:
        self.reports.append(sender)

    def on_link_up(self, link: Link) -> None:
        pass

    def on_link_down(self, link: Link) -> None:
        self.downs.append(link)


async def test_long_read_uses_blobs_and_trace_counts_pdus() -> None:
    from ble_lock.sim import att_client

    radio = Radio(RadioConfig(adv_interval_s=0.01))
    central, peripheral = _Node("C", mtu=23), _Node("P")
    radio.attach(central)
    radio.attach(peripheral)
    radio.set_advertisement("P", ADV)
    link = await radio.connect(central, "P")
    assert await link.exchange_mtu(central.preferred_mtu) == 23
    assert await att_client.read(link, 0x0C) == bytes(range(60))
    ops = [r.op for r in link.trace]
    assert ops.count(AttOp.READ_BLOB_REQ) == 2  # 22 + 22 + 16 bytes
    assert [r.size for r in link.trace if r.op == AttOp.READ_RSP] == [23]
    with pytest.raises(AttError) as err:
        await att_client.read(link, 0x0D)
    assert err.value.code == att.READ_NOT_PERMITTED
    assert link.trace[-1].op == AttOp.ERROR_RSP
    assert link.trace[-1].direction == Direction.P2C
    await radio.close()
    assert central.downs == [link]
    assert peripheral.downs == [link]


async def test_connect_times_out_when_nobody_advertises() -> None:
    radio = Radio(RadioConfig(connect_timeout_s=0.05))
    central = _Node("C")
    radio.attach(central)
    with pytest.raises(ConnectError, match="timed out"):
        await radio.connect(central, "P")
    with pytest.raises(SimError):
        radio.attach(_Node("C"))
    await radio.close()


async def test_scanners_get_repeated_reports_until_they_stop() -> None:
    radio = Radio(RadioConfig(adv_interval_s=0.01))
    scanner, advertiser = _Node("S"), _Node("A")
    radio.attach(scanner)
    radio.attach(advertiser)
    radio.set_advertisement("A", ADV)
    radio.start_scan("S")
    await eventually(lambda: len(scanner.reports) >= 3,  # repeated, not one-shot
                     what="three reports", timeout=5)
    radio.stop_scan("S")
    seen = len(scanner.reports)
    # five advertising rounds, counted by a second scanner (not slept): nothing more for
    # the one whose scan stopped
    witness = _Node("W")
    radio.attach(witness)
    radio.start_scan("W")
    await eventually(lambda: len(witness.reports) >= 5, what="five rounds", timeout=5)
    assert len(scanner.reports) == seen
    await radio.close()


def test_real_harness_maps_hosts_to_adapters() -> None:
    with pytest.raises(SimError):
        BleHarness.real(["hci0"])
    real = BleHarness.real(["hci0", "hci1"])
    assert real.central(host=1).bluez == {"adapter": "hci1"}
    assert not real.simulated_radio
    with pytest.raises(SimError):
        real.central(host=0)  # one host per test process


GUARD_S = 5.0  # only bounds a failure (a pipe that never stops); a pass never waits on it


class _GatedServer(_Server):
    """Its reads answer when the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.gate: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def read(self, link: Link, handle: int, offset: int) -> bytes:
        self.entered.set()
        return await self.gate


async def _link_serving_a_read(radio: Radio) -> tuple[Link, _GatedServer, asyncio.Task[bytes]]:
    from ble_lock.sim import att_client

    central, peripheral = _Node("C"), _Node("P")
    gated = peripheral.gatt = _GatedServer()
    radio.attach(central)
    radio.attach(peripheral)
    radio.set_advertisement("P", ADV)
    link = await radio.connect(central, "P")
    read = asyncio.create_task(att_client.read(link, 0x0C))
    await gated.entered.wait()
    return link, gated, read


async def test_drop_racing_a_served_read_stops_both_pipes() -> None:
    """Python 3.11's ``asyncio.wait_for`` returns the inner result when its task is cancelled
    in the loop turn that result arrives, swallowing the cancellation. A pipe that did went
    back to its queue and waited there forever: awaiting it hung the radio's teardown, and at
    exit it was "Task was destroyed but it is pending"."""
    radio = Radio(RadioConfig(adv_interval_s=0.01))
    link, server, read = await _link_serving_a_read(radio)
    server.gate.set_result(b"late")  # the answer and the drop in the same loop turn
    link.drop("fault: dropped")
    with pytest.raises(LinkDown):
        await read
    await asyncio.wait_for(link.wait_closed(), GUARD_S)
    await radio.close()


async def test_radio_close_waits_for_the_pipes_of_the_links_it_drops() -> None:
    radio = Radio(RadioConfig(adv_interval_s=0.01))
    link, server, read = await _link_serving_a_read(radio)
    server.gate.set_result(b"late")
    await asyncio.wait_for(radio.close(), GUARD_S)
    assert not link.up
    assert link.closed
    with pytest.raises(LinkDown):
        await read
