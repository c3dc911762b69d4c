"""This process's D-Bus connections to a simulated bus: opened, counted and closed cleanly.

A connection whose daemon stops under it sees EOF; dbus-fast, the disconnect not being the
user's, stores the ``EOFError`` in the bus's disconnect future, which nobody may await:
"Future exception was never retrieved" once the bus is collected. So whoever opens a
connection to a simulated host closes it before the host stops — the simulator only closes
what it handed out (:class:`OwnedBuses`), using dbus-fast's public ``disconnect()`` and
``wait_for_disconnect()``; the test harness does the same for the bleak clients it made.

:func:`local_connections` asks the daemon which connections belong to this process
(``GetConnectionUnixProcessID``), which tells the harness whether any are still open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus

log = logging.getLogger(__name__)

_DBUS = "org.freedesktop.DBus"
CLOSE_TIMEOUT_S = 5.0


async def _call(bus: MessageBus, member: str, timeout: float, *args: str) -> list[object]:
    msg = Message(
        destination=_DBUS,
        path="/org/freedesktop/DBus",
        interface=_DBUS,
        member=member,
        signature="s" * len(args),
        body=list(args),
    )
    reply = await asyncio.wait_for(bus.call(msg), timeout)
    if reply is None or reply.message_type != MessageType.METHOD_RETURN:
        return []
    return list(reply.body)


async def local_connections(bus: MessageBus, timeout: float = CLOSE_TIMEOUT_S) -> set[str]:
    """Unique names of the other connections on ``bus``'s daemon opened by this process."""
    (names,) = await _call(bus, "ListNames", timeout) or ([],)
    assert isinstance(names, list)
    mine: set[str] = set()
    for name in names:
        if not isinstance(name, str) or not name.startswith(":") or name == bus.unique_name:
            continue
        pid = await _call(bus, "GetConnectionUnixProcessID", timeout, name)
        if pid == [os.getpid()]:
            mine.add(name)
    return mine


async def close_bus(bus: MessageBus, timeout: float = CLOSE_TIMEOUT_S) -> None:
    """Disconnect ``bus`` as its user and wait until it is closed (retrieving any error)."""
    bus.disconnect()
    done = bus.wait_for_disconnect()  # type: ignore[no-untyped-call]  # untyped upstream
    with contextlib.suppress(Exception):  # awaiting it retrieves any error it holds
        await asyncio.wait_for(done, timeout)


class OwnedBuses:
    """The connections a simulated host handed out to this process, closed before it stops."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._buses: list[MessageBus] = []

    async def connect(self, *, negotiate_unix_fd: bool = False) -> MessageBus:
        """A new connection to the bus at ``address``; :meth:`close` disconnects it."""
        bus = MessageBus(
            bus_address=self.address, bus_type=BusType.SYSTEM, negotiate_unix_fd=negotiate_unix_fd
        )
        try:
            await bus.connect()
        except BaseException:
            bus.disconnect()  # dbus-fast: releases the socket even when connect failed
            raise
        self._buses.append(bus)
        return bus

    async def close(self, timeout: float = CLOSE_TIMEOUT_S) -> int:
        """Disconnect every connection still open; returns how many were."""
        buses, self._buses = self._buses, []
        still = [bus for bus in buses if bus.connected]
        for bus in still:
            log.debug("closing D-Bus connection %s", bus.unique_name)
        await asyncio.gather(*(close_bus(bus, timeout) for bus in buses))
        return len(still)
