"""A gateway with its MQTT bridge, running in the test's loop."""

from __future__ import annotations

import asyncio
import contextlib

from ble_lock.central.keystore import Keystore
from ble_lock.gateway.config import GatewayConfig, MqttSettings
from ble_lock.gateway.gateway import Gateway
from ble_lock.gateway.mqtt import MqttBridge
from ble_lock.gateway.trackers import Tracker

__all__ = ["RUNNING", "Bridged"]

#: Bridges not stopped yet (a failed test's are stopped by the fixture, so that nothing
#: keeps the loop from closing).
RUNNING: list[Bridged] = []


class Bridged:
    """``Gateway(hooks=MqttBridge)`` and the bridge, both running until :meth:`stop`."""

    def __init__(self, config: GatewayConfig, *, tracker: Tracker, keystore: Keystore,
                 url: str, gateway_id: str = "gw1") -> None:
        settings = MqttSettings.from_url(url, gateway_id=gateway_id)
        self.bridge = MqttBridge(settings, config, reconnect_min_s=0.05,
                                 reconnect_max_s=0.2, timeout_s=5.0)
        self.gateway = Gateway(config, tracker=tracker, keystore=keystore, hooks=self.bridge)
        self.bridge.attach(self.gateway)
        self.tasks = [asyncio.create_task(self.gateway.run()),
                      asyncio.create_task(self.bridge.run())]
        RUNNING.append(self)

    async def stop(self) -> None:
        if self in RUNNING:
            RUNNING.remove(self)
        for task in self.tasks:  # the gateway first: the bridge acknowledges what is on its way
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.bridge.aclose()
