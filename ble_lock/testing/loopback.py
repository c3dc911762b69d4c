"""An in-memory radio between one :class:`LockEndpoint` and any number of phone
objects: no BLE, no asyncio. Used by the tests, the benchmark and the examples.

Every frame a phone sends is one ATT write; every frame the lock sends is one
notification delivered to every phone (as on a real GATT server). A *round trip* is
one flight of writes followed by one flight of notifications that the phone had to wait
for before it could go on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ble_lock.wire.endpoints.lock import LockEndpoint
from ble_lock.wire.endpoints.phone import PhonePairing, PhoneSession
from ble_lock.wire.events import EndpointEvent

__all__ = ["LinkStats", "Loopback", "Phone"]

Phone = PhonePairing | PhoneSession
App = Callable[[LockEndpoint, EndpointEvent], None]


@dataclass(slots=True, kw_only=True)
class LinkStats:
    writes: int = 0
    notifications: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    round_trips: int = 0


@dataclass(slots=True, kw_only=True)
class Loopback:
    """``app`` sees every lock event and may call ``respond``/``push`` on the endpoint."""

    lock: LockEndpoint
    app: App | None = None
    lock_events: list[EndpointEvent] = field(default_factory=list)
    phone_events: dict[int, list[EndpointEvent]] = field(default_factory=dict)
    transcript: list[tuple[str, bytes]] = field(default_factory=list)

    def run(self, phones: Sequence[Phone], now: float) -> LinkStats:
        """Move bytes until nobody has anything to send; phone errors propagate."""
        stats = LinkStats()
        while True:
            up = [(p, f) for p in phones for f in p.data_to_send()]
            for _, frame in up:
                stats.writes += 1
                stats.bytes_up += len(frame)
                self.transcript.append(("up", frame))
                for event in self.lock.receive_data(frame, now):
                    self.lock_events.append(event)
                    if self.app is not None:
                        self.app(self.lock, event)
            down = self.lock.data_to_send()
            for frame in down:
                stats.notifications += 1
                stats.bytes_down += len(frame)
                self.transcript.append(("down", frame))
                for phone in phones:
                    got = phone.receive_data(frame, now)
                    self.phone_events.setdefault(phone.channel, []).extend(got)
            if up and down:
                stats.round_trips += 1
            if not up and not down:
                return stats
