"""The time model of an LE connection: connection events, PDUs per event, LL air time.

Sans-IO: times in, times out; the link (``link.py``) sleeps on what this computes and
``bench/e2e.py`` computes the real link's floor for the same bytes with it.

What a real link does (Core spec 5.4, Vol 6, Part B: 4.5.1 connection events, 2.1 and 2.4
packet and data PDU formats, 4.1.1 T_IFS; Vol 3, Part A, 3.1 the L2CAP basic header):

* The central and the peripheral talk only in **connection events**, one every
  ``interval_s`` from the anchor point; where a link's anchor falls relative to when an
  application writes is arbitrary: a seeded random **phase** per link.
* In an event the central sends a packet, the peripheral answers T_IFS (150 µs) later,
  and so on while either has more data, up to the controller's limit of packets per
  event (``pdus_per_event``, per direction) and within the interval.
* An ATT PDU travels in an L2CAP frame (4 bytes of header) cut into LL data PDUs of at most
  ``data_length`` payload bytes (27; 251 with Data Length Extension); on an encrypted link
  each carries a 4-byte MIC. A packet on air is preamble (1 byte on LE 1M, 2 on LE 2M) +
  access address 4 + header 2 + payload (+ MIC) + CRC 3, at 1 or 2 Mbit/s.
* Host processing is not instant: what the host queues during an event goes out in a later
  one (the request arrives in one event, its response or notification leaves in the next:
  "1 interval + air time at best, 1.5 intervals on average" for a command and its answer).

The default of four packets per event and direction is a phone's (Punch Through, "Maximizing
BLE Throughput on iOS and Android", 2016: iOS sends 4 packets per connection interval; Laird,
"What factors affect BLE throughput?": "as many as six packets per interval", stack-dependent).

The model in one sentence: each direction fills the slots of the connection events in order,
a PDU queued at time ``t`` taking slots from the first event whose anchor is at or after
``t``; a slot ends at its event's anchor plus the air time of the exchanges before it (each
counted at the sizes reserved so far, the other side's empty PDU otherwise).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from ble_lock.sim.att import Direction
from ble_lock.sim.errors import SimError

__all__ = [
    "L2CAP_HEADER",
    "MIC_SIZE",
    "T_IFS_S",
    "AirSchedule",
    "Delivery",
    "LinkTiming",
    "Phy",
    "burst_floor",
    "ll_fragments",
    "packet_air_time",
    "phases",
]

T_IFS_S = 150e-6
"""Inter-frame space (Vol 6, Part B, 4.1.1)."""
L2CAP_HEADER = 4
MIC_SIZE = 4


class Phy(Enum):
    """The LE PHY: bit rate and preamble length (Vol 6, Part B, 2.1)."""

    LE_1M = (1_000_000, 1)
    LE_2M = (2_000_000, 2)

    @property
    def bit_rate(self) -> int:
        return self.value[0]

    @property
    def preamble(self) -> int:
        return self.value[1]


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkTiming:
    """A link's time parameters. ``interval_s`` 0: no air model (PDUs go at once, in
    order: what the software alone costs)."""

    interval_s: float = 0.0
    pdus_per_event: int = 4
    phy: Phy = Phy.LE_1M
    data_length: int = 27
    """LL payload octets per data PDU: 27, or up to 251 with Data Length Extension."""
    encrypted: bool = True
    """Each data PDU carries a MIC (a paired, encrypted link)."""

    def __post_init__(self) -> None:
        if self.interval_s < 0 or not math.isfinite(self.interval_s):
            raise SimError("the connection interval must be >= 0")
        if self.pdus_per_event < 1:
            raise SimError("a connection event carries at least one PDU per direction")
        if not 27 <= self.data_length <= 251:
            raise SimError("the LL data length is 27..251 octets")

    @property
    def timed(self) -> bool:
        return self.interval_s > 0

    def pdu_air_time(self, payload: int) -> float:
        """Seconds on air of one LL data PDU with ``payload`` octets (0: an empty PDU)."""
        return packet_air_time(payload, self.phy, encrypted=self.encrypted)

    def slots_per_event(self) -> int:
        """Exchanges (central packet + peripheral packet) per event: the controller's
        limit, or fewer if full-size exchanges would not fit in the interval."""
        full = 2 * (self.pdu_air_time(self.data_length) + T_IFS_S)
        fit = max(1, int((self.interval_s - T_IFS_S) // full)) if self.timed else 1
        return min(self.pdus_per_event, fit)


def packet_air_time(payload: int, phy: Phy, *, encrypted: bool) -> float:
    """Seconds on air of one LL data packet carrying ``payload`` octets."""
    mic = MIC_SIZE if encrypted and payload else 0
    octets = phy.preamble + 4 + 2 + payload + mic + 3
    return octets * 8 / phy.bit_rate


def ll_fragments(att_size: int, data_length: int) -> list[int]:
    """The LL payload sizes that carry one ATT PDU of ``att_size`` bytes (L2CAP framed)."""
    total = att_size + L2CAP_HEADER
    full, rest = divmod(total, data_length)
    return [data_length] * full + ([rest] if rest else [])


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """When a reserved ATT PDU has crossed: the end of its last LL fragment."""

    time: float
    event: int
    """The connection event (counted from the link's first) its last fragment went in."""
    first_event: int
    fragments: int


class AirSchedule:
    """The connection events of one link and the slots each direction has reserved.

    ``start``: when the link came up; ``phase`` (0 <= phase < interval) puts the first
    anchor at ``start + phase``. Call :meth:`reserve` in the order PDUs are queued.
    """

    def __init__(self, timing: LinkTiming, *, start: float, phase: float) -> None:
        if timing.timed and not 0 <= phase < timing.interval_s:
            raise SimError("the phase is within one connection interval")
        self.timing = timing
        self.first_anchor = start + phase
        self._slots = timing.slots_per_event()
        # per direction: the next free (event, slot)
        self._next: dict[Direction, tuple[int, int]] = {d: (0, 0) for d in Direction}
        # (event, slot) -> LL payload reserved there, per direction
        self._sizes: dict[Direction, dict[tuple[int, int], int]] = {d: {} for d in Direction}

    @property
    def retained(self) -> int:
        """Slots whose sizes the schedule still keeps (bounded: the last events only)."""
        return sum(len(sizes) for sizes in self._sizes.values())

    def anchor(self, event: int) -> float:
        return self.first_anchor + event * self.timing.interval_s

    def first_event_at(self, t: float) -> int:
        """The first event whose anchor is at or after ``t``."""
        if t <= self.first_anchor:
            return 0
        return math.ceil((t - self.first_anchor) / self.timing.interval_s - 1e-9)

    def reserve(self, direction: Direction, att_size: int, queued_at: float) -> Delivery:
        """Take the slots for one ATT PDU queued at ``queued_at``; when it arrives."""
        timing = self.timing
        fragments = ll_fragments(att_size, timing.data_length)
        event, slot = self._next[direction]
        earliest = self.first_event_at(queued_at)
        if event < earliest:
            event, slot = earliest, 0
        first = event
        for size in fragments:
            if slot >= self._slots:
                event, slot = event + 1, 0
            self._sizes[direction][(event, slot)] = size
            last_event, last_slot = event, slot
            slot += 1
        self._next[direction] = (event, slot)
        end = self.anchor(last_event) + self._offset(direction, last_event, last_slot)
        # nothing queued from now on lands before this event: older sizes are not needed
        self._forget_before(min(max(e, earliest) for e, _ in self._next.values()))
        return Delivery(time=end, event=last_event, first_event=first,
                        fragments=len(fragments))

    def _offset(self, direction: Direction, event: int, slot: int) -> float:
        """From the anchor to the end of ``direction``'s packet in ``slot``."""
        t = self.timing
        c2p, p2c = self._sizes[Direction.C2P], self._sizes[Direction.P2C]
        offset = 0.0
        for s in range(slot):
            offset += (t.pdu_air_time(c2p.get((event, s), 0)) + T_IFS_S
                       + t.pdu_air_time(p2c.get((event, s), 0)) + T_IFS_S)
        offset += t.pdu_air_time(c2p.get((event, slot), 0))
        if direction is Direction.P2C:
            offset += T_IFS_S + t.pdu_air_time(p2c.get((event, slot), 0))
        return offset

    def _forget_before(self, event: int) -> None:
        for sizes in self._sizes.values():
            for key in [k for k in sizes if k[0] < event - 1]:
                del sizes[key]


def burst_floor(timing: LinkTiming, bursts: Sequence[tuple[Direction, Sequence[int]]],
                *, phase: float) -> tuple[float, int]:
    """The real link's time for ``bursts`` (each: a direction and its ATT PDU sizes, all
    queued at once), each burst queued the instant the previous one has arrived, with no
    software time at all: seconds from the first queueing to the last arrival, and the
    connection events it spans. ``phase``: the first anchor's offset from that instant."""
    if not timing.timed:
        return 0.0, 0
    schedule = AirSchedule(timing, start=0.0, phase=phase)
    now, events = 0.0, set[int]()
    for direction, sizes in bursts:
        arrived = [schedule.reserve(direction, size, now) for size in sizes]
        for d in arrived:
            events.update(range(d.first_event, d.event + 1))
        now = max((d.time for d in arrived), default=now)
    return now, len(events)


def phases(interval_s: float, count: int, rng: random.Random) -> list[float]:
    """``count`` phases spread over one interval (stratified: one per equal slice, at a
    random point of it), for a mean and a worst case over where the anchor falls."""
    return [(i + rng.random()) * interval_s / count for i in range(count)]
