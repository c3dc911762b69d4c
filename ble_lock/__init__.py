"""ble-lock: a toolkit for Bluetooth Low Energy smart locks.

Layers (imports point down only): ``cli`` -> ``central`` / ``peripheral`` / ``sim`` ->
``protocol`` -> ``core``. See ``docs/`` and the shared DESIGN.md.
"""

__version__ = "0.1.0"
