"""Sync unlock from the admin's central (R-SYN-1..4, docs/flows.md "Sync unlock").

Linking (R-SYN-1), driven by :func:`link_locks` over two admin sessions:

1. **enable on A**: ``sync_unlock`` on, with the window (default 10 s, R-SYN-3);
2. **choose B** and start the **countdown** (default 60 s, 10..300): B is sent A's link
   *pending* (``SYNC_LINK_SET`` with ``confirm_s``). Lock B itself enforces the rule: the
   link opens nothing until an admin unlocks door B with a credential at the door (PIN,
   fingerprint, card, face, palm; not a phone) before the countdown ends, and B removes
   it by itself when the countdown ends. The central only watches ``SYNC_LINK_LIST`` on
   B until the link is confirmed, or gone (``TIMEOUT``);
3. **confirmed**: A learns B's link (confirmed by the admin's session on A, where sync
   was enabled) and B's ``sync_unlock`` goes on. Without a confirmation in time A's
   setting is put back and nothing is linked.

The link is mutual: an outside unlock of either door opens the other. Afterwards each
lock proves its unlocks with statements (``ble_lock.lockapp.sync``); a central
holding sessions with both relays them (:class:`SyncRelay`; the gateway does the same for
many locks). :func:`unlink_locks` removes the link on one side or both: either side alone
stops both directions (the unlinked lock neither makes nor accepts statements for the
other). :func:`describe_event` makes the effect visible (R-SYN-4).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ble_lock.core.errors import (
    ConflictError,
    ErrorCode,
    InvalidInputError,
    LockError,
    TransportError,
)
from ble_lock.core.links import CONFIRM_METHODS as LOCK_CONFIRM_METHODS
from ble_lock.core.links import CONFIRM_S_RANGE
from ble_lock.core.model import (
    LinkConfirmed,
    LinkExpired,
    LinkPending,
    Note,
    SyncSource,
    SyncTarget,
)
from ble_lock.wire import messages as m
from ble_lock.wire.messages.details import DetailError, parse_detail

if TYPE_CHECKING:
    from ble_lock.central.client import LockClient

__all__ = [
    "CONFIRM_METHODS",
    "COUNTDOWN_RANGE_S",
    "DEFAULT_COUNTDOWN_S",
    "DEFAULT_WINDOW_S",
    "LinkResult",
    "SyncRelay",
    "SyncStatus",
    "describe_event",
    "link_locks",
    "sync_status",
    "unlink_locks",
]

_log = logging.getLogger(__name__)

DEFAULT_WINDOW_S = 10
DEFAULT_COUNTDOWN_S = 60.0
COUNTDOWN_RANGE_S = CONFIRM_S_RANGE
_GRACE_S = 30.0
CONFIRM_METHODS = LOCK_CONFIRM_METHODS
"""Credentials presented at the door that confirm a link (R-SYN-1), as lock B checks
them: not a phone, not the mechanical key, not the inside handle, not a visitor code."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkResult:
    """Two locks linked for sync unlock, and who confirmed it at door B."""

    lock_a: bytes
    lock_b: bytes
    window_s: int
    confirmed_by: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncStatus:
    """One lock's sync-unlock state: on or off, its window and its links."""

    lock_id: bytes
    enabled: bool
    window_s: int
    links: tuple[m.SyncLinkInfo, ...]


def _identity(client: LockClient) -> tuple[bytes, bytes]:
    """The lock id and static public key of a connected, paired lock."""
    record = client.record
    if client.lock_id is None or record is None:
        raise TransportError("connect to (and pair with) both locks first",
                             code=ErrorCode.NOT_PAIRED)
    return client.lock_id, record.lock_public_key


def _confirm_s(countdown_s: float) -> int:
    """The countdown in whole seconds, within what the lock accepts (R-SYN-1)."""
    seconds = math.ceil(countdown_s)
    if not COUNTDOWN_RANGE_S[0] <= seconds <= COUNTDOWN_RANGE_S[1]:
        raise InvalidInputError("countdown must be {}..{} s".format(*COUNTDOWN_RANGE_S))
    return seconds


