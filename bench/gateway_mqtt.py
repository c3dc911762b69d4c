"""The MQTT path of the gateway benchmark (issue 16, docs/home-assistant.md), run by
``bench/gateway.py --mqtt-commands K``: one emulator process, the gateway with its MQTT
bridge in this process (bleak on the simulator, a remote-only key, R-APP-5) and a real
Mosquitto on loopback (``mosquitto`` must be installed). ``events_per_s`` = log entries
acknowledged by the broker and received by a subscriber acting as Home Assistant / seconds
from the gateway's start; then K ``UNLOCK`` commands (each followed by a ``LOCK``) from
that subscriber: ``unlock_ms_median`` / ``unlock_ms_max`` = command published -> outcome
received (``ble-lock/<LOCK>/result``), which includes the broker twice, the lock's decision
and the Bluetooth round trip over the simulator (``interval_ms`` of air time per ATT PDU).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from ble_lock.testing import START

TARGET = "ble_lock.peripheral.process:main"


async def run_mqtt(commands: int, events: int, interval_ms: float) -> dict[str, Any]:
    from ble_lock.central.client import LockClient
    from ble_lock.central.keystore import Keystore
    from ble_lock.gateway.config import GatewayConfig, LockEntry
    from ble_lock.gateway.trackers import BleakTracker
    from ble_lock.peripheral.panel_client import AsyncPanelClient
    from ble_lock.sim.harness import BleHarness
    from ble_lock.wire import messages as m
    from tests.ha._bridge import Bridged
    from tests.ha._mqtt import Broker, HomeAssistant

    ble = await BleHarness.simulated(hosts=2)
    try:
        assert ble.sim is not None
        ble.sim.config.att_latency_s = interval_ms / 1000
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp)
            broker = Broker(base / "mosquitto")
            await broker.start()
            proc = await ble.start_peripheral(
                TARGET, "--state-dir", str(base / "lock"), "--profile", "face-palm",
                "--manual-clock", str(START), host=0, ready="ready")
            qr = next(ln.split(" ", 1)[1] for ln in proc.lines if ln.startswith("qr "))
            lock_id = bytes.fromhex(qr.split(":")[1])
            key = lock_id.hex().upper()
            central = ble.central(host=1)
            panel = await AsyncPanelClient.connect(base / "lock")
            await panel.call("set_button")
            admin, gw_keys = Keystore(base / "admin"), Keystore(base / "gateway")
            async with await LockClient.find(lock_id=lock_id, adapter=central.adapter,
                                             keystore=admin) as client:
                await client.claim_qr(qr)
                user = await client.add_user("gateway", role=m.Role.REMOTE_ONLY)
                invite = await client.issue_key(user.user_number)
                await client.set_settings(m.SettingsSet(remote_unlock=True))
                fingerprint = client.fingerprint
                for k in range(events):
                    await panel.call("door", state="open" if k % 2 == 0 else "closed")
                total = len(await client.events())
            async with await LockClient.find(lock_id=lock_id, adapter=central.adapter,
                                             keystore=gw_keys) as g:
                await g.redeem(invite.invite_id, invite.code, lock_fingerprint=fingerprint)
            ha = HomeAssistant(broker)
            await ha.start()
            config = GatewayConfig(locks=(LockEntry(lock_id=lock_id, name="bench"),),
                                   state=base / "cursors.json", output=str(base / "ev.jsonl"),
                                   poll_interval_s=5.0, backoff_min_s=0.1, backoff_max_s=2)
            start = time.perf_counter()
            run = Bridged(config, tracker=BleakTracker([lock_id], adapter=central.adapter),
                          keystore=gw_keys, url=broker.url)
            deadline = start + 300
            while len(ha.log_seqs(key)) < total:
                if time.perf_counter() > deadline:
                    raise TimeoutError("events did not reach the broker")
                await asyncio.sleep(0.01)
            elapsed = time.perf_counter() - start
            latencies = []
            for command in ["UNLOCK", "LOCK"] * commands:
                before = len(ha.messages[f"ble-lock/{key}/result"])
                t0 = time.perf_counter()
                await ha.publish(f"ble-lock/{key}/set", command)
                while len(ha.messages[f"ble-lock/{key}/result"]) == before:
                    if time.perf_counter() > t0 + 60:
                        raise TimeoutError(f"no outcome for {command}")
                    await asyncio.sleep(0.001)
                outcome = json.loads(ha.messages[f"ble-lock/{key}/result"][-1].payload)
                if not outcome["ok"]:
                    raise RuntimeError(f"{command} refused: {outcome['error']}")
                if command == "UNLOCK":
                    latencies.append((time.perf_counter() - t0) * 1000)
            await run.stop()
            await ha.stop()
            await panel.close()
            await broker.stop()
    finally:
        await ble.close()
    return {"locks": 1, "mode": "mqtt", "events": total, "seconds": round(elapsed, 3),
            "events_per_s": round(total / elapsed, 1), "commands": commands,
            "unlock_ms_median": round(statistics.median(latencies), 1),
            "unlock_ms_max": round(max(latencies), 1), "interval_ms": interval_ms}
