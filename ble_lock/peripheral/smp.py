"""The SMP GATT service of the emulator: MCUmgr firmware update over BLE (R-APP-8).

Service ``8D53DC1D-1DB7-4CD3-868B-8A527460AA84``, one characteristic
``DA2E7828-FBCE-4E01-AE9E-261174997C48`` (write without response + notify), as Zephyr's
SMP Bluetooth transport: the client writes a request in pieces of at most ATT_MTU - 3
bytes, the lock reassembles it by the SMP header's length
(:class:`~ble_lock.dfu.server.SmpServer`), and notifies the response cut to the link's
MTU. bless does not tell the lock the MTU, so, as for the lock's own service
(``emulator.py``), it answers with pieces no longer than the longest write seen (at
least 20 bytes, always safe).

Only a lock started with a vendor key (``--vendor-key``) serves it. The lock's maintenance
window (an admin's request over the secure protocol) gates every
request; the slots live in ``<state-dir>/firmware/`` (:class:`DirectoryFlash`). An OS
reset is answered first, then the emulator reboots (``Emulator.reboot``): centrals are
disconnected, the bootloader decision runs (:meth:`~ble_lock.dfu.slots.Slots.boot`) and
the lock comes back with the version of the image that runs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bless.backends.attribute import GATTAttributePermissions as Perm
from bless.backends.characteristic import GATTCharacteristicProperties as Props

if TYPE_CHECKING:  # the server (smp, pydantic) is imported only by a lock that serves SMP
    from ble_lock.dfu.server import Reply, SmpServer

__all__ = ["SMP_CHARACTERISTIC_UUID", "SMP_SERVICE_UUID", "DirectoryFlash", "SmpService"]

SMP_SERVICE_UUID = "8d53dc1d-1db7-4cd3-868b-8a527460aa84"
SMP_CHARACTERISTIC_UUID = "da2e7828-fbce-4e01-ae9e-261174997c48"
_MIN_PIECE = 20  # ATT_MTU 23 - 3

_log = logging.getLogger(__name__)


class DirectoryFlash:
    """A :class:`~ble_lock.dfu.slots.Flash` in a directory: one file per blob (0600), each
    replaced atomically (write, fsync, rename, fsync the directory)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(mode=0o700, parents=True, exist_ok=True)

    def get(self, name: str) -> bytes | None:
        try:
            return (self.path / name).read_bytes()
        except FileNotFoundError:
            return None

    def put(self, name: str, data: bytes | None) -> None:
        target = self.path / name
        if data is None:
            target.unlink(missing_ok=True)
        else:
            tmp = target.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class SmpService:
    """The SMP characteristic on a bless server, in front of an :class:`SmpServer`.

    ``window_open`` is asked at each request; ``on_reset`` runs after the answer to an
    OS reset was notified."""

    def __init__(self, server: SmpServer, *, window_open: Callable[[], bool],
                 on_reset: Callable[[], None]) -> None:
        self.server = server
        self._window_open = window_open
        self._on_reset = on_reset
        self._bless: Any = None
        self._piece = _MIN_PIECE
        self.writes = 0
        self.notifications = 0

    async def add_to(self, bless: Any) -> None:
        """Declare the service and its characteristic on ``bless`` (before it starts)."""
        await bless.add_new_service(SMP_SERVICE_UUID)
        await bless.add_new_characteristic(
            SMP_SERVICE_UUID, SMP_CHARACTERISTIC_UUID,
            Props.write_without_response | Props.notify, None,
            Perm.readable | Perm.writeable)
        self._bless = bless

    def link_lost(self) -> None:
        """A central disconnected: drop a partly received request (bless names no
        central, so any disconnection does; an upload in progress stays resumable)."""
        self.server.link_lost()

    def on_write(self, value: bytes) -> None:
        """One write of the SMP characteristic."""
        self.writes += 1
        self._piece = max(self._piece, len(value))
        replies = self.server.receive(value, window_open=self._window_open())
        for reply in replies:
            self._send(reply)
        if any(reply.reset for reply in replies):
            self._on_reset()

    def _send(self, reply: Reply) -> None:
        if self._bless is None:
            return
        data = reply.data
        for start in range(0, len(data), self._piece):
            char = self._bless.get_characteristic(SMP_CHARACTERISTIC_UUID)
            char.value = bytearray(data[start:start + self._piece])
            self._bless.update_value(SMP_SERVICE_UUID, SMP_CHARACTERISTIC_UUID)
            self.notifications += 1


async def disconnect_centrals(bless: Any, paths: frozenset[str]) -> int:
    """Drop the links of the connected centrals (``Device1.Disconnect`` on our adapter's
    device objects, as a device reset does): SMP clients see the lock go away and come
    back. Returns how many were asked; failures are logged (best effort)."""
    from dbus_next.constants import MessageType
    from dbus_next.message import Message

    bus = getattr(bless, "bus", None)
    if bus is None:
        return 0
    for path in sorted(paths):
        reply = await bus.call(Message(destination="org.bluez", path=path,
                                       interface="org.bluez.Device1", member="Disconnect"))
        if reply is None or reply.message_type != MessageType.METHOD_RETURN:
            _log.warning("could not disconnect %s", path)
    return len(paths)
