"""The gateway: a long-running central that serves several locks (docs/flows.md).

::

    config = GatewayConfig.load("gateway.toml")
    await Gateway.from_config(config).run()          # until cancelled (SIGINT in the CLI)

For each configured lock a follower task keeps a session open (pushes flow only on a
session) and streams the lock's event log from its saved cursor: after every push, at
least every ``poll_interval_s``, and after every reconnection (so an event logged while
the link was down is streamed when it comes back). A lost link is noticed within seconds
(the client's link keeper: bleak's disconnect callback, or a probe of a silent link) and
made again at once if the lock is still there. A lock that went away is reconnected on
its first advertisement after the loss; failing that (and after a failed attempt) with
capped exponential backoff (``backoff_min_s`` doubling to ``backoff_max_s``, with
jitter; the ``sleep`` of the backoff is injectable). A sync statement pushed by one lock
is relayed to the lock it names (R-SYN-2), connecting to it if needed.

Memory is bounded: per lock a client and a few numbers; events are streamed page by
page (at most 8 per page); relays under way are capped (``MAX_RELAYS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from ble_lock.central.client import LockClient
from ble_lock.central.keystore import Keystore
from ble_lock.central.linkkeeper import LinkLostError
from ble_lock.central.transport import Connector, DisconnectCallback, GattLink, NotifyCallback
from ble_lock.core.errors import LockError
from ble_lock.gateway.config import GatewayConfig, LockEntry
from ble_lock.gateway.cursors import StreamCursors
from ble_lock.gateway.stream import CursorStore, EventSink, event_line
from ble_lock.gateway.trackers import BleakTracker, Tracker
from ble_lock.wire import messages as m

__all__ = ["MAX_RELAYS", "Gateway", "GatewayHooks"]

_log = logging.getLogger(__name__)

STOP_GRACE_S = 5.0
"""A stopping gateway waits this long for the hooks' messages already on their way."""
MAX_RELAYS = 32
Sleep = Callable[[float], Awaitable[None]]


class GatewayHooks(Protocol):
    """What a bridge (``gateway/mqtt.py``) hears from the gateway; all run on its loop."""

    def status(self, entry: LockEntry, state: str) -> None:
        """A lock's link changed: ``connected``, ``lost``, ``unreachable``, ``gap``."""

    def pushed(self, entry: LockEntry, body: m.EventBody) -> None:
        """The lock pushed ``body`` (a state change, an alarm...) on the gateway's session."""

    async def events(self, entry: LockEntry, records: Sequence[m.EventRecord]) -> None:
        """Records read from the lock's log, oldest first; awaited before the cursor moves
        past them (R-APP-6: an event reaches the bridge before the gateway forgets it)."""

    def delivered(self, entry: LockEntry) -> int:
        """The seq of the last record :meth:`events` finished delivering in this run (0:
        none): when ``events`` is interrupted (the gateway stopping, Ctrl-C), the gateway
        still records the records delivered before it, so a restart does not deliver
        them twice."""


