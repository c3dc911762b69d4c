"""The pending invites of the lock (R-APP-3): a small table the keys service issues into
and redeems from, and the users service empties when it deletes a user.

A redeemed invite is *spent*, not forgotten: it stays (``redeemed_by`` set) until it
expires, so a phone that pairs with its code again learns ``INVITE_USED`` after the PAKE
(only a holder of the code learns it); a stranger's guess still fails as a wrong code.
Pending-invite views (``len``, ``in``, iteration, :meth:`get`) skip spent ones."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from ble_lock.core.management import Management
from ble_lock.core.model import Invite

__all__ = ["SPENT_KEPT", "InviteBook"]

SPENT_KEPT = 32
"""How many redeemed invites are remembered (for ``INVITE_USED``) at most."""


class InviteBook:
    """Pending invites by id, written through to the store (in the caller's transaction)."""

    def __init__(self, ctx: Management) -> None:
        self._ctx = ctx
        self._invites: dict[int, Invite] = {}
        ctx.on_reload(self.load)

    def load(self) -> None:
        """Rebuild from the store (at start and after a failed mutation)."""
        self._invites = {i.id: i for i in self._ctx.store.load_invites()}

    def _pending(self) -> dict[int, Invite]:
        return {i: inv for i, inv in self._invites.items() if inv.redeemed_by is None}

    def __len__(self) -> int:
        return len(self._pending())

    def __contains__(self, invite_id: object) -> bool:
        return invite_id in self._pending()

    def __iter__(self) -> Iterator[Invite]:
        pending = self._pending()
        return iter([pending[i] for i in sorted(pending)])

    def get(self, invite_id: int) -> Invite | None:
        """The pending invite ``invite_id``, if any (expired ones included)."""
        invite = self._invites.get(invite_id)
        return invite if invite is not None and invite.redeemed_by is None else None

    def spent(self, invite_id: int) -> Invite | None:
        """The invite ``invite_id`` if it was redeemed already (until it expires)."""
        invite = self._invites.get(invite_id)
        return invite if invite is not None and invite.redeemed_by is not None else None

    def spend(self, invite_id: int, phone_key: bytes) -> None:
        """Mark a pending invite redeemed by ``phone_key`` (kept until it expires; at most
        :data:`SPENT_KEPT` are kept, the oldest forgotten first: the store stays bounded)."""
        invite = replace(self._invites[invite_id], redeemed_by=bytes(phone_key))
        self._ctx.store.put_invite(invite)
        self._invites[invite_id] = invite
        spent = sorted(i for i, inv in self._invites.items() if inv.redeemed_by is not None)
        for old in spent[:max(0, len(spent) - SPENT_KEPT)]:
            self.delete(old)

    def put(self, invite: Invite) -> None:
        """Store a new invite."""
        self._ctx.store.put_invite(invite)
        self._invites[invite.id] = invite

    def delete(self, invite_id: int) -> None:
        """Forget one invite (redeemed, cancelled, expired)."""
        self._ctx.store.delete_invite(invite_id)
        del self._invites[invite_id]

    def delete_of_user(self, user_number: int) -> None:
        """Forget every invite for ``user_number`` (the user is being deleted)."""
        for invite in [i for i in self._invites.values() if i.user_number == user_number]:
            self.delete(invite.id)

    def prune(self, now: float) -> None:
        """Forget the invites expired at ``now`` (lock wall clock)."""
        stale = [i for i, inv in self._invites.items() if now >= inv.expires_at]
        if stale:
            with self._ctx.tx():
                for invite_id in stale:
                    self.delete(invite_id)

    def clear(self) -> None:
        """A factory reset erased them from the store already (R-SEC-5)."""
        self._invites.clear()
