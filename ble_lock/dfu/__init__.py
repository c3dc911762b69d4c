"""Firmware update (R-APP-8, issue 17): MCUboot images, two slots, and the MCUmgr SMP server.

Sans-IO like ``core`` and ``wire``: :mod:`~ble_lock.dfu.image` reads and verifies the MCUboot
image format, :mod:`~ble_lock.dfu.slots` is the two-slot state machine with MCUboot's
test / confirm / revert semantics over a small storage interface, and
:mod:`~ble_lock.dfu.server` answers SMP requests (image management and the OS group) on the
``smp`` package's message definitions. The GATT glue is ``ble_lock.peripheral.smp``.
"""