class _Follower:
    """One lock: its client, cursor and reconnection state."""

    def __init__(self, gateway: Gateway, entry: LockEntry) -> None:
        self.gw = gateway
        self.entry = entry
        self.wake = asyncio.Event()
        self.client: LockClient | None = None
        self.connected = False
        self.backoff = gateway.config.backoff_min_s
        self.failures = 0
        self.attempts = 0
        """Connection attempts made (each call of the connector)."""
        self.last_error: str | None = None
        self.gone: Exception | None = None
        """Why the lock is not served now (a failure, or it went away); None while served."""
        self.returned = asyncio.Event()  # an advertisement seen since it went away
        self._advert_ends_wait = False  # the next advertisement ends the wait (once per loss)
        self._connecting = asyncio.Lock()  # the follower and a relay may both connect

    def __repr__(self) -> str:
        return f"_Follower({self.entry.key}, connected={self.connected})"

    def _connector(self) -> Connector:
        inner = self.gw.tracker.connector(self.entry.lock_id)

        async def connect(on_notify: NotifyCallback, on_disconnect: DisconnectCallback
                          ) -> GattLink:
            self.attempts += 1

            def lost() -> None:
                on_disconnect()
                if self.connected and not self.gw.stopping:
                    self.connected = False
                    self.last_error = "DISCONNECTED"
                    self.gw.status(self.entry, "lost", error="DISCONNECTED")
                self.wake.set()  # reconnect and catch up now

            return await inner(on_notify, lost)

        return connect

    def _client(self) -> LockClient:
        if self.client is None:
            cfg = self.gw.config
            self.client = LockClient(self._connector(), keystore=self.gw.keystore,
                                     lock_id=self.entry.lock_id,
                                     timeout=cfg.request_timeout_s, max_retries=3)
            self.client.on_event(self._on_push)
            self.client.on_link_lost(self._went_away)
        return self.client

    def _went_away(self, error: LinkLostError) -> None:
        """The client gave the lock up (its link lost and not made again): stop serving,
        wait for its advertisement."""
        self._lost(error)
        self.wake.set()

    def _on_push(self, body: m.EventBody) -> None:
        if self.gw.hooks is not None:
            self.gw.hooks.pushed(self.entry, body)
        if isinstance(body, m.SyncStatement):
            self.gw.relay(body)
        self.wake.set()  # something was logged: read the log now

    async def _connected(self) -> LockClient:
        client = self._client()
        async with self._connecting:
            if client.info is None or client.engine.gone is not None:
                await client.connect()
        return client

    async def relay(self, statement: m.SyncStatement) -> None:
        await (await self._connected()).relay_statement(statement)

    async def run(self) -> None:
        cfg = self.gw.config
        while True:
            if not self.gw.tracker.known(self.entry.lock_id):
                await self._sleep(cfg.poll_interval_s)
                continue
            if self.gone is not None:
                await self._wait_for_return()
            try:
                await self._serve()
                # a push that arrived while serving left ``wake`` set: serve again at once
                await self._sleep(cfg.poll_interval_s)
            except (LockError, OSError, EOFError, TimeoutError) as exc:
                # a lock out of range, a link dropped mid-request, a stack hiccup: retry
                self._lost(exc)

    async def _wait_for_return(self) -> None:
        """Until the backoff ran out or, the first time after a loss, the lock's next
        advertisement: it is back (the tracker's ``on_seen``)."""
        cfg = self.gw.config
        delay = self.backoff * (0.5 + secrets.randbelow(501) / 1000)
        self.backoff = min(self.backoff * 2, cfg.backoff_max_s)
        waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(self.gw.sleep(delay))]
        if self._advert_ends_wait:
            waits.append(asyncio.ensure_future(self.returned.wait()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        if self.returned.is_set():
            self._advert_ends_wait = False  # a failure now waits for the backoff
        self.gone = None

    async def _serve(self) -> None:
        client = await self._connected()
        await client.listen()
        if not self.connected:
            self.connected = True
            self.last_error = None
            self.gw.status(self.entry, "connected")
        self.backoff = self.gw.config.backoff_min_s
        self._advert_ends_wait = True  # served: after a loss, its next advertisement counts
        await self.catch_up(client)

    async def catch_up(self, client: LockClient) -> None:
        """Stream every event after the cursor, page by page. One commit per catch-up
        (also when a page fails: what was written is never read again in this run):
        the stream's fsync, then the cursors' checkpoint (gateway/cursors.py)."""
        key = self.entry.key
        cursor = self.gw.cursors.get(key)
        try:
            while True:
                page = await client.events_page(cursor)
                if page.events and page.events[0].seq > cursor + 1:
                    # seq numbers are consecutive: the bounded log lost these unread
                    self.gw.status(self.entry, "gap",
                                   missed=page.events[0].seq - cursor - 1)
                if self.gw.hooks is not None and page.events:
                    await self._deliver(self.gw.hooks, page.events)
                self._record(page.events)
                cursor = page.next_cursor
                self.gw.cursors.set(key, cursor, persist=False)
                if not page.more:
                    return
        finally:
            self.gw.sink.sync()
            self.gw.cursors.flush()

    async def _deliver(self, hooks: GatewayHooks, records: Sequence[m.EventRecord]) -> None:
        """``hooks.events(records)``; if the gateway stops meanwhile, the messages on their
        way get up to ``stop_grace_s`` to be acknowledged (a message the broker has but
        whose acknowledgement was cut off would be published again after a restart), and
        what the hooks delivered is recorded like a page, so a restart does not deliver it
        again (R-APP-6)."""
        delivery = asyncio.ensure_future(hooks.events(self.entry, records))
        try:
            await asyncio.shield(delivery)
        except BaseException:
            if not delivery.done():
                loop = asyncio.get_running_loop()
                deadline = loop.time() + self.gw.stop_grace_s
                while not delivery.done() and loop.time() < deadline:
                    # a further cancel (the gateway's run cancels its followers too) does
                    # not cut the grace short
                    with contextlib.suppress(BaseException):
                        await asyncio.wait_for(asyncio.shield(delivery),
                                               deadline - loop.time())
                delivery.cancel()
                with contextlib.suppress(BaseException):
                    await delivery
            done = hooks.delivered(self.entry)
            self._record([r for r in records if r.seq <= done])
            raise

    def _record(self, records: Sequence[m.EventRecord]) -> None:
        """Write ``records`` to the stream and move the cursor past them (committed by
        the catch-up's one sync)."""
        if not records:
            return
        key = self.entry.key
        self.gw.sink.write((event_line(key, self.entry.name, r, self.gw.names)
                            for r in records), sync=False)
        self.gw.events += len(records)
        self.gw.cursors.set(key, records[-1].seq, persist=False)

    def _lost(self, exc: Exception) -> None:
        if isinstance(exc, LinkLostError) and isinstance(self.gone, LinkLostError):
            return  # told twice (the link listener, then the failed request): once
        self.gone = exc
        self.returned.clear()  # only an advertisement from now on says it is back
        self.failures += 1
        code = exc.code.name if isinstance(exc, LockError) else type(exc).__name__
        if self.connected:
            self.connected = False
            self.gw.status(self.entry, "lost", error=code)
        elif code != self.last_error:  # once per kind of failure, not once per retry
            self.gw.status(self.entry, "unreachable", error=code)
        self.last_error = code
        _log.info("lock %s: %s", self.entry.key, exc)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), seconds)
        self.wake.clear()

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.close()


