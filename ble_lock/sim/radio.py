"""The simulated medium: advertisers, scanners, links with an ATT MTU, air time, faults, trace.

No D-Bus here: adapters (``adapter.py``) attach to the radio as nodes. A link carries ATT
PDUs in two ordered pipes (one per direction); when each arrives is the connection-event
model of ``airtime.py`` (``RadioConfig.timing``; none by default). Every PDU is recorded in
the link's trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from ble_lock.sim.airtime import LinkTiming
from ble_lock.sim.att import ServiceDef
from ble_lock.sim.errors import SimError
from ble_lock.sim.link import AttRecord as AttRecord
from ble_lock.sim.link import Link as Link
from ble_lock.sim.link import LinkDown as LinkDown


@dataclass(frozen=True, slots=True, kw_only=True)
class Advertisement:
    """What a peripheral's registered LE advertisement carries."""

    local_name: str | None = None
    service_uuids: tuple[str, ...] = ()
    manufacturer_data: Mapping[int, bytes] = field(default_factory=dict)
    service_data: Mapping[str, bytes] = field(default_factory=dict)
    tx_power: int | None = None
    appearance: int | None = None
    connectable: bool = True
    address: str | None = None
    """The advertiser address on air when it is not the node's own (a private address)."""
    address_type: str = "public"


@dataclass(slots=True, kw_only=True)
class RadioConfig:
    """Knobs of the medium. Change them at any time (tests, benchmarks)."""

    adv_interval_s: float = 0.1
    adv_rotation_s: float = 1.0
    """The kernel's advertising-instance rotation (``duration``; 2 s on Linux)."""
    timing: LinkTiming = field(default_factory=LinkTiming)
    """The links' time model (``airtime.py``): connection interval, packets per event,
    PHY, data length. Read when a link queues a PDU; a new value takes effect at once."""
    seed: int = 0
    """Seeds the radio's random source (each link's connection-event phase)."""
    rssi: int = -50
    att_timeout_s: float = 30.0
    connect_timeout_s: float = 5.0

    @property
    def att_latency_s(self) -> float:
        """The connection interval (``timing.interval_s``), by its older name."""
        return self.timing.interval_s

    @att_latency_s.setter
    def att_latency_s(self, value: float) -> None:
        self.timing = replace(self.timing, interval_s=value)


