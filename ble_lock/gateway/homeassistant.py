"""Home Assistant's MQTT discovery for the gateway's locks (docs/home-assistant.md).

Pure functions, no I/O: the topics of each lock and gateway, and the discovery
configuration of each entity (``homeassistant/<component>/<node>/<object>/config``), as
Home Assistant's MQTT integration reads them (lock, sensor, binary_sensor, event,
button; the ``device`` block, ``availability`` with ``availability_mode: all``).

Entity ids are suggested with ``default_entity_id`` (``object_id`` is deprecated in Home
Assistant). Every unique id and every topic of a lock derives from its lock id alone, never from the
gateway that follows it: a lock moved to another gateway keeps its entities, and two
gateways that follow different locks publish disjoint entities. The gateway is a device
of its own (its connectivity), and each lock's device names it as ``via_device``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ble_lock.wire import messages as m

__all__ = [
    "COMMAND_LOCK",
    "COMMAND_UNLOCK",
    "EVENT_TYPES",
    "OFFLINE",
    "ONLINE",
    "PRESS",
    "LockFacts",
    "Topics",
    "event_payload",
    "gateway_configs",
    "lock_configs",
]

ONLINE, OFFLINE = "online", "offline"
COMMAND_LOCK, COMMAND_UNLOCK = "LOCK", "UNLOCK"
PRESS = "PRESS"
#: The lock entity's states (Home Assistant's defaults, spelled out in the config).
STATES = {"state_locked": "LOCKED", "state_unlocked": "UNLOCKED",
          "state_locking": "LOCKING", "state_unlocking": "UNLOCKING",
          "state_jammed": "JAMMED"}

#: R-APP-6, R-CRD-6: the log entries the ``event`` entity fires, by the event type it
#: names (unlocks with user, method and duress flag; the alarms; a sync unlock).
EVENT_TYPES: Mapping[m.EventKind, str] = {
    m.EventKind.UNLOCK: "unlock",
    m.EventKind.SYNC_UNLOCK: "sync_unlock",
    m.EventKind.DURESS_ALARM: "duress",
    m.EventKind.TAMPER_ALARM: "tamper",
    m.EventKind.LOCKOUT: "lockout",
    m.EventKind.LOW_BATTERY: "low_battery",
    m.EventKind.DOOR_AJAR: "door_ajar",
}

_ORIGIN = {"name": "ble-lock", "support_url": "https://github.com/ble-lock/ble-lock"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Topics:
    """The topic layout of one gateway (``root`` and ``discovery_prefix`` configurable)."""

    root: str
    discovery_prefix: str
    gateway_id: str

    @property
    def gateway_availability(self) -> str:
        """The gateway's ``online``/``offline`` (retained; ``offline`` is its last will)."""
        return f"{self.root}/gateway/{self.gateway_id}/availability"

    @property
    def ha_status(self) -> str:
        """Home Assistant's birth and last will: ``online`` asks for discovery again."""
        return f"{self.discovery_prefix}/status"

    def lock(self, key: str, leaf: str) -> str:
        """A topic of lock ``key`` (its id in hex): ``state``, ``set``, ``event``..."""
        return f"{self.root}/{key}/{leaf}"

    def lock_commands(self) -> list[str]:
        """The command topics the gateway subscribes to (filters; the handler keeps only
        the locks it follows)."""
        return [f"{self.root}/+/set", f"{self.root}/+/visitor_code/create"]

    def config(self, component: str, node: str, object_id: str) -> str:
        return f"{self.discovery_prefix}/{component}/{node}/{object_id}/config"


@dataclass(frozen=True, slots=True, kw_only=True)
class LockFacts:
    """What the gateway learnt of a lock (system info, settings, advertisement)."""

    key: str
    name: str
    model: str
    firmware: str
    address: str | None = None
    door_sensor: bool = False
    visitor_codes: bool = False


def _entity_id(component: str, uid: str) -> str:
    """An entity id Home Assistant accepts: lower-case letters, digits and ``_``."""
    return f"{component}.{re.sub(r'[^a-z0-9_]', '_', uid.lower())}"


def _gateway_node(topics: Topics) -> str:
    return f"blelock_gateway_{topics.gateway_id}"


def _lock_node(key: str) -> str:
    return f"blelock_{key.lower()}"


