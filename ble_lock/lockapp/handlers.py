"""One handler per request body: wire body -> core management call -> wire response body.

A handler is registered by :func:`handler` under the body type its ``b`` parameter is
annotated with (CONTRIBUTING.md, "Adding a request").

Every handler calls a ``Lock`` method that takes the :class:`~ble_lock.core.model.Actor`
and checks role, key revocation, validity window, weekday schedule and modes itself
(DESIGN: roles are enforced inside the lock for every command; nothing the central
claims is trusted). Mutations pass the request id so the core applies them once per
(actor, request id) and answers a retry with the stored result.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar, get_type_hints

from ble_lock.core.errors import InvalidInputError
from ble_lock.core.lock import Lock
from ble_lock.core.model import (
    Actor,
)
from ble_lock.lockapp.convert import (
    SETTING_NAMES,
    core_schedules,
    credential_info,
    decision,
    enrolment,
    event_record,
    lock_settings,
    lock_state,
    page,
    user_info,
    validity,
)
from ble_lock.wire import messages as m

__all__ = ["HANDLERS", "Context"]

T = TypeVar("T")


class Context:
    """What a handler gets: the lock, the authenticated actor and the request id."""

    __slots__ = ("actor", "lock", "request_id", "verify_statement")

    def __init__(
        self,
        *,
        lock: Lock,
        actor: Actor,
        request_id: bytes,
        verify_statement: Callable[[m.SyncStatement], bytes],
    ) -> None:
        self.lock = lock
        self.actor = actor
        self.request_id = request_id
        self.verify_statement = verify_statement


# ------------------------------------------------------------------ handlers

HANDLERS: dict[type[m.RequestBody], Callable[[Context, Any], m.ResponseBody]] = {}
"""The handler of each request body type, filled by :func:`handler`."""

H = TypeVar("H", bound=Callable[[Context, Any], m.ResponseBody])


def handler(fn: H) -> H:
    """Register ``fn(c: Context, b: <request body>) -> <its response body>`` as the
    handler of the request body type its ``b`` is annotated with.

    ``TypeError`` at import if that type already has a handler or the return annotation
    is not the request's ``RESPONSE``; tests/wire/test_messages_declare.py checks that
    every declared request has one."""
    hints = get_type_hints(fn)
    body, answer = hints["b"], hints["return"]
    if answer is not body.RESPONSE:
        raise TypeError(f"{fn.__name__}: {body.__name__} answers {body.RESPONSE.__name__}")
    if body in HANDLERS:
        raise TypeError(f"{fn.__name__}: {body.__name__} already has a handler")
    HANDLERS[body] = fn
    return fn



@handler
def _unlock(c: Context, b: m.Unlock) -> m.Unlocked:
    return decision(c.lock.unlock_bluetooth(c.actor))


@handler
def _lock(c: Context, b: m.LockDoor) -> m.Done:
    outcome = c.lock.lock_bluetooth(c.actor)
    if not outcome.granted:
        decision(outcome)
    return m.Done()


@handler
def _system_info(c: Context, b: m.SystemInfoGet) -> m.SystemInfo:
    info = c.lock.system_info(c.actor)
    return m.SystemInfo(
        serial=m.clip_text(info.serial, 32),
        verification_code=m.clip_text(info.verification_code, 32),
        firmware_version=m.clip_text(info.firmware_version, 32),
        model=m.clip_text(info.model, 32),
        battery_percent=max(0, min(100, info.battery_percent)),
        low_battery=info.low_battery,
        claimed=info.claimed,
        state=lock_state(c.lock.bolt),
        users=info.users,
        credentials=tuple(
            m.KindCount(kind=k, count=info.credentials.get(k, 0), capacity=cap)
            for k, cap in sorted(info.capacities.items())
        ),
        now_ms=max(0, int(c.lock.lock_time * 1000)),
    )


@handler
def _time_set(c: Context, b: m.TimeSet) -> m.Done:
    c.lock.set_time(c.actor, b.now_ms / 1000, request_id=c.request_id)
    return m.Done()


@handler
def _events(c: Context, b: m.EventsGet) -> m.EventPage:
    limit = max(1, min(b.limit, m.MAX_EVENTS_PER_PAGE))
    found = c.lock.events(c.actor, after=b.after, limit=limit)
    return m.EventPage(
        events=tuple(event_record(e) for e in found.events),
        next_cursor=found.next_cursor,
        dropped=min(found.dropped, 2**32 - 1),
        more=found.more,
    )


@handler
def _user_add(c: Context, b: m.UserAdd) -> m.UserInfo:
    return user_info(c.lock.add_user(
        c.actor, name=b.name, role=b.role, valid_from=b.validity.valid_from,
        valid_until=b.validity.valid_until, schedules=core_schedules(b.schedules),
        request_id=c.request_id,
    ))


@handler
def _user_update(c: Context, b: m.UserUpdate) -> m.UserInfo:
    changes: dict[str, Any] = {}
    if b.name is not None:
        changes["name"] = b.name
    if b.role is not None:
        changes["role"] = b.role
    if b.validity is not None:
        changes["valid_from"] = b.validity.valid_from
        changes["valid_until"] = b.validity.valid_until
    if b.schedules is not None:
        changes["schedules"] = core_schedules(b.schedules)
    return user_info(c.lock.update_user(c.actor, b.user_number, request_id=c.request_id,
                                        **changes))


@handler
def _user_delete(c: Context, b: m.UserDelete) -> m.Done:
    c.lock.delete_user(c.actor, b.user_number, request_id=c.request_id)
    return m.Done()


@handler
def _user_list(c: Context, b: m.UserList) -> m.UserPage:
    users, more = page(c.lock.list_users(c.actor), b.after, lambda u: u.number,
                        m.MAX_USERS_PER_PAGE)
    return m.UserPage(users=tuple(user_info(u) for u in users), more=more)


@handler
def _user_get(c: Context, b: m.UserGet) -> m.UserInfo:
    return user_info(c.lock.get_user(c.actor, b.user_number))


@handler
def _whoami(c: Context, b: m.WhoAmI) -> m.UserInfo:
    return user_info(c.lock.whoami(c.actor))


@handler
def _pin_add(c: Context, b: m.PinAdd) -> m.CredentialInfo:
    return credential_info(c.lock.add_pin(c.actor, b.user_number, b.pin, duress=b.duress,
                                          request_id=c.request_id))


@handler
def _card_add(c: Context, b: m.CardAdd) -> m.CredentialInfo:
    # R-CRD-5: the app asks for the code twice before sending it; the first card sets it.
    confirm = None if c.lock.card_code_set else b.card_code
    return credential_info(c.lock.add_card(c.actor, b.user_number, b.card_uid, b.card_code,
                                           card_code_confirm=confirm,
                                           request_id=c.request_id))


@handler
def _remote_add(c: Context, b: m.RemoteAdd) -> m.CredentialInfo:
    return credential_info(c.lock.add_remote_control(c.actor, b.user_number, b.remote_id,
                                                     request_id=c.request_id))


@handler
def _enrol_begin(c: Context, b: m.EnrolBegin) -> m.Enrolment:
    return enrolment(c.lock.begin_enrolment(c.actor, b.user_number, b.kind, duress=b.duress,
                                            request_id=c.request_id))


@handler
def _enrol_status(c: Context, b: m.EnrolStatus) -> m.Enrolment:
    return enrolment(c.lock.enrolment_status(c.actor, b.session_id))


@handler
def _enrol_cancel(c: Context, b: m.EnrolCancel) -> m.Enrolment:
    return enrolment(c.lock.cancel_enrolment(c.actor, b.session_id, request_id=c.request_id))


@handler
def _credential_delete(c: Context, b: m.CredentialDelete) -> m.Done:
    c.lock.delete_credential(c.actor, b.credential_id, request_id=c.request_id)
    return m.Done()


@handler
def _credential_delete_kind(c: Context, b: m.CredentialDeleteKind) -> m.Deleted:
    count = c.lock.delete_user_credentials(c.actor, b.user_number, b.kind,
                                           duress_only=b.duress_only, request_id=c.request_id)
    return m.Deleted(count=count)


@handler
def _credential_clear(c: Context, b: m.CredentialClear) -> m.Deleted:
    return m.Deleted(count=c.lock.clear_credentials(c.actor, b.kind, request_id=c.request_id))


@handler
def _credential_list(c: Context, b: m.CredentialList) -> m.CredentialPage:
    creds = [cred for cred in c.lock.list_credentials(c.actor, b.user_number)
             if b.kind is None or cred.kind is b.kind]
    chosen, more = page(creds, b.after, lambda cred: cred.id, m.MAX_CREDENTIALS_PER_PAGE)
    return m.CredentialPage(credentials=tuple(credential_info(x) for x in chosen), more=more)


@handler
def _key_invite(c: Context, b: m.KeyInvite) -> m.Invite:
    issued = c.lock.issue_invite(
        c.actor, user_number=b.user_number, name=b.name, role=b.role,
        expires_at=None if b.expires_at is None else float(b.expires_at),
        key_valid_from=b.validity.valid_from, key_valid_until=b.validity.valid_until,
        request_id=c.request_id,
    )
    return m.Invite(invite_id=issued.invite_id, user_number=issued.user_number,
                    code=issued.code, expires_at=int(issued.expires_at))


@handler
def _invite_cancel(c: Context, b: m.InviteCancel) -> m.Done:
    c.lock.cancel_invite(c.actor, b.invite_id, request_id=c.request_id)
    return m.Done()


@handler
def _invite_list(c: Context, b: m.InviteList) -> m.InvitePage:
    invites, more = page(c.lock.list_invites(c.actor), b.after, lambda i: i.id,
                          m.MAX_INVITES_PER_PAGE)
    return m.InvitePage(
        invites=tuple(
            m.InviteInfo(invite_id=i.id, user_number=i.user_number,
                         expires_at=int(i.expires_at),
                         validity=validity(i.key_valid_from, i.key_valid_until))
            for i in invites
        ),
        more=more,
    )


@handler
def _key_list(c: Context, b: m.KeyList) -> m.CredentialPage:
    keys, more = page(c.lock.list_keys(c.actor), b.after, lambda k: k.id,
                       m.MAX_CREDENTIALS_PER_PAGE)
    return m.CredentialPage(credentials=tuple(credential_info(k) for k in keys), more=more)


@handler
def _key_revoke(c: Context, b: m.KeyRevoke) -> m.Done:
    c.lock.revoke_key(c.actor, b.credential_id, request_id=c.request_id)
    return m.Done()


@handler
def _settings_get(c: Context, b: m.SettingsGet) -> m.LockSettings:
    return lock_settings(c.lock.get_settings(c.actor))


@handler
def _settings_set(c: Context, b: m.SettingsSet) -> m.LockSettings:
    changes = {name: getattr(b, name) for name in SETTING_NAMES
               if getattr(b, name) is not None}
    if not changes:
        raise InvalidInputError("no setting to change")
    return lock_settings(c.lock.update_settings(c.actor, request_id=c.request_id, **changes))


@handler
def _lockout_lift(c: Context, b: m.LockoutLift) -> m.Done:
    c.lock.lift_lockout(c.actor, request_id=c.request_id)
    return m.Done()


@handler
def _maintenance_open(c: Context, b: m.MaintenanceOpen) -> m.Done:
    c.lock.open_maintenance_window(c.actor, b.duration_s, request_id=c.request_id)
    return m.Done()


@handler
def _factory_reset(c: Context, b: m.FactoryReset) -> m.Done:
    c.lock.factory_reset(c.actor)
    return m.Done()


@handler
def _visitor_secret(c: Context, b: m.VisitorSecretGet) -> m.VisitorSecret:
    return m.VisitorSecret(secret=c.lock.visitor_secret(c.actor))


@handler
def _sync_link_set(c: Context, b: m.SyncLinkSet) -> m.Done:
    c.lock.link_lock(c.actor, b.peer_lock_id, b.peer_public_key, window_s=b.window_s,
                     confirm_s=b.confirm_s, request_id=c.request_id)
    return m.Done()


@handler
def _sync_link_delete(c: Context, b: m.SyncLinkDelete) -> m.Done:
    c.lock.unlink_lock(c.actor, b.peer_lock_id, request_id=c.request_id)
    return m.Done()


@handler
def _sync_link_list(c: Context, b: m.SyncLinkList) -> m.SyncLinks:
    return m.SyncLinks(links=tuple(
        m.SyncLinkInfo(peer_lock_id=link.peer_lock_id, peer_public_key=link.peer_public_key,
                       window_s=link.window_s, pending=link.pending,
                       confirm_left_s=math.ceil(c.lock.confirm_left(link)),
                       confirmed_by=link.confirmed_by)
        for link in c.lock.list_links(c.actor)  # at most MAX_LINKS (core)
    ))


@handler
def _sync_statement(c: Context, b: m.SyncStatementRelay) -> m.Done:
    c.lock.whoami(c.actor)  # the relaying phone must itself be a valid user of this lock
    issuer = c.verify_statement(b.statement)
    outcome = c.lock.apply_sync_statement(issuer)
    if not outcome.granted:
        decision(outcome)
    return m.Done()
