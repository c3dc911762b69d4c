"""The text of an :class:`~ble_lock.wire.messages.EventRecord`'s ``detail``, both ways.

The lock logs typed details (:data:`ble_lock.core.model.EventDetail`); the wire's event
record carries them as one short text field (unchanged format, see the vectors). This
module is the one place that text is declared: :func:`render_detail` writes it (the lock
app, at the boundary) and :func:`parse_detail` reads it back into the typed record (the
phone side), raising :class:`DetailError` (a ``RemoteProtocolError``) on text that does
not fit the event's kind, never a silent empty value.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ble_lock.core.model import (
    BatteryLevel,
    ByUser,
    ClockSet,
    EnrolmentProgress,
    EventDetail,
    EventKind,
    InviteIssued,
    LinkAdded,
    LinkConfirmed,
    LinkExpired,
    LinkPending,
    LockoutStarted,
    Note,
    SyncSource,
    SyncTarget,
    Unlinked,
)
from ble_lock.wire.messages import BadMessageError

__all__ = ["DetailError", "parse_detail", "render_detail"]


class DetailError(BadMessageError):
    """An event record's ``detail`` text does not have the shape its kind declares."""


def render_detail(detail: EventDetail | None) -> str:
    """The wire text of a typed detail ("" for none)."""
    match detail:
        case None:
            return ""
        case Note(text=text):
            return text
        case ByUser(number=number):
            return f"by {number}"
        case EnrolmentProgress(captured=captured, needed=needed):
            return f"{captured}/{needed}"
        case BatteryLevel(percent=percent):
            return f"{percent}%"
        case LockoutStarted(path=path, duration_s=duration_s):
            return f"{path} {duration_s:g}s"
        case ClockSet(unix_time=unix_time):
            return f"{unix_time:.0f}"
        case InviteIssued(invite_id=invite_id):
            return f"invite {invite_id}"
        case LinkAdded(peer=peer):
            return f"link {peer.hex()}"
        case LinkPending(peer=peer, confirm_s=confirm_s):
            return f"link {peer.hex()} pending {confirm_s}s"
        case LinkConfirmed(peer=peer):
            return f"confirmed {peer.hex()}"
        case LinkExpired(peer=peer):
            return f"expired {peer.hex()}"
        case Unlinked(peer=peer):
            return f"unlink {peer.hex()}"
        case SyncTarget(peer=peer):
            return peer.hex()
        case SyncSource(peer=peer):
            return f"from {peer.hex()}"


_HEX = r"((?:[0-9a-fA-F]{2})+)"
_INT = r"(\d+)"
_NUM = r"(\d+(?:\.\d+)?(?:e[+-]?\d+)?)"


def _peer(group: str) -> bytes:
    return bytes.fromhex(group)  # the pattern admits hex pairs only


# Per kind: the shapes its detail text takes, each with the typed record it builds.
_Shape = tuple[re.Pattern[str], Callable[[tuple[str, ...]], EventDetail]]


def _shape(pattern: str, build: Callable[[tuple[str, ...]], EventDetail]) -> _Shape:
    return re.compile(pattern), build


_BY_USER = _shape(r"by (\d+|None)",
                  lambda g: ByUser(number=None if g[0] == "None" else int(g[0])))
_SHAPES: dict[EventKind, tuple[_Shape, ...]] = {
    EventKind.USER_ADDED: (_BY_USER,),
    EventKind.USER_UPDATED: (_BY_USER,),
    EventKind.USER_DELETED: (_BY_USER,),
    EventKind.ENROLMENT_STEP: (
        _shape(rf"{_INT}/{_INT}", lambda g: EnrolmentProgress(captured=int(g[0]),
                                                              needed=int(g[1]))),),
    EventKind.LOW_BATTERY: (_shape(rf"{_INT}%", lambda g: BatteryLevel(percent=int(g[0]))),),
    EventKind.LOCKOUT: (
        _shape(rf"(.+) {_NUM}s", lambda g: LockoutStarted(path=g[0], duration_s=float(g[1]))),),
    EventKind.TIME_SET: (_shape(r"(-?\d+)", lambda g: ClockSet(unix_time=float(g[0]))),),
    EventKind.KEY_ISSUED: (_shape(rf"invite {_INT}", lambda g: InviteIssued(invite_id=int(g[0]))),),
    EventKind.LINK_CHANGED: (
        _shape(rf"link {_HEX} pending {_INT}s",
               lambda g: LinkPending(peer=_peer(g[0]), confirm_s=int(g[1]))),
        _shape(rf"link {_HEX}", lambda g: LinkAdded(peer=_peer(g[0]))),
        _shape(rf"confirmed {_HEX}", lambda g: LinkConfirmed(peer=_peer(g[0]))),
        _shape(rf"expired {_HEX}", lambda g: LinkExpired(peer=_peer(g[0]))),
        _shape(rf"unlink {_HEX}", lambda g: Unlinked(peer=_peer(g[0]))),
    ),
    EventKind.SYNC_TRIGGER: (_shape(_HEX, lambda g: SyncTarget(peer=_peer(g[0]))),),
    EventKind.SYNC_UNLOCK: (_shape(rf"from {_HEX}", lambda g: SyncSource(peer=_peer(g[0]))),),
}
# Kinds whose detail is sometimes a typed record, sometimes a person's note.
_NOTE_TOO = frozenset({EventKind.USER_ADDED})


def parse_detail(kind: EventKind, text: str) -> EventDetail | None:
    """The typed detail of an event record of ``kind`` ("" = none). Kinds that carry data
    must match their shape (:class:`DetailError` otherwise); the others carry a
    :class:`Note`."""
    if not text:
        return None
    shapes = _SHAPES.get(kind)
    if shapes is None:
        return Note(text=text)
    for pattern, build in shapes:
        match = pattern.fullmatch(text)
        if match is not None:
            return build(match.groups())
    if kind in _NOTE_TOO:
        return Note(text=text)
    raise DetailError(f"{kind.name} detail has an unknown shape")
