"""The link half of :class:`~ble_lock.central.engine.Engine`: one GATT link at a time,
(re)connected on demand, frames written in order, losses noticed within seconds.

**A lost link** is noticed two ways (docs/central.md, "A lock that goes away"):

* the link drops: bleak's disconnected callback (the peer's supervision timeout, a
  disconnection, the adapter gone) calls :meth:`LinkKeeper._on_disconnect` at once;
* the link stays up but nothing answers on it: an emulator process that died (BlueZ keeps
  the link of its adapter and only unregisters the GATT application), or a lock that
  hangs. When someone waited on the link (a request, a pairing, push listeners) through a
  whole ``probe_interval`` in which nothing came from the lock, the keeper reads the
  fresh characteristic (one ATT round trip, no side effect on the lock); a failed or
  unanswered read is a lost link.

Either way whatever waits on the link fails at once (``_fail_all``, the engine's) and the
engine makes *one* attempt at a new link, bounded by ``relink_timeout`` (a glitch, or a
lock that restarts at once, is retried with the same request id: docs/protocol.md,
"Retry after a lost link"). If that fails, the lock went away: :class:`LinkLostError`,
the link listeners (``add_link_listener``) are told, and later requests fail at once with
the same error until :meth:`LinkKeeper.connect` is called again (the gateway does on the
lock's next advertisement; ``events --follow`` after a new scan).

Channels the lock still holds for us when a link dies are closed on the next link (a
CLOSE is unauthenticated and only frees the channel): bless cannot tell the lock which
central went away, and the lock holds only 8 channels.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from ble_lock.central.transport import Connector, GattLink
from ble_lock.core.errors import ErrorCode, LockError, TransportError

__all__ = ["PROBE_INTERVAL", "RELINK_TIMEOUT", "Channel", "LinkKeeper", "LinkListener",
           "LinkLostError", "Retry", "dropped", "future"]

_log = logging.getLogger(__name__)

RELINK_TIMEOUT = 8.0
"""Seconds one new link may take after a loss before the lock counts as gone."""

PROBE_INTERVAL = 2.0
"""Seconds of silence on a link someone waits on before the keeper probes it."""

PROBE_TIMEOUT = 5.0
"""Seconds a probe read may take (an ATT read is answered within a connection event or
two; BlueZ's own ATT timeout is 30 s)."""


class LinkLostError(TransportError):
    """The link to the lock was lost and no new one could be made in time: the lock was
    switched off, went out of range, or its emulator stopped (code ``DISCONNECTED``)."""

    default_code = ErrorCode.DISCONNECTED


LinkListener = Callable[[LinkLostError], None]
"""Told once each time the lock goes away (a lost link that could not be made again)."""


class Retry(Exception):
    """Internal: the attempt failed in a way a new session may cure."""

    def __init__(self, error: LockError) -> None:
        super().__init__(error.message)
        self.error = error


class Channel(Protocol):
    """A sans-IO phone channel (``LockLink`` or ``PhonePairing``)."""

    def data_to_send(self) -> list[bytes]: ...

    def close(self) -> None: ...


def dropped(reason: str = "the link dropped") -> LinkLostError:
    return LinkLostError(reason)


def future(loop: asyncio.AbstractEventLoop) -> asyncio.Future[Any]:
    """A future whose failure nobody may await (a session nobody waits on any more)
    without asyncio's "exception was never retrieved" noise."""
    fut: asyncio.Future[Any] = loop.create_future()
    fut.add_done_callback(lambda f: None if f.cancelled() else f.exception())
    return fut


class LinkKeeper(abc.ABC):
    """Owns the link; subclasses provide ``_on_notify``, ``_fail_all``, ``_current``,
    ``_wants_link`` and ``_lock_name``, and call :meth:`_heard` for every notification.

    ``relink_timeout``: seconds the one new link after a loss may take; ``probe_interval``:
    seconds of silence before a probe (None: never probe)."""

    def __init__(self, connector: Connector, *, relink_timeout: float = RELINK_TIMEOUT,
                 probe_interval: float | None = PROBE_INTERVAL) -> None:
        self._connector = connector
        self.relink_timeout = relink_timeout
        self.probe_interval = probe_interval
        self._link: GattLink | None = None
        self._gen = 0
        self._write_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()  # short-lived: flushes, relistens
        self._supervisor: asyncio.Task[None] | None = None  # lives as long as its link
        self._orphans: list[bytes] = []
        self._closing = False
        self._lost: str | None = None  # why the last link was lost (None: not since connected)
        self._gone: LinkLostError | None = None  # the lock went away (relink failed)
        self._heard_count = 0  # notifications received (the supervisor compares)
        self._looked_at = 0  # ``_heard_count`` at the last look
        self._waited = False  # someone waited on the link at the last look
        self._link_listeners: list[LinkListener] = []
        self.connects = 0
        self.probes = 0
        """Probe reads made (each one ATT round trip)."""
        self.losses = 0
        """Links lost (dropped, or found dead by a probe)."""

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

    @abc.abstractmethod
    def _wants_link(self) -> bool:
        """Whether someone waits on the link now (a request, a pairing, push listeners)."""
        ...

    def _lock_name(self) -> str:
        """How errors name the lock."""
        return "the lock"

    def _heard(self) -> None:
        """Something came from the lock: the link is alive."""
        self._heard_count += 1

    # -- the link

    @property
    def reconnects(self) -> int:
        """Connections made after the first one (link drops recovered)."""
        return max(0, self.connects - 1)

    @property
    def link(self) -> GattLink | None:
        return self._link

    @property
    def gone(self) -> LinkLostError | None:
        """Why the lock counts as gone (a lost link that could not be made again), else None."""
        return self._gone

    def add_link_listener(self, listener: LinkListener) -> Callable[[], None]:
        """Call ``listener`` each time the lock goes away; returns a function that stops it."""
        self._link_listeners.append(listener)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._link_listeners.remove(listener)

        return remove

    async def ensure_link(self) -> GattLink:
        """The current link, or a new one: after a loss one attempt bounded by
        ``relink_timeout``; once the lock is gone, :class:`LinkLostError` at once."""
        if self._closing:
            raise TransportError("the client is closed", code=ErrorCode.DISCONNECTED)
        if self._link is not None and self._link.connected:
            return self._link
        if self._gone is not None:
            raise LinkLostError(self._gone.message, hint=self._gone.hint)
        if self._link is not None:
            await self._drop_link(self._link)
        return await self._open(bounded=self._lost is not None)

    async def connect(self) -> GattLink:
        """Connect (again), with the connector's own attempts and timeouts, also after the
        lock went away."""
        if self._closing:
            raise TransportError("the client is closed", code=ErrorCode.DISCONNECTED)
        self._gone = None
        if self._link is not None and self._link.connected:
            return self._link
        if self._link is not None:
            await self._drop_link(self._link)
        return await self._open(bounded=False)

    async def _open(self, *, bounded: bool) -> GattLink:
        self._gen += 1
        gen = self._gen
        try:
            if bounded:
                async with asyncio.timeout(self.relink_timeout):
                    link = await self._connector(self._on_notify,
                                                 lambda: self._on_disconnect(gen))
            else:
                link = await self._connector(self._on_notify, lambda: self._on_disconnect(gen))
        except (TransportError, TimeoutError) as exc:
            if not bounded:
                raise
            raise self._went_away(exc) from None
        self.connects += 1
        self._link = link
        self._lost = None
        self._looked_at = self._heard_count
        self._waited = False
        if self.probe_interval is not None:
            if self._supervisor is not None:
                self._supervisor.cancel()
            self._supervisor = asyncio.ensure_future(self._supervise(link))
        orphans, self._orphans = self._orphans, []
        async with self._write_lock:
            for frame in orphans:
                with contextlib.suppress(TransportError):  # best effort: it times out anyway
                    await link.write(frame)
        return link

    def _went_away(self, exc: BaseException) -> LinkLostError:
        """No new link after a loss: the lock is gone; tell the link listeners."""
        why = exc.message if isinstance(exc, LockError) else (
            f"no new link within {self.relink_timeout:g} s")
        gone = LinkLostError(
            f"lost the link to {self._lock_name()} ({self._lost or 'it dropped'}) and it did "
            f"not come back: {why}",
            hint="is it powered and in range? A lock that restarted is back in a few "
                 "seconds: try again")
        self._gone = gone
        _log.info("%s", gone.message)
        for listener in list(self._link_listeners):
            try:
                listener(gone)
            except Exception:  # a listener's bug must not break the client
                _log.exception("link listener failed")
        return gone

    async def _live_link(self) -> GattLink:
        """A connected link, or ``Retry`` if it dropped while being set up."""
        link = await self.ensure_link()
        if self._link is not link or not link.connected:
            raise Retry(dropped())
        return link

    async def _drop_link(self, link: GattLink, reason: str = "the link failed") -> None:
        if self._link is link:
            self._lose(reason)
        with contextlib.suppress(Exception):  # it is gone either way
            await link.close()

    def _on_disconnect(self, gen: int) -> None:
        if gen != self._gen or self._closing or self._link is None:
            return  # an older link, our own close, or a failed attempt inside connect
        self._lose("the link dropped")

    def _lose(self, reason: str) -> None:
        """The current link is lost: fail whatever waits on it, at once."""
        _log.debug("link lost: %s", reason)
        self._link = None
        self._gen += 1
        self._lost = reason
        self.losses += 1
        self._fail_all(dropped(reason))

    # -- supervision

    async def _supervise(self, link: GattLink) -> None:
        """Every ``probe_interval``: :meth:`check_link` (runs as long as ``link`` is ours)."""
        assert self.probe_interval is not None
        while self._link is link:
            await asyncio.sleep(self.probe_interval)
            if self._link is not link:
                return
            await self.check_link()

    async def check_link(self) -> bool:
        """Probe the link if nothing was heard on it since the last look and someone waited
        on it at both looks (a wait that spans the silence, not one that just began): one
        read of the fresh characteristic. A failed or unanswered read loses the link
        (False). True: alive, or not worth a probe."""
        link = self._link
        heard, self._looked_at = self._heard_count != self._looked_at, self._heard_count
        waiting = self._wants_link()
        waited, self._waited = self._waited and waiting, waiting
        if link is None or heard or not waited:
            return link is not None
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                await link.read_fresh()
        except (TransportError, TimeoutError) as exc:
            why = exc.message if isinstance(exc, LockError) else "no answer"
            if self._link is link:
                await self._drop_link(link, f"it stopped answering: {why}")
            return False
        self.probes += 1
        return True

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
                await self._drop_link(link, "a write failed")

    # -- closing

    async def _close_link(self) -> None:
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(BaseException):
                await supervisor
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        link, self._link = self._link, None
        if link is not None:
            with contextlib.suppress(Exception):
                await link.close()
