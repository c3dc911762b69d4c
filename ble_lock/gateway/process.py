"""The gateway as a process: ``python -m ble_lock.gateway.process --config FILE``
(the CLI's ``ble-lock gateway`` runs the same :func:`main`). Also a target for the
simulator harness (``ble.spawn("ble_lock.gateway.process:main", "--config", f)``).

With ``--mqtt URL`` (or an ``[mqtt]`` table in the configuration) the MQTT bridge for Home
Assistant runs beside it (``gateway/mqtt.py``, extra ``ble-lock[mqtt]``).

Prints ``ready locks=N`` once it runs; the event stream goes where the configuration
says (stdout by default, then the ``ready`` line goes to stderr). Stops on SIGINT /
SIGTERM (the task is cancelled: links closed, the stream flushed, cursors already
saved).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import sys

from ble_lock.core.errors import InvalidInputError
from ble_lock.gateway.config import GatewayConfig, MqttSettings
from ble_lock.gateway.gateway import Gateway

__all__ = ["main", "serve", "with_mqtt_url"]


def with_mqtt_url(config: GatewayConfig, url: str | None) -> GatewayConfig:
    """``--mqtt URL`` over the configuration: the URL's broker, the file's other options."""
    if url is None:
        return config
    base = config.mqtt
    options = {} if base is None else {
        f.name: getattr(base, f.name) for f in dataclasses.fields(base)
        if f.name not in ("host", "port", "username", "tls")
        and not (f.name == "password" and getattr(base, f.name) is None)}
    return dataclasses.replace(config, mqtt=MqttSettings.from_url(url, **options))


async def serve(config: GatewayConfig, *, banner: bool = True) -> None:
    """Run the gateway (and its MQTT bridge when configured) until cancelled."""
    if config.mqtt is None:
        gateway = Gateway.from_config(config)
        if banner:
            _banner(config)
        await gateway.run()
        return
    try:
        from ble_lock.gateway.mqtt import MqttBridge
    except ImportError as exc:  # aiomqtt is the optional extra
        raise InvalidInputError("--mqtt needs the extra: pip install 'ble-lock[mqtt]'"
                                ) from exc
    bridge = MqttBridge(config.mqtt, config)
    gateway = Gateway.from_config(config, hooks=bridge)
    bridge.attach(gateway)
    if banner:
        _banner(config)
    tasks = [asyncio.create_task(gateway.run()), asyncio.create_task(bridge.run())]
    try:
        await asyncio.gather(*tasks)
    finally:
        # the gateway first, while the bridge still runs: what is on its way to the broker
        # is acknowledged (Gateway.stop_grace_s) and recorded, so a restart does not
        # publish it again
        for task in tasks:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await bridge.aclose()


def _banner(config: GatewayConfig) -> None:
    out = sys.stderr if config.output == "-" else sys.stdout
    print(f"ready locks={len(config.locks)}", file=out, flush=True)


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="ble-lock gateway", description=__doc__)
    parser.add_argument("--config", required=True, help="the gateway's TOML or JSON file")
    parser.add_argument("--mqtt", default=None,
                        help="mqtt://[user@]host[:port] (mqtts:// for TLS); the password "
                             "from $BLE_LOCK_MQTT_PASSWORD or the file's [mqtt] table")
    args = parser.parse_args(argv)
    config = with_mqtt_url(GatewayConfig.load(args.config), args.mqtt)
    await serve(config)


if __name__ == "__main__":  # pragma: no cover - the process entry
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the way to stop it
        asyncio.run(main(sys.argv[1:]))