class AirClock:
    """The time links run on: the event loop's clock, and sleeping on it. Tests give a
    :class:`VirtualAirClock` so that the model's event counts do not depend on the speed
    of the machine."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep_until(self, t: float) -> None:
        """Until ``t``; always yields once, so that what a delivery scheduled (a fault's
        drop after N operations) runs before the next PDU of the same event lands."""
        await asyncio.sleep(max(0.0, t - self.now()))


class VirtualAirClock(AirClock):
    """Time that jumps (a discrete-event clock for in-process tests): a sleeper wakes
    when it is the earliest and the loop has had ``settle`` turns to queue anything
    earlier; the clock then moves to its time (never back). Only the model's schedule
    decides when things happen, not the machine's speed."""

    def __init__(self, start: float = 0.0, *, settle: int = 20) -> None:
        self.t = start
        self._settle = settle
        self._sleepers: list[tuple[float, int]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self.t

    async def sleep_until(self, t: float) -> None:
        entry = (max(t, self.t), next(self._order))
        heapq.heappush(self._sleepers, entry)
        try:
            calm = 0
            while calm < self._settle:
                await asyncio.sleep(0)
                calm = calm + 1 if self._sleepers[0] == entry else 0
        finally:
            self._sleepers.remove(entry)
            heapq.heapify(self._sleepers)
        self.t = max(self.t, entry[0])


class ConnectError(Exception):
    """A connection attempt failed (refused, nobody advertising there)."""


class GattServer(Protocol):
    """The peripheral side of a link (implemented in ``gatt_server.py``)."""

    def database(self) -> tuple[ServiceDef, ...]: ...

    async def read(self, link: Link, handle: int, offset: int) -> bytes: ...

    async def write(
        self, link: Link, handle: int, offset: int, value: bytes, request: bool
    ) -> None: ...

    def link_closed(self, link: Link) -> None: ...


class Node(Protocol):
    """An adapter on the radio."""

    @property
    def address(self) -> str: ...

    @property
    def preferred_mtu(self) -> int: ...

    @property
    def gatt(self) -> GattServer: ...

    def on_advertisement(self, sender: str, adv: Advertisement, rssi: int) -> None: ...

    def on_link_up(self, link: Link) -> None: ...

    def on_link_down(self, link: Link) -> None: ...


class CentralSink(Protocol):
    """Where a link delivers what the central receives (the central's Device object)."""

    def on_notification(self, value_handle: int, value: bytes) -> None: ...

    def on_link_down(self, link: Link) -> None: ...


class Radio:
    """All nodes of one simulation and what is on air between them."""

    def __init__(self, config: RadioConfig | None = None, *,
                 rng: random.Random | None = None, air_clock: AirClock | None = None) -> None:
        self.config = config or RadioConfig()
        self.rng = rng if rng is not None else random.Random(self.config.seed)  # noqa: S311 -- a simulation's phases, not a secret
        self.air_clock = air_clock if air_clock is not None else AirClock()
        self.nodes: dict[str, Node] = {}
        self.adverts: dict[str, Advertisement] = {}
        self.scanners: set[str] = set()
        self.links: set[Link] = set()
        self._out_of_range: set[frozenset[str]] = set()
        self._refusing: set[str] = set()
        self._rssi: dict[frozenset[str], int] = {}
        self._wake = asyncio.Event()
        self._adverts_changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def attach(self, node: Node) -> None:
        if node.address in self.nodes:
            raise SimError(f"address {node.address} already on the radio")
        self.nodes[node.address] = node

    def detach(self, node: Node) -> None:
        for link in [lk for lk in self.links if node in (lk.central, lk.peripheral)]:
            link.drop("adapter removed")
        self.nodes.pop(node.address, None)
        self.adverts.pop(node.address, None)
        self.scanners.discard(node.address)

    async def close(self) -> None:
        """Drop every link and wait for their PDU pipes to stop; stop advertising reports."""
        dropped = list(self.links)
        for link in dropped:
            link.drop("simulator stopped")
        for link in dropped:
            await link.wait_closed()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # -- advertising and scanning -------------------------------------------------------

    def set_advertisement(self, address: str, adv: Advertisement | None) -> None:
        if adv is None:
            self.adverts.pop(address, None)
        else:
            self.adverts[address] = adv
        self._adverts_changed.set()
        self._adverts_changed = asyncio.Event()

    def start_scan(self, address: str) -> None:
        self.scanners.add(address)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._advertise())
        # First reports shortly after StartDiscovery has been answered.
        asyncio.get_running_loop().call_later(0.005, self._wake.set)

    def stop_scan(self, address: str) -> None:
        self.scanners.discard(address)

    async def _advertise(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.adv_interval_s)
            self._wake.clear()
            for scanner in list(self.scanners):
                node = self.nodes.get(scanner)
                if node is None:
                    continue
                for sender, adv in list(self.adverts.items()):
                    if sender != scanner and self.in_range(scanner, sender):
                        node.on_advertisement(adv.address or sender, adv,
                                              self.rssi(scanner, sender))

    # -- faults ---------------------------------------------------------------------------

    def in_range(self, a: str, b: str) -> bool:
        return frozenset((a, b)) not in self._out_of_range

    def set_in_range(self, a: str, b: str, in_range: bool) -> None:
        """Out of range: no adverts, no connections, and links between them drop."""
        key = frozenset((a, b))
        if in_range:
            self._out_of_range.discard(key)
            self._adverts_changed.set()
            self._adverts_changed = asyncio.Event()
            return
        self._out_of_range.add(key)
        for link in self.links_between(a, b):
            link.drop("out of range (supervision timeout)")

    def refuse_connections(self, address: str, refuse: bool = True) -> None:
        if refuse:
            self._refusing.add(address)
        else:
            self._refusing.discard(address)

    def rssi(self, a: str, b: str) -> int:
        return self._rssi.get(frozenset((a, b)), self.config.rssi)

    def set_rssi(self, a: str, b: str, rssi: int) -> None:
        self._rssi[frozenset((a, b))] = rssi

    def links_between(self, a: str, b: str) -> list[Link]:
        return [lk for lk in self.links if {lk.central.address, lk.peripheral.address} == {a, b}]

    # -- connections ------------------------------------------------------------------------

    def advertiser(self, address: str) -> str | None:
        """The node advertising from ``address`` now (its own or a private address)."""
        for node, adv in self.adverts.items():
            if (adv.address or node) == address:
                return node
        return None

    def _reachable(self, central: str, peripheral: str) -> bool:
        """Connectable advertising from that address, in range (a connection request
        answers an advertisement: nothing on air, nothing to connect to)."""
        adv = self.adverts.get(peripheral)
        return (
            adv is not None
            and adv.connectable
            and (adv.address or peripheral) == peripheral
            and peripheral in self.nodes
            and self.in_range(central, peripheral)
        )

    async def connect(self, central: Node, peripheral: str) -> Link:
        """Create a link once the peripheral is advertising connectably and in range."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.connect_timeout_s
        while not self._reachable(central.address, peripheral):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise ConnectError("Connection timed out")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._adverts_changed.wait(), remaining)
        if peripheral in self._refusing:
            raise ConnectError("Software caused connection abort")
        link = Link(self, central, self.nodes[peripheral])
        self.links.add(link)
        link.peripheral.on_link_up(link)
        return link
