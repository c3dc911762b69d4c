"""Whatever a central writes to the SMP characteristic, the server answers with SMP
replies or nothing, never an exception, and never buffers more than ``buf_size`` (the
h11 fuzz contract of DESIGN.md, for SMP)."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from smp import header as smphdr

from ble_lock.dfu.image import ImageVersion
from ble_lock.dfu.server import SmpServer
from ble_lock.dfu.slots import MemoryFlash, Slots

# An SMP header as 8 raw bytes (op and version, flags, length, group, sequence, command),
# valid or not for the smp package's tables
_HEADERS = st.builds(
    lambda op, ver, length, group, seq, cmd: struct.pack(">BBHHBB", (ver << 3) | op, 0,
                                                         length, group, seq, cmd),
    st.integers(0, 3), st.integers(0, 1), st.integers(0, 3000), st.integers(0, 70),
    st.integers(0, 255), st.integers(0, 8))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=60), _HEADERS,
                          st.tuples(_HEADERS, st.binary(max_size=40)).map(lambda t: t[0] + t[1])),
                max_size=12),
       st.booleans())
def test_any_writes_get_replies_or_nothing(writes: list[bytes], window: bool) -> None:
    server = SmpServer(Slots(MemoryFlash(), factory_version=ImageVersion(1), key=None))
    for data in writes:
        for reply in server.receive(data, window_open=window):
            header = smphdr.Header.loads(reply.data[:smphdr.Header.SIZE])
            assert header.length == len(reply.data) - smphdr.Header.SIZE
            assert not reply.reset or window
        assert server.buffered <= server.buf_size
    assert server.slots.image(1) is None  # no key: nothing was ever stored
