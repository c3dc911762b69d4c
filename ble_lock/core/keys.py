"""Phones and Bluetooth keys (R-APP-1, R-APP-3, R-CRD-1), as the protocol needs them.

A phone is a credential of kind ``BLUETOOTH_KEY`` that holds the phone's 32-byte X25519
static public key (not a secret). An admin issues an *invite* (for a new or existing
user); the lock keeps only the invite's derived secret
(``derive_code_secret(code, invite_context(id))``) for the protocol's PAKE and returns
the code once. Redeeming binds a phone key to the invite's user, once. The setup code
(claiming, R-APP-1) is kept the same way: only its derived secret.

The per-phone replay counter backs the protocol's 1-round-trip unlock: the lock accepts
counter ``n`` from phone ``P`` only if ``n`` is larger than the last accepted one. The
counter belongs to the key, not to its credential: it survives deleting the key (and a
factory reset, which keeps the lock's own static key), so a key deleted and enrolled
again cannot have its old first messages replayed.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ble_lock.core.credentials import Credentials
from ble_lock.core.errors import (
    CapacityError,
    ConflictError,
    ErrorCode,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    StateError,
)
from ble_lock.core.hashing import derive_code_secret, invite_context
from ble_lock.core.invites import InviteBook
from ble_lock.core.management import MAX_COUNTER, SECRET_HASH_KEY, Management, counter_in_range
from ble_lock.core.model import (
    Actor,
    Credential,
    CredentialKind,
    EventKind,
    Invite,
    InviteIssued,
    IssuedInvite,
    Note,
    PhoneInfo,
    Role,
    UnlockMethod,
    User,
)
from ble_lock.core.profile import Feature
from ble_lock.core.rules.lockout import InputPath
from ble_lock.core.rules.schedule import check_window
from ble_lock.core.users import Users, check_name

__all__ = ["INVITE_CODE_DIGITS", "MAX_COUNTER", "SETUP_SECRET", "Keys"]

SETUP_SECRET = "factory.setup_secret"  # noqa: S105 - a store key name, not a secret
INVITE_CODE_DIGITS = 10
MAX_INVITE_LIFETIME = 30 * 86_400.0
MAX_INVITES = 32
PUBLIC_KEY_SIZE = 32


def _check_key(public_key: bytes) -> bytes:
    if not isinstance(public_key, bytes | bytearray) or len(public_key) != PUBLIC_KEY_SIZE:
        raise InvalidInputError("a phone public key is 32 bytes")
    return bytes(public_key)


class Keys:
    """Bluetooth keys, invites, setup secret, pairing mode and replay counters."""

    def __init__(self, ctx: Management, users: Users, credentials: Credentials,
                 invites: InviteBook) -> None:
        self._ctx = ctx
        self._dev = ctx.device
        self._users = users
        self._credentials = credentials
        self._invites = invites

    # -- pairing mode and setup code (R-APP-1)

    @property
    def pairing_mode(self) -> bool:
        """True while the SET button's pairing mode lasts (120 s, R-APP-1)."""
        return self._dev.pairing_until is not None and self._ctx.now() < self._dev.pairing_until

    def pairing_mode_left(self) -> float | None:
        """Seconds of pairing mode left (R-APP-1), or None outside it."""
        if not self.pairing_mode:
            return None
        assert self._dev.pairing_until is not None
        return self._dev.pairing_until - self._ctx.now()

    def enter_pairing_mode(self) -> None:
        """Panel: SET held (face-palm shows the QR code). Ends after ``pairing_mode_s``."""
        self._dev.pairing_until = self._ctx.now() + self._ctx.profile.pairing_mode_s
        self._ctx.emit(EventKind.PAIRING_MODE)

    def claim(self, *, phone_key: bytes, name: str = "admin",
              request_id: bytes | None = None) -> User:
        """R-USR-2: make the phone with X25519 public key ``phone_key`` the first admin
        (user 1). Only on a factory-fresh lock; face-palm also needs pairing mode (R-APP-1).
        The protocol calls this after the setup-code PAKE succeeded."""
        actor = Actor.phone(phone_key)
        check_name(name)
        if len(phone_key) != 32:
            raise InvalidInputError("phone key must be 32 bytes", code=ErrorCode.INVALID_ARGUMENT)

        def apply() -> User:
            self._users.check_claimable()
            if self._ctx.profile.has(Feature.CLAIM_NEEDS_PAIRING_MODE) and not self.pairing_mode:
                raise StateError("hold SET to enter pairing mode",
                                 code=ErrorCode.NOT_IN_PAIRING_MODE)
            user = self._users.create(name=name, role=Role.ADMIN)
            self._add_phone_credential(user.number, phone_key, label="owner")
            self._ctx.emit(EventKind.CLAIMED, user_number=user.number)
            self._dev.pairing_until = None
            return user

        return self._ctx.mutate(actor, request_id, apply)

    def setup_secret(self) -> bytes:
        """The derived secret of the setup code printed on the lock (for the PAKE)."""
        secret = self._ctx.store.get_secret(SETUP_SECRET)
        if secret is None:
            raise StateError("lock not provisioned", code=ErrorCode.NOT_CLAIMED)
        return secret

    def record_failed_attempt(self, what: str = "pairing") -> float | None:
        """DESIGN "online guessing": a failed setup-code or invite attempt counts toward
        the pairing limiter (5 within 5 minutes refuse pairing for 3 minutes). It never
        locks out the keypad, sensors, cards or Bluetooth keys: strangers in radio range
        cannot shut the lock down (``lockout.py``). Returns the pairing lockout seconds
        now running, or None."""
        return self._ctx.register_failure(InputPath.PAIRING, EventKind.AUTH_FAILED,
                                      detail=Note(text=check_name(what, "what")),
                                      reason=ErrorCode.PAIRING_FAILED)

    def lockout_remaining(self, path: InputPath | None = None) -> float | None:
        """Seconds left in the lockout that refuses ``path`` now, or None. The default is
        the manual's "system" lockout (R-SEC-1: user-input paths, Bluetooth keys, sync);
        ``InputPath.PAIRING`` is the pairing limiter the protocol asks before a PAIR1."""
        return self._ctx.locked_out(path)

    # -- phones

    def find_phone(self, public_key: bytes) -> PhoneInfo | None:
        """Who holds this phone key: user, role, validity, revoked? None if unknown."""
        cred_id = self._ctx.index.phones.get(bytes(public_key))
        if cred_id is None:
            return None
        cred = self._ctx.index.credentials[cred_id]
        user = self._ctx.user(cred.user_number)
        return PhoneInfo(
            credential_id=cred.id, user_number=user.number, role=user.role,
            revoked=cred.revoked, valid_from=cred.valid_from, valid_until=cred.valid_until,
            user_valid_from=user.valid_from, user_valid_until=user.valid_until,
        )

    def _add_phone_credential(self, user_number: int, phone_key: bytes, *, label: str,
                              valid_from: float | None = None,
                              valid_until: float | None = None) -> Credential:
        key = _check_key(phone_key)
        if key in self._ctx.index.phones:
            raise ConflictError("this phone is paired already", code=ErrorCode.ALREADY_EXISTS)
        return self._credentials.store_credential(
            user_number, CredentialKind.BLUETOOTH_KEY, key, label=label, public_key=key,
            valid_from=valid_from, valid_until=valid_until,
        )

    def list_keys(self, actor: Actor) -> list[Credential]:
        """Every Bluetooth key (phone). Admin only."""
        self._ctx.authorize(actor)
        return [c for _, c in sorted(self._ctx.index.credentials.items())
                if c.kind is CredentialKind.BLUETOOTH_KEY]

    def revoke_key(self, actor: Actor, credential_id: int, *,
                   request_id: bytes | None = None) -> Credential:
        """Revoke a Bluetooth key: kept (so the protocol can say "revoked") but dead.
        Admin only; not the actor's own key."""
        self._ctx.authorize(actor)

        def apply() -> Credential:
            cred = self._ctx.index.credentials.get(credential_id)
            if cred is None or cred.kind is not CredentialKind.BLUETOOTH_KEY:
                raise NotFoundError(f"no Bluetooth key {credential_id}",
                                    code=ErrorCode.UNKNOWN_KEY)
            if cred.public_key == actor.phone_key:
                raise PermissionDeniedError("cannot revoke your own key",
                                            code=ErrorCode.SELF_DELETE)
            from dataclasses import replace

            revoked = replace(cred, revoked=True)
            self._ctx.store.put_credential(revoked)
            self._ctx.index.put_credential(revoked)
            self._ctx.emit(EventKind.KEY_REVOKED, user_number=cred.user_number,
                       credential_id=cred.id)
            return revoked

        return self._ctx.mutate(actor, request_id, apply)

    # -- replay counters for the 1-round-trip unlock

    def accept_phone_counter(self, public_key: bytes, counter: int) -> bool:
        """Atomically accept ``counter`` for this phone iff it is larger than the last
        accepted one (and the phone is known); persist it before returning True.

        A counter outside ``1..MAX_COUNTER`` (the store's integer range: the wire
        carries 64 bits) is never accepted and never reaches the store: the phone gets
        a resync, a revoked key's attempt is not logged, and the lock keeps working."""
        key = bytes(public_key)
        if not counter_in_range(counter) or key not in self._ctx.index.phones \
                or counter <= self._ctx.store.get_phone_counter(key):
            return False
        with self._ctx.tx():
            self._ctx.store.set_phone_counter(key, counter)
        return True

    def refuse_revoked_phone(self, public_key: bytes, counter: int) -> bool:
        """A revoked phone proved its key in a handshake carrying ``counter``: log the
        refusal (R-APP-6: failures are in the event log) and return True. A stale
        counter (a replayed first message) or a key that is not revoked logs nothing, so
        the log cannot be filled with copies of one recorded attempt."""
        info = self.find_phone(public_key)
        if info is None or not info.revoked:
            return False
        with self._ctx.tx():
            if not self.accept_phone_counter(public_key, counter):
                return False
            self._ctx.emit(EventKind.UNLOCK_FAILED, method=UnlockMethod.BLUETOOTH,
                       reason=ErrorCode.KEY_REVOKED, user_number=info.user_number,
                       credential_id=info.credential_id)
        return True

    def phone_counter(self, public_key: bytes) -> int:
        """The last accepted counter of a phone (0 if none), for an authenticated resync."""
        return self._ctx.store.get_phone_counter(bytes(public_key))

    # -- invites (R-APP-3)

    def issue_invite(self, actor: Actor, *, user_number: int | None = None, name: str = "",
                     role: Role = Role.NORMAL, expires_at: float | None = None,
                     key_valid_from: float | None = None, key_valid_until: float | None = None,
                     request_id: bytes | None = None) -> IssuedInvite:
        """Invite a phone for an existing user, or (``user_number=None``) for a new user
        created now with ``name`` and ``role``. Returns the code once; the lock keeps
        only its derived secret. Default expiry: 24 h. Admin only."""
        me = self._ctx.authorize(actor)
        now = self._ctx.wall()
        expiry = now + 86_400.0 if expires_at is None else expires_at
        if not now < expiry <= now + MAX_INVITE_LIFETIME:
            raise InvalidInputError("invite expiry must be within 30 days")
        check_window(key_valid_from, key_valid_until)

        def apply() -> IssuedInvite:
            self._invites.prune(self._ctx.wall())
            if len(self._invites) >= MAX_INVITES:
                raise CapacityError("too many pending invites", code=ErrorCode.CAPACITY_FULL)
            number = user_number
            if number is None:
                number = self._new_user_for_invite(name, role)
            self._ctx.user(number)
            invite_id = self._ctx.next_id("invite_id")
            nonce = self._ctx.rng.token_bytes(16)
            code = self._invite_code(invite_id, nonce)
            invite = Invite(
                id=invite_id, user_number=number,
                secret=derive_code_secret(code, invite_context(invite_id)), nonce=nonce,
                expires_at=expiry, key_valid_from=key_valid_from,
                key_valid_until=key_valid_until, issued_by=me.number, created_at=now,
            )
            self._invites.put(invite)
            self._ctx.emit(EventKind.KEY_ISSUED, user_number=number,
                           detail=InviteIssued(invite_id=invite_id))
            return IssuedInvite(invite_id=invite_id, user_number=number, code=code,
                                expires_at=expiry)

        return self._ctx.mutate(actor, request_id, apply, replayed=self._replayed)

    def _new_user_for_invite(self, name: str, role: Role) -> int:
        self._users.check_fields(name, role, None, None, ())
        user = self._users.create(name=name, role=role)
        self._ctx.emit(EventKind.USER_ADDED, user_number=user.number, detail=Note(text="invite"))
        return user.number

    def _invite_code(self, invite_id: int, nonce: bytes) -> str:
        key = self._ctx.store.get_secret(SECRET_HASH_KEY) or b""
        digest = hashlib.blake2b(invite_id.to_bytes(8, "big") + nonce, key=key,
                                 person=b"invite-code").digest()
        return str(int.from_bytes(digest, "big") % 10**INVITE_CODE_DIGITS).zfill(
            INVITE_CODE_DIGITS)

    def _replayed(self, value: Any) -> Any:
        """A repeated issue_invite returns the same code (re-derived, never stored):
        the ``replayed`` of its :meth:`Management.mutate`."""
        if isinstance(value, IssuedInvite):
            invite = self._invites.get(value.invite_id)
            if invite is None:
                raise PermissionDeniedError("invite already redeemed or expired",
                                 code=ErrorCode.CODE_ALREADY_USED)
            return IssuedInvite(invite_id=value.invite_id, user_number=value.user_number,
                                code=self._invite_code(invite.id, invite.nonce),
                                expires_at=value.expires_at)
        return value

    def _pending_invite(self, invite_id: int) -> Invite:
        invite = self._invites.get(invite_id)
        if invite is None:
            if self._invites.spent(invite_id) is not None:
                raise PermissionDeniedError(f"invite {invite_id} was redeemed already",
                                            code=ErrorCode.INVITE_USED)
            raise NotFoundError(f"no invite {invite_id}", code=ErrorCode.UNKNOWN_KEY)
        if self._ctx.wall() >= invite.expires_at:
            raise PermissionDeniedError("invite expired", code=ErrorCode.KEY_EXPIRED)
        return invite

    def invite_secret(self, invite_id: int) -> bytes:
        """The derived secret of an invite, for the protocol's PAKE: a pending one, or one
        redeemed already (so that its holder gets ``INVITE_USED`` after the PAKE)."""
        spent = self._invites.spent(invite_id)
        if spent is not None and self._ctx.wall() < spent.expires_at:
            return spent.secret
        return self._pending_invite(invite_id).secret

    def redeem_invite(self, invite_id: int, phone_key: bytes, *, label: str = "",
                      request_id: bytes | None = None) -> Credential:
        """Bind ``phone_key`` to the invite's user, once (the protocol calls this after
        the invite PAKE succeeded). The key carries the invite's validity window."""
        key = _check_key(phone_key)
        check_name(label, "label")

        def apply() -> Credential:
            invite = self._pending_invite(invite_id)
            self._invites.spend(invite_id, key)
            return self._add_phone_credential(
                invite.user_number, key, label=label, valid_from=invite.key_valid_from,
                valid_until=invite.key_valid_until,
            )

        return self._ctx.mutate(Actor.phone(key), request_id, apply)

    def cancel_invite(self, actor: Actor, invite_id: int, *,
                      request_id: bytes | None = None) -> None:
        """Withdraw a pending invite. Admin only."""
        self._ctx.authorize(actor)

        def apply() -> None:
            if invite_id not in self._invites:
                raise NotFoundError(f"no invite {invite_id}", code=ErrorCode.UNKNOWN_KEY)
            self._invites.delete(invite_id)

        self._ctx.mutate(actor, request_id, apply)

    def list_invites(self, actor: Actor) -> list[Invite]:
        """Pending invites (secrets redacted from repr). Admin only."""
        self._ctx.authorize(actor)
        self._invites.prune(self._ctx.wall())
        return list(self._invites)
