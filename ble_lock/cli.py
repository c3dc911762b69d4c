"""The ``ble-lock`` command line (click); thin over the library."""

from __future__ import annotations

import click

from ble_lock import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ble-lock")
def main() -> None:
    """Provision, emulate and test Bluetooth Low Energy smart locks."""
