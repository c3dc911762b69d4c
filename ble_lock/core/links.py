"""Sync-unlock links, lock side (R-SYN-1..4): set, pending confirmation, expiry, list.

R-SYN-1 is enforced here, inside the lock: a link set with a countdown (``confirm_s``,
default 60 s, 10..300) is *pending* until an admin unlocks **this door** with a
credential presented at the door (:data:`CONFIRM_METHODS`: PIN, fingerprint, card,
face, palm) before the deadline. A Bluetooth unlock (even by an admin's
phone), the remote control, a visitor code, the mechanical key, the inside handle and a
duress credential do not confirm: the rule asks for physical presence at the linked
door, and a phone can unlock from 50 m away (R-APP-5). A pending link opens nothing and
triggers nothing; when its countdown ends it is removed (``tick``), and every step is
logged as ``LINK_CHANGED`` (R-SYN-4) with a typed detail: ``LinkPending``,
``LinkConfirmed`` (with the admin's user number and method), ``LinkExpired``.

``confirm_s=0`` sets a link confirmed by the admin's session itself: the side where the
admin enabled sync unlock (lock A in the manual's flow); the linked door (B) is the one
set pending. The deadline is on the injected clock and is stored with the link, so a
restart keeps it (the emulator's clock is persisted across restarts).
"""

from __future__ import annotations

from dataclasses import replace

from ble_lock.core.errors import (
    CapacityError,
    ErrorCode,
    InvalidInputError,
    NotFoundError,
    StateError,
)
from ble_lock.core.management import Management, counter_in_range
from ble_lock.core.model import (
    MAX_LINKS,
    Actor,
    EventKind,
    LinkAdded,
    LinkConfirmed,
    LinkExpired,
    LinkPending,
    Role,
    SyncLink,
    Unlinked,
    UnlockMethod,
)
from ble_lock.core.profile import Feature

__all__ = [
    "CONFIRM_METHODS",
    "CONFIRM_S_RANGE",
    "DEFAULT_CONFIRM_S",
    "MAX_LINKS",
    "SYNC_STATEMENT_COUNTER",
    "Links",
]

DEFAULT_CONFIRM_S = 60
#: Bounds of a countdown; 0 (no countdown: confirmed by the admin's session) is allowed too.
CONFIRM_S_RANGE = (10, 300)
_WINDOW_RANGE = (3, 120)  # R-SYN-3, the same bounds as the sync_window_s setting
CONFIRM_METHODS = frozenset({
    UnlockMethod.PIN, UnlockMethod.FINGERPRINT, UnlockMethod.CARD, UnlockMethod.FACE,
    UnlockMethod.PALM,
})
"""Credentials presented at the door that confirm a pending link (R-SYN-1), when an
admin presents them (``DUAL_AUTH`` is only ever a dual-auth user's, never an admin's)."""


#: Prefix of the named counter holding the time (ms) of the last sync statement accepted
#: from a linked lock (+ its id in hex): replay state that survives a restart, an unlink
#: and a factory reset (the locks' static keys, hence the statements' key, survive both).
SYNC_STATEMENT_COUNTER = "sync_statement_ms."


def _check_confirm_s(confirm_s: int) -> None:
    low, high = CONFIRM_S_RANGE
    if isinstance(confirm_s, bool) or not isinstance(confirm_s, int) \
            or not (confirm_s == 0 or low <= confirm_s <= high):
        raise InvalidInputError(f"confirm_s must be 0 or {low}..{high}")


