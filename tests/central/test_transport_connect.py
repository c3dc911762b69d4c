"""``bleak_connector``'s rounds of ``establish_connection`` (central/transport.py): a client
stuck believing it is connected ("Client is already connected", seen on real BlueZ under
load, issue 12) is replaced by a new one; any other failure is not retried here
(bleak-retry-connector already made its attempts)."""

from __future__ import annotations

from typing import Any

import bleak_retry_connector
import pytest
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError

from ble_lock.central.transport import FRESH_CLIENTS, bleak_connector
from ble_lock.core.errors import ErrorCode, TransportError


class _Establish:
    """Stands in for ``establish_connection``: fails with the given errors in turn and
    records the client class of each call."""

    def __init__(self, *errors: str) -> None:
        self.errors = list(errors)
        self.classes: list[type] = []

    async def __call__(self, client_class: type, *args: Any, **kwargs: Any) -> Any:
        self.classes.append(client_class)
        raise BleakError(self.errors.pop(0))


def _device() -> BLEDevice:
    return BLEDevice("00:AA:01:00:00:00", "front", None)


async def test_a_client_stuck_connected_is_replaced_by_a_new_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    stuck = "front - 00:AA:01:00:00:00: Failed to connect after 4 attempt(s): Client is " \
            "already connected"
    fake = _Establish(stuck, "no such device")
    monkeypatch.setattr(bleak_retry_connector, "establish_connection", fake)
    with pytest.raises(TransportError) as err:
        await bleak_connector(_device())(lambda _data: None, lambda: None)
    assert err.value.code is ErrorCode.CONNECTION_FAILED
    assert "no such device" in err.value.message  # the second round's own failure
    assert len(fake.classes) == FRESH_CLIENTS == 2
    assert fake.classes[0] is not fake.classes[1]  # a new client (class) for the round


async def test_other_failures_are_not_retried_here(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _Establish("Device with address 00:AA:01:00:00:00 was not found")
    monkeypatch.setattr(bleak_retry_connector, "establish_connection", fake)
    with pytest.raises(TransportError):
        await bleak_connector(_device())(lambda _data: None, lambda: None)
    assert len(fake.classes) == 1
