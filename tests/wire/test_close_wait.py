"""A CLOSE(LOCKED_OUT) refusing a PAIR1 carries the lockout's time left and pairing
mode's (issue 14 item 8; R-SEC-1 "announces the time left"); any other CLOSE is 2 bytes."""

from __future__ import annotations

import pytest

from ble_lock.core.errors import ErrorCode
from ble_lock.wire.endpoints.phone import close_text
from ble_lock.wire.errors import FramingError
from ble_lock.wire.link.transport_messages import NO_PAIRING_MODE, Close, decode, encode


def test_close_without_wait_is_two_bytes_and_with_wait_six() -> None:
    plain = Close(code=int(ErrorCode.LOCKED_OUT))
    assert encode(plain) == bytes([0x7F, 46])
    waited = Close(code=46, retry_after=170, pairing_mode_left=60)
    assert encode(waited) == bytes([0x7F, 46, 0, 170, 0, 60])
    assert decode(encode(waited)) == waited
    assert decode(encode(plain)) == plain


@pytest.mark.parametrize("body", ["7f2e00", "7f2e00aa", "7f2e00aa003c00"])
def test_a_half_or_overlong_wait_is_a_framing_error(body: str) -> None:
    with pytest.raises(FramingError):
        decode(bytes.fromhex(body))


def test_close_text_says_when_to_retry_and_whether_pairing_mode_ends_first() -> None:
    assert close_text(Close(code=46)) == "the lock closed the channel"
    assert close_text(Close(code=46, retry_after=170, pairing_mode_left=NO_PAIRING_MODE)) \
        == "pairing locked out: retry in 170 s"
    assert close_text(Close(code=46, retry_after=30, pairing_mode_left=90)) \
        == "pairing locked out: retry in 30 s"  # pairing mode outlasts the wait
    assert "pairing mode ends in 60 s, before the wait does" in close_text(
        Close(code=46, retry_after=170, pairing_mode_left=60))
    assert "pairing mode is off" in close_text(
        Close(code=46, retry_after=170, pairing_mode_left=0))
