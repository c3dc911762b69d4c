"""The gateway's MQTT bridge for Home Assistant (``ble-lock gateway --mqtt URL``,
docs/home-assistant.md). Needs the optional extra ``ble-lock[mqtt]`` (aiomqtt 2.x).

::

    bridge = MqttBridge(config.mqtt, config)
    gateway = Gateway.from_config(config, hooks=bridge)
    bridge.attach(gateway)
    await asyncio.gather(gateway.run(), bridge.run())

What it publishes (``homeassistant.py`` has the topics and the discovery payloads):

* discovery of the gateway and of every lock it follows, retained, again whenever Home
  Assistant announces ``online`` on ``homeassistant/status`` and after every reconnection;
* availability: the gateway's ``online`` (its last will says ``offline``) and each lock's
  ``online``/``offline`` as its link comes and goes (``availability_mode: all``);
* states, retained: bolt, battery, door, lockout, RSSI, firmware;
* every log entry (R-APP-6) on ``<root>/<LOCK>/log`` and the alarms and unlocks on the
  ``event`` entity's topic, QoS 1, never retained, *before* the gateway's cursor moves past
  them: an entry is published once the broker acknowledged it, across link drops, broker
  restarts and gateway restarts (the cursor is saved after the acknowledgement);
* the outcome of each command on ``<root>/<LOCK>/result`` (never retained).

Commands (``<root>/<LOCK>/set``: ``LOCK`` / ``UNLOCK``; ``<root>/<LOCK>/visitor_code/create``)
run over the gateway's own Bluetooth session: the lock decides (R-APP-5: a remote unlock
with a remote key is refused while the lock's remote-unlock setting is off). A command that
arrives retained is ignored: a broker that kept one must never open a door at a restart.
An unlock whose outcome is unknown (the link dropped) is reported as such and never sent
again by the bridge.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import ssl
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ble_lock.central.sync import describe_event
from ble_lock.central.visitor import one_time_code, stored_secret
from ble_lock.core.errors import ErrorCode, LockError
from ble_lock.gateway.config import GatewayConfig, LockEntry, MqttSettings
from ble_lock.gateway.homeassistant import (
    COMMAND_LOCK,
    COMMAND_UNLOCK,
    OFFLINE,
    ONLINE,
    PRESS,
    LockFacts,
    Topics,
    event_payload,
    gateway_configs,
    lock_configs,
)
from ble_lock.gateway.stream import event_line
from ble_lock.wire import messages as m

if TYPE_CHECKING:
    import aiomqtt

    from ble_lock.central.client import LockClient
    from ble_lock.gateway.gateway import Gateway

__all__ = ["MqttBridge"]

_log = logging.getLogger(__name__)


def _json(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True)


class MqttBridge:
    """The gateway's hooks (:class:`~ble_lock.gateway.gateway.GatewayHooks`) on one side,
    a broker on the other; see the module docstring."""

    def __init__(self, settings: MqttSettings, config: GatewayConfig, *,
                 reconnect_min_s: float = 0.5, reconnect_max_s: float = 30.0,
                 timeout_s: float = 10.0) -> None:
        self.settings = settings
        self.topics = Topics(root=settings.topic, discovery_prefix=settings.discovery_prefix,
                             gateway_id=settings.gateway_id)
        self._entries = {e.key: e for e in config.locks}
        self._reconnect = (reconnect_min_s, reconnect_max_s)
        self._timeout = timeout_s
        self._gateway: Gateway | None = None
        self._client: aiomqtt.Client | None = None
        self._up = asyncio.Event()  # a session with the broker is running
        self._lost = asyncio.Event()  # the running session ended
        self._kick = asyncio.Event()  # retained topics to (re)publish
        self._retained: dict[str, str] = {}  # topic -> last payload (states, configs)
        self._dirty: set[str] = set()
        self._configs: dict[str, set[str]] = {}  # lock key -> its discovery topics
        self._progress: dict[str, tuple[int, int]] = {}  # lock key -> (seq, messages sent)
        self._busy: set[str] = set()  # locks with a command under way
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = 0
        self.published_events = 0
        for topic, payload in gateway_configs(self.topics):
            self._set(topic, _json(payload))

    def __repr__(self) -> str:
        return (f"MqttBridge({self.settings.redacted_url()}, gateway={self.settings.gateway_id},"
                f" up={self._up.is_set()})")

    def attach(self, gateway: Gateway) -> None:
        """The gateway whose locks the bridge commands (built with ``hooks=self``)."""
        self._gateway = gateway

    @property
    def connected(self) -> bool:
        return self._up.is_set()

    # ------------------------------------------------------------------ gateway hooks

    def status(self, entry: LockEntry, state: str) -> None:
        if state == "connected":
            self._spawn(self._refresh(entry))
        elif state in ("lost", "unreachable"):
            self._set(self.topics.lock(entry.key, "availability"), OFFLINE)

    def pushed(self, entry: LockEntry, body: m.EventBody) -> None:
        if isinstance(body, m.StateChanged):
            self._set_bolt(entry.key, body.state)

    async def events(self, entry: LockEntry, records: Sequence[m.EventRecord]) -> None:
        """Publish each record (QoS 1, acknowledged) once; the gateway saves its cursor
        only after this returns. Waits for the broker while it is away (R-APP-6: an
        alarm is late rather than lost)."""
        key = entry.key
        names = self._gateway.names if self._gateway is not None else {}
        for record in records:
            seq, sent = self._progress.get(key, (0, 0))
            if record.seq < seq or (record.seq == seq and sent < 0):
                continue  # published already in this run (a page read again)
            if record.seq > seq:
                sent = 0
            text = describe_event(record, names)
            messages = [(self.topics.lock(key, "log"),
                         _json(event_line(key, entry.name, record, names)))]
            payload = event_payload(record, text)
            if payload is not None:
                messages.append((self.topics.lock(key, "event"), _json(payload)))
            for i in range(sent, len(messages)):
                await self._publish_acked(*messages[i])
                self._progress[key] = (record.seq, i + 1)
            self._progress[key] = (record.seq, -1)  # -1: all of this record's messages
            self.published_events += 1
            self._apply(key, record)

    def delivered(self, entry: LockEntry) -> int:
        """The seq of the last record whose messages were all acknowledged in this run."""
        seq, sent = self._progress.get(entry.key, (0, 0))
        return seq if sent < 0 else seq - 1

    # ------------------------------------------------------------------ states

    def _set(self, topic: str, payload: str) -> None:
        """A retained state: published now if connected, and again after a reconnection
        (the broker may have lost it); the latest value wins."""
        if self._retained.get(topic) == payload and topic not in self._dirty:
            return
        self._retained[topic] = payload
        self._dirty.add(topic)
        self._kick.set()

    def _set_bolt(self, key: str, state: m.LockState | str) -> None:
        value = state if isinstance(state, str) else state.name
        self._set(self.topics.lock(key, "state"), value)

    def _apply(self, key: str, record: m.EventRecord) -> None:
        """What a log entry says of the lock's state (in log order: the last one wins)."""
        kind, t = record.kind, self.topics
        if kind in (m.EventKind.UNLOCK, m.EventKind.SYNC_UNLOCK):
            self._set_bolt(key, "UNLOCKED")
            self._set(t.lock(key, "lockout"), "OFF")  # a success ends the run (R-SEC-1)
        elif kind in (m.EventKind.LOCKED, m.EventKind.SYNC_RELOCK):
            self._set_bolt(key, "LOCKED")
        elif kind is m.EventKind.LOCKOUT:
            self._set(t.lock(key, "lockout"), "ON")
        elif kind is m.EventKind.LOCKOUT_LIFTED:
            self._set(t.lock(key, "lockout"), "OFF")
        elif kind is m.EventKind.DOOR_OPENED:
            self._set(t.lock(key, "door"), "ON")
        elif kind is m.EventKind.DOOR_CLOSED:
            self._set(t.lock(key, "door"), "OFF")
        elif kind is m.EventKind.LOW_BATTERY and self._gateway is not None:
            entry = self._entries.get(key)
            if entry is not None:
                self._spawn(self._refresh(entry))

    async def _refresh(self, entry: LockEntry) -> None:
        """A lock (re)connected: learn what it is and publish its discovery and state."""
        client = self._client_of(entry)
        if client is None:
            return
        try:
            info = await client.system_info()
            door = await self._door_sensor(client, info)
            visitor = await self._visitor_codes(client, entry)
        except (LockError, OSError, EOFError, TimeoutError) as exc:
            _log.info("lock %s: cannot read its facts: %s", entry.key, exc)
            return
        assert self._gateway is not None
        advert = self._gateway.tracker.advert(entry.lock_id)
        facts = LockFacts(key=entry.key, name=entry.name, model=info.model,
                          firmware=info.firmware_version,
                          address=advert.address if advert is not None else client.address,
                          door_sensor=door, visitor_codes=visitor)
        self._discover(facts)
        t, key = self.topics, entry.key
        self._set(t.lock(key, "availability"), ONLINE)
        if key not in self._busy:
            self._set_bolt(key, info.state)
        self._set(t.lock(key, "battery"), str(info.battery_percent))
        self._set(t.lock(key, "firmware"), info.firmware_version)
        if advert is not None and advert.rssi is not None:
            self._set(t.lock(key, "rssi"), str(advert.rssi))
        if self.topics.lock(key, "lockout") not in self._retained:
            self._set(t.lock(key, "lockout"), "OFF")

    async def _door_sensor(self, client: LockClient, info: m.SystemInfo) -> bool:
        """R-LCK-4 / R-MOD-7: a door sensor comes with the 6068 lock body (face-palm);
        a key that may not read the settings leaves the door entity out."""
        if info.model != "face-palm":
            return False
        try:
            settings = await client.settings()
        except LockError as exc:
            if exc.code is ErrorCode.PERMISSION_DENIED:
                return False
            raise
        return settings.lock_body is m.LockBody.BODY_6068

    async def _visitor_codes(self, client: LockClient, entry: LockEntry) -> bool:
        """R-APP-4: whether the gateway's key holds (or may fetch) the visitor secret."""
        assert self._gateway is not None
        with contextlib.suppress(LockError):
            stored_secret(self._gateway.keystore, entry.lock_id)
            return True
        me = await client.whoami()
        if me.role is not m.Role.ADMIN:
            return False
        await client.visitor_secret()
        return True

    def _discover(self, facts: LockFacts) -> None:
        configs = lock_configs(facts, self.topics)
        topics = {topic for topic, _ in configs}
        for gone in self._configs.get(facts.key, set()) - topics:
            self._set(gone, "")  # an entity the lock no longer has: removed (empty config)
        self._configs[facts.key] = topics
        for topic, config in configs:
            self._set(topic, _json(config))

    def _announce(self) -> None:
        """Everything retained again (Home Assistant restarted, or a new session)."""
        self._dirty.update(self._retained)
        self._kick.set()

    # ------------------------------------------------------------------ commands

    def _on_message(self, message: aiomqtt.Message) -> None:
        topic = str(message.topic)
        payload = bytes(message.payload) if isinstance(message.payload, bytes | bytearray) \
            else str(message.payload or "").encode()
        if topic == self.topics.ha_status:
            if payload == ONLINE.encode():
                self._announce()
            return
        parts = topic.split("/")
        root = self.topics.root.split("/")
        if parts[:len(root)] != root or len(parts) < len(root) + 2:
            return
        key, leaf = parts[len(root)], "/".join(parts[len(root) + 1:])
        entry = self._entries.get(key)
        if entry is None:
            return  # another gateway's lock
        if message.retain:
            # a retained command is never carried out: a restart must not open a door
            _log.warning("lock %s: ignored a retained command on %s", key, topic)
            return
        command = payload.decode("utf-8", "replace").strip()
        if not command:
            return  # an empty message clears a retained one: no command
        if leaf == "set" and command in (COMMAND_LOCK, COMMAND_UNLOCK):
            self._start(entry, command)
        elif leaf == "visitor_code/create" and command == PRESS:
            self._start(entry, "VISITOR_CODE")
        else:
            self._spawn(self._result(key, command[:16], error="BAD_COMMAND"))

    def _start(self, entry: LockEntry, command: str) -> None:
        if entry.key in self._busy:  # one command per lock at a time, none queued
            self._spawn(self._result(entry.key, command, error="BUSY"))
            return
        self._busy.add(entry.key)
        self._spawn(self._command(entry, command))

    async def _command(self, entry: LockEntry, command: str) -> None:
        key = entry.key
        try:
            client = self._client_of(entry)
            if client is None or self._gateway is None \
                    or not self._gateway.connected.get(entry.lock_id, False):
                await self._result(key, command, error="UNREACHABLE")
                return
            if command == "VISITOR_CODE":
                await self._visitor_code(entry, client)
                return
            before = self._retained.get(self.topics.lock(key, "state"))
            self._set_bolt(key, "UNLOCKING" if command == COMMAND_UNLOCK else "LOCKING")
            try:
                if command == COMMAND_UNLOCK:
                    await client.unlock()
                else:
                    await client.lock()
            except LockError as exc:  # the lock said no (R-APP-5: remote unlock off...)
                if before is not None:
                    self._set(self.topics.lock(key, "state"), before)
                await self._result(key, command, error=exc.code.name)
                return
            except (OSError, EOFError, TimeoutError):
                # the outcome is unknown: reported, never sent again (the next catch-up
                # reads what the lock did from its log)
                if before is not None:
                    self._set(self.topics.lock(key, "state"), before)
                await self._result(key, command, error="UNCONFIRMED")
                return
            self._set_bolt(key, "UNLOCKED" if command == COMMAND_UNLOCK else "LOCKED")
            await self._result(key, command)
        finally:
            self._busy.discard(key)

    async def _visitor_code(self, entry: LockEntry, client: LockClient) -> None:
        """R-APP-4: a one-time visitor code, derived from the stored secret at the lock's
        own time (it verifies the code with its clock), published to the admin's topic
        (never retained; who reads it is the broker's ACL)."""
        assert self._gateway is not None
        try:
            now = (await client.system_info()).now_ms / 1000
            code = one_time_code(self._gateway.keystore, entry.lock_id, now=now)
        except (OSError, EOFError, TimeoutError):
            await self._result(entry.key, "VISITOR_CODE", error="UNCONFIRMED")
            return
        except LockError as exc:
            await self._result(entry.key, "VISITOR_CODE", error=exc.code.name)
            return
        await self._publish_once(self.topics.lock(entry.key, "visitor_code"),
                                 _json({"code": code, "kind": "one-time"}))
        await self._result(entry.key, "VISITOR_CODE")

    async def _result(self, key: str, command: str, *, error: str | None = None) -> None:
        await self._publish_once(self.topics.lock(key, "result"),
                                 _json({"command": command, "ok": error is None,
                                        "error": error}))

    def _client_of(self, entry: LockEntry) -> LockClient | None:
        return None if self._gateway is None else self._gateway.client(entry.lock_id)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ the broker

    async def _publish_acked(self, topic: str, payload: str) -> None:
        """Publish with QoS 1 until the broker acknowledges it, across reconnections."""
        while True:
            await self._up.wait()
            client, lost = self._client, self._lost
            if client is None:
                continue
            send = asyncio.ensure_future(client.publish(topic, payload, qos=1))
            gone = asyncio.ensure_future(lost.wait())
            try:
                await asyncio.wait({send, gone}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                gone.cancel()
                if not send.done():
                    send.cancel()
            if send.done() and not send.cancelled() and send.exception() is None:
                return
            if send.done() and not send.cancelled():
                _log.info("publish to %s failed: %s", topic, send.exception())
                # the session is ending (or the broker did not answer): try again on the
                # next session, or on this one after a while
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), self._timeout)

    async def _publish_once(self, topic: str, payload: str) -> None:
        """A message that only matters now (a command's outcome, a visitor code):
        QoS 1 if connected, dropped with a log line if not."""
        client = self._client
        if client is None:
            _log.warning("not connected to the broker: %s not published", topic)
            return
        try:
            await client.publish(topic, payload, qos=1)
        except Exception as exc:  # aiomqtt's MqttError and socket errors
            _log.warning("publish to %s failed: %s", topic, exc)

    def _tls(self) -> aiomqtt.TLSParameters | None:
        import aiomqtt

        s = self.settings
        if not s.tls:
            return None
        return aiomqtt.TLSParameters(
            ca_certs=None if s.ca_certs is None else str(s.ca_certs),
            certfile=None if s.certfile is None else str(s.certfile),
            keyfile=None if s.keyfile is None else str(s.keyfile),
            cert_reqs=ssl.CERT_REQUIRED)

    async def run(self) -> None:
        """Connect, serve, reconnect with backoff; until cancelled (then the gateway's
        availability says ``offline``: a clean disconnect sends no last will)."""
        import aiomqtt

        delay = self._reconnect[0]
        while True:
            before = self.connections
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                _log.info("broker %s: %s", self.settings.redacted_url(), exc)
            # a session that came up resets the backoff; a refused connection doubles it
            delay = self._reconnect[0] if self.connections > before else min(
                delay * 2, self._reconnect[1])
            await asyncio.sleep(delay * (0.5 + secrets.randbelow(501) / 1000))

    async def _session(self) -> None:
        import aiomqtt

        s, t = self.settings, self.topics
        client = aiomqtt.Client(
            s.host, s.port, username=s.username, password=s.password,
            identifier=f"ble-lock-{s.gateway_id}", clean_session=True,
            will=aiomqtt.Will(t.gateway_availability, OFFLINE, qos=1, retain=True),
            tls_params=self._tls(), tls_insecure=s.tls_insecure if s.tls else None,
            timeout=self._timeout, protocol=aiomqtt.ProtocolVersion.V311)
        async with client:
            self.connections += 1
            await client.subscribe(t.ha_status, qos=1)
            for topic in t.lock_commands():
                await client.subscribe(topic, qos=1)
            await client.publish(t.gateway_availability, ONLINE, qos=1, retain=True)
            self._client, self._lost = client, asyncio.Event()
            self._up.set()
            self._announce()
            writer = asyncio.create_task(self._writer(client, self._lost))
            try:
                async for message in client.messages:
                    self._on_message(message)
            except asyncio.CancelledError:
                # stopping: say so (a clean disconnect sends no last will); best effort
                with contextlib.suppress(Exception):
                    await client.publish(t.gateway_availability, OFFLINE, qos=1,
                                         retain=True, timeout=2.0)
                raise
            finally:
                self._up.clear()
                self._client = None
                self._lost.set()
                self._kick.set()  # the writer sees ``lost`` even if its cancellation is
                writer.cancel()  # swallowed (3.11's wait_for, inside aiomqtt's publish)
                with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                    await writer

    async def _writer(self, client: aiomqtt.Client, lost: asyncio.Event) -> None:
        """Publish the retained topics marked dirty (discovery first), latest value."""
        import aiomqtt

        prefix = self.topics.discovery_prefix + "/"
        while not lost.is_set():
            await self._kick.wait()
            self._kick.clear()
            while self._dirty and not lost.is_set():
                batch = sorted(self._dirty, key=lambda x: (not x.startswith(prefix), x))
                for topic in batch:
                    self._dirty.discard(topic)
                    try:
                        await client.publish(topic, self._retained[topic], qos=1, retain=True)
                    except aiomqtt.MqttError:
                        self._dirty.add(topic)  # the next session publishes it
                        raise

    async def aclose(self) -> None:
        """Cancel the commands and refreshes under way."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
