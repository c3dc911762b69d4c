"""Hardware-free BlueZ: private dbus-daemons and a simulated org.bluez.

Generic: imports nothing else from ble_lock. See docs/testing.md.
"""

from __future__ import annotations

from ble_lock.sim.airtime import LinkTiming, Phy
from ble_lock.sim.att import AttOp, Direction
from ble_lock.sim.errors import BluezError, SimError
from ble_lock.sim.harness import BleHarness, Central
from ble_lock.sim.host import Host
from ble_lock.sim.link import AttRecord, Link, LinkDown
from ble_lock.sim.process import HostProcess
from ble_lock.sim.radio import Advertisement, Radio, RadioConfig, VirtualAirClock
from ble_lock.sim.simulator import Simulator

__all__ = [
    "Advertisement",
    "AttOp",
    "AttRecord",
    "BleHarness",
    "BluezError",
    "Central",
    "Direction",
    "Host",
    "HostProcess",
    "Link",
    "LinkDown",
    "LinkTiming",
    "Phy",
    "Radio",
    "RadioConfig",
    "SimError",
    "Simulator",
    "VirtualAirClock",
]
