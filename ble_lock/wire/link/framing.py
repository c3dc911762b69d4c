"""Fragmentation and reassembly of protocol messages into ATT-sized frames.

Every frame (one ATT write to the command characteristic, or one notification on the
response characteristic) is::

    byte 0      channel id (1-255; 0 is reserved)
    byte 1      bit 7 START, bits 0-6 fragment index (0-127)
    bytes 2-3   total message length, big endian   -- START frames only
    rest        a chunk of the message (at least one byte)

A START frame has index 0 and opens a message; continuation frames carry index 1, 2, ...
in order. The message is complete when the chunks add up to the declared length. So the
per-fragment overhead is 4 bytes on the first frame and 2 on the others: at the minimum
ATT MTU of 23 (20 bytes of payload) a frame carries 16 or 18 message bytes.

Bounds (:class:`Limits`): message size, fragment count, reassembly time. Anything
else -- a continuation without a START, a duplicate or skipped index, a START while a
message is being assembled, more bytes than declared, an empty chunk -- raises a
:class:`~ble_lock.wire.errors.FragmentError` and the channel is closed.
"""

from __future__ import annotations

from dataclasses import dataclass

from construct import GreedyBytes, If, Int8ub, Int16ub, Struct, this

from ble_lock.wire.errors import (
    FragmentError,
    FramingError,
    LocalProtocolError,
    MessageTooLargeError,
    ReassemblyTimeoutError,
)

__all__ = [
    "ATT_HEADER",
    "MAX_MTU",
    "MIN_MTU",
    "Frame",
    "Limits",
    "Reassembler",
    "build_frame",
    "fragment",
    "parse_frame",
]

MIN_MTU = 23
MAX_MTU = 517
ATT_HEADER = 3  # opcode + handle: an ATT write or notification carries MTU-3 bytes
START = 0x80
INDEX_MASK = 0x7F
START_OVERHEAD = 4
CONT_OVERHEAD = 2

