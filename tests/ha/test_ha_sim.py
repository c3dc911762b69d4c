"""Issue 16 over the simulator: two real emulator processes (face-palm and DL20VC, hosts
0 and 1), the gateway on bleak (host 2, hci0) with a remote-only key on each (R-APP-5),
the admin's phone on host 2's second adapter (bleak: one bus per loop), a real
Mosquitto, and a client acting as Home Assistant."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ble_lock.central.keystore import Keystore
from ble_lock.gateway.config import GatewayConfig, LockEntry
from ble_lock.gateway.trackers import BleakTracker
from ble_lock.sim.harness import BleHarness
from ble_lock.testing.emulator import RunningLock, start_lock
from ble_lock.testing.waiting import eventually
from ble_lock.wire import messages as m
from tests.flows._env import bolt, phone
from tests.ha._bridge import Bridged
from tests.ha._mqtt import Broker, HomeAssistant, check_config

pytestmark = pytest.mark.timeout(300)

GW = 2
ADMIN = "hci1"  # the admin phone's adapter on the gateway's host
PIN = "246801"


async def _provision(ble: BleHarness, lock: RunningLock, admin: Keystore,
                     gateway: Keystore) -> None:
    """The admin claims the lock, gives itself a PIN and grants the gateway a
    remote-only key; the gateway redeems it from its own host."""
    panel = await lock.panel()
    async with await phone(ble, lock, admin, host=GW, adapter=ADMIN) as c:
        assert lock.qr is not None
        if lock.ready.get("profile") == "face-palm":
            await panel.call("set_button")  # R-APP-1: pairing mode
        await c.claim_qr(lock.qr)
        await c.add_pin(1, PIN)
        user = await c.add_user("gateway", role=m.Role.REMOTE_ONLY)
        invite = await c.issue_key(user.user_number)
        fingerprint = c.fingerprint
    async with await phone(ble, lock, gateway, host=GW) as g:
        await g.redeem(invite.invite_id, invite.code, lock_fingerprint=fingerprint)
    await panel.close()


@pytest.mark.ble_sim(hosts=3, adapters=(1, 1, 2))
async def test_home_assistant_over_the_simulator(ble_sim: BleHarness, broker: Broker,
                                                 tmp_path: Path) -> None:
    sim = ble_sim.sim
    assert sim is not None
    face = await start_lock(ble_sim, tmp_path / "face", host=0, profile="face-palm")
    dl = await start_lock(ble_sim, tmp_path / "dl", host=1, profile="dl20vc")
    admin, gateway_keys = Keystore(tmp_path / "admin"), Keystore(tmp_path / "gateway")
    for lock in (face, dl):
        await _provision(ble_sim, lock, admin, gateway_keys)
    ha = HomeAssistant(broker)
    await ha.start()
    cfg = GatewayConfig(
        locks=(LockEntry(lock_id=face.lock_id, name="front"),
               LockEntry(lock_id=dl.lock_id, name="back")),
        state=tmp_path / "cursors.json", output=str(tmp_path / "events.jsonl"),
        poll_interval_s=0.5, backoff_min_s=0.05, backoff_max_s=0.5, request_timeout_s=5.0)
    central = ble_sim.central(host=GW, adapter="hci0")

    def start() -> Bridged:
        tracker = BleakTracker([face.lock_id, dl.lock_id], adapter=central.adapter)
        return Bridged(cfg, tracker=tracker, keystore=gateway_keys, url=broker.url)

    run = start()
    fk, dk = face.lock_id.hex().upper(), dl.lock_id.hex().upper()
    # discovery, complete and valid for both profiles
    await eventually(lambda: len(ha.configs()) == 1 + 7 + 6, what="discovery", timeout=60)
    configs = ha.configs()
    for topic, config in configs.items():
        check_config(topic.split("/")[1], config)
    assert len({c["unique_id"] for c in configs.values()}) == len(configs)
    assert f"homeassistant/binary_sensor/blelock_{fk.lower()}/door/config" in configs
    assert f"homeassistant/binary_sensor/blelock_{dk.lower()}/door/config" not in configs
    face_device = configs[f"homeassistant/lock/blelock_{fk.lower()}/lock/config"]["device"]
    assert face_device["model"] == "face-palm"
    assert face_device["connections"][0][0] == "bluetooth"
    await eventually(lambda: ha.last(f"ble-lock/{fk}/state") == "LOCKED"
                     and ha.last(f"ble-lock/{dk}/state") == "LOCKED", what="states")

    # R-APP-5: remote unlock is off by default: refused inside the lock, state unchanged
    await ha.publish(f"ble-lock/{fk}/set", "UNLOCK")
    await eventually(lambda: ha.json(f"ble-lock/{fk}/result") != [], what="refusal")
    assert ha.json(f"ble-lock/{fk}/result") == [
        {"command": "UNLOCK", "ok": False, "error": "REMOTE_UNLOCK_OFF"}]
    face_panel = await face.panel()
    assert await bolt(face_panel) == "locked"
    async with await phone(ble_sim, face, admin, host=GW, adapter=ADMIN) as c:
        await c.set_settings(m.SettingsSet(remote_unlock=True))
    await ha.publish(f"ble-lock/{fk}/set", "UNLOCK")
    await eventually(lambda: len(ha.json(f"ble-lock/{fk}/result")) == 2, what="granted",
                     timeout=30)
    assert ha.json(f"ble-lock/{fk}/result")[-1]["ok"] is True
    assert await bolt(face_panel) == "unlocked"
    await eventually(lambda: any(e["event_type"] == "unlock" and e["method"] == "remote"
                                 for e in ha.json(f"ble-lock/{fk}/event")),
                     what="remote unlock event", timeout=30)
    await face_panel.call("inside_button")  # lock it again from inside (R-LCK-2)

    # alarms exactly once across random link drops and a gateway restart (R-APP-6)
    rng = random.Random(16)
    dl_panel = await dl.panel()
    for round_ in range(3):
        for panel in (face_panel, dl_panel):
            await panel.call("keypad", keys=(PIN if rng.random() < 0.5 else "999999") + "#")
        await face_panel.call("tamper")
        for link in sim.links():
            if rng.random() < 0.5:
                link.drop("fault: random drop")
        if round_ == 1:
            await run.stop()
            run = start()
    expected: dict[str, list[int]] = {}
    for lock, key in ((face, fk), (dl, dk)):
        await eventually(lambda lk=lock: run.gateway.connected.get(lk.lock_id, False),
                         what="reconnected", timeout=60)
        reader = run.gateway.client(lock.lock_id)
        assert reader is not None
        expected[key] = [r.seq for r in await reader.events()]
    for key, seqs in expected.items():
        await eventually(lambda k=key, s=seqs: set(ha.log_seqs(k)) >= set(s),
                         what=f"every entry of {key}", timeout=60)
    await run.stop()
    for key, seqs in expected.items():
        log = ha.log_seqs(key)
        assert sorted(log) == sorted(set(log)), f"{key}: an entry published twice"
        assert set(log) == set(seqs)
    tampers = [e for e in ha.json(f"ble-lock/{fk}/event") if e["event_type"] == "tamper"]
    assert len(tampers) == 3
    assert len({e["seq"] for e in tampers}) == 3
    for panel in (face_panel, dl_panel):
        await panel.close()
    await ha.stop()
