"""Errors of the simulator itself (it is generic: it does not use ble_lock's error hierarchy)."""

from __future__ import annotations


class SimError(Exception):
    """The simulator cannot do what was asked (bad configuration, missing dbus-daemon...)."""


class BluezError(Exception):
    """A D-Bus error reply with one of BlueZ's error names (``org.bluez.Error.*``)."""

    def __init__(self, name: str, text: str = "") -> None:
        super().__init__(f"{name}: {text}")
        self.name = f"org.bluez.Error.{name}" if "." not in name else name
        self.text = text