_FRAME = Struct(
    "channel" / Int8ub,
    "ctl" / Int8ub,
    "total" / If(this.ctl & START, Int16ub),
    "chunk" / GreedyBytes,
).compile()


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Bounds on what a peer may make us buffer or wait for."""

    max_message: int = 2048
    max_fragments: int = 128
    reassembly_timeout: float = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    channel: int
    start: bool
    index: int
    total: int | None
    chunk: bytes


def parse_frame(data: bytes) -> Frame:
    """Decode one frame; a frame too short for its header is a :class:`FramingError`."""
    size = len(data)
    if size < CONT_OVERHEAD + 1:
        raise FramingError(f"frame of {size} bytes is shorter than a header and a byte")
    # The header by hand: the layout of ``_FRAME``, without a construct parse per
    # fragment (the lock's CPU per unlock, issue 10); the vectors pin both to one format.
    ctl = data[1]
    start = bool(ctl & START)
    if start:
        if size < START_OVERHEAD:
            raise FramingError("truncated frame header")
        total: int | None = (data[2] << 8) | data[3]
        chunk = bytes(data[START_OVERHEAD:])
    else:
        total = None
        chunk = bytes(data[CONT_OVERHEAD:])
    if not chunk:
        raise FramingError("frame carries no message bytes")
    if data[0] == 0:
        raise FramingError("channel 0 is reserved")
    return Frame(channel=data[0], start=start, index=ctl & INDEX_MASK, total=total, chunk=chunk)


def build_frame(frame: Frame) -> bytes:
    ctl = (START if frame.start else 0) | frame.index
    channel, total, chunk = frame.channel, frame.total, frame.chunk
    if type(chunk) is bytes and 0 <= channel <= 0xFF and 0 <= ctl <= 0xFF:
        # The common case by hand (the layout of ``_FRAME``; issue 10's CPU per unlock);
        # anything out of range goes through construct and fails as it always did.
        if not ctl & START:
            return bytes((channel, ctl)) + chunk
        if total is not None and 0 <= total <= 0xFFFF:
            return bytes((channel, ctl, total >> 8, total & 0xFF)) + chunk
    return bytes(
        _FRAME.build({"channel": channel, "ctl": ctl, "total": total, "chunk": chunk})
    )


def check_mtu(mtu: int) -> int:
    if not MIN_MTU <= mtu <= MAX_MTU:
        raise LocalProtocolError(f"ATT MTU {mtu} outside {MIN_MTU}..{MAX_MTU}")
    return mtu


def fragment(channel: int, message: bytes, mtu: int, limits: Limits | None = None) -> list[bytes]:
    """Cut ``message`` into frames of at most ``mtu - 3`` bytes each."""
    limits = limits or Limits()
    room = check_mtu(mtu) - ATT_HEADER
    if not 1 <= channel <= 255:
        raise LocalProtocolError(f"channel {channel} outside 1..255")
    if not 1 <= len(message) <= limits.max_message:
        raise LocalProtocolError(f"message of {len(message)} bytes outside 1..{limits.max_message}")
    first = room - START_OVERHEAD
    count = 1 + -(-max(0, len(message) - first) // (room - CONT_OVERHEAD))
    if count > limits.max_fragments:
        raise LocalProtocolError(f"{count} fragments exceed {limits.max_fragments}")
    frames = [build_frame(Frame(channel=channel, start=True, index=0, total=len(message),
                                chunk=message[:first]))]
    pos, index, step = first, 1, room - CONT_OVERHEAD
    while pos < len(message):
        frames.append(build_frame(Frame(channel=channel, start=False, index=index, total=None,
                                        chunk=message[pos:pos + step])))
        pos += step
        index += 1
    return frames


class Reassembler:
    """Collects the frames of one channel into messages (one message at a time)."""

    __slots__ = ("_buf", "_deadline", "_next_index", "_total", "limits")

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._buf = bytearray()
        self._total: int | None = None
        self._next_index = 0
        self._deadline: float | None = None

    @property
    def deadline(self) -> float | None:
        """When the message being assembled times out (None when idle)."""
        return self._deadline

    def feed(self, frame: Frame, now: float) -> bytes | None:
        """Add one frame; returns the message when it is complete."""
        if frame.start:
            self._begin(frame, now)
        else:
            self._continue(frame)
        self._buf += frame.chunk
        assert self._total is not None
        if len(self._buf) > self._total:
            raise FragmentError(f"fragments overflow the declared {self._total} bytes")
        if len(self._buf) < self._total:
            return None
        message = bytes(self._buf)
        self.reset()
        return message

    def _begin(self, frame: Frame, now: float) -> None:
        if self._total is not None:
            raise FragmentError("a new message started before the previous one completed")
        if frame.index != 0:
            raise FragmentError(f"START frame with index {frame.index}")
        assert frame.total is not None
        if frame.total == 0:
            raise FramingError("empty message")
        if frame.total > self.limits.max_message:
            raise MessageTooLargeError(
                f"message of {frame.total} bytes exceeds {self.limits.max_message}")
        self._total = frame.total
        self._next_index = 1
        self._deadline = now + self.limits.reassembly_timeout

    def _continue(self, frame: Frame) -> None:
        if self._total is None:
            raise FragmentError(f"continuation frame {frame.index} without a START")
        if frame.index < self._next_index:
            raise FragmentError(f"duplicate fragment {frame.index}")
        if frame.index > self._next_index:
            raise FragmentError(
                f"out-of-order fragment {frame.index} (expected {self._next_index})")
        if frame.index >= self.limits.max_fragments:
            raise FragmentError(f"more than {self.limits.max_fragments} fragments")
        self._next_index += 1

    def check_timer(self, now: float) -> None:
        if self._deadline is not None and now >= self._deadline:
            self.reset()
            raise ReassemblyTimeoutError("message fragments did not arrive in time")

    def reset(self) -> None:
        self._buf = bytearray()
        self._total = None
        self._next_index = 0
        self._deadline = None