class Gateway:
    """Follows the configured locks; see the module docstring."""

    def __init__(self, config: GatewayConfig, *, tracker: Tracker, keystore: Keystore,
                 sink: EventSink | None = None,
                 cursors: CursorStore | StreamCursors | None = None,
                 sleep: Sleep = asyncio.sleep, hooks: GatewayHooks | None = None) -> None:
        self.config = config
        self.sleep = sleep
        """How the reconnection backoff waits (tests pass one that records the delays)."""
        self.hooks = hooks
        self.stop_grace_s = STOP_GRACE_S
        """How long a stop waits for the hooks' messages on their way (``_deliver``)."""
        self.tracker = tracker
        self.keystore = keystore
        # the cursors first: recovering them from a stream file cuts a torn last line
        # before the sink appends (gateway/cursors.py: one fsync per batch)
        self.cursors = cursors if cursors is not None else (
            CursorStore(config.state) if config.output == "-"
            else StreamCursors(config.state, Path(config.output)))
        self.sink = sink if sink is not None else EventSink(config.output)
        self.names = config.names()
        self.events = 0
        self.relays_ok = 0
        self.relays_failed = 0
        self._followers = {e.lock_id: _Follower(self, e) for e in config.locks}
        self._relays: set[asyncio.Task[None]] = set()
        self.stopping = False

    @classmethod
    def from_config(cls, config: GatewayConfig, *,
                    hooks: GatewayHooks | None = None) -> Gateway:
        """A gateway on bleak (scanning ``config.adapter``) with the configured keystore."""
        return cls(config, tracker=BleakTracker([e.lock_id for e in config.locks],
                                                adapter=config.adapter),
                   keystore=Keystore(config.keystore), hooks=hooks)

    def __repr__(self) -> str:
        return f"Gateway(locks={len(self._followers)}, events={self.events})"

    @property
    def connected(self) -> Mapping[bytes, bool]:
        return {k: f.connected for k, f in self._followers.items()}

    @property
    def attempts(self) -> Mapping[bytes, int]:
        """Connection attempts made per lock (first connections and reconnections)."""
        return {k: f.attempts for k, f in self._followers.items()}

    def client(self, lock_id: bytes) -> LockClient | None:
        """The client the gateway uses for a lock (None before its first connection);
        requests on it share the gateway's link and session."""
        follower = self._followers.get(lock_id)
        return None if follower is None else follower.client

    def status(self, entry: LockEntry, state: str, **extra: Any) -> None:
        # flushed now, made durable by the next batch's commit (one fsync per batch)
        self.sink.write([{"type": "status", "lock": entry.key, "name": entry.name,
                          "state": state, **extra}], sync=False)
        if self.hooks is not None:
            self.hooks.status(entry, state)

    def _seen(self, lock_id: bytes) -> None:
        follower = self._followers.get(lock_id)
        if follower is not None and not follower.connected:
            follower.wake.set()  # it is back: try now rather than at the end of the backoff
            follower.returned.set()

    def relay(self, statement: m.SyncStatement) -> None:
        """Hand a statement to the follower of its target (bounded number under way)."""
        target = self._followers.get(statement.target_lock_id)
        if not self.config.relay or target is None or len(self._relays) >= MAX_RELAYS:
            return
        task = asyncio.get_running_loop().create_task(self._relay(target, statement))
        self._relays.add(task)
        task.add_done_callback(self._relays.discard)

    async def _relay(self, target: _Follower, statement: m.SyncStatement) -> None:
        source = statement.issuer_lock_id.hex().upper()
        try:
            await target.relay(statement)
        except LockError as exc:
            self.relays_failed += 1
            self.sink.write([{"type": "relay", "from": source, "to": target.entry.key,
                              "ok": False, "error": exc.code.name}])
            return
        self.relays_ok += 1
        self.sink.write([{"type": "relay", "from": source, "to": target.entry.key,
                          "ok": True}])

    async def run(self) -> None:
        """Follow every lock until cancelled; closes the links and the sink on the way out."""
        tasks = [asyncio.create_task(self.tracker.run(self._seen))]
        tasks += [asyncio.create_task(f.run()) for f in self._followers.values()]
        try:
            await asyncio.gather(*tasks)
        finally:
            self.stopping = True
            for task in (*tasks, *self._relays):
                task.cancel()
            await asyncio.gather(*tasks, *self._relays, return_exceptions=True)
            for follower in self._followers.values():
                with contextlib.suppress(Exception):
                    await follower.aclose()
            self.sink.close()
