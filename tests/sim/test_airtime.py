"""The simulator's time model of LE connection events (issue 15 item 1).

Air times are the Core spec's packet formats (Vol 6, Part B, 2.1/2.4) at 1 or 2 Mbit/s;
event and PDU counts come from the model, never from a wall clock. The link-level tests
run on a :class:`VirtualAirClock`: time jumps from one scheduled arrival to the next.
"""

from __future__ import annotations

import random
import statistics

import pytest

from ble_lock.sim.airtime import (
    T_IFS_S,
    AirSchedule,
    LinkTiming,
    Phy,
    burst_floor,
    ll_fragments,
    packet_air_time,
    phases,
)
from ble_lock.sim.att import AttOp, Direction
from ble_lock.sim.errors import SimError
from ble_lock.sim.link import Link
from ble_lock.sim.radio import Advertisement, Radio, RadioConfig, VirtualAirClock
from tests.sim.test_sim_units import _Node

C2P, P2C = Direction.C2P, Direction.P2C
US = 1e-6


@pytest.mark.parametrize(("payload", "phy", "encrypted", "us"), [
    (0, Phy.LE_1M, True, 80),       # an empty PDU: 10 octets, no MIC
    (0, Phy.LE_2M, True, 44),       # 2-octet preamble at 2 Mbit/s
    (27, Phy.LE_1M, False, 296),
    (27, Phy.LE_1M, True, 328),     # + MIC
    (251, Phy.LE_1M, True, 2120),   # the largest data PDU (DLE), as the spec's 2120 µs
    (251, Phy.LE_2M, True, 1064),
])
def test_packet_air_times(payload: int, phy: Phy, encrypted: bool, us: int) -> None:
    assert packet_air_time(payload, phy, encrypted=encrypted) == pytest.approx(us * US)


def test_att_pdus_are_l2cap_framed_and_cut_to_the_data_length() -> None:
    assert ll_fragments(23, 27) == [27]               # MTU 23: one LL PDU
    assert ll_fragments(24, 27) == [27, 1]
    assert ll_fragments(247, 27) == [27] * 9 + [8]    # 251 bytes without DLE
    assert ll_fragments(247, 251) == [251]            # one with DLE


def test_timing_is_validated_with_typed_errors() -> None:
    with pytest.raises(SimError):
        LinkTiming(interval_s=-1)
    with pytest.raises(SimError):
        LinkTiming(interval_s=0.03, pdus_per_event=0)
    with pytest.raises(SimError):
        LinkTiming(interval_s=0.03, data_length=300)
    with pytest.raises(SimError):
        AirSchedule(LinkTiming(interval_s=0.03), start=0, phase=0.03)


def test_an_event_is_capped_by_the_controller_and_by_the_interval() -> None:
    assert LinkTiming(interval_s=0.03).slots_per_event() == 4  # the default controller
    assert LinkTiming(interval_s=0.03, pdus_per_event=9).slots_per_event() == 9
    # 251-byte PDUs on LE 1M: one exchange is 2 x (2120 + 150) µs: one fits in 7.5 ms
    assert LinkTiming(interval_s=0.0075, pdus_per_event=6,
                      data_length=251).slots_per_event() == 1


def test_a_write_command_burst_shares_events_up_to_the_controllers_limit() -> None:
    """Eight write-without-response PDUs queued at once: two events of four on the
    default controller, one event on a controller sending eight per event."""
    for per_event, events in ((4, {0, 1}), (8, {0})):
        air = AirSchedule(LinkTiming(interval_s=0.03, pdus_per_event=per_event),
                          start=0.0, phase=0.01)
        got = [air.reserve(C2P, 23, 0.0) for _ in range(8)]
        assert {d.event for d in got} == events
        assert all(d.fragments == 1 for d in got)
        assert got == sorted(got, key=lambda d: d.time)


def test_what_the_host_queues_during_an_event_leaves_in_the_next() -> None:
    """A command and its notification: the notification is queued when the command
    has arrived, so it goes one event later: 1 interval + air time at best (the
    central opens that event with an empty PDU, the peripheral answers with its data)."""
    timing = LinkTiming(interval_s=0.03)
    air = AirSchedule(timing, start=0.0, phase=0.0)
    command = air.reserve(C2P, 23, 0.0)
    answer = air.reserve(P2C, 23, command.time)
    assert (command.event, answer.event) == (0, 1)
    exchange = timing.pdu_air_time(0) + T_IFS_S + timing.pdu_air_time(27)
    assert answer.time == pytest.approx(0.03 + exchange)