async def _wait_confirmed(b: LockClient, a_id: bytes, confirm_s: int, poll_s: float) -> int:
    """The admin user who confirmed A's link at door B, as lock B reports it in
    ``SYNC_LINK_LIST``; ``TIMEOUT`` once B has dropped the expired pending link (or,
    should B's clock never end it, a grace period after the countdown)."""
    give_up = time.monotonic() + confirm_s + _GRACE_S
    while True:
        link = next((x for x in await b.sync_links() if x.peer_lock_id == a_id), None)
        if link is None:
            raise TransportError("sync link not confirmed at the linked door in time",
                                 code=ErrorCode.TIMEOUT)
        if not link.pending:
            if link.confirmed_by is None:  # another admin session set it meanwhile
                raise ConflictError("the link at the linked lock was set again meanwhile")
            return link.confirmed_by
        if time.monotonic() >= give_up:
            raise TransportError("linked lock did not end its countdown",
                                 code=ErrorCode.TIMEOUT)
        await asyncio.sleep(poll_s)


async def link_locks(a: LockClient, b: LockClient, *, window_s: int = DEFAULT_WINDOW_S,
                     countdown_s: float = DEFAULT_COUNTDOWN_S, poll_s: float = 0.5,
                     on_countdown: Callable[[float], None] | None = None) -> LinkResult:
    """R-SYN-1: enable on A, choose B, confirm by an admin unlock at door B within
    ``countdown_s`` (10..300 s, enforced by lock B); then both locks hold the other's
    key. ``on_countdown(seconds)`` is called once the countdown runs (tell the admin to
    go to door B)."""
    a_id, a_key = _identity(a)
    b_id, b_key = _identity(b)
    if a_id == b_id:
        raise InvalidInputError("a lock cannot be linked to itself")
    confirm_s = _confirm_s(countdown_s)
    before = await a.settings()
    await a.set_settings(m.SettingsSet(sync_unlock=True, sync_window_s=window_s))
    try:
        await b.sync_link(a_id, a_key, window_s, confirm_s=confirm_s)  # pending at B
        if on_countdown is not None:
            on_countdown(float(confirm_s))
        confirmed_by = await _wait_confirmed(b, a_id, confirm_s, poll_s)
        await a.sync_link(b_id, b_key, window_s)  # A: the admin's session authorises it
    except BaseException:
        await _undo(a, b, a_id, before)
        raise
    await b.set_settings(m.SettingsSet(sync_unlock=True, sync_window_s=window_s))
    return LinkResult(lock_a=a_id, lock_b=b_id, window_s=window_s, confirmed_by=confirmed_by)


async def _undo(a: LockClient, b: LockClient, a_id: bytes, before: m.LockSettings) -> None:
    """Best effort after a failed or cancelled link: drop the link this call set on B
    (pending, or confirmed when A could not be told; gone already if B expired it) and
    put A's setting back as it was."""
    with contextlib.suppress(LockError):
        await b.sync_unlink(a_id)
    with contextlib.suppress(LockError):
        await a.set_settings(m.SettingsSet(sync_unlock=before.sync_unlock,
                                           sync_window_s=before.sync_window_s))


async def unlink_locks(a: LockClient, b: LockClient | None = None, *,
                       peer_lock_id: bytes | None = None) -> int:
    """Remove the link from A's side (``peer_lock_id``, or B's id) and, if B is given,
    from B's side too. Either side alone stops both directions. Returns how many
    sides removed a link."""
    a_id, _ = _identity(a)
    peer = peer_lock_id if peer_lock_id is not None else (_identity(b)[0] if b else None)
    if peer is None:
        raise InvalidInputError("which lock to unlink: pass b or peer_lock_id")
    removed = 0
    for client, other in ((a, peer), (b, a_id)):
        if client is None:
            continue
        try:
            await client.sync_unlink(other)
            removed += 1
        except LockError as exc:
            if exc.code is not ErrorCode.UNKNOWN_KEY:  # already gone on that side: fine
                raise
    return removed


