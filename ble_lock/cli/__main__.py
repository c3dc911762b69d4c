"""``python -m ble_lock.cli``: the same as the ``ble-lock`` command."""

from __future__ import annotations

from ble_lock.cli import main

main(prog_name="ble-lock")
