"""What the kernel does with the advertisements bluetoothd registers (legacy controllers).

bluetoothd turns each ``RegisterAdvertisement`` into one kernel advertising *instance*
(``MGMT_OP_ADD_ADVERTISING``); a legacy controller transmits one of them at a time and the
kernel rotates through them in software. This module models that instance table for one
controller, after ``net/bluetooth/hci_sync.c``, ``hci_event.c`` and ``hci_core.c``
(Linux 6.1), as far as it decides who can connect to whom:

* instances are numbered 1..``max_instances`` (lowest free first, BlueZ
  ``src/advertising.c``); a full table refuses the registration (``NotPermitted``);
* adding an instance while another one is on air waits for the rotation timer
  (``hci_schedule_adv_instance_sync``: ``-EBUSY`` while ``adv_instance_timeout``);
  re-adding the current instance (a property refresh) re-schedules it at once;
* the rotation timer (``adv_timeout_expire``) moves to the next instance, or re-enables the
  only one if a connection had stopped it;
* a connection made through the advertisement stops it (the controller ends legacy
  advertising on a connection; ``le_conn_complete_evt`` clears ``HCI_LE_ADV``) and records
  the current instance in the connection (``conn->adv_instance``);
* when that connection drops, the kernel re-enables *that* instance
  (``hci_disconn_complete_evt``). If it was removed meanwhile, its flags read as 0
  (``hci_adv_instance_flags``), so the controller advertises **non-connectable** from a
  fresh **non-resolvable private address** (``hci_update_random_address_sync`` with
  ``require_privacy``) with whatever data it last had; the rotation timer then finds no
  next instance, so this lasts until an instance is added or refreshed;
* a connectable instance advertises from the controller's public address; a
  non-connectable one (``Type`` broadcast) from a fresh non-resolvable private address.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Callable

from ble_lock.sim.radio import Advertisement

__all__ = ["AdvertisingController", "nrpa"]


def nrpa(rng: random.Random) -> str:
    """A non-resolvable private address: random, the two top bits cleared."""
    raw = bytearray(rng.randbytes(6))
    raw[0] &= 0x3F
    return ":".join(f"{b:02X}" for b in raw)


class AdvertisingController:
    """The advertising instances of one legacy controller and what it puts on air."""

    def __init__(self, public_address: str, *, rotation_s: Callable[[], float],
                 publish: Callable[[Advertisement | None], None], max_instances: int = 5,
                 rng: random.Random | None = None) -> None:
        self.public_address = public_address
        self.max_instances = max_instances
        self.instances: dict[int, Advertisement] = {}
        self.current = 0
        """The kernel's ``cur_adv_instance``."""
        self.on_air: Advertisement | None = None
        """What the controller transmits now (None: not advertising)."""
        self._data: Advertisement | None = None
        self._rotation_s = rotation_s
        self._publish = publish
        self._rng = rng or random.Random()  # noqa: S311 - a simulated address, not a secret
        self._timer: asyncio.TimerHandle | None = None

    # -- mgmt commands ----------------------------------------------------------------------

    def free_instance(self) -> int | None:
        """The number the next registration gets, or None when the table is full."""
        for number in range(1, self.max_instances + 1):
            if number not in self.instances:
                return number
        return None

    def add(self, number: int, adv: Advertisement) -> None:
        """``MGMT_OP_ADD_ADVERTISING``: a new instance, or new data for an existing one."""
        self.instances[number] = adv
        if self.current == number:
            self._cancel_timer()
            nxt = self._next(number)
            if nxt is not None:
                self._schedule(nxt, force=True)
        elif self._timer is None:
            self._schedule(number, force=True)

    def remove(self, number: int) -> None:
        """``MGMT_OP_REMOVE_ADVERTISING`` (``hci_clear_adv_instance_sync``, forced)."""
        nxt = None
        if self.current == number:
            self._cancel_timer()
            nxt = self._next(number)
        self.instances.pop(number, None)
        if nxt == number:
            nxt = None
        if not self.instances:
            self._cancel_timer()
            self._set_air(None)
        elif nxt is not None:
            self._schedule(nxt, force=False)

    # -- connections ------------------------------------------------------------------------

    def connected(self) -> int:
        """A central connected through the advertisement: advertising stops; returns the
        instance the connection remembers."""
        self._set_air(None)
        return self.current

    def disconnected(self, instance: int) -> None:
        """That connection dropped: re-enable the instance it came through."""
        self.current = instance
        self._enable()

    def close(self) -> None:
        self._cancel_timer()

    # -- the kernel's scheduling -----------------------------------------------------------------

    def _next(self, number: int) -> int | None:
        """``hci_get_next_instance``: None if ``number`` is gone, wraps to the first."""
        if number not in self.instances:
            return None
        order = list(self.instances)
        return order[(order.index(number) + 1) % len(order)]

    def _schedule(self, number: int, *, force: bool) -> None:
        if number not in self.instances or self._timer is not None:
            return
        self._timer = asyncio.get_running_loop().call_later(self._rotation_s(), self._expire)
        if not force and self.current == number and self.on_air is not None:
            return
        self.current = number
        self._data = self.instances[number]
        self._enable()

    def _expire(self) -> None:
        self._timer = None
        if self.current == 0:
            return
        nxt = self._next(self.current)
        if nxt is not None:
            self._schedule(nxt, force=False)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _enable(self) -> None:
        """``hci_enable_advertising_sync`` for the current instance, with the data the
        controller has (stale if the instance is gone)."""
        if self._data is None:
            return
        inst = self.instances.get(self.current)
        connectable = inst is not None and inst.connectable
        address = self.public_address if connectable else nrpa(self._rng)
        self._set_air(dataclasses.replace(
            self._data, connectable=connectable, address=address,
            address_type="public" if connectable else "random"))

    def _set_air(self, adv: Advertisement | None) -> None:
        self.on_air = adv
        self._publish(adv)
