"""``python -m ble_lock.cli``: the same as the ``ble-lock`` command."""

from __future__ import annotations

from ble_lock.cli import entry

entry()
