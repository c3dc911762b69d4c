"""Fragmentation at every ATT MTU and typed errors for bad fragments."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ble_lock.core.errors import ErrorCode
from ble_lock.testing.testbed import Testbed
from ble_lock.wire.errors import (
    FragmentError,
    FramingError,
    LocalProtocolError,
    MessageTooLargeError,
    ReassemblyTimeoutError,
)
from ble_lock.wire.events import SessionClosed
from ble_lock.wire.link.framing import (
    START,
    Frame,
    Limits,
    Reassembler,
    build_frame,
    fragment,
    parse_frame,
)


def _reassemble(frames: list[bytes], limits: Limits | None = None) -> bytes | None:
    r = Reassembler(limits)
    out = None
    for f in frames:
        out = r.feed(parse_frame(f), 0.0)
    return out


@settings(max_examples=60, deadline=None)
@given(mtu=st.integers(23, 517), message=st.binary(min_size=1, max_size=2048),
       channel=st.integers(1, 255))
def test_round_trip_at_any_mtu(mtu: int, message: bytes, channel: int) -> None:
    frames = fragment(channel, message, mtu)
    assert all(len(f) <= mtu - 3 for f in frames)
    assert all(f[0] == channel for f in frames)
    assert _reassemble(frames) == message


def test_per_fragment_overhead_is_small() -> None:
    frames = fragment(7, bytes(100), 23)
    assert len(frames[0]) == 20
    assert frames[0][:4] == bytes([7, START, 0, 100])
    assert frames[1][:2] == bytes([7, 1])
    assert len(frames) == 1 + -(-(100 - 16) // 18)


def test_oversize_message_is_refused() -> None:
    big = build_frame(Frame(channel=1, start=True, index=0, total=2049, chunk=b"x"))
    with pytest.raises(MessageTooLargeError) as info:
        _reassemble([big])
    assert info.value.code is ErrorCode.MESSAGE_TOO_LARGE
    with pytest.raises(LocalProtocolError):
        fragment(1, bytes(2049), 23)


def test_overflowing_fragments_are_refused() -> None:
    frames = fragment(1, bytes(40), 23)
    longer = frames[-1] + b"extra"
    with pytest.raises(FragmentError, match="overflow"):
        _reassemble([*frames[:-1], longer])


def test_duplicate_fragment_is_refused() -> None:
    frames = fragment(1, bytes(60), 23)
    with pytest.raises(FragmentError, match="duplicate"):
        _reassemble([frames[0], frames[1], frames[1]])


def test_out_of_order_fragment_is_refused() -> None:
    frames = fragment(1, bytes(60), 23)
    with pytest.raises(FragmentError, match="out-of-order"):
        _reassemble([frames[0], frames[2]])


def test_continuation_without_start_and_interleaved_start_are_refused() -> None:
    frames = fragment(1, bytes(60), 23)
    with pytest.raises(FragmentError, match="without a START"):
        _reassemble([frames[1]])
    with pytest.raises(FragmentError, match="before the previous"):
        _reassemble([frames[0], frames[0]])


def test_fragment_count_is_bounded() -> None:
    limits = Limits(max_fragments=4)
    frames = [build_frame(Frame(channel=1, start=True, index=0, total=100, chunk=b"x"))]
    frames += [build_frame(Frame(channel=1, start=False, index=i, total=None, chunk=b"x"))
               for i in range(1, 5)]
    with pytest.raises(FragmentError, match="more than 4"):
        _reassemble(frames, limits)


def test_reassembly_times_out() -> None:
    r = Reassembler(Limits(reassembly_timeout=5.0))
    r.feed(parse_frame(fragment(1, bytes(60), 23)[0]), 10.0)
    assert r.deadline == 15.0
    r.check_timer(14.9)
    with pytest.raises(ReassemblyTimeoutError):
        r.check_timer(15.0)
    assert r.deadline is None


@pytest.mark.parametrize("raw", [b"", b"\x01", b"\x01\x80", b"\x01\x80\x00", b"\x00\x80\x00\x01x",
                                 b"\x01\x05"])
def test_truncated_frames_are_framing_errors(raw: bytes) -> None:
    with pytest.raises(FramingError):
        parse_frame(raw)


def test_bad_fragments_close_the_lock_channel_with_a_typed_error(bed: Testbed) -> None:
    frames = fragment(9, bytes(60), 23)
    assert bed.lock.receive_data(frames[0], 0.0) == []
    events = bed.lock.receive_data(frames[2], 0.0)
    assert len(events) == 1
    closed = events[0]
    assert isinstance(closed, SessionClosed)
    assert isinstance(closed.error, FragmentError)
    assert closed.channel == 9
    sent = bed.lock.data_to_send()
    assert sent == [bytes([9, START, 0, 2, 0x7F, ErrorCode.BAD_FRAGMENT])]


def test_lock_reassembly_timer_closes_the_channel(bed: Testbed) -> None:
    bed.lock.receive_data(fragment(9, bytes(60), 23)[0], 100.0)
    assert bed.lock.next_timer() == 105.0
    assert bed.lock.handle_timer(104.0) == []
    events = bed.lock.handle_timer(105.0)
    assert len(events) == 1
    assert isinstance(events[0], SessionClosed)
    assert isinstance(events[0].error, ReassemblyTimeoutError)
    assert bed.lock.next_timer() is None


def _construct_parse(raw: bytes) -> Frame | None:
    """The frame as the declared construct layout reads it (None: not a frame)."""
    import struct

    import construct

    from ble_lock.wire.link import framing

    if len(raw) < 3:
        return None
    try:
        p = framing._FRAME.parse(raw)
    except (construct.ConstructError, struct.error):
        return None
    start = bool(p.ctl & START)
    if not p.chunk or p.channel == 0:
        return None
    return Frame(channel=p.channel, start=start, index=p.ctl & 0x7F,
                 total=p.total if start else None, chunk=p.chunk)


@settings(max_examples=300)
@given(st.binary(max_size=24))
def test_hand_parsed_header_matches_the_declared_layout(raw: bytes) -> None:
    """parse_frame reads the header by hand (issue 10): same frames, same refusals."""
    want = _construct_parse(raw)
    if want is None:
        with pytest.raises(FramingError):
            parse_frame(raw)
    else:
        assert parse_frame(raw) == want


@settings(max_examples=300)
@given(st.integers(1, 255), st.booleans(), st.integers(0, 127), st.integers(0, 0xFFFF),
       st.binary(min_size=1, max_size=20))
def test_hand_built_frame_matches_the_declared_layout(
        channel: int, start: bool, index: int, total: int, chunk: bytes) -> None:
    """build_frame writes the header by hand (issue 10): byte-identical to the layout."""
    from ble_lock.wire.link import framing

    frame = Frame(channel=channel, start=start, index=index,
                  total=total if start else None, chunk=chunk)
    ctl = (START if start else 0) | index
    want = bytes(framing._FRAME.build({"channel": channel, "ctl": ctl,
                                       "total": frame.total, "chunk": chunk}))
    assert build_frame(frame) == want
    assert parse_frame(want) == frame