class Links:
    """Link records, their R-SYN-1 confirmation and the statements' replay state (the
    decision on a statement is the unlock service's)."""

    def __init__(self, ctx: Management) -> None:
        self._ctx = ctx
        self._links: dict[bytes, SyncLink] = {}
        ctx.on_reload(self._load)

    def _load(self) -> None:
        self._links = {bytes(link.peer_lock_id): link for link in self._ctx.store.load_links()}

    def clear(self) -> None:
        """A factory reset erased them from the store already (R-SEC-5)."""
        self._links.clear()

    def link_lock(self, actor: Actor, peer_lock_id: bytes, peer_public_key: bytes, *,
                  window_s: int | None = None, confirm_s: int = DEFAULT_CONFIRM_S,
                  request_id: bytes | None = None) -> SyncLink:
        """Record a linked lock (its id and static public key) and its open window
        (default: the ``sync_window_s`` setting). Admin only. R-SYN-1: pending until an
        admin credential at this door within ``confirm_s`` seconds (0: confirmed now by
        the admin's session). A link set again is replaced: with a countdown it needs a
        new confirmation at the door (and is gone if that does not come in time)."""
        self._ctx.authorize(actor)
        self._sync_supported()
        if not 1 <= len(peer_lock_id) <= 32 or len(peer_public_key) != 32:
            raise InvalidInputError("peer lock id 1..32 bytes, public key 32 bytes")
        window = self._ctx.settings.sync_window_s if window_s is None else window_s
        if isinstance(window, bool) or not isinstance(window, int) \
                or not _WINDOW_RANGE[0] <= window <= _WINDOW_RANGE[1]:
            raise InvalidInputError("sync_window_s must be {}..{}".format(*_WINDOW_RANGE))
        _check_confirm_s(confirm_s)
        return self._ctx.mutate(actor, request_id, lambda: self._put_link(
            bytes(peer_lock_id), bytes(peer_public_key), window, confirm_s))

    def _put_link(self, peer: bytes, key: bytes, window: int, confirm_s: int) -> SyncLink:
        old = self._links.get(peer)
        if old is None and len(self._links) >= MAX_LINKS:
            raise CapacityError("too many linked locks", code=ErrorCode.CAPACITY_FULL)
        if confirm_s:
            link = SyncLink(peer_lock_id=peer, peer_public_key=key, window_s=window,
                            created_at=self._ctx.wall(), confirm_by=self._ctx.now() + confirm_s)
            detail: LinkAdded | LinkPending = LinkPending(peer=peer, confirm_s=confirm_s)
        else:
            link = SyncLink(peer_lock_id=peer, peer_public_key=key, window_s=window,
                            created_at=self._ctx.wall())
            detail = LinkAdded(peer=peer)
        self._ctx.store.put_link(link)
        self._links[peer] = link
        self._ctx.emit(EventKind.LINK_CHANGED, detail=detail)
        return link

    def unlink_lock(self, actor: Actor, peer_lock_id: bytes, *,
                    request_id: bytes | None = None) -> None:
        """Remove a linked lock, pending or confirmed. Admin only."""
        self._ctx.authorize(actor)

        def apply() -> None:
            if bytes(peer_lock_id) not in self._links:
                raise NotFoundError("no such linked lock", code=ErrorCode.UNKNOWN_KEY)
            self._ctx.store.delete_link(bytes(peer_lock_id))
            del self._links[bytes(peer_lock_id)]
            self._ctx.emit(EventKind.LINK_CHANGED, detail=Unlinked(peer=bytes(peer_lock_id)))

        self._ctx.mutate(actor, request_id, apply)

    def list_links(self, actor: Actor) -> list[SyncLink]:
        """Every link, pending (with its deadline) or confirmed; a countdown that
        ended is expired first, even if the host has not run ``tick`` yet. Admin only."""
        self._ctx.authorize(actor)
        self.expire()
        return [self._links[k] for k in sorted(self._links)]

    def find_link(self, peer_lock_id: bytes) -> SyncLink | None:
        """The link record, pending or not (the protocol checks ``pending``)."""
        return self._links.get(bytes(peer_lock_id))

    def confirm_left(self, link: SyncLink) -> float:
        """Seconds left of a pending link's countdown (0 for a confirmed one)."""
        return 0.0 if link.confirm_by is None else max(0.0, link.confirm_by - self._ctx.now())

    def _sync_supported(self) -> None:
        if not self._ctx.profile.has(Feature.SYNC_UNLOCK):
            raise StateError("no sync unlock", code=ErrorCode.UNSUPPORTED_BY_PROFILE)

    def confirmed(self) -> list[SyncLink]:
        return [self._links[k] for k in sorted(self._links) if not self._links[k].pending]

    def confirm(self, user_number: int | None, method: UnlockMethod,
                       duress: bool) -> None:
        """R-SYN-1: an admin's credential at this door confirms every pending link whose
        countdown still runs. Called inside the unlock's transaction."""
        if user_number is None or duress or method not in CONFIRM_METHODS:
            return
        user = self._ctx.index.users.get(user_number)
        if user is None or user.role is not Role.ADMIN:
            return
        now = self._ctx.now()
        for peer in sorted(self._links):
            link = self._links[peer]
            if link.confirm_by is not None and now < link.confirm_by:
                confirmed = replace(link, confirm_by=None, confirmed_by=user_number)
                self._ctx.store.put_link(confirmed)
                self._links[peer] = confirmed
                self._ctx.emit(EventKind.LINK_CHANGED, user_number=user_number, method=method,
                           detail=LinkConfirmed(peer=peer))

    def deadline(self) -> float | None:
        times = [link.confirm_by for link in self._links.values() if link.confirm_by is not None]
        return min(times) if times else None

    def expire(self) -> None:
        """R-SYN-1: a pending link whose countdown ended is removed, and logged."""
        now = self._ctx.now()
        due = sorted(p for p, link in self._links.items()
                     if link.confirm_by is not None and now >= link.confirm_by)
        if not due:
            return
        with self._ctx.tx():
            for peer in due:
                self._ctx.store.delete_link(peer)
                del self._links[peer]
                self._ctx.emit(EventKind.LINK_CHANGED, detail=LinkExpired(peer=peer))

    def accept_statement(self, peer_lock_id: bytes, at_ms: int) -> bool:
        """R-SYN-2 replay state: atomically accept a verified statement's time ``at_ms``
        from the linked lock ``peer_lock_id`` iff it is later than the last accepted one;
        persisted (before returning True) so a restart does not forget it. A time outside
        the store's range is never accepted and never reaches the store."""
        name = SYNC_STATEMENT_COUNTER + bytes(peer_lock_id).hex()
        if not counter_in_range(at_ms) or at_ms <= self._ctx.store.get_counter(name):
            return False
        with self._ctx.tx():
            self._ctx.store.set_counter(name, at_ms)
        return True
