"""A write may carry its link's MTU (``LockEndpoint.receive_data(..., mtu=)``): the
channel it opens answers at that MTU, and the endpoint's one default MTU (bless has one
per server) is never changed by it (issue 13: the emulator no longer flips it)."""

from __future__ import annotations

from ble_lock.testing.testbed import make_testbed
from ble_lock.wire.link.framing import MIN_MTU


def test_a_channel_answers_at_the_mtu_its_opening_write_came_with() -> None:
    bed = make_testbed(mtu=MIN_MTU)
    bed.pair(now=0.0)
    phone = bed.session(counter=1, now=0.0)
    phone.set_mtu(200)
    phone.start(b"", 0.0)
    (hs1,) = phone.data_to_send()  # one frame at the phone's MTU
    bed.lock.receive_data(hs1, 0.0, mtu=len(hs1) + 3)
    hs2 = bed.lock.data_to_send()
    assert len(hs2) == 1  # HS2 in one frame longer than the default allows
    assert len(hs2[0]) > MIN_MTU - 3
    for frame in hs2:
        phone.receive_data(frame, 0.0)
    # Another channel's write without an MTU still gets the default: 20-byte frames.
    other = bed.session(counter=2, now=0.0)
    other.set_mtu(200)
    other.start(b"", 0.0)
    for frame in other.data_to_send():
        bed.lock.receive_data(frame, 0.0)
    assert all(len(f) <= MIN_MTU - 3 for f in bed.lock.data_to_send())
