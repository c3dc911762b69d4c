"""Issue 10, item 2: unauthenticated channels cannot starve phones with valid keys
(docs/protocol.md, "Channels" and "Security").

The bound: a lock holds 8 channels; a new START evicts the unauthenticated channel that
has been quiet longest. A valid phone's channel survives as long as an attacker writes
fewer than 8 frames between two of the phone's frames; a phone whose HS1 fits one
frame (MTU >= 139 for an unlock) is never starved -- its HS1 is handled as it arrives.
"""

from __future__ import annotations

import itertools

import pytest

from ble_lock.testing.testbed import Testbed, make_testbed
from ble_lock.wire.endpoints.phone import PhoneState
from ble_lock.wire.errors import ChannelBusyError
from ble_lock.wire.events import RequestReceived, SessionClosed, SessionOpened
from ble_lock.wire.link.framing import Reassembler, fragment, parse_frame

UNLOCK = b"UNLOCK door=1"
PHONE_CHANNEL = 200


def _attacker_channels() -> itertools.cycle[int]:
    return itertools.cycle(c for c in range(1, 256) if c != PHONE_CHANNEL)


def _flooded_session(bed: Testbed, per_phone_frame: int, start: bytes | None = None
                     ) -> tuple[list[object], list[object]]:
    """The phone writes its HS1 frame by frame; before each frame the attacker writes
    ``per_phone_frame`` START frames (a garbage START, or ``start``) on fresh channel
    ids, cycling over all 254 others. Returns (lock events, phone events)."""
    s = bed.session(counter=1, channel=PHONE_CHANNEL)
    s.start(UNLOCK, 1.0)
    lock_events: list[object] = []
    phone_events: list[object] = []
    channels = _attacker_channels()
    bogus = start if start is not None else bytes(300)
    for frame in s.data_to_send():
        for _ in range(per_phone_frame):
            attack = fragment(next(channels), bogus, bed.mtu)[0]
            lock_events.extend(bed.lock.receive_data(attack, 1.0))
        lock_events.extend(bed.lock.receive_data(frame, 1.0))
        for event in lock_events:
            if isinstance(event, RequestReceived) and event.channel == PHONE_CHANNEL:
                bed.lock.respond(event.channel, b"ok")
    for note in bed.lock.data_to_send():
        if note[0] == PHONE_CHANNEL:
            phone_events.extend(s.receive_data(note, 1.0))
    assert s.state is PhoneState.ESTABLISHED
    return lock_events, phone_events


@pytest.mark.parametrize("per_phone_frame", [1, 4, 7])
def test_a_start_flood_below_the_bound_does_not_delay_a_valid_phone(
        per_phone_frame: int) -> None:
    bed = make_testbed(mtu=23, seed=b"start flood")
    bed.pair()
    lock_events, _ = _flooded_session(bed, per_phone_frame)
    assert any(isinstance(e, SessionOpened) and e.channel == PHONE_CHANNEL
               for e in lock_events)
    assert bed.lock.evictions > 0
    assert [cid for cid, _ in bed.lock.sessions()] == [PHONE_CHANNEL]
    # the attacker's half messages are gone after the reassembly timeout; the session stays
    bed.lock.handle_timer(1.0 + 5.0)
    assert [cid for cid, _ in bed.lock.sessions()] == [PHONE_CHANNEL]
    assert bed.lock.next_timer() == 1.0 + 120.0


def test_the_bound_is_tight_eight_frames_between_two_of_the_phones_evict_it() -> None:
    """Documented, not hidden: an attacker that writes 8 frames for each of the phone's
    evicts the phone's half-sent HS1 (it hears CLOSE(CHANNEL_BUSY) and retries)."""
    bed = make_testbed(mtu=23, seed=b"start flood")
    bed.pair()
    s = bed.session(counter=1, channel=PHONE_CHANNEL)
    s.start(UNLOCK, 1.0)
    channels = _attacker_channels()
    events: list[object] = []
    for frame in s.data_to_send():
        for _ in range(8):
            events.extend(bed.lock.receive_data(fragment(next(channels), bytes(300), 23)[0],
                                                1.0))
        events.extend(bed.lock.receive_data(frame, 1.0))
    assert any(isinstance(e, SessionClosed) and e.channel == PHONE_CHANNEL
               and isinstance(e.error, ChannelBusyError) for e in events)


def test_a_one_frame_hs1_is_never_starved_by_any_start_flood() -> None:
    bed = make_testbed(mtu=247, seed=b"start flood")
    bed.pair()
    lock_events, _ = _flooded_session(bed, 254)  # every other channel id, each time
    assert any(isinstance(e, SessionOpened) and e.channel == PHONE_CHANNEL
               for e in lock_events)


@pytest.mark.parametrize("mtu", [23, 247])
def test_replayed_hs1s_on_every_channel_id_do_not_keep_a_valid_phone_out(mtu: int) -> None:
    """An attacker replays a captured, authentic HS1 on all 255 channel ids (one
    complete replay per channel). Each costs the lock one handshake and ends as an
    unauthenticated session (RESYNC or STALE) that the next START may evict and that
    times out after 30 s; the valid phone's next HS1 opens a session at once."""
    bed = make_testbed(mtu=mtu, seed=b"replay flood")
    bed.pair()
    victim = bed.session(counter=1, channel=9)
    victim.start(UNLOCK, 0.0)
    captured = victim.data_to_send()
    for frame in captured:  # it reached the lock once (a recording of a real unlock)
        for event in bed.lock.receive_data(frame, 0.0):
            if isinstance(event, RequestReceived):
                bed.lock.respond(event.channel, b"ok")
    bed.lock.data_to_send()
    hs1 = _reassemble(captured)
    for when in (10.0, 40.0):  # within the value's lifetime (RESYNC), and after (STALE)
        for cid in range(1, 256):
            for frame in fragment(cid, hs1, mtu):
                bed.lock.receive_data(frame, when)
        bed.lock.data_to_send()
        s = bed.session(counter=int(when), channel=PHONE_CHANNEL, now=when)
        s.start(UNLOCK, when)
        bed.link.run([s], when)
        assert s.state is PhoneState.ESTABLISHED
        assert not s.first_dropped  # one round trip, the request in HS1
        s.close()
        bed.link.run([s], when)
    requests = [e for e in bed.link.lock_events if isinstance(e, RequestReceived)]
    assert [e.channel for e in requests] == [PHONE_CHANNEL, PHONE_CHANNEL]
    # no replay was announced or passed up; their channels end with the handshake timer
    bed.lock.handle_timer(40.0 + 30.0)
    assert {cid for cid, _ in bed.lock.sessions()} <= {9}
    later = bed.lock.next_timer()
    assert later is None or later > 70.0


def _reassemble(frames: list[bytes]) -> bytes:
    r = Reassembler()
    out = [m for f in frames if (m := r.feed(parse_frame(f), 0.0)) is not None]
    return out[0]
