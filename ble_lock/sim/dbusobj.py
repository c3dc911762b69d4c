"""A small D-Bus object server on dbus-fast's low-level message API.

BlueZ's shape matters to bless and bleak in ways the high-level ``ServiceInterface`` does not
give: optional properties that are absent (not empty), ``InterfacesAdded`` from ``/`` with all
interfaces of an object at once, ObjectManager listed in the introspection of ``/``, error
names of our choosing, replies that pass file descriptors and are sent later (after a
simulated radio round trip). So the simulator dispatches method calls itself.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dbus_fast import Message, MessageFlag, MessageType, Variant
from dbus_fast import introspection as intr
from dbus_fast.aio import MessageBus
from dbus_fast.constants import ArgDirection, PropertyAccess
from dbus_fast.signature import get_signature_tree

from ble_lock.sim.errors import BluezError

log = logging.getLogger(__name__)

PROPS = "org.freedesktop.DBus.Properties"
OBJMGR = "org.freedesktop.DBus.ObjectManager"
INTROSPECT = "org.freedesktop.DBus.Introspectable"


@dataclass(frozen=True, slots=True, kw_only=True)
class Method:
    name: str
    in_sig: str = ""
    out_sig: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Prop:
    name: str
    sig: str
    writable: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Interface:
    name: str
    methods: tuple[Method, ...] = ()
    props: tuple[Prop, ...] = ()

    def prop(self, name: str) -> Prop | None:
        return next((p for p in self.props if p.name == name), None)

    def method(self, name: str) -> Method | None:
        return next((m for m in self.methods if m.name == name), None)

    def introspect(self) -> intr.Interface:
        def args(sig: str, direction: ArgDirection) -> list[intr.Arg]:
            return [intr.Arg(t.signature, direction) for t in get_signature_tree(sig).types]

        methods = [
            intr.Method(
                m.name,
                in_args=args(m.in_sig, ArgDirection.IN),
                out_args=args(m.out_sig, ArgDirection.OUT),
            )
            for m in self.methods
        ]
        props = [
            intr.Property(
                p.name,
                p.sig,
                PropertyAccess.READWRITE if p.writable else PropertyAccess.READ,
            )
            for p in self.props
        ]
        return intr.Interface(self.name, methods=methods, properties=props)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """A method result: its signature, body, and file descriptors to pass (closed once sent)."""

    sig: str = ""
    body: list[Any] = field(default_factory=list)
    fds: list[int] = field(default_factory=list)


class DBusObject(abc.ABC):
    """One object path with some interfaces. Subclasses provide properties and methods."""

    def __init__(self, path: str, interfaces: Iterable[Interface]) -> None:
        self.path = path
        self.interfaces = {i.name: i for i in interfaces}
        self.server: ObjectServer | None = None

    @abc.abstractmethod
    def props(self, iface: str) -> dict[str, Any]:
        """Present properties of ``iface`` as plain Python values (absent ones left out)."""
        ...

    async def call(self, iface: str, member: str, msg: Message) -> Reply:
        raise BluezError("NotSupported", f"{iface}.{member}")

    def set_prop(self, iface: str, name: str, value: Any) -> None:
        raise BluezError("NotPermitted", f"{name} is read-only")

    def variant_props(self, iface: str) -> dict[str, Variant]:
        spec = self.interfaces[iface]
        out: dict[str, Variant] = {}
        for name, value in self.props(iface).items():
            prop = spec.prop(name)
            assert prop is not None, f"{iface}.{name} not declared"
            out[name] = Variant(prop.sig, value)
        return out

    def all_props(self) -> dict[str, dict[str, Variant]]:
        return {name: self.variant_props(name) for name in self.interfaces}

    def changed(
        self, iface: str, values: Mapping[str, Any], invalidated: Iterable[str] = ()
    ) -> None:
        """Emit ``PropertiesChanged`` (no-op while not exported)."""
        if self.server is None:
            return
        spec = self.interfaces[iface]
        body: dict[str, Variant] = {}
        for name, value in values.items():
            prop = spec.prop(name)
            assert prop is not None, f"{iface}.{name} not declared"
            body[name] = Variant(prop.sig, value)
        self.server.emit(
            self.path, PROPS, "PropertiesChanged", "sa{sv}as", [iface, body, list(invalidated)]
        )


SignalHandler = Callable[[Message], None]


class ObjectServer:
    """Serves ``DBusObject``s on a bus connection and dispatches incoming signals."""

    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus
        self.objects: dict[str, DBusObject] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._signal_handlers: list[SignalHandler] = []
        bus.add_message_handler(self._on_message)

    # -- objects and signals ------------------------------------------------------------

    def add(self, obj: DBusObject) -> None:
        self.objects[obj.path] = obj
        obj.server = self
        self.emit("/", OBJMGR, "InterfacesAdded", "oa{sa{sv}}", [obj.path, obj.all_props()])

    def remove(self, obj: DBusObject) -> None:
        if self.objects.get(obj.path) is not obj:
            return
        del self.objects[obj.path]
        obj.server = None
        self.emit("/", OBJMGR, "InterfacesRemoved", "oas", [obj.path, list(obj.interfaces)])

    def emit(self, path: str, iface: str, member: str, sig: str, body: list[Any]) -> None:
        if not self.bus.connected:
            return
        self.spawn(self._send(Message.new_signal(path, iface, member, sig, body)))

    def on_signal(self, handler: SignalHandler) -> None:
        self._signal_handlers.append(handler)

    async def call(self, msg: Message, timeout: float) -> Message:
        """A method call to another bus client, with a timeout (no wait is unbounded)."""
        return await asyncio.wait_for(self.bus.call(msg), timeout)

    async def add_match(self, rule: str, timeout: float = 10.0) -> None:
        """Subscribe to signals matching ``rule`` (D-Bus match rule syntax)."""
        msg = Message(
            destination="org.freedesktop.DBus",
            path="/org/freedesktop/DBus",
            interface="org.freedesktop.DBus",
            member="AddMatch",
            signature="s",
            body=[rule],
        )
        reply = await self.call(msg, timeout)
        if reply.message_type != MessageType.METHOD_RETURN:
            raise BluezError("Failed", f"AddMatch failed: {reply.error_name}")

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2.0)
        self.bus.remove_message_handler(self._on_message)

    def spawn(self, coro: Awaitable[None]) -> None:
        """Run ``coro`` in the background; cancelled by ``close()``."""
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, msg: Message, fds: Iterable[int] = ()) -> None:
        try:
            if self.bus.connected:
                await self.bus.send(msg)
        except Exception as exc:  # the peer or the bus went away: nothing to tell anyone
            log.debug("send failed: %r", exc)
        finally:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)

    # -- dispatch ---------------------------------------------------------------------------

    def _on_message(self, msg: Message) -> bool:
        if msg.message_type == MessageType.SIGNAL:
            for handler in list(self._signal_handlers):
                try:
                    handler(msg)
                except Exception:
                    log.exception("signal handler failed")
            return False
        if msg.message_type != MessageType.METHOD_CALL or msg.path is None:
            return False
        if msg.interface == INTROSPECT and msg.member == "Introspect":
            self._reply(msg, Reply(sig="s", body=[self._introspect(msg.path)]))
            return True
        if msg.path == "/" and msg.interface == OBJMGR and msg.member == "GetManagedObjects":
            objs = {path: obj.all_props() for path, obj in self.objects.items()}
            self._reply(msg, Reply(sig="a{oa{sa{sv}}}", body=[objs]))
            return True
        obj = self.objects.get(msg.path)
        if obj is None:
            return False
        if msg.interface == PROPS:
            self._properties(obj, msg)
            return True
        self.spawn(self._dispatch(obj, msg))
        return True

    async def _dispatch(self, obj: DBusObject, msg: Message) -> None:
        iface = msg.interface or next(
            (i.name for i in obj.interfaces.values() if i.method(msg.member or "")), ""
        )
        spec = obj.interfaces.get(iface)
        method = spec.method(msg.member or "") if spec else None
        if method is None or method.in_sig != msg.signature:
            self._error(
                msg,
                "org.freedesktop.DBus.Error.UnknownMethod",
                f"{iface}.{msg.member} with signature {msg.signature!r} not found",
            )
            return
        try:
            reply = await obj.call(iface, method.name, msg)
        except BluezError as exc:
            self._error(msg, exc.name, exc.text)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a simulator bug: say so loudly, answer like BlueZ would
            log.exception("%s.%s on %s failed", iface, method.name, obj.path)
            self._error(msg, "org.bluez.Error.Failed", str(exc))
            return
        self._reply(msg, reply)

    def _properties(self, obj: DBusObject, msg: Message) -> None:
        try:
            if msg.member == "GetAll" and msg.signature == "s":
                self._check_iface(obj, msg.body[0])
                self._reply(msg, Reply(sig="a{sv}", body=[obj.variant_props(msg.body[0])]))
            elif msg.member == "Get" and msg.signature == "ss":
                self._check_iface(obj, msg.body[0])
                props = obj.variant_props(msg.body[0])
                if msg.body[1] not in props:
                    raise BluezError(
                        "org.freedesktop.DBus.Error.InvalidArgs", f"No such property {msg.body[1]}"
                    )
                self._reply(msg, Reply(sig="v", body=[props[msg.body[1]]]))
            elif msg.member == "Set" and msg.signature == "ssv":
                iface, name, value = msg.body
                self._check_iface(obj, iface)
                spec = obj.interfaces[iface].prop(name)
                if spec is None or not spec.writable:
                    raise BluezError(
                        "org.freedesktop.DBus.Error.PropertyReadOnly", f"{name} is read-only"
                    )
                obj.set_prop(iface, name, value.value)
                self._reply(msg, Reply())
            else:
                raise BluezError("org.freedesktop.DBus.Error.UnknownMethod", str(msg.member))
        except BluezError as exc:
            self._error(msg, exc.name, exc.text)

    @staticmethod
    def _check_iface(obj: DBusObject, iface: str) -> None:
        if iface not in obj.interfaces:
            raise BluezError("org.freedesktop.DBus.Error.InvalidArgs", f"No such interface {iface}")

    def _introspect(self, path: str) -> str:
        obj = self.objects.get(path)
        std = intr.Node.default().interfaces
        node = intr.Node(path, is_root=True)
        if obj is not None or path == "/":
            # ObjectManager only on "/", like bluetoothd.
            node.interfaces = (
                [i for i in std if i.name != OBJMGR or path == "/"]
                if obj is not None
                else [i for i in std if i.name in (INTROSPECT, OBJMGR)]
            )
        if obj is not None:
            node.interfaces += [spec.introspect() for spec in obj.interfaces.values()]
        prefix = path.rstrip("/") + "/"
        children = {p[len(prefix) :].split("/", 1)[0] for p in self.objects if p.startswith(prefix)}
        node.nodes = [intr.Node(name) for name in sorted(children) if name]
        return str(node.tostring())

    def _reply(self, msg: Message, reply: Reply) -> None:
        if msg.flags & MessageFlag.NO_REPLY_EXPECTED:
            for fd in reply.fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            return
        out = Message(
            message_type=MessageType.METHOD_RETURN,
            reply_serial=msg.serial,
            destination=msg.sender,
            signature=reply.sig,
            body=reply.body,
            unix_fds=reply.fds,
        )
        self.spawn(self._send(out, reply.fds))

    def _error(self, msg: Message, name: str, text: str) -> None:
        if msg.flags & MessageFlag.NO_REPLY_EXPECTED:
            return
        self.spawn(self._send(Message.new_error(msg, name, text)))
