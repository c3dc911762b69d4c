"""``python -m ble_lock.peripheral``: see :mod:`ble_lock.peripheral.process`."""

from __future__ import annotations

import sys

from ble_lock.peripheral.process import cli

sys.exit(cli())
