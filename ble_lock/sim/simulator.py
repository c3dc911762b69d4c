"""The simulator: one radio, N hosts (each its own bus with ``org.bluez``), started in order."""

from __future__ import annotations

import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from ble_lock.sim import att
from ble_lock.sim.errors import SimError
from ble_lock.sim.host import Host
from ble_lock.sim.radio import Link, Radio, RadioConfig

# bleak runs ``bluetoothctl --version`` and switches features on the result (>= 5.55 needed).
BLUEZ_VERSION = "5.72"
_SHIM = f"#!/bin/sh\necho 'bluetoothctl: {BLUEZ_VERSION}'\n"


class Simulator:
    """``async with Simulator(hosts=2) as sim:`` — hosts ``sim.hosts[0]``, ``sim.hosts[1]``."""

    def __init__(
        self,
        hosts: int = 2,
        *,
        adapters: int | Sequence[int] = 1,
        config: RadioConfig | None = None,
        preferred_mtu: int = att.MAX_MTU,
    ) -> None:
        if hosts < 1:
            raise SimError("the simulator needs at least one host")
        per_host = [adapters] * hosts if isinstance(adapters, int) else list(adapters)
        if len(per_host) != hosts:
            raise SimError("give one adapter count per host")
        self.radio = Radio(config)
        self._per_host = per_host
        self._mtu = preferred_mtu
        self._shim: tempfile.TemporaryDirectory[str] | None = None
        self.hosts: list[Host] = []

    @property
    def config(self) -> RadioConfig:
        return self.radio.config

    async def start(self) -> Simulator:
        self._shim = tempfile.TemporaryDirectory(prefix="ble-sim-bin-")
        shim = Path(self._shim.name) / "bluetoothctl"
        shim.write_text(_SHIM)
        shim.chmod(shim.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        try:
            for i, n in enumerate(self._per_host):
                host = Host(
                    self.radio, i, adapters=n, shim_dir=shim.parent, preferred_mtu=self._mtu
                )
                self.hosts.append(host)
                await host.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def stop(self) -> None:
        await self.radio.close()
        for host in reversed(self.hosts):
            await host.stop()
        self.hosts = []
        if self._shim is not None:
            self._shim.cleanup()
            self._shim = None

    async def __aenter__(self) -> Simulator:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- conveniences for tests and benchmarks -----------------------------------------------

    def links(self) -> list[Link]:
        return sorted(self.radio.links, key=lambda lk: lk.id)

    def links_between(self, a: Host, b: Host) -> list[Link]:
        addrs_a = {ad.address for ad in a.adapters}
        addrs_b = {ad.address for ad in b.adapters}
        return [
            lk
            for lk in self.links()
            if {lk.central.address, lk.peripheral.address} & addrs_a
            and {lk.central.address, lk.peripheral.address} & addrs_b
        ]

    def set_in_range(self, a: Host, b: Host, in_range: bool) -> None:
        for x in a.adapters:
            for y in b.adapters:
                self.radio.set_in_range(x.address, y.address, in_range)

    def drop_links(self, a: Host, b: Host, reason: str = "fault: dropped") -> int:
        """Drop every link between two hosts now; returns how many."""
        links = self.links_between(a, b)
        for link in links:
            link.drop(reason)
        return len(links)

    def refuse_connections(self, host: Host, refuse: bool = True) -> None:
        for adapter in host.adapters:
            self.radio.refuse_connections(adapter.address, refuse)
