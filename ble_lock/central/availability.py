"""Telling "this machine's Bluetooth stack cannot be reached" from "the lock does not
answer".

On Linux bleak talks to BlueZ (``org.bluez``) over the system D-Bus. Without a system bus
(no ``dbus-daemon``, or ``DBUS_SYSTEM_BUS_ADDRESS`` pointing at a simulator that is gone),
dbus-fast fails to connect with an ``OSError`` (``ENOENT``, ``ECONNREFUSED``); without
``bluetoothd`` on the bus, BlueZ's first call fails with ``ServiceUnknown``; without a
usable adapter bleak raises ``BleakBluetoothNotAvailableError``. :func:`reaching_bluetooth`
turns each into one :class:`~ble_lock.core.errors.BluetoothUnavailableError`
(``BLUETOOTH_UNAVAILABLE``) naming the cause, where a scan starts
(:mod:`ble_lock.central.discovery`; any later failure is about the lock or the link), and
where the emulator starts its GATT server (bless: dbus-next's errors are read too).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager

from ble_lock.core.errors import BluetoothUnavailableError

__all__ = ["DEFAULT_SYSTEM_BUS", "bluetooth_unavailable", "reaching_bluetooth", "system_bus"]

#: where D-Bus clients look for the system bus when ``DBUS_SYSTEM_BUS_ADDRESS`` is unset
DEFAULT_SYSTEM_BUS = "unix:path=/var/run/dbus/system_bus_socket"

# D-Bus error names meaning "nobody owns org.bluez on this bus" (bluetoothd not running)
_NO_SERVICE = frozenset({
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
})
# connect(2) on the bus socket: no such socket file, nobody listening, not allowed
_NO_BUS_ERRNOS = frozenset({errno.ENOENT, errno.ECONNREFUSED, errno.EACCES})


def system_bus() -> str:
    """The system bus address this process uses."""
    return os.environ.get("DBUS_SYSTEM_BUS_ADDRESS") or DEFAULT_SYSTEM_BUS


def _dbus_error_name(exc: BaseException) -> str | None:
    """The D-Bus error name of a bleak (dbus-fast) or bless (dbus-next) D-Bus error."""
    from bleak.exc import BleakDBusError

    if isinstance(exc, BleakDBusError):
        return exc.dbus_error
    try:
        from dbus_next.errors import DBusError as NextDBusError  # bless's D-Bus library
    except ImportError:  # pragma: no cover - bless not on this platform's D-Bus
        return None
    if isinstance(exc, NextDBusError):
        return str(exc.type)
    return None


def bluetooth_unavailable(exc: BaseException) -> BluetoothUnavailableError | None:
    """``exc`` (raised while starting a scan, or bless's GATT server) as the missing piece
    it shows, else None."""
    from bleak.exc import BleakBluetoothNotAvailableError
    from dbus_fast.errors import InvalidAddressError

    if isinstance(exc, BleakBluetoothNotAvailableError):
        return BluetoothUnavailableError(f"no Bluetooth adapter to use: {exc.args[0]}")
    if _dbus_error_name(exc) in _NO_SERVICE:
        return BluetoothUnavailableError(
            f"BlueZ (org.bluez) is not running on the system D-Bus {system_bus()}")
    if isinstance(exc, InvalidAddressError):
        return BluetoothUnavailableError(f"the system D-Bus address {system_bus()!r} is not "
                                         f"valid ({exc})")
    if isinstance(exc, OSError) and exc.errno in _NO_BUS_ERRNOS:
        return BluetoothUnavailableError(f"no system D-Bus at {system_bus()} "
                                         f"({os.strerror(exc.errno)}), so no BlueZ")
    return None


@contextmanager
def reaching_bluetooth() -> Iterator[None]:
    """Around the start of a scan: a missing bus, BlueZ or adapter raises
    :class:`~ble_lock.core.errors.BluetoothUnavailableError`; other errors pass."""
    try:
        yield
    except Exception as exc:
        unavailable = bluetooth_unavailable(exc)
        if unavailable is None:
            raise
        raise unavailable from exc
