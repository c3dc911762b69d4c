"""``ble-lock firmware``: check and install lock firmware (R-APP-8, docs/firmware.md).

The lock's own protocol opens the maintenance window (admin only, logged); the firmware
itself goes over MCUmgr SMP with ``smpclient`` (its BLE transport, on bleak), as nRF Connect
Device Manager or ``mcumgr`` would send it: upload to the secondary slot, mark it for
test, reset, wait for the lock to come back with the new version, and with ``--confirm``
make it permanent. Without ``--confirm`` the next reset reverts to the previous image.
The work is in :mod:`~ble_lock.cli.firmware_ops`, imported when a command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ble_lock.cli.app import App, command_runner, pass_app
from ble_lock.cli.output import emit, json_option, table

__all__ = ["firmware"]


@click.group()
def firmware() -> None:
    """Check and install lock firmware over Bluetooth (MCUmgr SMP, signed MCUboot images)."""


@firmware.command()
@click.argument("lock_name", metavar="LOCK")
@json_option
@pass_app
@command_runner
async def check(app: App, lock_name: str, as_json: bool) -> None:
    """The running firmware version and both slots (admins: opens a short maintenance
    window to read them, and closes it)."""
    from ble_lock.cli.firmware_ops import check_lock

    out = await check_lock(app, lock_name)

    def human() -> None:
        click.echo(f"firmware {out['firmware_version']}")
        table([[s["slot"], s["version"], s["active"], s["confirmed"], s["pending"],
                (s["hash"] or "-")[:16]] for s in out["slots"]],
              ["slot", "version", "active", "confirmed", "pending", "hash"])

    emit(as_json, out, human)


@firmware.command()
@click.argument("lock_name", metavar="LOCK")
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--confirm", is_flag=True,
              help="make the new image permanent once it runs (else the next reset reverts)")
@click.option("--window", "window_s", type=click.IntRange(60, 3600), default=900,
              show_default=True, help="seconds of the maintenance window to open")
@json_option
@pass_app
@command_runner
async def upload(app: App, lock_name: str, image: Path, confirm: bool, window_s: int,
                 as_json: bool) -> None:
    """Install IMAGE (an MCUboot image signed with the vendor key, e.g. by imgtool):
    open the maintenance window, upload, test, reset, wait for the lock, confirm."""
    from ble_lock.cli.firmware_ops import install

    out = await install(app, lock_name, image, confirm=confirm, window_s=window_s,
                        show=not as_json and sys.stderr.isatty())
    emit(as_json, out, lambda: click.echo(
        f"firmware {out['from']} -> {out['to']} ({out['bytes']} bytes); "
        + ("confirmed" if confirm else "on trial: the next reset reverts unless confirmed")))
