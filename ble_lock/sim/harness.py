"""Two-host test harness: a peripheral process on one host, a bleak central on another.

The same harness runs on the simulator (default) or on real adapters of this machine
(``BleHarness.real(["hci0", "hci1"])``): host ``i`` is then adapter ``i`` on the real system
bus. Peripheral processes get the adapter they should use in ``BLE_ADAPTER``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ble_lock.sim import att
from ble_lock.sim.errors import SimError
from ble_lock.sim.host import Host
from ble_lock.sim.process import HostProcess, spawn
from ble_lock.sim.simulator import Simulator

if TYPE_CHECKING:
    from bleak import BleakClient
    from bleak.args.bluez import BlueZClientArgs
    from bleak.backends.device import BLEDevice

ADAPTER_ENV = "BLE_ADAPTER"
#: the logger of bleak's BlueZ manager, and the start of its warning when its bus dies
BLEAK_MANAGER_LOGGER = "bleak.backends.bluezdbus.manager"
_BUS_LOST = "D-Bus connection to BlueZ was lost"
BLEAK_TIMEOUT_S = 10.0

log = logging.getLogger(__name__)
_ENV_KEYS = ("DBUS_SYSTEM_BUS_ADDRESS", "PATH")


@dataclass(frozen=True, slots=True, kw_only=True)
class Central:
    """A bleak central in this process, on one adapter of one host."""

    host: int
    adapter: str
    #: the clients :meth:`client` made; the harness disconnects them when it closes
    clients: weakref.WeakSet[BleakClient] = field(
        default_factory=weakref.WeakSet, repr=False, compare=False
    )

    @property
    def bluez(self) -> BlueZClientArgs:
        """The ``bluez=`` argument for BleakScanner/BleakClient."""
        return {"adapter": self.adapter}

    async def find(
        self, *, name: str | None = None, service_uuid: str | None = None, timeout: float = 5.0
    ) -> BLEDevice:
        """Scan until a device with this name and/or advertised service UUID shows up."""
        from bleak import BleakScanner

        def wanted(device: BLEDevice, adv: Any) -> bool:
            return (name is None or adv.local_name == name) and (
                service_uuid is None or service_uuid.lower() in adv.service_uuids
            )

        kwargs: dict[str, Any] = {"bluez": self.bluez}
        if service_uuid:
            kwargs["service_uuids"] = [service_uuid]
        device = await BleakScanner.find_device_by_filter(wanted, timeout=timeout, **kwargs)
        if device is None:
            raise SimError(f"no device name={name!r} service={service_uuid!r} in {timeout}s")
        return device

    def client(self, device: BLEDevice | str, **kwargs: Any) -> BleakClient:
        """A ``BleakClient`` on this adapter; the harness disconnects it when it closes.

        bleak keeps a client's own D-Bus connection open after its link dropped, until
        ``disconnect()``: the harness calls it, so the connection never sees its daemon stop.
        """
        from bleak import BleakClient

        client = BleakClient(device, bluez=self.bluez, **kwargs)
        self.clients.add(client)
        return client


class BleHarness:
    """Hosts for a test; closes everything it started, in order."""

    def __init__(self, sim: Simulator | None, real_adapters: Sequence[str] = ()) -> None:
        self.sim = sim
        self.real_adapters = list(real_adapters)
        self.processes: list[HostProcess] = []
        self._saved_env: dict[str, str | None] | None = None
        self._central_host: int | None = None
        self._centrals: list[Central] = []

    @classmethod
    async def simulated(
        cls, hosts: int = 2, adapters: int | Sequence[int] = 1, mtu: int = att.MAX_MTU
    ) -> BleHarness:
        return cls(await Simulator(hosts, adapters=adapters, preferred_mtu=mtu).start())

    @classmethod
    def real(cls, adapters: Sequence[str]) -> BleHarness:
        if len(adapters) < 2:
            raise SimError("real-radio tests need two adapters (--ble-adapter, twice)")
        return cls(None, adapters)

    @property
    def simulated_radio(self) -> bool:
        return self.sim is not None

    def host(self, index: int) -> Host:
        if self.sim is None:
            raise SimError("no simulated hosts on real radios")
        return self.sim.hosts[index]

    def adapter_name(self, host: int, adapter: str = "hci0") -> str:
        return adapter if self.sim is not None else self.real_adapters[host]

    def address(self, host: int, adapter: str = "hci0") -> str:
        """BLE address of a simulated adapter (what a central connects to)."""
        return self.host(host).adapter(adapter).address

    async def spawn(
        self,
        target: str,
        *args: str,
        host: int = 0,
        adapter: str = "hci0",
        env: dict[str, str] | None = None,
    ) -> HostProcess:
        """Run ``target`` (``module:function`` or ``file.py:function``) as a process on ``host``."""
        extra = {ADAPTER_ENV: self.adapter_name(host, adapter), **(env or {})}
        if self.sim is not None:
            proc = await spawn(self.host(host), target, *args, env=extra)
        else:
            proc = await spawn(_RealHost(), target, *args, env=extra)
        self.processes.append(proc)
        return proc

    async def start_peripheral(
        self,
        target: str,
        *args: str,
        host: int = 0,
        adapter: str = "hci0",
        ready: str | None = None,
        timeout: float = 20.0,
    ) -> HostProcess:
        """Spawn a peripheral and wait until it advertises (and printed ``ready``, if given)."""
        proc = await self.spawn(target, *args, host=host, adapter=adapter)
        if ready is not None:
            await proc.expect(ready, timeout)
        if self.sim is not None:
            await proc.until(self.host(host).adapter(adapter).wait_advertising(timeout))
        return proc

    def central(self, host: int = 1, adapter: str = "hci0") -> Central:
        """A bleak central in this process. One host per process (bleak has one global bus)."""
        if self._central_host not in (None, host):
            raise SimError(
                "bleak uses one system bus per event loop: put more centrals on adapters of "
                f"host {self._central_host} (adapters=...), or spawn() a central process"
            )
        if self._central_host is None:
            self._central_host = host
            if self.sim is not None:
                self._saved_env = {k: os.environ.get(k) for k in _ENV_KEYS}
                os.environ.update({k: self.host(host).env()[k] for k in _ENV_KEYS})
        central = Central(host=host, adapter=self.adapter_name(host, adapter))
        self._centrals.append(central)
        return central

    async def close(self) -> None:
        """Peripherals first (they unregister), then bleak's clients, then the simulator."""
        for proc in reversed(self.processes):
            await proc.stop()
        for central in self._centrals:
            for client in list(central.clients):
                await disconnect_quietly(client)
        self._centrals = []
        if self.sim is not None:
            if self._central_host is None:
                await self.sim.stop()
            else:
                await _stop_host_under_bleak(self.sim, self.host(self._central_host))
        if self._saved_env is not None:
            for key, value in self._saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            self._saved_env = None


