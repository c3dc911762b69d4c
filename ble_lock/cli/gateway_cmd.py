"""``ble-lock gateway --config FILE [--mqtt URL]``: follow many locks, stream their events
as JSON lines, relay sync statements (``ble_lock.gateway.gateway``, docs/flows.md) and,
with ``--mqtt``, bridge them to Home Assistant (docs/home-assistant.md)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from pathlib import Path

import click

from ble_lock.cli.app import App, command_runner, pass_app
from ble_lock.gateway.config import GatewayConfig
from ble_lock.gateway.process import serve, with_mqtt_url
from ble_lock.peripheral.process import install_stop_signals

__all__ = ["gateway"]


async def _run_until_signal(config: GatewayConfig) -> None:
    task = asyncio.ensure_future(serve(config))
    install_stop_signals(asyncio.get_running_loop(), task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


@click.command()
@click.option("--config", "config_path", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="the gateway's TOML or JSON file (docs/flows.md)")
@click.option("--mqtt", "mqtt_url", default=None, metavar="URL",
              help="bridge to Home Assistant: mqtt://[user@]host[:port] (mqtts:// for TLS); "
                   "the password from $BLE_LOCK_MQTT_PASSWORD or the file's [mqtt] "
                   "password_file (docs/home-assistant.md)")
@pass_app
@command_runner
async def gateway(app: App, config_path: Path, mqtt_url: str | None) -> None:
    """Follow the configured locks: events as JSON lines, sync statements relayed.

    The keystore is the configuration's `keystore`, else --home; the adapter the
    configuration's, else --adapter. Prints `ready locks=N` (on stderr when the events go
    to stdout); Ctrl-C / SIGTERM stop it, cursors saved. With --mqtt (or an [mqtt] table
    in the file) the locks appear in Home Assistant by MQTT discovery.
    """
    config = with_mqtt_url(GatewayConfig.load(config_path), mqtt_url)
    if config.keystore is None and app.home is not None:
        config = dataclasses.replace(config, keystore=app.home)
    if config.adapter is None and app.adapter is not None:
        config = dataclasses.replace(config, adapter=app.adapter)
    await _run_until_signal(config)
