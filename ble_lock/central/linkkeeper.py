"""The link half of :class:`~ble_lock.central.engine.Engine`: one GATT link at a time,
(re)connected on demand, frames written in order, disconnections noticed once.

A dropped link fails whatever waits on it (``_fail_all``, the engine's); the engine then
retries on a new link. Channels the lock still holds for us when a link dies are closed
on the next link (a CLOSE is unauthenticated and only frees the channel): bless cannot
tell the lock which central went away, and the lock holds only 8 channels.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

from ble_lock.central.transport import Connector, GattLink
from ble_lock.core.errors import ErrorCode, LockError, TransportError

__all__ = ["Channel", "LinkKeeper", "Retry", "dropped", "future"]

_log = logging.getLogger(__name__)


class Retry(Exception):
    """Internal: the attempt failed in a way a new session may cure."""

    def __init__(self, error: LockError) -> None:
        super().__init__(error.message)
        self.error = error


class Channel(Protocol):
    """A sans-IO phone channel (``LockLink`` or ``PhonePairing``)."""

    def data_to_send(self) -> list[bytes]: ...

    def close(self) -> None: ...


def dropped() -> TransportError:
    return TransportError("the link dropped", code=ErrorCode.DISCONNECTED)


def future(loop: asyncio.AbstractEventLoop) -> asyncio.Future[Any]:
    """A future whose failure nobody may await (a session nobody waits on any more)
    without asyncio's "exception was never retrieved" noise."""
    fut: asyncio.Future[Any] = loop.create_future()
    fut.add_done_callback(lambda f: None if f.cancelled() else f.exception())
    return fut


class LinkKeeper(abc.ABC):
    """Owns the link; subclasses provide ``_on_notify``, ``_fail_all`` and ``_current``."""

    def __init__(self, connector: Connector) -> None:
        self._connector = connector
        self._link: GattLink | None = None
        self._gen = 0
        self._write_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._orphans: list[bytes] = []
        self._closing = False
        self.connects = 0

    # -- to provide

    @abc.abstractmethod
    def _on_notify(self, data: bytes) -> None:
        ...

    @abc.abstractmethod
    def _fail_all(self, error: LockError) -> None:
        ...

    @abc.abstractmethod
    def _current(self, chan: Channel) -> bool:
        """Whether someone waits on ``chan`` (the session or pairing in progress)."""
        ...

    # -- the link

    @property
    def reconnects(self) -> int:
        """Connections made after the first one (link drops recovered)."""
        return max(0, self.connects - 1)

    @property
    def link(self) -> GattLink | None:
        return self._link

    async def ensure_link(self) -> GattLink:
        if self._closing:
            raise TransportError("the client is closed", code=ErrorCode.DISCONNECTED)
        if self._link is not None and self._link.connected:
            return self._link
        if self._link is not None:
            await self._drop_link(self._link)
        self._gen += 1
        gen = self._gen
        link = await self._connector(self._on_notify, lambda: self._on_disconnect(gen))
        self.connects += 1
        self._link = link
        orphans, self._orphans = self._orphans, []
        async with self._write_lock:
            for frame in orphans:
                with contextlib.suppress(TransportError):  # best effort: it times out anyway
                    await link.write(frame)
        return link

    async def _live_link(self) -> GattLink:
        """A connected link, or ``Retry`` if it dropped while being set up."""
        link = await self.ensure_link()
        if self._link is not link or not link.connected:
            raise Retry(dropped())
        return link

    async def _drop_link(self, link: GattLink) -> None:
        if self._link is link:
            self._link = None
            self._gen += 1
            self._fail_all(dropped())
        with contextlib.suppress(Exception):  # it is gone either way
            await link.close()

    def _on_disconnect(self, gen: int) -> None:
        if gen != self._gen or self._closing or self._link is None:
            return  # an older link, our own close, or a failed attempt inside connect
        _log.debug("link lost")
        self._link = None
        self._gen += 1
        self._fail_all(dropped())

    def _orphan(self, chan: Channel) -> None:
        """Close ``chan`` locally; its CLOSE goes out first on the next link."""
        chan.close()
        self._orphans.extend(chan.data_to_send())

    # -- writing

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self, chan: Channel) -> None:
        """Write what ``chan`` has queued, in order (one writer at a time)."""
        async with self._write_lock:
            frames = chan.data_to_send()
            link = self._link
            if not frames:
                return
            if link is None:  # gone meanwhile: whoever waits on this channel must retry
                if self._current(chan):
                    self._fail_all(dropped())
                return
            try:
                for frame in frames:
                    await link.write(frame)
            except TransportError:
                await self._drop_link(link)

    # -- closing

    async def _close_link(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        link, self._link = self._link, None
        if link is not None:
            with contextlib.suppress(Exception):
                await link.close()
