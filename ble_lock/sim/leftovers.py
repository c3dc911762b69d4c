"""Close this process's D-Bus connections to a simulated bus before its daemon stops.

A bleak ``BleakClient`` opens its own D-Bus connection per BLE connection and only closes it
in ``disconnect()``. A client whose link dropped (or one a test never disconnected) keeps
that connection open until the end. If the dbus-daemon then stops under it, dbus-fast's
reader sees EOF and, the disconnect not being the user's, stores the ``EOFError`` in the
bus's disconnect future, which nobody awaits: "Future exception was never retrieved" when
the bus is garbage collected, possibly at interpreter exit. bluetoothd would not kill its
clients' bus either, so before stopping a host the simulator disconnects every connection of
this process still on that bus (as its owner would) and waits for the disconnect to finish.

The daemon says which connections belong to this process (``GetConnectionUnixProcessID``),
so the heap is only searched for them when there is one.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os

from dbus_fast import Message, MessageType
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


def _peer(bus: MessageBus) -> object:
    """Where the bus's socket is connected (dbus-fast has no public accessor)."""
    sock = getattr(bus, "_sock", None)
    if sock is None:
        return None
    with contextlib.suppress(OSError):
        return sock.getpeername()
    return None


def find_buses(socket_path: str, names: set[str]) -> list[MessageBus]:
    """The connected dbus-fast buses of this event loop on ``socket_path`` named ``names``."""
    loop = asyncio.get_running_loop()
    return [
        obj
        for obj in gc.get_objects()
        if isinstance(obj, MessageBus)
        and obj.connected
        and obj.unique_name in names
        and getattr(obj, "_loop", None) is loop
        and _peer(obj) == socket_path
    ]


async def close_local_buses(
    bus: MessageBus, socket_path: str, timeout: float = CLOSE_TIMEOUT_S
) -> int:
    """Disconnect this process's other connections to the daemon at ``socket_path``.

    ``bus`` is a connection of our own to that daemon (used to ask it who is connected).
    Waits for each disconnect to complete, so its future holds no error. Returns how many.
    """
    try:
        names = await local_connections(bus, timeout)
    except Exception as exc:  # the daemon is gone already: nothing left to close cleanly
        log.debug("could not list connections: %r", exc)
        return 0
    if not names:
        return 0
    found = find_buses(socket_path, names)
    for other in found:
        log.debug("closing leftover D-Bus connection %s", other.unique_name)
        other.disconnect()
    for other in found:
        done = other.wait_for_disconnect()  # type: ignore[no-untyped-call]  # untyped upstream
        with contextlib.suppress(Exception):  # awaiting it retrieves any error it holds
            await asyncio.wait_for(done, timeout)
    return len(found)
