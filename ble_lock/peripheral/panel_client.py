"""Clients of a running emulator's front panel (tests, ``ble-lock panel ...``).

``PanelClient`` is blocking (plain sockets); ``AsyncPanelClient`` uses asyncio streams.
Both read the address from ``<state-dir>/panel.addr``. ``request(op, **fields)`` returns
the reply as is; ``call(op, **fields)`` raises the typed
:class:`~ble_lock.core.errors.LockError` of an error reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from typing import Any

from ble_lock.core.errors import ErrorCode, RemoteProtocolError, TransportError
from ble_lock.peripheral.control import MAX_LINE, PanelAddress, raise_for_reply
from ble_lock.peripheral.panel import Reply

__all__ = ["AsyncPanelClient", "PanelClient"]


def _encode(address: PanelAddress, op: str, fields: dict[str, Any]) -> bytes:
    request: dict[str, Any] = {"op": op, **fields}
    if address.token is not None:
        request["auth"] = address.token
    return json.dumps(request).encode() + b"\n"


def _decode(line: bytes) -> Reply:
    if not line.endswith(b"\n"):
        raise TransportError("panel closed the connection", code=ErrorCode.DISCONNECTED)
    reply = json.loads(line)
    if not isinstance(reply, dict):
        raise RemoteProtocolError("panel sent a non-object reply", code=ErrorCode.PROTOCOL_ERROR)
    return reply


class PanelClient:
    """A blocking client: ``with PanelClient.connect(state_dir) as panel: panel.call(...)``."""

    def __init__(self, address: PanelAddress, timeout: float = 10.0) -> None:
        self.address = address
        try:
            if address.kind == "unix":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(timeout)
                sock.connect(address.path)
            else:
                sock = socket.create_connection((address.host, address.port), timeout=timeout)
        except OSError as exc:
            raise TransportError(f"cannot reach the panel at {address.text()}: {exc}",
                                 code=ErrorCode.CONNECTION_FAILED) from exc
        self._sock = sock
        self._file = sock.makefile("rb")

    @classmethod
    def connect(cls, state_dir: str | os.PathLike[str], timeout: float = 10.0) -> PanelClient:
        return cls(PanelAddress.load(state_dir), timeout)

    def __repr__(self) -> str:
        return f"PanelClient({self.address!r})"

    def __enter__(self) -> PanelClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()
        self._sock.close()

    def send_raw(self, data: bytes) -> Reply:
        """One raw line (tests of the wire format); returns the reply."""
        try:
            self._sock.sendall(data)
            return _decode(self._file.readline(MAX_LINE * 4))
        except OSError as exc:
            raise TransportError(f"panel: {exc}", code=ErrorCode.DISCONNECTED) from exc

    def request(self, op: str, **fields: Any) -> Reply:
        return self.send_raw(_encode(self.address, op, fields))

    def call(self, op: str, **fields: Any) -> Reply:
        return raise_for_reply(self.request(op, **fields))

    def status(self) -> Reply:
        return self.call("status")

    def keypad(self, keys: str) -> Reply:
        return self.call("keypad", keys=keys)

    def advance(self, seconds: float) -> Reply:
        return self.call("clock.advance", seconds=seconds)


class AsyncPanelClient:
    """The same over asyncio: ``async with await AsyncPanelClient.connect(dir) as panel``."""

    def __init__(self, address: PanelAddress, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.address = address
        self._reader = reader
        self._writer = writer
        self._lock = asyncio.Lock()

    @classmethod
    async def connect(cls, state_dir: str | os.PathLike[str]) -> AsyncPanelClient:
        address = PanelAddress.load(state_dir)
        try:
            if address.kind == "unix":
                reader, writer = await asyncio.open_unix_connection(address.path,
                                                                    limit=MAX_LINE * 4)
            else:
                reader, writer = await asyncio.open_connection(address.host, address.port,
                                                               limit=MAX_LINE * 4)
        except OSError as exc:
            raise TransportError(f"cannot reach the panel at {address.text()}: {exc}",
                                 code=ErrorCode.CONNECTION_FAILED) from exc
        return cls(address, reader, writer)

    def __repr__(self) -> str:
        return f"AsyncPanelClient({self.address!r})"

    async def __aenter__(self) -> AsyncPanelClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()

    async def send_raw(self, data: bytes) -> Reply:
        async with self._lock:
            try:
                self._writer.write(data)
                await self._writer.drain()
                return _decode(await self._reader.readline())
            except (OSError, ValueError) as exc:
                raise TransportError(f"panel: {exc}", code=ErrorCode.DISCONNECTED) from exc

    async def request(self, op: str, **fields: Any) -> Reply:
        return await self.send_raw(_encode(self.address, op, fields))

    async def call(self, op: str, **fields: Any) -> Reply:
        return raise_for_reply(await self.request(op, **fields))

    async def status(self) -> Reply:
        return await self.call("status")

    async def keypad(self, keys: str) -> Reply:
        return await self.call("keypad", keys=keys)

    async def advance(self, seconds: float) -> Reply:
        return await self.call("clock.advance", seconds=seconds)