async def sync_status(client: LockClient) -> SyncStatus:
    lock_id, _ = _identity(client)
    settings = await client.settings()
    return SyncStatus(lock_id=lock_id, enabled=settings.sync_unlock,
                      window_s=settings.sync_window_s, links=tuple(await client.sync_links()))


class SyncRelay:
    """Forwards the sync statements a lock pushes to the lock they are addressed to.

    ``SyncRelay({a_id: client_a, b_id: client_b})`` listens on every client (pushes need a
    session: :meth:`start` opens them) and hands each statement to its target's client.
    ``results`` keeps the last outcomes (target id, error code or None), bounded."""

    def __init__(self, clients: Mapping[bytes, LockClient], *, keep: int = 64) -> None:
        self._clients = dict(clients)
        self._removers: list[Callable[[], None]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._keep = keep
        self.results: list[tuple[bytes, ErrorCode | None]] = []
        self.statements: list[m.SyncStatement] = []

    def __repr__(self) -> str:
        return f"SyncRelay(locks={len(self._clients)}, relayed={len(self.results)})"

    async def start(self) -> None:
        for client in self._clients.values():
            self._removers.append(client.on_event(self._on_push))
            await client.listen()

    def _on_push(self, body: m.EventBody) -> None:
        if isinstance(body, m.SyncStatement):
            self.statements = [*self.statements[-(self._keep - 1):], body]
            task = asyncio.get_running_loop().create_task(self._relay(body))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _relay(self, statement: m.SyncStatement) -> None:
        target = self._clients.get(statement.target_lock_id)
        if target is None:
            return
        outcome: ErrorCode | None = None
        try:
            await target.relay_statement(statement)
        except LockError as exc:
            outcome = exc.code
            _log.info("statement for %s refused: %s", statement.target_lock_id.hex(), exc)
        self.results = [*self.results[-(self._keep - 1):], (statement.target_lock_id, outcome)]

    async def drain(self) -> None:
        """Wait for the relays under way."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        for remove in self._removers:
            remove()
        self._removers.clear()
        await self.drain()


def describe_event(record: m.EventRecord, names: Mapping[str, str] | None = None) -> str:
    """A line a shared user understands (R-SYN-4: a sync unlock says where it came
    from). ``names`` maps upper-case lock ids to names. The detail is read as its typed
    record (:func:`~ble_lock.wire.messages.details.parse_detail`); a detail of an unknown
    shape is shown as the lock sent it."""
    names = names or {}
    try:
        detail = parse_detail(record.kind, record.detail)
    except DetailError:
        detail = Note(text=record.detail)

    def peer_name(peer: bytes) -> str:
        upper = peer.hex().upper()
        return names.get(upper, upper)

    match detail:
        case SyncSource(peer=peer):
            return f"opened by sync from {peer_name(peer)}"
        case SyncTarget(peer=peer):
            return f"sync unlock sent to {peer_name(peer)}"
        case LinkPending(peer=peer, confirm_s=confirm_s):  # R-SYN-1 steps at the linked door
            return (f"sync link with {peer_name(peer)} waiting for an admin credential at "
                    f"this door ({confirm_s} s)")
        case LinkExpired(peer=peer):
            return f"sync link with {peer_name(peer)} expired: not confirmed at this door in time"
        case LinkConfirmed(peer=peer):
            by = "" if record.user_number is None else f" by user {record.user_number}"
            how = "" if record.method is None else f" ({record.method.name.lower()})"
            return f"sync link with {peer_name(peer)} confirmed at this door{by}{how}"
    if record.kind is m.EventKind.SYNC_RELOCK:
        return "relocked: door not opened within the sync window"
    parts = [record.kind.name.lower().replace("_", " ")]
    if record.user_number is not None:
        parts.append(f"user {record.user_number}")
    if record.method is not None:
        parts.append(f"by {record.method.name.lower().replace('_', ' ')}")
    if record.detail:
        parts.append(f"({record.detail})")
    return " ".join(parts)
