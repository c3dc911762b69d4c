"""Two-host test harness: a peripheral process on one host, a bleak central on another.

The same harness runs on the simulator (default) or on real adapters of this machine
(``BleHarness.real(["hci0", "hci1"])``): host ``i`` is then adapter ``i`` on the real system
bus. Peripheral processes get the adapter they should use in ``BLE_ADAPTER``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
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
_ENV_KEYS = ("DBUS_SYSTEM_BUS_ADDRESS", "PATH")


@dataclass(frozen=True, slots=True, kw_only=True)
class Central:
    """A bleak central in this process, on one adapter of one host."""

    host: int
    adapter: str

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
        from bleak import BleakClient

        return BleakClient(device, bluez=self.bluez, **kwargs)


class BleHarness:
    """Hosts for a test; closes everything it started, in order."""

    def __init__(self, sim: Simulator | None, real_adapters: Sequence[str] = ()) -> None:
        self.sim = sim
        self.real_adapters = list(real_adapters)
        self.processes: list[HostProcess] = []
        self._saved_env: dict[str, str | None] | None = None
        self._central_host: int | None = None

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
        return Central(host=host, adapter=self.adapter_name(host, adapter))

    async def close(self) -> None:
        """Peripherals first (they unregister), then bleak's bus, then the simulator."""
        for proc in reversed(self.processes):
            await proc.stop()
        await reset_bleak()
        if self.sim is not None:
            await self.sim.stop()
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


async def reset_bleak() -> None:
    """Close bleak's global BlueZ manager of this event loop, quietly.

    bleak keeps one manager per event loop, bound to the bus it first connected to; closing
    it here (watcher task first, so no "connection lost" warning) releases its socket before
    the simulated bus goes away.
    """
    try:
        from bleak.backends.bluezdbus import manager as bluez_manager
    except ImportError:
        return
    loop = asyncio.get_running_loop()
    instances: dict[Any, Any] = bluez_manager._global_instances
    inst = instances.pop(loop, None)
    if inst is None:
        return
    # We close the bus on purpose: no "connection to BlueZ lost" warning, no callbacks.
    inst._handle_bus_disconnect = lambda exc: None
    bus = inst._bus
    if bus is not None:
        bus.disconnect()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(bus.wait_for_disconnect(), 5.0)
    watcher = inst._bus_watcher_task
    if watcher is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(watcher, 5.0)
