"""The gateway: a long-running central that serves several locks (docs/flows.md).

::

    config = GatewayConfig.load("gateway.toml")
    await Gateway.from_config(config).run()          # until cancelled (SIGINT in the CLI)

For each configured lock a follower task keeps a session open (pushes flow only on a
session) and streams the lock's event log from its saved cursor: after every push, at
least every ``poll_interval_s``, and after every reconnection (so an event logged while
the link was down is streamed when it comes back). A lock that vanishes is retried with
exponential backoff (``backoff_min_s`` doubling to ``backoff_max_s``, with jitter),
cut short when its advertisement is seen again. A sync statement pushed by one lock is
relayed to the lock it names (R-SYN-2), connecting to it if needed.

Memory is bounded: per lock a client and a few numbers; events are streamed page by
page (at most 8 per page); relays under way are capped (``MAX_RELAYS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ble_lock.central.client import LockClient
from ble_lock.central.keystore import Keystore
from ble_lock.central.transport import Connector, DisconnectCallback, GattLink, NotifyCallback
from ble_lock.core.errors import LockError
from ble_lock.gateway.config import GatewayConfig, LockEntry
from ble_lock.gateway.stream import CursorStore, EventSink, event_line
from ble_lock.gateway.trackers import BleakTracker, Tracker
from ble_lock.wire import messages as m

__all__ = ["MAX_RELAYS", "Gateway", "GatewayHooks"]

_log = logging.getLogger(__name__)
MAX_RELAYS = 32


class GatewayHooks(Protocol):
    """What a bridge (``gateway/mqtt.py``) hears from the gateway; all run on its loop."""

    def status(self, entry: LockEntry, state: str) -> None:
        """A lock's link changed: ``connected``, ``lost``, ``unreachable``, ``gap``."""

    def pushed(self, entry: LockEntry, body: m.EventBody) -> None:
        """The lock pushed ``body`` (a state change, an alarm...) on the gateway's session."""

    async def events(self, entry: LockEntry, records: Sequence[m.EventRecord]) -> None:
        """Records read from the lock's log, oldest first; awaited before the cursor moves
        past them (R-APP-6: an event reaches the bridge before the gateway forgets it)."""


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
        self.last_error: str | None = None
        self._connecting = asyncio.Lock()  # the follower and a relay may both connect

    def __repr__(self) -> str:
        return f"_Follower({self.entry.key}, connected={self.connected})"

    def _connector(self) -> Connector:
        inner = self.gw.tracker.connector(self.entry.lock_id)

        async def connect(on_notify: NotifyCallback, on_disconnect: DisconnectCallback
                          ) -> GattLink:
            def lost() -> None:
                on_disconnect()
                if self.connected and not self.gw.stopping:
                    self.connected = False
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
        return self.client

    def _on_push(self, body: m.EventBody) -> None:
        if self.gw.hooks is not None:
            self.gw.hooks.pushed(self.entry, body)
        if isinstance(body, m.SyncStatement):
            self.gw.relay(body)
        self.wake.set()  # something was logged: read the log now

    async def _connected(self) -> LockClient:
        client = self._client()
        async with self._connecting:
            if client.info is None:
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
            try:
                await self._serve()
                # a push that arrived while serving left ``wake`` set: serve again at once
                await self._sleep(cfg.poll_interval_s)
            except (LockError, OSError, EOFError, TimeoutError) as exc:
                # a lock out of range, a link dropped mid-request, a stack hiccup: retry
                self._lost(exc)
                await self._sleep(self.backoff * (0.5 + secrets.randbelow(501) / 1000))
                self.backoff = min(self.backoff * 2, cfg.backoff_max_s)

    async def _serve(self) -> None:
        client = await self._connected()
        await client.listen()
        if not self.connected:
            self.connected = True
            self.last_error = None
            self.gw.status(self.entry, "connected")
        self.backoff = self.gw.config.backoff_min_s
        await self.catch_up(client)

    async def catch_up(self, client: LockClient) -> None:
        """Stream every event after the cursor, page by page. The lines of the pages
        read are made durable, then the cursor saved, once per catch-up (also when a
        page fails: what was written is never read again in this run)."""
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
                    await self.gw.hooks.events(self.entry, page.events)
                self.gw.sink.write((event_line(key, self.entry.name, r, self.gw.names)
                                    for r in page.events), sync=False)
                self.gw.events += len(page.events)
                cursor = page.next_cursor
                self.gw.cursors.set(key, cursor, persist=False)
                if not page.more:
                    return
        finally:
            self.gw.sink.sync()
            self.gw.cursors.flush()

    def _lost(self, exc: Exception) -> None:
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
                 sink: EventSink | None = None, cursors: CursorStore | None = None,
                 hooks: GatewayHooks | None = None) -> None:
        self.config = config
        self.hooks = hooks
        self.tracker = tracker
        self.keystore = keystore
        self.sink = sink if sink is not None else EventSink(config.output)
        self.cursors = cursors if cursors is not None else CursorStore(config.state)
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

    def client(self, lock_id: bytes) -> LockClient | None:
        """The client the gateway uses for a lock (None before its first connection);
        requests on it share the gateway's link and session."""
        follower = self._followers.get(lock_id)
        return None if follower is None else follower.client

    def status(self, entry: LockEntry, state: str, **extra: Any) -> None:
        self.sink.write([{"type": "status", "lock": entry.key, "name": entry.name,
                          "state": state, **extra}])
        if self.hooks is not None:
            self.hooks.status(entry, state)

    def _seen(self, lock_id: bytes) -> None:
        follower = self._followers.get(lock_id)
        if follower is not None and not follower.connected:
            follower.wake.set()  # it is back: try now rather than at the end of the backoff

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
