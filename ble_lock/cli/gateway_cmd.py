"""``ble-lock gateway --config FILE``: follow many locks, stream their events as JSON
lines and relay sync statements (``ble_lock.gateway.gateway``, docs/flows.md)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sys
from pathlib import Path

import click

from ble_lock.cli.app import App, command_runner, pass_app
from ble_lock.gateway.config import GatewayConfig
from ble_lock.gateway.gateway import Gateway
from ble_lock.peripheral.process import install_stop_signals

__all__ = ["gateway"]


async def _run_until_signal(gw: Gateway) -> None:
    task = asyncio.ensure_future(gw.run())
    install_stop_signals(asyncio.get_running_loop(), task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


@click.command()
@click.option("--config", "config_path", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="the gateway's TOML or JSON file (docs/flows.md)")
@pass_app
@command_runner
async def gateway(app: App, config_path: Path) -> None:
    """Follow the configured locks: events as JSON lines, sync statements relayed.

    The keystore is the configuration's `keystore`, else --home; the adapter the
    configuration's, else --adapter. Prints `ready locks=N` (on stderr when the events go
    to stdout); Ctrl-C / SIGTERM stop it, cursors saved.
    """
    config = GatewayConfig.load(config_path)
    if config.keystore is None and app.home is not None:
        config = dataclasses.replace(config, keystore=app.home)
    if config.adapter is None and app.adapter is not None:
        config = dataclasses.replace(config, adapter=app.adapter)
    gw = Gateway.from_config(config)
    banner = sys.stderr if config.output == "-" else sys.stdout
    print(f"ready locks={len(config.locks)}", file=banner, flush=True)
    await _run_until_signal(gw)
