"""Hardware-free BlueZ: private dbus-daemons and a simulated org.bluez.

Generic: imports nothing else from ble_lock.
"""
