"""Sync unlock from the admin's central (R-SYN-1..4, docs/flows.md "Sync unlock").

Linking (R-SYN-1), driven by :func:`link_locks` over two admin sessions:

1. **enable on A**: ``sync_unlock`` on, with the window (default 10 s, R-SYN-3);
2. **choose B** and start the **countdown** (default 60 s): the admin must unlock door B
   with an admin credential at the door (PIN, fingerprint, card, face, palm), which the
   central sees in B's event log (an ``UNLOCK`` of an admin user by one of those
   methods, logged after the countdown started);
3. **confirmed**: each lock learns the other's id and static public key through the
   admin's authenticated sessions (``SYNC_LINK_SET`` on both, admin-only inside the
   lock), and B's ``sync_unlock`` goes on. Without a confirmation in time A's setting is
   put back and nothing is linked (``TIMEOUT``).

The link is mutual: an outside unlock of either door opens the other. Afterwards each
lock proves its unlocks with statements (``ble_lock.protocol.service_sync``); a central
holding sessions with both relays them (:class:`SyncRelay`; the gateway does the same for
many locks). :func:`unlink_locks` removes the link on one side or both: either side alone
stops both directions (the unlinked lock neither makes nor accepts statements for the
other). :func:`describe_event` makes the effect visible (R-SYN-4).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ble_lock.core.errors import ErrorCode, InvalidInputError, LockError, TransportError
from ble_lock.protocol import messages as m

if TYPE_CHECKING:
    from ble_lock.central.client import LockClient

__all__ = [
    "CONFIRM_METHODS",
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
CONFIRM_METHODS = frozenset({
    m.UnlockMethod.PIN, m.UnlockMethod.FINGERPRINT, m.UnlockMethod.CARD,
    m.UnlockMethod.FACE, m.UnlockMethod.PALM, m.UnlockMethod.DUAL_AUTH,
})
"""Credentials presented at the door that confirm a link (R-SYN-1): not a phone, not the
mechanical key, not the inside handle, not a visitor code."""


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


async def _log_end(client: LockClient) -> int:
    """The cursor after the last logged event."""
    cursor = 0
    while True:
        page = await client.events_page(cursor)
        cursor = page.next_cursor
        if not page.more:
            return cursor


async def _wait_admin_unlock(b: LockClient, cursor: int, admins: frozenset[int],
                             deadline: float, poll_s: float) -> int:
    """The admin user who unlocked door B with a credential at the door after
    ``cursor``, polling B's log until ``deadline`` (monotonic)."""
    while True:
        page = await b.events_page(cursor)
        for record in page.events:
            if (record.kind is m.EventKind.UNLOCK and record.user_number in admins
                    and record.method in CONFIRM_METHODS):
                return record.user_number
        cursor = page.next_cursor
        if page.more:
            continue
        left = deadline - time.monotonic()
        if left <= 0:
            raise TransportError("sync link not confirmed at the linked door in time",
                                 code=ErrorCode.TIMEOUT)
        await asyncio.sleep(min(poll_s, left))


async def link_locks(a: LockClient, b: LockClient, *, window_s: int = DEFAULT_WINDOW_S,
                     countdown_s: float = DEFAULT_COUNTDOWN_S, poll_s: float = 0.5,
                     on_countdown: Callable[[float], None] | None = None) -> LinkResult:
    """R-SYN-1: enable on A, choose B, confirm by an admin unlock at door B within
    ``countdown_s``; then both locks hold the other's key. ``on_countdown(seconds)`` is
    called once the countdown runs (tell the admin to go to door B)."""
    a_id, a_key = _identity(a)
    b_id, b_key = _identity(b)
    if a_id == b_id:
        raise InvalidInputError("a lock cannot be linked to itself")
    before = await a.settings()
    await a.set_settings(m.SettingsSet(sync_unlock=True, sync_window_s=window_s))
    try:
        cursor = await _log_end(b)
        admins = frozenset(u.user_number for u in await b.list_users()
                           if u.role is m.Role.ADMIN)
        if on_countdown is not None:
            on_countdown(countdown_s)
        confirmed_by = await _wait_admin_unlock(b, cursor, admins,
                                                time.monotonic() + countdown_s, poll_s)
    except BaseException:
        with contextlib.suppress(LockError):  # best effort: put A back as it was
            await a.set_settings(m.SettingsSet(sync_unlock=before.sync_unlock,
                                               sync_window_s=before.sync_window_s))
        raise
    await a.sync_link(b_id, b_key, window_s)
    await b.sync_link(a_id, a_key, window_s)
    await b.set_settings(m.SettingsSet(sync_unlock=True, sync_window_s=window_s))
    return LinkResult(lock_a=a_id, lock_b=b_id, window_s=window_s, confirmed_by=confirmed_by)


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
    from). ``names`` maps upper-case lock ids to names."""
    names = names or {}
    kind = record.kind.name.lower().replace("_", " ")
    if record.kind is m.EventKind.SYNC_UNLOCK:
        peer = record.detail.removeprefix("from ").upper()
        return f"opened by sync from {names.get(peer, peer)}"
    if record.kind is m.EventKind.SYNC_TRIGGER:
        peer = record.detail.upper()
        return f"sync unlock sent to {names.get(peer, peer)}"
    if record.kind is m.EventKind.SYNC_RELOCK:
        return "relocked: door not opened within the sync window"
    parts = [kind]
    if record.user_number is not None:
        parts.append(f"user {record.user_number}")
    if record.method is not None:
        parts.append(f"by {record.method.name.lower().replace('_', ' ')}")
    if record.detail:
        parts.append(f"({record.detail})")
    return " ".join(parts)
