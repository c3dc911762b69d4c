"""One typed event detail of each kind, with the event kind that carries it and its wire
text today (the text is the wire format: it must not change)."""

from __future__ import annotations

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

PEER = bytes.fromhex("0badc0de")

#: (kind, typed detail, wire text)
DETAIL_CASES: list[tuple[EventKind, EventDetail, str]] = [
    (EventKind.CREDENTIAL_ADDED, Note(text="FINGERPRINT"), "FINGERPRINT"),
    (EventKind.USER_UPDATED, ByUser(number=3), "by 3"),
    (EventKind.USER_ADDED, ByUser(number=None), "by None"),
    (EventKind.ENROLMENT_STEP, EnrolmentProgress(captured=2, needed=5), "2/5"),
    (EventKind.LOW_BATTERY, BatteryLevel(percent=9), "9%"),
    (EventKind.LOCKOUT, LockoutStarted(path="keypad PIN", duration_s=180.0), "keypad PIN 180s"),
    (EventKind.LOCKOUT, LockoutStarted(path="pairing", duration_s=1.5), "pairing 1.5s"),
    (EventKind.TIME_SET, ClockSet(unix_time=1_700_000_000.0), "1700000000"),
    (EventKind.KEY_ISSUED, InviteIssued(invite_id=7), "invite 7"),
    (EventKind.LINK_CHANGED, LinkAdded(peer=PEER), "link 0badc0de"),
    (EventKind.LINK_CHANGED, LinkPending(peer=PEER, confirm_s=60), "link 0badc0de pending 60s"),
    (EventKind.LINK_CHANGED, LinkConfirmed(peer=PEER), "confirmed 0badc0de"),
    (EventKind.LINK_CHANGED, LinkExpired(peer=PEER), "expired 0badc0de"),
    (EventKind.LINK_CHANGED, Unlinked(peer=PEER), "unlink 0badc0de"),
    (EventKind.SYNC_TRIGGER, SyncTarget(peer=PEER), "0badc0de"),
    (EventKind.SYNC_UNLOCK, SyncSource(peer=PEER), "from 0badc0de"),
]

ALL_DETAILS: list[EventDetail] = [detail for _, detail, _ in DETAIL_CASES]
