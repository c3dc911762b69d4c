"""The peripheral side: GATT applications registered through GattManager1, served over links.

Mirrors bluetoothd's gatt-database: it reads the application's object tree, allocates
handles (a CCCD after every notify/indicate characteristic), checks permissions, calls the
application's ReadValue/WriteValue with BlueZ's option keys, keeps CCC state per link and
calls StartNotify/StopNotify when the first subscriber comes and the last one goes, and
turns the application's ``PropertiesChanged(Value)`` into notifications.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dbus_fast import Message, MessageType, Variant

from ble_lock.sim import att
from ble_lock.sim.att import AttError, CharDef, DescDef, ServiceDef
from ble_lock.sim.dbusobj import OBJMGR, ObjectServer
from ble_lock.sim.errors import BluezError
from ble_lock.sim.radio import Link, RadioConfig

log = logging.getLogger(__name__)

SERVICE_IFACE = "org.bluez.GattService1"
CHAR_IFACE = "org.bluez.GattCharacteristic1"
DESC_IFACE = "org.bluez.GattDescriptor1"
_READ_FLAGS = ("read", "encrypt-read", "encrypt-authenticated-read", "secure-read")
_WRITE_FLAGS = ("write", "encrypt-write", "encrypt-authenticated-write", "secure-write")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Attr:
    handle: int
    kind: str  # "char", "desc" or "cccd"
    owner: str
    path: str  # the application's object (for a CCCD: its characteristic)
    flags: tuple[str, ...]
    value_handle: int  # the characteristic value this attribute belongs to


@dataclass(slots=True, kw_only=True)
class _App:
    owner: str
    root: str
    services: tuple[ServiceDef, ...]
    handles: range


class LocalGatt:
    """GATT server of one adapter."""

    def __init__(
        self,
        server: ObjectServer,
        config: RadioConfig,
        device_path: Callable[[Link], str],
    ) -> None:
        self._server = server
        self._config = config
        self._device_path = device_path
        self._apps: list[_App] = []
        self._attrs: dict[int, _Attr] = {}
        self._by_path: dict[tuple[str, str], _Attr] = {}
        self._next_handle = att.FIRST_APP_HANDLE
        self._ccc: dict[tuple[Link, int], int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        server.on_signal(self._on_signal)

    # -- registration --------------------------------------------------------------------

    def database(self) -> tuple[ServiceDef, ...]:
        return tuple(s for app in self._apps for s in app.services)

    def has_app(self, owner: str, root: str) -> bool:
        return any(a.owner == owner and a.root == root for a in self._apps)

    def owners(self) -> set[str]:
        return {a.owner for a in self._apps}

    async def register(self, owner: str, root: str) -> None:
        if self.has_app(owner, root):
            raise BluezError("AlreadyExists", "Already Exists")
        reply = await self._server.call(
            Message(destination=owner, path=root, interface=OBJMGR, member="GetManagedObjects"),
            self._config.att_timeout_s,
        )
        if reply.message_type != MessageType.METHOD_RETURN:
            raise BluezError("Failed", f"Failed to read application objects: {reply.error_name}")
        tree: dict[str, dict[str, dict[str, Variant]]] = reply.body[0]
        first = self._next_handle
        services = self._build(owner, tree)
        if not services:
            raise BluezError("InvalidArguments", "No valid service object found")
        handles = range(first, self._next_handle)
        self._apps.append(_App(owner=owner, root=root, services=services, handles=handles))

    def unregister(self, owner: str, root: str | None = None) -> bool:
        gone = [a for a in self._apps if a.owner == owner and root in (None, a.root)]
        for app in gone:
            self._apps.remove(app)
            handles = {c.value_handle for s in app.services for c in s.characteristics}
            for key in [k for k in self._ccc if k[1] in handles]:
                del self._ccc[key]
            for attr in [a for a in self._attrs.values() if a.handle in app.handles]:
                self._attrs.pop(attr.handle, None)
                self._by_path.pop((attr.owner, attr.path), None)
        return bool(gone)

    def _build(
        self, owner: str, tree: dict[str, dict[str, dict[str, Variant]]]
    ) -> tuple[ServiceDef, ...]:
        def props(path: str, iface: str) -> dict[str, Any]:
            return {k: v.value for k, v in tree[path][iface].items()}

        services: list[ServiceDef] = []
        for spath in sorted(p for p in tree if SERVICE_IFACE in tree[p]):
            sprops = props(spath, SERVICE_IFACE)
            shandle = self._alloc()
            chars: list[CharDef] = []
            for cpath in sorted(
                p
                for p in tree
                if CHAR_IFACE in tree[p] and props(p, CHAR_IFACE).get("Service") == spath
            ):
                chars.append(self._build_char(owner, tree, cpath, props(cpath, CHAR_IFACE)))
            services.append(
                ServiceDef(
                    handle=shandle,
                    end_handle=self._next_handle - 1,
                    uuid=att.uuid128(str(sprops["UUID"])),
                    primary=bool(sprops.get("Primary", True)),
                    characteristics=tuple(chars),
                )
            )
        return tuple(services)

    def _build_char(
        self,
        owner: str,
        tree: dict[str, dict[str, dict[str, Variant]]],
        cpath: str,
        cprops: dict[str, Any],
    ) -> CharDef:
        flags = tuple(str(f) for f in cprops.get("Flags", []))
        decl, value = self._alloc(), self._alloc()
        self._add(
            _Attr(
                handle=value, kind="char", owner=owner, path=cpath, flags=flags, value_handle=value
            )
        )
        descs: list[DescDef] = []
        if "notify" in flags or "indicate" in flags:
            h = self._alloc()
            self._attrs[h] = _Attr(
                handle=h,
                kind="cccd",
                owner=owner,
                path=cpath,
                flags=("read", "write"),
                value_handle=value,
            )
            descs.append(DescDef(handle=h, uuid=att.CCCD_UUID, flags=("read", "write")))
        for dpath in sorted(
            p
            for p in tree
            if DESC_IFACE in tree[p] and tree[p][DESC_IFACE]["Characteristic"].value == cpath
        ):
            dprops = {k: v.value for k, v in tree[dpath][DESC_IFACE].items()}
            dflags = tuple(str(f) for f in dprops.get("Flags", []))
            h = self._alloc()
            self._add(
                _Attr(
                    handle=h, kind="desc", owner=owner, path=dpath, flags=dflags, value_handle=value
                )
            )
            descs.append(DescDef(handle=h, uuid=att.uuid128(str(dprops["UUID"])), flags=dflags))
        return CharDef(
            handle=decl,
            value_handle=value,
            uuid=att.uuid128(str(cprops["UUID"])),
            flags=flags,
            descriptors=tuple(descs),
        )

    def _alloc(self) -> int:
        handle = self._next_handle
        self._next_handle += 1
        return handle

    def _add(self, attr: _Attr) -> None:
        self._attrs[attr.handle] = attr
        self._by_path[(attr.owner, attr.path)] = attr

    # -- ATT server --------------------------------------------------------------------------

    def _attr(self, handle: int) -> _Attr:
        attr = self._attrs.get(handle)
        if attr is None:
            raise AttError(0x01)  # Invalid Handle
        return attr

    def _check(self, link: Link, attr: _Attr, allowed: tuple[str, ...], denied: int) -> None:
        granted = [f for f in attr.flags if f in allowed]
        if not granted:
            raise AttError(denied)
        if all(f != allowed[0] for f in granted) and not link.encrypted:
            raise AttError(att.INSUFFICIENT_ENCRYPTION)

    def _options(self, link: Link, offset: int, **extra: Variant) -> dict[str, Variant]:
        return {
            "offset": Variant("q", offset),
            "mtu": Variant("q", link.mtu),
            "device": Variant("o", self._device_path(link)),
            "link": Variant("s", "LE"),
            **extra,
        }

    async def read(self, link: Link, handle: int, offset: int) -> bytes:
        attr = self._attr(handle)
        if attr.kind == "cccd":
            return self._ccc.get((link, attr.value_handle), 0).to_bytes(2, "little")[offset:]
        self._check(link, attr, _READ_FLAGS, att.READ_NOT_PERMITTED)
        iface = CHAR_IFACE if attr.kind == "char" else DESC_IFACE
        reply = await self._app_call(
            attr, iface, "ReadValue", "a{sv}", [self._options(link, offset)]
        )
        if reply.message_type != MessageType.METHOD_RETURN:
            raise AttError(
                att.att_code_from_app_error(reply.error_name, _text(reply), att.READ_NOT_PERMITTED)
            )
        # bluetoothd sends what the application returned for this offset, cut to ATT_MTU-1.
        return bytes(reply.body[0])[: link.mtu - 1]

    async def write(
        self, link: Link, handle: int, offset: int, value: bytes, request: bool
    ) -> None:
        attr = self._attr(handle)
        if attr.kind == "cccd":
            self._write_ccc(link, attr, value)
            return
        allowed = _WRITE_FLAGS if request or attr.kind == "desc" else ("write-without-response",)
        self._check(link, attr, allowed, att.WRITE_NOT_PERMITTED)
        iface = CHAR_IFACE if attr.kind == "char" else DESC_IFACE
        options = self._options(
            link, offset, type=Variant("s", "request" if request else "command")
        )
        reply = await self._app_call(attr, iface, "WriteValue", "aya{sv}", [value, options])
        if reply.message_type != MessageType.METHOD_RETURN:
            raise AttError(
                att.att_code_from_app_error(reply.error_name, _text(reply), att.WRITE_NOT_PERMITTED)
            )

    async def _app_call(
        self, attr: _Attr, iface: str, member: str, sig: str, body: list[Any]
    ) -> Message:
        msg = Message(
            destination=attr.owner,
            path=attr.path,
            interface=iface,
            member=member,
            signature=sig,
            body=body,
        )
        return await self._server.call(msg, self._config.att_timeout_s)

    def _write_ccc(self, link: Link, cccd: _Attr, value: bytes) -> None:
        if len(value) != 2:
            raise AttError(att.INVALID_ATTRIBUTE_VALUE_LENGTH)
        bits = int.from_bytes(value, "little")
        char = self._attrs[cccd.value_handle]
        if (bits & 1 and "notify" not in char.flags) or (bits & 2 and "indicate" not in char.flags):
            raise AttError(0xFD)  # CCC Descriptor Improperly Configured
        before = self._subscribed(char.value_handle)
        if bits:
            self._ccc[(link, char.value_handle)] = bits
        else:
            self._ccc.pop((link, char.value_handle), None)
        self._notify_app(char, before)

    def _subscribed(self, value_handle: int) -> bool:
        return any(h == value_handle for _, h in self._ccc)

    def _notify_app(self, char: _Attr, before: bool) -> None:
        after = self._subscribed(char.value_handle)
        if before == after:
            return
        member = "StartNotify" if after else "StopNotify"
        task = asyncio.get_running_loop().create_task(self._fire(char, member))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fire(self, char: _Attr, member: str) -> None:
        try:
            await self._app_call(char, CHAR_IFACE, member, "", [])
        except Exception as exc:  # the app left or is stuck: BlueZ ignores this too
            log.debug("%s on %s failed: %r", member, char.path, exc)

    def link_closed(self, link: Link) -> None:
        for key in [k for k in self._ccc if k[0] is link]:
            char = self._attrs.get(key[1])
            del self._ccc[key]
            if char is not None:
                self._notify_app(char, True)

    def subscribers(self, value_handle: int) -> list[Link]:
        return [lk for (lk, h) in self._ccc if h == value_handle]

    # -- notifications from applications ------------------------------------------------------

    def _on_signal(self, msg: Message) -> None:
        if msg.member != "PropertiesChanged" or msg.sender is None or msg.path is None:
            return
        attr = self._by_path.get((msg.sender, msg.path))
        if attr is None or attr.kind != "char" or msg.body[0] != CHAR_IFACE:
            return
        changed: dict[str, Variant] = msg.body[1]
        if "Value" not in changed:
            return
        value = bytes(changed["Value"].value)
        for (link, handle), bits in list(self._ccc.items()):
            if handle == attr.value_handle:
                link.notify(handle, value, indicate=not bits & 1)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=1.0)


def _text(reply: Message) -> str:
    """The message of a D-Bus error reply ("" if it has none)."""
    body = reply.body
    return str(body[0]) if body and isinstance(body[0], str) else ""
