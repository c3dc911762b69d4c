"""The central's view of a connected peripheral's GATT database: BlueZ's client objects.

Paths follow BlueZ, ``<device>/serviceXXXX/charXXXX/descXXXX`` with hex handles (bleak
derives handles and the device path from them). Notifications reach D-Bus clients either
as ``PropertiesChanged(Value)`` (StartNotify sessions, one per D-Bus client) or through
a socket from AcquireNotify; AcquireWrite hands out a socket whose datagrams become
Write Without Response.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from typing import Any, NoReturn

from dbus_fast import Message, Variant

from ble_lock.sim import att, att_client, ifaces
from ble_lock.sim.att import AttError, CharDef, DescDef, ServiceDef
from ble_lock.sim.dbusobj import DBusObject, Reply
from ble_lock.sim.errors import BluezError
from ble_lock.sim.radio import Link, LinkDown


def _raise_att(exc: AttError) -> NoReturn:
    name, text = att.dbus_error_from_att(exc.code)
    raise BluezError(name, text) from exc


def _options(msg: Message, index: int) -> dict[str, Any]:
    opts: dict[str, Variant] = msg.body[index]
    return {k: v.value for k, v in opts.items()}


class RemoteService(DBusObject):
    def __init__(self, device_path: str, service: ServiceDef) -> None:
        super().__init__(f"{device_path}/service{service.handle:04x}", [ifaces.SERVICE])
        self.device_path = device_path
        self.service = service

    def props(self, iface: str) -> dict[str, Any]:
        return {
            "UUID": self.service.uuid,
            "Device": self.device_path,
            "Primary": self.service.primary,
            "Includes": [],
            "Handle": self.service.handle,
        }


class _Acquired:
    """Our end of an AcquireWrite/AcquireNotify socket pair."""

    def __init__(self, on_data: Callable[[bytes], None], on_close: Callable[[], None]) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setblocking(False)
        self.sock = ours
        self.their_fd = theirs.detach()
        self._on_data = on_data
        self._on_close = on_close
        asyncio.get_running_loop().add_reader(ours.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            data = self.sock.recv(att.MAX_MTU)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self._on_data(data)
            return
        self.close()
        self._on_close()

    def send(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            self.sock.send(data)

    def close(self) -> None:
        if self.sock.fileno() >= 0:
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
            self.sock.close()


class RemoteCharacteristic(DBusObject):
    def __init__(self, service: RemoteService, char: CharDef, link: Link) -> None:
        super().__init__(f"{service.path}/char{char.handle:04x}", [ifaces.CHARACTERISTIC])
        self.service_path = service.path
        self.char = char
        self.link = link
        self.value = b""
        self.sessions: set[str] = set()
        self.notify_sock: _Acquired | None = None
        self.write_sock: _Acquired | None = None

    def props(self, iface: str) -> dict[str, Any]:
        flags = self.char.flags
        out: dict[str, Any] = {
            "UUID": self.char.uuid,
            "Service": self.service_path,
            "Value": self.value,
            "Flags": list(flags),
            "MTU": self.link.mtu,
            "Handle": self.char.value_handle,
        }
        if "notify" in flags or "indicate" in flags:
            out["Notifying"] = self.notifying
            out["NotifyAcquired"] = self.notify_sock is not None
        if "write-without-response" in flags:
            out["WriteAcquired"] = self.write_sock is not None
        return out

    @property
    def notifying(self) -> bool:
        return bool(self.sessions) or self.notify_sock is not None

    def _cccd_value(self) -> bytes:
        return b"\x01\x00" if "notify" in self.char.flags else b"\x02\x00"

    async def _write_cccd(self, value: bytes) -> None:
        cccd = self.char.cccd
        if cccd is None:
            raise BluezError("NotSupported", "Notify not supported")
        await att_client.write_request(self.link, cccd.handle, value)

    async def call(self, iface: str, member: str, msg: Message) -> Reply:
        try:
            if not self.link.up:
                raise BluezError("Failed", "Not connected")
            handler = getattr(self, f"_m_{member}")
            reply: Reply = await handler(msg)
            return reply
        except AttError as exc:
            _raise_att(exc)
        except LinkDown:
            raise BluezError("Failed", "Not connected") from None

    async def _m_ReadValue(self, msg: Message) -> Reply:
        offset = int(_options(msg, 0).get("offset", 0))
        value = await att_client.read(self.link, self.char.value_handle, offset)
        self.set_value(value)
        return Reply(sig="ay", body=[value])

    async def _m_WriteValue(self, msg: Message) -> Reply:
        value = bytes(msg.body[0])
        opts = _options(msg, 1)
        if self.write_sock is not None:
            raise BluezError("NotPermitted", "Write acquired")
        kind = str(opts.get("type", ""))
        flags = self.char.flags
        if kind in ("", "request", "reliable") and ("write" in flags or "reliable-write" in flags):
            await att_client.write_request(self.link, self.char.value_handle, value)
            return Reply()
        if kind in ("", "command") and "write-without-response" in flags:
            if not att_client.write_command(self.link, self.char.value_handle, value):
                raise BluezError("Failed", "Failed to initiate write")
            return Reply()
        raise BluezError("NotSupported", "Operation is not supported")

    async def _m_StartNotify(self, msg: Message) -> Reply:
        if not ("notify" in self.char.flags or "indicate" in self.char.flags):
            raise BluezError("NotSupported", "Notify not supported")
        if self.notify_sock is not None:
            raise BluezError("NotPermitted", "Notify acquired")
        sender = msg.sender or ""
        if sender in self.sessions:  # one session per D-Bus client, as in gatt-client.c
            raise BluezError("Failed", "Already notifying")
        first = not self.sessions
        self.sessions.add(sender)
        if first:
            try:
                await self._write_cccd(self._cccd_value())
            except BaseException:
                self.sessions.discard(sender)
                raise
            self.changed(ifaces.CHARACTERISTIC.name, {"Notifying": True})
        return Reply()

    async def _m_StopNotify(self, msg: Message) -> Reply:
        sender = msg.sender or ""
        if sender not in self.sessions:
            raise BluezError("Failed", "No notify session started")
        await self.drop_session(sender)
        return Reply()

    async def drop_session(self, sender: str) -> None:
        if sender not in self.sessions:
            return
        self.sessions.discard(sender)
        if not self.sessions:
            self.changed(ifaces.CHARACTERISTIC.name, {"Notifying": False})
            if self.link.up:
                with contextlib.suppress(AttError, LinkDown):
                    await self._write_cccd(b"\x00\x00")

    async def _m_AcquireWrite(self, msg: Message) -> Reply:
        if "write-without-response" not in self.char.flags:
            raise BluezError("NotSupported", "Operation is not supported")
        if self.write_sock is not None:
            raise BluezError("NotPermitted", "Write acquired")

        def on_data(data: bytes) -> None:
            if self.link.up:
                att_client.write_command(self.link, self.char.value_handle, data)

        def on_close() -> None:
            self.write_sock = None
            self.changed(ifaces.CHARACTERISTIC.name, {"WriteAcquired": False})

        self.write_sock = _Acquired(on_data, on_close)
        self.changed(ifaces.CHARACTERISTIC.name, {"WriteAcquired": True})
        return Reply(sig="hq", body=[0, self.link.mtu], fds=[self.write_sock.their_fd])

    async def _m_AcquireNotify(self, msg: Message) -> Reply:
        if not ("notify" in self.char.flags or "indicate" in self.char.flags):
            raise BluezError("NotSupported", "Notify not supported")
        if self.notify_sock is not None or self.sessions:
            raise BluezError("NotPermitted", "Notify acquired")
        await self._write_cccd(self._cccd_value())

        def on_close() -> None:
            self.notify_sock = None
            self.changed(ifaces.CHARACTERISTIC.name, {"NotifyAcquired": False, "Notifying": False})
            if self.link.up and self.server is not None:
                self.server.spawn(self._quiet_cccd_off())  # cancelled if the host stops

        self.notify_sock = _Acquired(lambda _: None, on_close)
        self.changed(ifaces.CHARACTERISTIC.name, {"NotifyAcquired": True, "Notifying": True})
        return Reply(sig="hq", body=[0, self.link.mtu], fds=[self.notify_sock.their_fd])

    async def _quiet_cccd_off(self) -> None:
        with contextlib.suppress(AttError, LinkDown, BluezError):
            await self._write_cccd(b"\x00\x00")

    def set_value(self, value: bytes) -> None:
        self.value = value
        self.changed(ifaces.CHARACTERISTIC.name, {"Value": value})

    def on_notification(self, value: bytes) -> None:
        if self.notify_sock is not None:
            self.notify_sock.send(value)  # Value is not updated while notify is acquired
        else:
            self.set_value(value)

    def close(self) -> None:
        """The link is down: HUP on acquired sockets, sessions end."""
        for sock in (self.notify_sock, self.write_sock):
            if sock is not None:
                sock.close()
        self.notify_sock = self.write_sock = None
        self.sessions.clear()


class RemoteDescriptor(DBusObject):
    def __init__(self, char: RemoteCharacteristic, desc: DescDef) -> None:
        super().__init__(f"{char.path}/desc{desc.handle:04x}", [ifaces.DESCRIPTOR])
        self.char = char
        self.desc = desc
        self.value = b""

    def props(self, iface: str) -> dict[str, Any]:
        return {
            "UUID": self.desc.uuid,
            "Characteristic": self.char.path,
            "Value": self.value,
            "Flags": list(self.desc.flags),
            "Handle": self.desc.handle,
        }

    async def call(self, iface: str, member: str, msg: Message) -> Reply:
        link = self.char.link
        try:
            if not link.up:
                raise BluezError("Failed", "Not connected")
            if member == "ReadValue":
                offset = int(_options(msg, 0).get("offset", 0))
                self.value = await att_client.read(link, self.desc.handle, offset)
                self.changed(ifaces.DESCRIPTOR.name, {"Value": self.value})
                return Reply(sig="ay", body=[self.value])
            await att_client.write_request(link, self.desc.handle, bytes(msg.body[0]))
            return Reply()
        except AttError as exc:
            _raise_att(exc)
        except LinkDown:
            raise BluezError("Failed", "Not connected") from None


def mirror(device_path: str, db: tuple[ServiceDef, ...], link: Link) -> list[DBusObject]:
    """D-Bus objects for a discovered database, parents before children."""
    out: list[DBusObject] = []
    for service in db:
        rs = RemoteService(device_path, service)
        out.append(rs)
        for char in service.characteristics:
            rc = RemoteCharacteristic(rs, char, link)
            out.append(rc)
            out.extend(RemoteDescriptor(rc, d) for d in char.descriptors)
    return out
