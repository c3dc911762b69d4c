"""The message codec against a hand-written ``struct`` codec of the same message.

The floor of the codec is what a careful programmer writes by hand for one message:
precompiled ``struct.Struct`` objects, one pass, the same checks as the declaration
(booleans 0/1, known enum values, bounds, strict UTF-8, nothing left over). The figure
is the project's codec (``encode_body`` / ``decode_body``: the code generated from the
construct declarations, with construct behind it for errors). Measured on a page of 8
events (the gateway's catch-up message) and on the unlock's answer; the interpreted
construct layout is printed for comparison.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from typing import Any

from ble_lock.core.events import EventKind, UnlockMethod
from ble_lock.wire import messages as m
from ble_lock.wire.messages import declare
from ble_lock.wire.messages.codec import decode_body, encode_body

__all__ = ["measure_codec"]

_HEAD = struct.Struct(">QQB")
_TAIL = struct.Struct(">QIB")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_KINDS = {int(k): k for k in EventKind}
_METHODS = {int(k): k for k in UnlockMethod}


def _opt(data: bytes, pos: int, unpack: Callable[[bytes, int], tuple[int]], size: int
         ) -> tuple[int | None, int]:
    flag = data[pos]
    if flag == 0:
        return None, pos + 1
    if flag != 1:
        raise ValueError("presence byte")
    return unpack(data, pos + 1)[0], pos + 1 + size


def ref_decode_page(data: bytes) -> m.EventPage:
    """EventPage by hand."""
    count = data[0]
    if count > m.MAX_EVENTS_PER_PAGE:
        raise ValueError("count")
    pos, events = 1, []
    for _ in range(count):
        seq, at_ms, kind = _HEAD.unpack_from(data, pos)
        pos += _HEAD.size
        user, pos = _opt(data, pos, _U16.unpack_from, 2)
        flag = data[pos]
        if flag == 1:
            method: UnlockMethod | None = _METHODS[data[pos + 1]]
            pos += 2
        elif flag == 0:
            method, pos = None, pos + 1
        else:
            raise ValueError("presence byte")
        duress = data[pos]
        if duress > 1:
            raise ValueError("bool")
        reason, pos = _opt(data, pos + 1, lambda d, p: (d[p],), 1)
        credential, pos = _opt(data, pos, _U32.unpack_from, 4)
        n = data[pos]
        end = pos + 1 + n
        if end > len(data) or n > m.MAX_DETAIL:
            raise ValueError("detail")
        detail = data[pos + 1:end].decode("utf-8")
        pos = end
        events.append(m.EventRecord(seq=seq, at_ms=at_ms, kind=_KINDS[kind], user_number=user,
                                    method=method, duress=duress == 1, reason=reason,
                                    credential_id=credential, detail=detail))
    cursor, dropped, more = _TAIL.unpack_from(data, pos)
    if pos + _TAIL.size != len(data) or more > 1:
        raise ValueError("tail")
    return m.EventPage(events=tuple(events), next_cursor=cursor, dropped=dropped, more=more == 1)


def ref_encode_page(page: m.EventPage) -> bytes:
    """EventPage by hand (types and bounds checked as the declaration does)."""
    if not isinstance(page, m.EventPage) or len(page.events) > m.MAX_EVENTS_PER_PAGE:
        raise ValueError("page")
    out = bytearray((len(page.events),))
    for e in page.events:
        if not isinstance(e.kind, EventKind) or type(e.duress) is not bool:
            raise ValueError("event")
        out += _HEAD.pack(e.seq, e.at_ms, e.kind)
        out += b"\x00" if e.user_number is None else b"\x01" + _U16.pack(e.user_number)
        if e.method is None:
            out.append(0)
        elif isinstance(e.method, UnlockMethod):
            out += bytes((1, e.method))
        else:
            raise ValueError("method")
        out.append(e.duress)
        out += b"\x00" if e.reason is None else bytes((1, e.reason))
        out += b"\x00" if e.credential_id is None else b"\x01" + _U32.pack(e.credential_id)
        raw = e.detail.encode("utf-8")
        if len(raw) > m.MAX_DETAIL:
            raise ValueError("detail")
        out.append(len(raw))
        out += raw
    out += _TAIL.pack(page.next_cursor, page.dropped, page.more)
    return bytes(out)


def ref_encode_unlocked(body: m.Unlocked) -> bytes:
    if not isinstance(body, m.Unlocked):
        raise ValueError("body")
    return _U16.pack(body.user_number)


def ref_decode_unlocked(data: bytes) -> m.Unlocked:
    if len(data) != 2:
        raise ValueError("length")
    return m.Unlocked(user_number=_U16.unpack(data)[0])


def sample_page() -> m.EventPage:
    kinds = list(EventKind)
    events = tuple(
        m.EventRecord(seq=1000 + i, at_ms=1_700_000_000_000 + i * 1000, kind=kinds[i % len(kinds)],
                      user_number=i + 1 if i % 2 else None,
                      method=UnlockMethod(list(UnlockMethod)[i % len(UnlockMethod)])
                      if i % 3 else None,
                      reason=None, credential_id=40 + i if i % 2 else None,
                      detail="door" if i % 4 == 0 else "")
        for i in range(m.MAX_EVENTS_PER_PAGE))
    return m.EventPage(events=events, next_cursor=1008, dropped=0, more=True)


def _per_call_ns(fn: Callable[[], object], calls: int, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        t0 = time.process_time_ns()
        for _ in range(calls):
            fn()
        samples.append((time.process_time_ns() - t0) / calls)
    return samples


def measure_codec(rounds: int = 7, calls: int = 200) -> dict[str, Any]:
    """Per-call µs of the codec and of the hand-written codec, alternating rounds."""
    page = sample_page()
    page_bytes = encode_body(page)
    unlocked = m.Unlocked(user_number=7)
    unlocked_bytes = encode_body(unlocked)
    assert ref_encode_page(page) == page_bytes
    assert ref_decode_page(page_bytes) == page
    assert ref_encode_unlocked(unlocked) == unlocked_bytes
    assert decode_body(m.EventPage, page_bytes) == page
    construct_page = declare.body_layout(m.EventPage)
    cases: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
        "event_page_encode": (lambda: encode_body(page), lambda: ref_encode_page(page)),
        "event_page_decode": (lambda: decode_body(m.EventPage, page_bytes),
                              lambda: ref_decode_page(page_bytes)),
        "unlocked_encode": (lambda: encode_body(unlocked), lambda: ref_encode_unlocked(unlocked)),
        "unlocked_decode": (lambda: decode_body(m.Unlocked, unlocked_bytes),
                            lambda: ref_decode_unlocked(unlocked_bytes)),
    }
    out: dict[str, Any] = {}
    for name, (ours, ref) in cases.items():
        a: list[float] = []
        b: list[float] = []
        for _ in range(rounds):  # alternate: a passing load weighs on both
            a += _per_call_ns(ours, calls, 1)
            b += _per_call_ns(ref, calls, 1)
        a.sort()
        b.sort()
        out[f"{name}_us"] = round(a[len(a) // 2] / 1000, 2)
        out[f"{name}_min_us"] = round(a[0] / 1000, 2)
        out[f"{name}_max_us"] = round(a[-1] / 1000, 2)
        out[f"{name}_struct_us"] = round(b[len(b) // 2] / 1000, 2)
        out[f"{name}_struct_min_us"] = round(b[0] / 1000, 2)
        out[f"{name}_struct_max_us"] = round(b[-1] / 1000, 2)
        out[f"{name}_ratio"] = round(a[len(a) // 2] / b[len(b) // 2], 2)
    construct = _per_call_ns(lambda: construct_page.parse(page_bytes), max(1, calls // 20),
                             rounds)
    construct.sort()
    out["event_page_decode_construct_us"] = round(construct[len(construct) // 2] / 1000, 2)
    return out