def test_a_command_and_its_answer_cost_one_and_a_half_intervals_on_average() -> None:
    timing = LinkTiming(interval_s=0.03)
    bursts = [(C2P, [23]), (P2C, [23])]
    spread = phases(timing.interval_s, 200, random.Random(5))
    times = [burst_floor(timing, bursts, phase=p)[0] for p in spread]
    assert statistics.mean(times) / timing.interval_s == pytest.approx(1.5, abs=0.05)
    assert min(times) / timing.interval_s == pytest.approx(1.0, abs=0.05)
    assert max(times) / timing.interval_s == pytest.approx(2.0, abs=0.05)
    assert {burst_floor(timing, bursts, phase=p)[1] for p in spread} == {2}


def test_a_long_pdu_spans_events_and_data_length_extension_shortens_it() -> None:
    """An MTU-247 notification without DLE is 10 LL PDUs: three events of four; with
    DLE (251) one PDU, one event."""
    plain = AirSchedule(LinkTiming(interval_s=0.03), start=0.0, phase=0.0)
    long = plain.reserve(P2C, 247, 0.0)
    assert (long.first_event, long.event, long.fragments) == (0, 2, 10)
    dle = AirSchedule(LinkTiming(interval_s=0.03, data_length=251), start=0.0, phase=0.0)
    one = dle.reserve(P2C, 247, 0.0)
    assert (one.first_event, one.event, one.fragments) == (0, 0, 1)
    faster = AirSchedule(LinkTiming(interval_s=0.03, data_length=251, phy=Phy.LE_2M),
                         start=0.0, phase=0.0)
    assert faster.reserve(P2C, 247, 0.0).time < one.time


def test_both_directions_share_an_event_and_count_each_others_air_time() -> None:
    air = AirSchedule(LinkTiming(interval_s=0.03), start=0.0, phase=0.0)
    up = [air.reserve(C2P, 23, 0.0) for _ in range(2)]
    down = [air.reserve(P2C, 23, 0.0) for _ in range(2)]
    assert {d.event for d in up + down} == {0}
    # slot order: C0 P0 C1 P1; each packet ends after everything before it
    ends = [up[0].time, down[0].time, up[1].time, down[1].time]
    assert ends == sorted(ends)


def test_no_interval_is_no_air_model() -> None:
    assert burst_floor(LinkTiming(), [(C2P, [23]), (P2C, [23])], phase=0.0) == (0.0, 0)


async def _linked(config: RadioConfig, seed: int) -> tuple[Radio, Link]:
    radio = Radio(config, rng=random.Random(seed), air_clock=VirtualAirClock())
    central, peripheral = _Node("C", mtu=23), _Node("P")
    radio.attach(central)
    radio.attach(peripheral)
    radio.set_advertisement("P", Advertisement(local_name="P"))
    link = await radio.connect(central, "P")
    return radio, link


async def test_the_link_delivers_on_the_models_schedule() -> None:
    """Over a real simulated link: eight commands queued at once go in two connection
    events (four per event), the three notifications the peripheral then sends in one
    event after them; every PDU is traced with its event."""
    config = RadioConfig(timing=LinkTiming(interval_s=0.03))
    radio, link = await _linked(config, seed=3)
    got: list[bytes] = []

    async def deliver() -> None:
        got.append(b"w")

    for _ in range(8):
        link.command(0x0C, bytes(20), deliver)
    while len(got) < 8:
        await radio.air_clock.sleep_until(radio.air_clock.now() + 0.001)
    for _ in range(3):
        link.notify(0x0C, bytes(20), indicate=False)
    while len(link.trace) < 11:
        await radio.air_clock.sleep_until(radio.air_clock.now() + 0.001)
    writes = [r for r in link.trace if r.op is AttOp.WRITE_CMD]
    notes = [r for r in link.trace if r.op is AttOp.HANDLE_VALUE_NTF]
    assert {r.event for r in writes} == {0, 1}
    assert [r.event for r in writes].count(0) == 4
    assert len({r.event for r in notes}) == 1
    assert min(r.event for r in notes if r.event is not None) == 2
    await radio.close()


async def test_the_phase_is_seeded_and_injectable() -> None:
    """Same seed, same anchors: the trace's times repeat exactly; another seed moves
    the first event."""
    async def first_arrival(seed: int) -> float:
        config = RadioConfig(timing=LinkTiming(interval_s=0.03))
        radio, link = await _linked(config, seed)

        async def deliver() -> None:
            return None

        link.command(0x0C, b"x", deliver)
        while not link.trace:
            await radio.air_clock.sleep_until(radio.air_clock.now() + 0.001)
        await radio.close()
        return link.trace[0].time

    assert await first_arrival(1) == await first_arrival(1)
    assert await first_arrival(1) != await first_arrival(2)


def test_a_long_one_way_stream_keeps_no_history() -> None:
    """A notification-only link for 10,000 events: the schedule keeps the sizes of the
    last events only (what a later reservation may still need)."""
    air = AirSchedule(LinkTiming(interval_s=0.03), start=0.0, phase=0.0)
    for k in range(10_000):
        air.reserve(P2C, 23, k * 0.03 + 0.001)
    assert air.retained <= 2 * 4
