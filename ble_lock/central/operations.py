"""One ``async`` method per protocol operation (docs/protocol.md, ## Messages).

Mixed into :class:`~ble_lock.central.client.LockClient`; each method is one request
(``_ask``: the response type comes from the request's declaration) or, for listings, one
request per page. Errors are the lock's typed
``LockError`` (``PermissionDeniedError`` for a denial, ``NotFoundError``...).
"""

from __future__ import annotations

import abc
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

from ble_lock.wire import messages as m

__all__ = ["Operations"]

B = TypeVar("B", bound=m.ResponseBody)

Item = TypeVar("Item")
Page = TypeVar("Page", bound=m.ResponseBody)


async def _all_pages(fetch: Callable[[int], Awaitable[Page]],
                     items: Callable[[Page], Sequence[Item]],
                     cursor: Callable[[Item], int]) -> list[Item]:
    """Every item of a paged list: ``fetch(after)`` one page, until the lock says no more."""
    out: list[Item] = []
    after = 0
    while True:
        page = await fetch(after)
        got = items(page)
        out.extend(got)
        if not getattr(page, "more", False) or not got:
            return out
        after = cursor(got[-1])


class Operations(abc.ABC):
    """The protocol's operations over ``_call`` (provided by the client)."""

    @abc.abstractmethod
    async def _call(self, body: m.RequestBody, expected: type[B]) -> B:
        """One request over the transport (LockClient provides it)."""

    async def _ask(self, body: m.RequestOf[B]) -> B:
        """One request; its answer is the response body its declaration names
        (``RequestOf[B]``), typed and checked as such."""
        return await self._call(body, m.response_of(body))

    # ------------------------------------------------------------------ door

    async def unlock(self) -> int:
        """Open the door; returns the user number the lock logged. One round trip on a
        new session (the request rides in the handshake's first message)."""
        return (await self._ask(m.Unlock())).user_number

    async def lock(self) -> None:
        await self._ask(m.LockDoor())

    # ------------------------------------------------------------------ users

    async def add_user(self, name: str, *, role: m.Role = m.Role.NORMAL,
                       validity: m.Validity = m.ALWAYS,
                       schedules: tuple[m.Schedule, ...] = ()) -> m.UserInfo:
        return await self._ask(m.UserAdd(role=role, name=name, validity=validity,
                                         schedules=schedules))

    async def update_user(self, user_number: int, *, name: str | None = None,
                          role: m.Role | None = None, validity: m.Validity | None = None,
                          schedules: tuple[m.Schedule, ...] | None = None) -> m.UserInfo:
        return await self._ask(m.UserUpdate(user_number=user_number, name=name, role=role,
                                            validity=validity, schedules=schedules))

    async def delete_user(self, user_number: int) -> None:
        await self._ask(m.UserDelete(user_number=user_number))

    async def get_user(self, user_number: int) -> m.UserInfo:
        return await self._ask(m.UserGet(user_number=user_number))

    async def whoami(self) -> m.UserInfo:
        return await self._ask(m.WhoAmI())

    async def list_users(self) -> list[m.UserInfo]:
        """Every user, all pages."""
        return await _all_pages(lambda after: self._ask(m.UserList(after=after)),
                                lambda page: page.users, lambda u: u.user_number)

    # ------------------------------------------------------------------ credentials

    async def add_pin(self, user_number: int, pin: str, *, duress: bool = False
                      ) -> m.CredentialInfo:
        """A PIN for a user (R-PIN-1/2 are checked in the lock); sent in the session only."""
        return await self._ask(m.PinAdd(user_number=user_number, pin=pin, duress=duress))

    async def add_card(self, user_number: int, card_uid: bytes, card_code: str
                       ) -> m.CredentialInfo:
        return await self._ask(m.CardAdd(user_number=user_number, card_uid=card_uid,
                                         card_code=card_code))

    async def add_remote(self, user_number: int, remote_id: bytes) -> m.CredentialInfo:
        return await self._ask(m.RemoteAdd(user_number=user_number, remote_id=remote_id))

    async def enrol_begin(self, user_number: int, kind: m.CredentialKind, *,
                          duress: bool = False) -> m.Enrolment:
        return await self._ask(m.EnrolBegin(user_number=user_number, kind=kind,
                                            duress=duress))

    async def enrol_status(self, session_id: int) -> m.Enrolment:
        return await self._ask(m.EnrolStatus(session_id=session_id))

    async def enrol_cancel(self, session_id: int) -> m.Enrolment:
        return await self._ask(m.EnrolCancel(session_id=session_id))

    async def list_credentials(self, *, user_number: int | None = None,
                               kind: m.CredentialKind | None = None) -> list[m.CredentialInfo]:
        """Credentials (all, or one user's / one kind's), all pages."""
        return await _all_pages(
            lambda after: self._ask(m.CredentialList(user_number=user_number, kind=kind,
                                                     after=after)),
            lambda page: page.credentials, lambda c: c.credential_id)

    async def delete_credential(self, credential_id: int) -> None:
        await self._ask(m.CredentialDelete(credential_id=credential_id))

    async def delete_credentials(self, user_number: int, kind: m.CredentialKind, *,
                                 duress_only: bool = False) -> int:
        """Delete one user's credentials of a kind; returns how many went."""
        return (await self._ask(m.CredentialDeleteKind(user_number=user_number, kind=kind,
                                                       duress_only=duress_only))).count

    async def clear_credentials(self, kind: m.CredentialKind) -> int:
        return (await self._ask(m.CredentialClear(kind=kind))).count

    # ------------------------------------------------------------------ Bluetooth keys

    async def issue_key(self, user_number: int | None = None, *, name: str = "",
                        role: m.Role = m.Role.NORMAL, expires_at: int | None = None,
                        validity: m.Validity = m.ALWAYS) -> m.Invite:
        """An invite for a phone: for an existing user, or a new user ``name``/``role``.
        Pass its ``invite_id``, ``code`` and the lock fingerprint to the other phone."""
        return await self._ask(m.KeyInvite(user_number=user_number, name=name, role=role,
                                           expires_at=expires_at, validity=validity))

    async def enrol_phone(self, user_number: int | None = None, *, name: str = "",
                          expires_at: int | None = None) -> m.Invite:
        """An invite for one more admin phone (a new admin ``name``, or ``user_number``'s
        second phone)."""
        return await self.issue_key(user_number, name=name, role=m.Role.ADMIN,
                                    expires_at=expires_at)

    async def list_keys(self) -> list[m.CredentialInfo]:
        return await _all_pages(lambda after: self._ask(m.KeyList(after=after)),
                                lambda page: page.credentials, lambda c: c.credential_id)

    async def revoke_key(self, credential_id: int) -> None:
        await self._ask(m.KeyRevoke(credential_id=credential_id))

    async def cancel_invite(self, invite_id: int) -> None:
        await self._ask(m.InviteCancel(invite_id=invite_id))

    async def list_invites(self) -> list[m.InviteInfo]:
        return await _all_pages(lambda after: self._ask(m.InviteList(after=after)),
                                lambda page: page.invites, lambda i: i.invite_id)

    # ------------------------------------------------------------------ lock settings

    async def settings(self) -> m.LockSettings:
        return await self._ask(m.SettingsGet())

    async def set_settings(self, changes: m.SettingsSet) -> m.LockSettings:
        """Change settings: ``set_settings(m.SettingsSet(privacy_mode=True))``."""
        return await self._ask(changes)

    async def lift_lockout(self) -> None:
        await self._ask(m.LockoutLift())

    async def open_maintenance_window(self, duration_s: int) -> None:
        """R-APP-8: let firmware management (SMP) in for ``duration_s`` s; admin only."""
        await self._ask(m.MaintenanceOpen(duration_s=duration_s))

    async def factory_reset(self) -> None:
        await self._ask(m.FactoryReset())

    async def set_time(self, now_ms: int | None = None) -> None:
        """Set the lock's wall clock (default: this machine's time)."""
        ms = int(time.time() * 1000) if now_ms is None else now_ms
        await self._ask(m.TimeSet(now_ms=ms))

    async def system_info(self) -> m.SystemInfo:
        return await self._ask(m.SystemInfoGet())

    # ------------------------------------------------------------------ events

    async def events_page(self, after: int = 0, limit: int = m.MAX_EVENTS_PER_PAGE
                          ) -> m.EventPage:
        return await self._ask(m.EventsGet(after=after, limit=limit))

    async def iter_events(self, after: int = 0) -> AsyncIterator[m.EventRecord]:
        """Every logged event after the cursor ``after``, oldest first, page by page."""
        while True:
            page = await self.events_page(after)
            for record in page.events:
                yield record
            after = page.next_cursor
            if not page.more:
                return

    async def events(self, after: int = 0) -> list[m.EventRecord]:
        return [record async for record in self.iter_events(after)]

    # ------------------------------------------------------------------ sync unlock

    async def sync_link(self, peer_lock_id: bytes, peer_public_key: bytes, window_s: int,
                        *, confirm_s: int = 0) -> None:
        """Link this lock to another one for sync unlock (R-SYN-1). ``confirm_s``
        (10..300): pending on the lock until an admin credential at its door within
        that many seconds; 0: confirmed by this admin session (the initiating side)."""
        await self._ask(m.SyncLinkSet(peer_lock_id=peer_lock_id,
                                      peer_public_key=peer_public_key, window_s=window_s,
                                      confirm_s=confirm_s))

    async def sync_unlink(self, peer_lock_id: bytes) -> None:
        await self._ask(m.SyncLinkDelete(peer_lock_id=peer_lock_id))

    async def sync_links(self) -> list[m.SyncLinkInfo]:
        return list((await self._ask(m.SyncLinkList())).links)

    async def relay_statement(self, statement: m.SyncStatement) -> None:
        """Hand a sync statement pushed by a linked lock to this lock (it opens if the
        statement is fresh, authentic and addressed to it)."""
        await self._ask(m.SyncStatementRelay(statement=statement))
