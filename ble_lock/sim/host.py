"""A simulated host: its own dbus-daemon, an ``org.bluez`` on it, and one or more adapters."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from dbus_fast import BusType, Message, MessageType, RequestNameReply
from dbus_fast.aio import MessageBus

from ble_lock.sim import att
from ble_lock.sim.adapter import Adapter
from ble_lock.sim.daemon import BusDaemon
from ble_lock.sim.dbusobj import ObjectServer
from ble_lock.sim.errors import SimError
from ble_lock.sim.leftovers import OwnedBuses, close_bus, local_connections
from ble_lock.sim.radio import Radio

BLUEZ = "org.bluez"
_BUS_TIMEOUT_S = 10.0


def host_address(host: int, adapter: int) -> str:
    return f"00:5E:1A:{host:02X}:{adapter:02X}:01"


class Host:
    """One simulated machine. ``env()`` is what a process needs to use it as its system bus."""

    def __init__(
        self,
        radio: Radio,
        index: int,
        *,
        adapters: int = 1,
        shim_dir: Path | None = None,
        preferred_mtu: int = att.MAX_MTU,
    ) -> None:
        if adapters < 1:
            raise SimError("a host needs at least one adapter")
        self.index = index
        self.name = f"host{index}"
        self.radio = radio
        self._n_adapters = adapters
        self._mtu = preferred_mtu
        self._shim_dir = shim_dir
        self.daemon = BusDaemon(self.name)
        self.adapters: list[Adapter] = []
        self._bus: MessageBus | None = None
        self._server: ObjectServer | None = None
        self._owned: OwnedBuses | None = None

    @property
    def address(self) -> str:
        """``DBUS_SYSTEM_BUS_ADDRESS`` of this host."""
        return self.daemon.address

    def adapter(self, name: str = "hci0") -> Adapter:
        for adapter in self.adapters:
            if adapter.hci == name:
                return adapter
        raise SimError(f"{self.name} has no adapter {name}")

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """Environment for a process on this host (bus address, ``bluetoothctl`` shim on PATH)."""
        env = dict(os.environ if base is None else base)
        env["DBUS_SYSTEM_BUS_ADDRESS"] = self.address
        if self._shim_dir is not None:
            env["PATH"] = f"{self._shim_dir}{os.pathsep}{env.get('PATH', '')}"
        return env

    async def connect(self, *, negotiate_unix_fd: bool = False) -> MessageBus:
        """A connection of this process to the host's bus, closed (cleanly) by :meth:`stop`.

        Open test connections to a simulated host this way: one opened otherwise must be
        disconnected by its owner before the host stops, or it sees the daemon vanish.
        """
        if self._owned is None:
            raise SimError(f"{self.name} is not running")
        return await self._owned.connect(negotiate_unix_fd=negotiate_unix_fd)

    async def local_connections(self) -> set[str]:
        """Unique names of this process's connections to the host's bus, ``org.bluez`` aside."""
        if self._bus is None or not self._bus.connected:
            return set()
        return await local_connections(self._bus)

    async def start(self) -> None:
        address = await self.daemon.start()
        self._owned = OwnedBuses(address)
        try:
            bus = MessageBus(bus_address=address, bus_type=BusType.SYSTEM, negotiate_unix_fd=True)
            self._bus = bus
            await bus.connect()
            reply = await asyncio.wait_for(bus.request_name(BLUEZ), _BUS_TIMEOUT_S)
            if reply != RequestNameReply.PRIMARY_OWNER:
                raise SimError(f"could not own {BLUEZ} on {self.name}")
            self._server = ObjectServer(bus)
            self._server.on_signal(self._on_signal)
            await self._server.add_match(
                "type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged'"
            )
            for i in range(self._n_adapters):
                adapter = Adapter(
                    self._server,
                    self.radio,
                    f"hci{i}",
                    host_address(self.index, i),
                    preferred_mtu=self._mtu,
                )
                self.radio.attach(adapter)
                self.adapters.append(adapter)
                self._server.add(adapter)
        except BaseException:
            await self.stop()
            raise

    def _on_signal(self, msg: Message) -> None:
        if (
            msg.member == "NameOwnerChanged"
            and msg.sender == "org.freedesktop.DBus"
            and msg.message_type == MessageType.SIGNAL
            and msg.body[0].startswith(":")
            and not msg.body[2]
        ):
            gone = msg.body[0]
            for adapter in self.adapters:
                if self._server is not None:
                    self._server.spawn(adapter.client_gone(gone))

    async def stop(self) -> None:
        """Drop links, forget adapters, close the buses this host handed out, stop the daemon.

        The connections from :meth:`connect` are closed before the daemon stops: one that
        sees the daemon vanish instead keeps an ``EOFError`` nobody retrieves (see
        ``leftovers``). Connections opened otherwise are their owners' to close.
        """
        for adapter in self.adapters:
            await adapter.close()
        self.adapters = []
        if self._server is not None:
            await self._server.close()
            self._server = None
        if self._owned is not None:
            owned, self._owned = self._owned, None
            await owned.close()
        if self._bus is not None:
            bus, self._bus = self._bus, None
            await close_bus(bus)
        await self.daemon.stop()
