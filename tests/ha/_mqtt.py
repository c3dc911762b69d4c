"""A real Mosquitto for the Home Assistant tests, and a test client acting as Home
Assistant: it subscribes to discovery and to the gateway's topics, checks every discovery
config against Home Assistant's MQTT schema, and sends commands."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import re
import shutil
import socket
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt

from ble_lock.testing.waiting import eventually

__all__ = ["CLIENTS", "MOSQUITTO", "Broker", "HomeAssistant", "check_config"]

MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """``mosquitto -c <generated config>`` on a free loopback port; stop and start it
    again on the same port (persistence on: queued QoS 1 messages of persistent sessions
    and retained messages survive a restart, as with a real installation)."""

    def __init__(self, tmp: Path) -> None:
        assert MOSQUITTO is not None
        self.port = _free_port()
        self.dir = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.conf = tmp / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {tmp}/\n"
            "autosave_interval 0\n"
            # as root mosquitto drops to the user "mosquitto", who could not write the
            # persistence file here: stay the user running the tests
            f"user {getpass.getuser()}\n"
            "log_dest none\n")
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _accepting(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    async def start(self) -> None:
        assert self.proc is None
        self.proc = subprocess.Popen([str(MOSQUITTO), "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.starts += 1
        await eventually(lambda: self._accepting() or self.proc is None
                         or self.proc.poll() is not None, what="mosquitto listening")
        assert self.proc.poll() is None, self.proc.stderr.read() if self.proc.stderr else ""

    async def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()  # SIGTERM: mosquitto saves its persistence file
        await asyncio.get_running_loop().run_in_executor(None, self.proc.wait)
        self.proc = None


REQUIRED = {  # Home Assistant's MQTT schema: the keys each platform cannot do without
    "lock": {"command_topic"},
    "sensor": {"state_topic"},
    "binary_sensor": {"state_topic"},
    "event": {"state_topic", "event_types"},
    "button": {"command_topic"},
}
#: Keys each platform accepts (the common ones and each platform's own).
COMMON = {"availability", "availability_mode", "device", "origin", "unique_id", "name",
          "entity_category", "device_class", "qos", "default_entity_id"}
ALLOWED = {
    "lock": COMMON | {"command_topic", "state_topic", "payload_lock", "payload_unlock",
                      "state_locked", "state_unlocked", "state_locking", "state_unlocking",
                      "state_jammed", "retain", "optimistic"},
    "sensor": COMMON | {"state_topic", "unit_of_measurement", "state_class"},
    "binary_sensor": COMMON | {"state_topic", "payload_on", "payload_off"},
    "event": COMMON | {"state_topic", "event_types"},
    "button": COMMON | {"command_topic", "payload_press", "retain"},
}
DEVICE_KEYS = {"identifiers", "connections", "name", "manufacturer", "model", "sw_version",
               "serial_number", "via_device"}


def _topic_ok(topic: object) -> bool:
    return isinstance(topic, str) and topic != "" and not any(c in topic for c in "+#\0")


def check_config(component: str, config: dict[str, Any]) -> None:
    """One discovery config against Home Assistant's MQTT schema (what its voluptuous
    schemas refuse: a missing required key, an unknown key, a bad device block, a
    wildcard in a topic, availability without topics)."""
    assert component in REQUIRED, component
    missing = REQUIRED[component] - set(config)
    assert not missing, f"{component}: missing {missing}"
    unknown = set(config) - ALLOWED[component]
    assert not unknown, f"{component}: unknown keys {unknown}"
    for key in ("command_topic", "state_topic"):
        if key in config:
            assert _topic_ok(config[key]), (key, config[key])
    assert isinstance(config.get("unique_id"), str)
    assert config["unique_id"]
    device = config.get("device")
    assert isinstance(device, dict), "every entity belongs to a device"
    assert set(device) <= DEVICE_KEYS, set(device) - DEVICE_KEYS
    assert device.get("identifiers") or device.get("connections")
    for conn in device.get("connections", []):
        assert isinstance(conn, list)
        assert len(conn) == 2
        assert all(isinstance(c, str)
                                                                 for c in conn)
    if "availability" in config:
        assert config.get("availability_mode", "latest") in ("all", "any", "latest")
        for item in config["availability"]:
            assert _topic_ok(item["topic"])
    if component == "event":
        types = config["event_types"]
        assert isinstance(types, list)
        assert types
        assert all(isinstance(t, str) for t in types)
    if "default_entity_id" in config:  # "<domain>.<object id>" of the same platform
        domain, _, object_id = config["default_entity_id"].partition(".")
        assert domain == component
        assert object_id
        assert re.fullmatch(r"[a-z0-9_]+", object_id), object_id
    if "entity_category" in config:
        assert config["entity_category"] in ("config", "diagnostic")


#: Clients acting as Home Assistant not stopped yet (see ``conftest.py``).
CLIENTS: list[HomeAssistant] = []


@dataclass
class Seen:
    payload: str
    retain: bool


@dataclass
class HomeAssistant:
    """An MQTT client acting as Home Assistant (a persistent session: QoS 1 messages
    published while it is away are kept for it)."""

    broker: Broker
    identifier: str = "home-assistant"
    messages: dict[str, list[Seen]] = field(default_factory=lambda: defaultdict(list))
    _task: asyncio.Task[None] | None = None
    _client: aiomqtt.Client | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        CLIENTS.append(self)
        self._ready = asyncio.Event()
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._ready.wait(), 30)

    async def _run(self) -> None:
        client = aiomqtt.Client("127.0.0.1", self.broker.port, identifier=self.identifier,
                                clean_session=False)
        with contextlib.suppress(aiomqtt.MqttError):  # the broker went away: stop() it
            await self._serve(client)

    async def _serve(self, client: aiomqtt.Client) -> None:
        async with client:
            self._client = client
            await client.subscribe("homeassistant/#", qos=1)
            await client.subscribe("ble-lock/#", qos=1)
            self._ready.set()
            async for message in client.messages:
                payload = message.payload
                text = payload.decode() if isinstance(payload, bytes | bytearray) else str(
                    payload or "")
                self.messages[str(message.topic)].append(Seen(text, bool(message.retain)))

    async def stop(self) -> None:
        if self in CLIENTS:
            CLIENTS.remove(self)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await self._task
        self._task = None
        self._client = None

    async def publish(self, topic: str, payload: str, *, retain: bool = False) -> None:
        assert self._client is not None
        await self._client.publish(topic, payload, qos=1, retain=retain)

    def last(self, topic: str) -> str | None:
        seen = self.messages.get(topic)
        return seen[-1].payload if seen else None

    def json(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(s.payload) for s in self.messages.get(topic, [])]

    def configs(self) -> dict[str, dict[str, Any]]:
        """The latest non-empty discovery config per config topic."""
        out: dict[str, dict[str, Any]] = {}
        for topic, seen in self.messages.items():
            if topic.startswith("homeassistant/") and topic.endswith("/config") and seen:
                if seen[-1].payload:
                    out[topic] = json.loads(seen[-1].payload)
                else:
                    out.pop(topic, None)
        return out

    def log_seqs(self, key: str) -> list[int]:
        return [o["seq"] for o in self.json(f"ble-lock/{key}/log")]
