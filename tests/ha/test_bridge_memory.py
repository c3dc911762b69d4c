"""Issue 16: the MQTT bridge against a real Mosquitto, over in-memory locks (the real
core and protocol, no radio): discovery checked against Home Assistant's schema, states,
events exactly once (R-APP-6) across a gateway restart and the broker going away, retained
commands ignored, two gateways on one broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ble_lock.central.keystore import Keystore
from ble_lock.core.profile import DL20VC
from ble_lock.gateway.trackers import StaticTracker
from ble_lock.testing.memory_lock import MemoryLock
from ble_lock.testing.waiting import eventually
from tests.flows._memlocks import ADMIN_PIN, claim_all, config
from tests.ha._bridge import Bridged
from tests.ha._mqtt import Broker, HomeAssistant, check_config

pytestmark = pytest.mark.timeout(120)


def _locks() -> list[MemoryLock]:
    return [MemoryLock(lock_id=bytes.fromhex("a0000001"), seed=1),
            MemoryLock(lock_id=bytes.fromhex("a0000002"), seed=2, profile=DL20VC)]


def _key(mem: MemoryLock) -> str:
    return mem.lock_id.hex().upper()


async def _setup(tmp: Path, locks: list[MemoryLock]) -> Keystore:
    keystore = Keystore(tmp / "admin")
    await claim_all(locks, keystore)
    return keystore


def _tracker(locks: list[MemoryLock]) -> StaticTracker:
    return StaticTracker({mem.lock_id: mem.connector() for mem in locks})


async def test_discovery_is_complete_and_valid_for_both_profiles(
        broker: Broker, tmp_path: Path) -> None:
    """Every config passes Home Assistant's schema; unique ids are unique; each lock is
    a device via the gateway, with availability on both topics (mode all)."""
    locks = _locks()
    keystore = await _setup(tmp_path, locks)
    ha = HomeAssistant(broker)
    await ha.start()
    run = Bridged(config(locks, tmp_path), tracker=_tracker(locks), keystore=keystore,
                  url=broker.url)
    face, dl = (_key(m) for m in locks)
    await eventually(lambda: len(ha.configs()) >= 1 + 8 + 7, what="discovery", timeout=30)
    configs = ha.configs()
    ids = [c["unique_id"] for c in configs.values()]
    assert len(ids) == len(set(ids)), "a unique_id twice"
    for topic, cfg in configs.items():
        component = topic.split("/")[1]
        check_config(component, cfg)
    by_node: dict[str, set[str]] = {}
    for topic in configs:
        _, component, node, object_id, _ = topic.split("/")
        by_node.setdefault(node, set()).add(f"{component}/{object_id}")
    # face-palm with the 6068 body: a door sensor; both hold the visitor secret (admin key)
    assert by_node[f"blelock_{face.lower()}"] == {
        "lock/lock", "sensor/battery", "event/event", "binary_sensor/lockout",
        "sensor/rssi", "sensor/firmware", "binary_sensor/door", "button/visitor_code"}
    assert by_node[f"blelock_{dl.lower()}"] == {
        "lock/lock", "sensor/battery", "event/event", "binary_sensor/lockout",
        "sensor/rssi", "sensor/firmware", "button/visitor_code"}
    assert by_node["blelock_gateway_gw1"] == {"binary_sensor/connectivity"}
    lock_cfg = configs[f"homeassistant/lock/blelock_{face.lower()}/lock/config"]
    assert lock_cfg["device"]["via_device"] == "blelock_gateway_gw1"
    assert lock_cfg["device"]["model"] == "face-palm"
    assert lock_cfg["availability_mode"] == "all"
    assert [a["topic"] for a in lock_cfg["availability"]] == [
        "ble-lock/gateway/gw1/availability", f"ble-lock/{face}/availability"]
    assert configs[f"homeassistant/lock/blelock_{dl.lower()}/lock/config"]["device"][
        "model"] == "dl20vc"
    # states, retained
    await eventually(lambda: ha.last(f"ble-lock/{face}/state") == "LOCKED"
                     and ha.last(f"ble-lock/{dl}/availability") == "online"
                     and ha.last("ble-lock/gateway/gw1/availability") == "online",
                     what="states")
    assert ha.last(f"ble-lock/{face}/battery") == "100"
    # Home Assistant restarts: "online" on homeassistant/status brings discovery again
    before = len(ha.messages[f"homeassistant/lock/blelock_{face.lower()}/lock/config"])
    await ha.publish("homeassistant/status", "online")
    await eventually(lambda: len(ha.messages[
        f"homeassistant/lock/blelock_{face.lower()}/lock/config"]) > before,
        what="discovery again")
    await run.stop()
    await eventually(lambda: ha.last("ble-lock/gateway/gw1/availability") == "offline",
                     what="gateway offline")
    await ha.stop()


async def test_alarms_and_unlocks_reach_the_event_entity_once(
        broker: Broker, tmp_path: Path) -> None:
    """R-APP-6, R-CRD-6: an unlock (user, method), a duress unlock, a lockout: each on
    the event topic once; the bolt and lockout states follow."""
    locks = _locks()[:1]
    keystore = await _setup(tmp_path, locks)
    mem = locks[0]
    key = _key(mem)
    ha = HomeAssistant(broker)
    await ha.start()
    run = Bridged(config(locks, tmp_path), tracker=_tracker(locks), keystore=keystore,
                  url=broker.url)
    await eventually(lambda: run.gateway.connected[mem.lock_id], what="connected")
    mem.lock.enter_pin(ADMIN_PIN)
    mem.panel()
    await eventually(lambda: any(e["event_type"] == "unlock"
                                 for e in ha.json(f"ble-lock/{key}/event")), what="unlock")
    unlock = next(e for e in ha.json(f"ble-lock/{key}/event") if e["event_type"] == "unlock")
    assert unlock["user"] == 1
    assert unlock["method"] == "pin"
    assert unlock["duress"] is False
    await eventually(lambda: ha.last(f"ble-lock/{key}/state") == "UNLOCKED", what="unlocked")
    for _ in range(5):  # R-SEC-1: five wrong PINs trip the lockout
        mem.lock.enter_pin("999999")
    mem.panel()
    await eventually(lambda: ha.last(f"ble-lock/{key}/lockout") == "ON", what="lockout")
    await run.stop()
    events = ha.json(f"ble-lock/{key}/event")
    seqs = [e["seq"] for e in events]
    assert len(seqs) == len(set(seqs)), "an event published twice"
    assert [e["event_type"] for e in events].count("lockout") == 1
    log = ha.log_seqs(key)
    assert log == sorted(set(log)), "the log topic carries every entry once, in order"
    await ha.stop()


async def test_events_exactly_once_across_a_gateway_restart_and_the_broker_away(
        broker: Broker, tmp_path: Path) -> None:
    """R-APP-6: the gateway stops and starts again; later the broker goes away while the
    lock logs events and comes back: every log entry reaches MQTT exactly once."""
    locks = _locks()[:1]
    keystore = await _setup(tmp_path, locks)
    mem = locks[0]
    key = _key(mem)
    cfg = config(locks, tmp_path)
    ha = HomeAssistant(broker)
    await ha.start()

    async def lock_log() -> list[int]:
        from ble_lock.central.client import LockClient

        async with LockClient(mem.connector(), keystore=keystore,
                              lock_id=mem.lock_id) as c:
            return [r.seq for r in await c.events()]

    run = Bridged(cfg, tracker=_tracker(locks), keystore=keystore, url=broker.url)
    expected = await lock_log()
    await eventually(lambda: set(ha.log_seqs(key)) >= set(expected), what="first catch-up")
    await run.stop()
    for pin in (ADMIN_PIN, "999999", ADMIN_PIN):
        mem.lock.enter_pin(pin)
    run = Bridged(cfg, tracker=_tracker(locks), keystore=keystore, url=broker.url)
    expected = await lock_log()
    await eventually(lambda: set(ha.log_seqs(key)) >= set(expected), what="after restart")
    assert run.bridge.connections == 1
    # the broker goes away (Home Assistant's persistent session is kept on disk)
    await broker.stop()
    await eventually(lambda: not run.bridge.connected, what="bridge saw the broker go")
    for pin in ("111111", ADMIN_PIN, "222222"):
        mem.lock.enter_pin(pin)
    mem.panel()
    missing = len(await lock_log()) - len(expected)
    assert missing >= 3
    await broker.start()
    expected = await lock_log()
    await eventually(lambda: run.bridge.connected, what="bridge back", timeout=30)
    await ha.start()  # Home Assistant reconnects: its queued QoS 1 messages arrive
    await eventually(lambda: set(ha.log_seqs(key)) >= set(expected),
                     what="every entry after the broker came back",
                     timeout=30)
    await run.stop()
    log = ha.log_seqs(key)
    assert sorted(log) == sorted(set(log)) == expected, "every entry exactly once"
    await ha.stop()


async def test_a_retained_command_is_ignored_and_a_live_one_is_carried_out(
        broker: Broker, tmp_path: Path) -> None:
    """A command the broker kept (retained) never opens the door at a (re)start; the
    same command sent live does, and its outcome is published."""
    locks = _locks()[:1]
    keystore = await _setup(tmp_path, locks)
    mem = locks[0]
    key = _key(mem)
    ha = HomeAssistant(broker)
    await ha.start()
    await ha.publish(f"ble-lock/{key}/set", "UNLOCK", retain=True)
    run = Bridged(config(locks, tmp_path), tracker=_tracker(locks), keystore=keystore,
                  url=broker.url)
    await eventually(lambda: ha.last(f"ble-lock/{key}/state") == "LOCKED"
                     and run.gateway.connected[mem.lock_id], what="connected")
    # the bridge got the retained command when it subscribed: nothing happened
    await ha.publish("homeassistant/status", "online")  # one more round trip through it
    await eventually(lambda: len(ha.messages[
        f"homeassistant/lock/blelock_{key.lower()}/lock/config"]) >= 2, what="a round trip")
    assert mem.lock.bolt.name == "LOCKED"
    assert ha.json(f"ble-lock/{key}/result") == []
    await ha.publish(f"ble-lock/{key}/set", "", retain=True)  # clear it
    await ha.publish(f"ble-lock/{key}/set", "UNLOCK")
    await eventually(lambda: ha.json(f"ble-lock/{key}/result") != [], what="result")
    assert ha.json(f"ble-lock/{key}/result")[-1] == {"command": "UNLOCK", "ok": True,
                                                      "error": None}
    assert mem.lock.bolt.name == "UNLOCKED"
    await eventually(lambda: ha.last(f"ble-lock/{key}/state") == "UNLOCKED", what="state")
    await run.stop()
    await ha.stop()


async def test_two_gateways_on_one_broker_publish_disjoint_entities_and_a_moved_lock_keeps_them(
        broker: Broker, tmp_path: Path) -> None:
    locks = _locks()
    keystore = await _setup(tmp_path, locks)
    ha = HomeAssistant(broker)
    await ha.start()
    a = Bridged(config(locks[:1], tmp_path / "a"), tracker=_tracker(locks[:1]),
                keystore=keystore, url=broker.url, gateway_id="hall")
    b = Bridged(config(locks[1:], tmp_path / "b"), tracker=_tracker(locks[1:]),
                keystore=keystore, url=broker.url, gateway_id="Garage-2")
    await eventually(lambda: len(ha.configs()) == 2 + 8 + 7, what="both", timeout=30)
    configs = ha.configs()
    via = {topic: cfg["device"].get("via_device") for topic, cfg in configs.items()}
    first = {t for t, v in via.items() if v == "blelock_gateway_hall"}
    second = {t for t, v in via.items() if v == "blelock_gateway_Garage-2"}
    assert len(first) == 8
    assert len(second) == 7
    assert not first & second
    uids_before = {t: c["unique_id"] for t, c in configs.items()}
    # every config topic was published by one gateway only
    for topic in first | second:
        publishers = {json.loads(s.payload)["device"].get("via_device")
                      for s in ha.messages[topic] if s.payload}
        assert len(publishers) == 1, topic
    # the second lock moves to the first gateway: same topics, same unique ids
    await b.stop()
    await a.stop()
    a = Bridged(config(locks, tmp_path / "a2"), tracker=_tracker(locks), keystore=keystore,
                url=broker.url, gateway_id="hall")
    dl_lock = f"homeassistant/lock/blelock_{_key(locks[1]).lower()}/lock/config"
    await eventually(lambda: ha.configs()[dl_lock]["device"]["via_device"]
                     == "blelock_gateway_hall", what="moved")
    assert {t: c["unique_id"] for t, c in ha.configs().items()} == uids_before
    await a.stop()
    await ha.stop()


async def _remote_key(mem: MemoryLock, admin: Keystore, tmp: Path) -> Keystore:
    """R-APP-5: the admin makes a remote-only user for the gateway and invites its key;
    the gateway (its own keystore) redeems the invite."""
    from ble_lock.central.client import LockClient
    from ble_lock.wire import messages as m

    async with LockClient(mem.connector(), keystore=admin, lock_id=mem.lock_id) as c:
        user = await c.add_user("gateway", role=m.Role.REMOTE_ONLY)
        invite = await c.issue_key(user.user_number)
    gateway = Keystore(tmp / "gateway-keys")
    async with LockClient(mem.connector(), keystore=gateway, lock_id=mem.lock_id) as g:
        await g.redeem(invite.invite_id, invite.code, lock_fingerprint=mem.fingerprint)
    return gateway


async def _set_remote_unlock(mem: MemoryLock, admin: Keystore, on: bool) -> None:
    from ble_lock.central.client import LockClient
    from ble_lock.wire import messages as m

    async with LockClient(mem.connector(), keystore=admin, lock_id=mem.lock_id) as c:
        await c.set_settings(m.SettingsSet(remote_unlock=on))


async def test_remote_unlock_with_a_remote_only_key_is_decided_by_the_lock(
        broker: Broker, tmp_path: Path) -> None:
    """R-APP-5: an unlock from MQTT runs over the gateway's session with a remote-only
    key; the lock refuses it while its remote-unlock setting is off (the default): state
    unchanged, refusal published; switched on, it opens and logs a remote unlock by the
    gateway's user and key. The remote-only key manages nothing, holds no visitor
    secret (no visitor-code entity), and reads the log (its events reach MQTT)."""
    from ble_lock.core.model import EventKind, UnlockMethod

    locks = _locks()[:1]
    mem = locks[0]
    key = _key(mem)
    admin = await _setup(tmp_path, locks)
    gateway_keys = await _remote_key(mem, admin, tmp_path)
    ha = HomeAssistant(broker)
    await ha.start()
    run = Bridged(config(locks, tmp_path), tracker=_tracker(locks), keystore=gateway_keys,
                  url=broker.url)
    await eventually(lambda: ha.last(f"ble-lock/{key}/state") == "LOCKED"
                     and run.gateway.connected[mem.lock_id], what="connected")
    configs = ha.configs()
    assert f"homeassistant/lock/blelock_{key.lower()}/lock/config" in configs
    assert f"homeassistant/binary_sensor/blelock_{key.lower()}/door/config" in configs
    assert f"homeassistant/button/blelock_{key.lower()}/visitor_code/config" not in configs
    # off by default: refused inside the lock
    await ha.publish(f"ble-lock/{key}/set", "UNLOCK")
    await eventually(lambda: ha.json(f"ble-lock/{key}/result") != [], what="refusal")
    assert ha.json(f"ble-lock/{key}/result") == [
        {"command": "UNLOCK", "ok": False, "error": "REMOTE_UNLOCK_OFF"}]
    assert mem.lock.bolt.name == "LOCKED"
    await eventually(lambda: ha.last(f"ble-lock/{key}/state") == "LOCKED", what="unchanged")
    failed = [e for e in mem.lock.read_events().events if e.kind is EventKind.UNLOCK_FAILED]
    assert failed[-1].method is UnlockMethod.REMOTE
    # the admin switches remote unlock on
    await _set_remote_unlock(mem, admin, True)
    await ha.publish(f"ble-lock/{key}/set", "UNLOCK")
    await eventually(lambda: len(ha.json(f"ble-lock/{key}/result")) == 2, what="granted")
    assert ha.json(f"ble-lock/{key}/result")[-1] == {"command": "UNLOCK", "ok": True,
                                                      "error": None}
    assert mem.lock.bolt.name == "UNLOCKED"
    unlock = [e for e in mem.lock.read_events().events if e.kind is EventKind.UNLOCK][-1]
    assert unlock.method is UnlockMethod.REMOTE
    assert unlock.user_number == 2  # the gateway's user, with its key
    assert unlock.credential_id is not None
    await eventually(lambda: any(e["event_type"] == "unlock" and e["method"] == "remote"
                                 for e in ha.json(f"ble-lock/{key}/event")),
                     what="the remote unlock on the event entity")
    await run.stop()
    await ha.stop()


async def test_the_visitor_code_button_publishes_a_one_time_code_that_opens_once(
        broker: Broker, tmp_path: Path) -> None:
    """R-APP-4: with a key that holds the visitor secret (the admin's here), the button
    publishes a one-time code (never retained) that the keypad accepts once."""
    locks = _locks()[:1]
    mem = locks[0]
    key = _key(mem)
    keystore = await _setup(tmp_path, locks)
    ha = HomeAssistant(broker)
    await ha.start()
    run = Bridged(config(locks, tmp_path), tracker=_tracker(locks), keystore=keystore,
                  url=broker.url)
    button = f"homeassistant/button/blelock_{key.lower()}/visitor_code/config"
    await eventually(lambda: button in ha.configs(), what="button")
    await ha.publish(ha.configs()[button]["command_topic"], "PRESS")
    await eventually(lambda: ha.json(f"ble-lock/{key}/visitor_code") != [], what="code")
    seen = ha.messages[f"ble-lock/{key}/visitor_code"]
    assert [s.retain for s in seen] == [False]
    code = json.loads(seen[0].payload)["code"]
    assert mem.lock.enter_pin(code).granted
    assert not mem.lock.enter_pin(code).granted  # one time
    assert ha.json(f"ble-lock/{key}/result")[-1] == {"command": "VISITOR_CODE", "ok": True,
                                                      "error": None}
    await run.stop()
    await ha.stop()
