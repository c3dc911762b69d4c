"""A dropped link's PDU pipes stop, even when the drop races a request being served.

Python 3.11's ``asyncio.wait_for`` returns the inner result when its task is cancelled in
the same loop turn as that result arrives, swallowing the cancellation. A pipe whose
``wait_for(serve())`` did that went back to its queue and waited there forever: awaiting it
hung the radio's teardown, and at exit it was "Task was destroyed but it is pending".
"""

from __future__ import annotations

import asyncio

import pytest

from ble_lock.sim import att, att_client
from ble_lock.sim.att import CharDef, ServiceDef
from ble_lock.sim.link import LinkDown
from ble_lock.sim.radio import Advertisement, Link, Radio, RadioConfig

UUID = "5e1a0001-0000-4000-8000-00805f9b34fb"
GUARD_S = 5.0  # only bounds a failure (a pipe that never stops); a pass never waits on it


class _GatedServer:
    """Its reads answer when the test opens the gate."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.gate: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def database(self) -> tuple[ServiceDef, ...]:
        char = CharDef(handle=0x0B, value_handle=0x0C, uuid=UUID, flags=("read",), descriptors=())
        return (
            ServiceDef(
                handle=0x0A, end_handle=0x0C, uuid=UUID, primary=True, characteristics=(char,)
            ),
        )

    async def read(self, link: Link, handle: int, offset: int) -> bytes:
        self.entered.set()
        return await self.gate

    async def write(
        self, link: Link, handle: int, offset: int, value: bytes, request: bool
    ) -> None:
        raise att.AttError(att.WRITE_NOT_PERMITTED)

    def link_closed(self, link: Link) -> None:
        pass


class _Node:
    def __init__(self, address: str) -> None:
        self.address = address
        self.preferred_mtu = att.MAX_MTU
        self.gatt = _GatedServer()

    def on_advertisement(self, sender: str, adv: Advertisement, rssi: int) -> None:
        pass

    def on_link_up(self, link: Link) -> None:
        pass

    def on_link_down(self, link: Link) -> None:
        pass


async def _served_link(radio: Radio) -> tuple[Link, _GatedServer, asyncio.Task[bytes]]:
    central, peripheral = _Node("C"), _Node("P")
    radio.attach(central)
    radio.attach(peripheral)
    radio.set_advertisement("P", Advertisement(local_name="P"))
    link = await radio.connect(central, "P")
    read = asyncio.create_task(att_client.read(link, 0x0C))
    await peripheral.gatt.entered.wait()
    return link, peripheral.gatt, read


async def test_drop_racing_a_served_read_stops_both_pipes() -> None:
    radio = Radio(RadioConfig(adv_interval_s=0.01))
    link, server, read = await _served_link(radio)
    server.gate.set_result(b"late")  # the answer and the drop in the same loop turn
    link.drop("fault: dropped")
    with pytest.raises(LinkDown):
        await read
    await asyncio.wait_for(link.wait_closed(), GUARD_S)
    await radio.close()


async def test_radio_close_waits_for_the_pipes_of_the_links_it_drops() -> None:
    radio = Radio(RadioConfig(adv_interval_s=0.01))
    link, server, read = await _served_link(radio)
    server.gate.set_result(b"late")
    await asyncio.wait_for(radio.close(), GUARD_S)
    assert not link.up
    assert link.closed
    with pytest.raises(LinkDown):
        await read