class _RealHost:
    """Stands in for a Host when running on the machine's real Bluetooth stack."""

    name = "system"

    def env(self) -> dict[str, str]:
        return dict(os.environ)


async def disconnect_quietly(client: BleakClient) -> None:
    """``client.disconnect()``, which also closes its D-Bus connection; errors only logged."""
    try:
        await asyncio.wait_for(client.disconnect(), BLEAK_TIMEOUT_S)
    except Exception as exc:  # the link or bus is gone already: nothing more to close
        log.debug("disconnecting %r: %r", client, exc)


class _ExpectedBusLoss(logging.Filter):
    """Drops bleak's "connection to BlueZ was lost" warnings for buses the harness stopped.

    bleak keeps one BlueZ manager per event loop on its own connection to the system bus,
    with no public way to close it; when the harness stops the simulated host under it, the
    manager's watcher retrieves the error and warns, then rebuilds its bus on next use. The
    harness counts the connections it is about to cut (the daemon lists them) and expects
    one such warning per loop; this filter swallows it and wakes the harness.
    """

    def __init__(self) -> None:
        super().__init__()
        self.expected = 0
        self.seen = asyncio.Event()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.expected > 0 and record.levelno == logging.WARNING and _BUS_LOST in str(record.msg):
            self.expected -= 1
            self.seen.set()
            return False
        return True


async def _stop_host_under_bleak(sim: Simulator, host: Host) -> None:
    """Stop ``sim``; bleak's manager (if it connected to ``host``) loses its bus quietly."""
    left = await host.local_connections()
    if not left:
        await sim.stop()
        return
    log.debug("bleak's connections to %s to be cut: %s", host.name, sorted(left))
    expected = _ExpectedBusLoss()
    expected.expected = 1  # one manager per event loop; other leftovers do not log
    logger = logging.getLogger(BLEAK_MANAGER_LOGGER)
    logger.addFilter(expected)
    try:
        await sim.stop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(expected.seen.wait(), BLEAK_TIMEOUT_S)
    finally:
        logger.removeFilter(expected)
