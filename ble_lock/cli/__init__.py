"""The ``ble-lock`` command line (click); thin over the library. Reference: docs/cli.md.

One module per command group; :mod:`~ble_lock.cli.app` holds the shared options, LOCK
resolution and error handling, :mod:`~ble_lock.cli.output` tables, ``--json`` and QR codes.
"""

from __future__ import annotations

from pathlib import Path

import click

from ble_lock import __version__
from ble_lock.cli.app import App, setup_logging
from ble_lock.cli.demo_cmd import demo, sim
from ble_lock.cli.door import claim, info, lock, phones, scan, unlock
from ble_lock.cli.emulate import emulate, panel
from ble_lock.cli.firmware import firmware
from ble_lock.cli.gateway_cmd import gateway
from ble_lock.cli.keys import code, key
from ble_lock.cli.lockcfg import events, settings, sync
from ble_lock.cli.people import credentials, users

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ble-lock")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path),
              envvar="BLE_LOCK_HOME", show_envvar=True,
              help="folder of the keystore and emulator state (default: the platform's "
                   "user data folder)")
@click.option("--timeout", type=click.FloatRange(0.5, 600), default=10.0, show_default=True,
              help="seconds to find a lock and for each answer")
@click.option("--adapter", envvar="BLE_ADAPTER", help="Bluetooth adapter (hciN on Linux)")
@click.option("-v", "--verbose", count=True, help="log to stderr (-vv: debug)")
@click.pass_context
def main(ctx: click.Context, home: Path | None, timeout: float, adapter: str | None,
         verbose: int) -> None:
    """Provision, emulate and test Bluetooth Low Energy smart locks.

    LOCK is a Bluetooth address, a lock id (8 hex digits), the name given when pairing,
    or an advertised name. Failures print one line and exit with the error's code.
    """
    app = ctx.ensure_object(App)
    if home is not None:
        app.home = home
    app.timeout = timeout
    app.adapter = adapter or None
    app.verbose = verbose
    setup_logging(verbose)


for _command in (emulate, panel, scan, info, claim, phones, unlock, lock, users, credentials,
                 key, code, sync, events, settings, gateway, sim, demo, firmware):
    main.add_command(_command)