def _availability(topics: Topics, key: str | None) -> dict[str, Any]:
    items = [{"topic": topics.gateway_availability, "payload_available": ONLINE,
              "payload_not_available": OFFLINE}]
    if key is not None:
        items.append({"topic": topics.lock(key, "availability"),
                      "payload_available": ONLINE, "payload_not_available": OFFLINE})
    return {"availability": items, "availability_mode": "all"}


def gateway_configs(topics: Topics) -> list[tuple[str, dict[str, Any]]]:
    """The gateway as a device: one connectivity entity on its own availability topic."""
    node = _gateway_node(topics)
    device = {"identifiers": [node], "name": f"ble-lock gateway {topics.gateway_id}",
              "manufacturer": "ble-lock", "model": "gateway"}
    config = {"name": "Connectivity", "unique_id": f"{node}_connectivity",
              "default_entity_id": _entity_id("binary_sensor", f"{node}_connectivity"),
              "device_class": "connectivity",
              "entity_category": "diagnostic", "state_topic": topics.gateway_availability,
              "payload_on": ONLINE, "payload_off": OFFLINE, "device": device,
              "origin": _ORIGIN}
    return [(topics.config("binary_sensor", node, "connectivity"), config)]


def lock_configs(facts: LockFacts, topics: Topics) -> list[tuple[str, dict[str, Any]]]:
    """Every entity of one lock: lock, battery, door (with a door sensor), event,
    lockout, RSSI and firmware (diagnostic), visitor-code button (when the gateway's
    key may hold the visitor secret)."""
    key, node = facts.key, _lock_node(facts.key)
    device: dict[str, Any] = {
        "identifiers": [node], "name": facts.name, "manufacturer": "ble-lock",
        "model": facts.model, "sw_version": facts.firmware, "serial_number": key,
        "via_device": _gateway_node(topics)}
    if facts.address:
        device["connections"] = [["bluetooth", facts.address.lower()]]
    common = {"device": device, "origin": _ORIGIN, **_availability(topics, key)}

    def entity(component: str, object_id: str, **fields: Any) -> tuple[str, dict[str, Any]]:
        uid = f"{node}_{object_id}"
        return topics.config(component, node, object_id), {
            "unique_id": uid, "default_entity_id": _entity_id(component, uid), **fields,
            **common}

    out = [
        entity("lock", "lock", name=None, command_topic=topics.lock(key, "set"),
               state_topic=topics.lock(key, "state"), payload_lock=COMMAND_LOCK,
               payload_unlock=COMMAND_UNLOCK, retain=False, qos=1, optimistic=False,
               **STATES),
        entity("sensor", "battery", name="Battery", device_class="battery",
               unit_of_measurement="%", state_class="measurement",
               state_topic=topics.lock(key, "battery")),
        entity("event", "event", name="Activity", state_topic=topics.lock(key, "event"),
               event_types=sorted(EVENT_TYPES.values())),
        entity("binary_sensor", "lockout", name="Lockout", device_class="problem",
               state_topic=topics.lock(key, "lockout"), payload_on="ON", payload_off="OFF"),
        entity("sensor", "rssi", name="Signal strength", device_class="signal_strength",
               unit_of_measurement="dBm", state_class="measurement",
               entity_category="diagnostic", state_topic=topics.lock(key, "rssi")),
        entity("sensor", "firmware", name="Firmware", entity_category="diagnostic",
               state_topic=topics.lock(key, "firmware")),
    ]
    if facts.door_sensor:  # R-LCK-4 / R-MOD-7: only the 6068 body has one
        out.append(entity("binary_sensor", "door", name="Door", device_class="door",
                          state_topic=topics.lock(key, "door"), payload_on="ON",
                          payload_off="OFF"))
    if facts.visitor_codes:  # R-APP-4: one-time visitor code, sent to the admin's topic
        out.append(entity("button", "visitor_code", name="New visitor code",
                          command_topic=topics.lock(key, "visitor_code/create"),
                          payload_press=PRESS, retain=False, qos=1))
    return out


def event_payload(record: m.EventRecord, text: str) -> dict[str, Any] | None:
    """The ``event`` entity's message for a log record (None: a record it does not fire
    for). ``seq`` lets a reader drop a repeat (docs/home-assistant.md)."""
    event_type = EVENT_TYPES.get(record.kind)
    if event_type is None:
        return None
    return {"event_type": event_type, "seq": record.seq, "at_ms": record.at_ms,
            "user": record.user_number,
            "method": None if record.method is None else record.method.name.lower(),
            "duress": record.duress, "text": text}
