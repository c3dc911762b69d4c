"""Credentials (R-CRD-1..7): PINs, cards, remote controls; delete and clear.

Biometric enrolment sessions live in :mod:`ble_lock.core.enrolment`, Bluetooth keys in
:mod:`ble_lock.core.keys`. Every secret is stored as a keyed digest only.
"""

from __future__ import annotations

import hashlib

from ble_lock.core.errors import (
    CapacityError,
    ConflictError,
    ErrorCode,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from ble_lock.core.management import Management
from ble_lock.core.model import (
    DURESS_KINDS,
    Actor,
    Credential,
    CredentialKind,
    EventKind,
    Note,
    Role,
)
from ble_lock.core.rules.pins import check_card_code, check_pin

__all__ = ["CARD_CODE_SECRET", "FACTORY_KEY", "Credentials"]

FACTORY_KEY = "factory.key"
#: R-CRD-5: kept across factory resets (needed to re-add the same cards).
CARD_CODE_SECRET = "factory.card_code"  # noqa: S105 - a store key name, not a secret
MAX_TOKEN = 64


def _check_token(value: bytes, what: str, code: ErrorCode = ErrorCode.INVALID_ARGUMENT) -> bytes:
    if not isinstance(value, bytes | bytearray) or not 1 <= len(value) <= MAX_TOKEN:
        raise InvalidInputError(f"{what} must be 1..{MAX_TOKEN} bytes", code=code)
    return bytes(value)


class Credentials:
    """R-CRD-*: adding, listing and deleting credentials; the one place a credential is
    stored or dropped (enrolment, keys, users and the panel's claim go through here)."""

    def __init__(self, ctx: Management) -> None:
        self._ctx = ctx

    # -- adding

    def add_pin(self, actor: Actor, user_number: int, pin: str, *,
                pin_confirm: str | None = None, duress: bool = False,
                request_id: bytes | None = None) -> Credential:
        """Add a PIN (R-PIN-1/2, entered twice if ``pin_confirm`` is given); ``duress``
        makes it an anti-hijack PIN (R-CRD-6). Admin only."""
        self._ctx.authorize(actor)
        check_pin(pin, self._ctx.profile, confirm=pin_confirm)

        def apply() -> Credential:
            return self.store_pin(user_number, pin, duress=duress)

        return self._ctx.mutate(actor, request_id, apply)

    def add_card(self, actor: Actor, user_number: int, card_uid: bytes, card_code: str, *,
                 card_code_confirm: str | None = None,
                 request_id: bytes | None = None) -> Credential:
        """Add a card (DL20VC). R-CRD-5: the first card sets the lock's 6-digit card
        security code (``card_code_confirm`` must repeat it); it cannot change afterwards
        and every later card needs it (``WRONG_CARD_CODE``). Admin only."""
        self._ctx.authorize(actor)
        self._ctx.kind_supported(CredentialKind.CARD)
        uid = _check_token(card_uid, "card UID")
        check_card_code(card_code, self._ctx.profile)

        def apply() -> Credential:
            self._check_card_code(card_code, card_code_confirm)
            return self.store_credential(user_number, CredentialKind.CARD, uid)

        return self._ctx.mutate(actor, request_id, apply)

    def add_remote_control(self, actor: Actor, user_number: int, remote_id: bytes, *,
                           request_id: bytes | None = None) -> Credential:
        """Pair a Bluetooth remote-control accessory to a user (R-CRD-1, R-APP-7)."""
        self._ctx.authorize(actor)
        self._ctx.kind_supported(CredentialKind.REMOTE_CONTROL)
        token = _check_token(remote_id, "remote id")

        def apply() -> Credential:
            return self.store_credential(user_number, CredentialKind.REMOTE_CONTROL, token)

        return self._ctx.mutate(actor, request_id, apply)

    @property
    def card_code_set(self) -> bool:
        """R-CRD-5: whether the card security code was set (first card enrolment)."""
        return self._ctx.store.get_secret(CARD_CODE_SECRET) is not None

    def _card_code_digest(self, code: str) -> bytes:
        key = self._ctx.store.get_secret(FACTORY_KEY) or b""
        return hashlib.blake2b(code.encode(), key=key, digest_size=16,
                               person=b"card-code").digest()

    def _check_card_code(self, code: str, confirm: str | None) -> None:
        stored = self._ctx.store.get_secret(CARD_CODE_SECRET)
        digest = self._card_code_digest(code)
        if stored is None:
            check_card_code(code, self._ctx.profile, confirm=confirm if confirm is not None else "")
            self._ctx.store.put_secret(CARD_CODE_SECRET, digest)
        elif stored != digest:
            raise InvalidInputError("wrong card security code", code=ErrorCode.WRONG_CARD_CODE)

    # -- storing (shared by enrolment, phones and panel claim)

    def _digest(self, kind: CredentialKind, material: bytes) -> bytes:
        return self._ctx.hasher.digest(int(kind), material)

    def store_pin(self, user_number: int, pin: str, *, duress: bool) -> Credential:
        return self.store_credential(user_number, CredentialKind.PIN, pin.encode(),
                                      duress=duress, length=len(pin))

    def check_room(self, user_number: int, kind: CredentialKind) -> None:
        """R-CRD-2 lock capacity, R-CRD-3 per-user limits."""
        self._ctx.kind_supported(kind)
        self._ctx.user(user_number)
        if self._ctx.index.count(kind) >= self._ctx.profile.capacity(kind):
            raise CapacityError(f"{kind.name} capacity full", code=ErrorCode.CAPACITY_FULL)
        limit = self._ctx.profile.per_user_limit(kind)
        if limit is not None and len(self._ctx.index.of_user(user_number, kind)) >= limit:
            raise CapacityError(f"user {user_number} holds {limit} {kind.name} already",
                                code=ErrorCode.USER_LIMIT_REACHED)

    def store_credential(self, user_number: int, kind: CredentialKind, material: bytes, *,
                          duress: bool = False, length: int = 0, label: str = "",
                          public_key: bytes | None = None, valid_from: float | None = None,
                          valid_until: float | None = None) -> Credential:
        if duress and kind not in DURESS_KINDS:
            raise InvalidInputError("only PINs and fingerprints can be duress keys")
        self.check_room(user_number, kind)
        digest = self._digest(kind, material)
        if self._ctx.index.lookup(kind, digest) is not None:
            raise ConflictError(f"this {kind.name} is enrolled already",
                                code=ErrorCode.ALREADY_EXISTS)
        cred = Credential(
            id=self._ctx.next_id("credential_id"), kind=kind, user_number=user_number,
            digest=digest, duress=duress, label=label, length=length, public_key=public_key,
            valid_from=valid_from, valid_until=valid_until, created_at=self._ctx.wall(),
        )
        self._ctx.store.put_credential(cred)
        self._ctx.index.put_credential(cred)
        self._ctx.emit(EventKind.CREDENTIAL_ADDED, user_number=user_number, credential_id=cred.id,
                   duress=duress, detail=Note(text=kind.name))
        return cred

    def drop(self, cred: Credential) -> None:
        self._ctx.store.delete_credential(cred.id)
        self._ctx.index.remove_credential(cred.id)
        # A phone's replay counter stays: re-enrolling the same key must not reopen
        # its old first messages (issue 10 item 3; keys.py).
        self._ctx.emit(EventKind.CREDENTIAL_DELETED, user_number=cred.user_number,
                   credential_id=cred.id, detail=Note(text=cred.kind.name))

    # -- deleting (R-CRD-7)

    def delete_credential(self, actor: Actor, credential_id: int, *,
                          request_id: bytes | None = None) -> None:
        """Delete one credential. Admin only; the actor's own phone key is spared."""
        self._ctx.authorize(actor)

        def apply() -> None:
            cred = self._ctx.index.credentials.get(credential_id)
            if cred is None:
                raise NotFoundError(f"no credential {credential_id}",
                                    code=ErrorCode.UNKNOWN_CREDENTIAL)
            if cred.public_key is not None and cred.public_key == actor.phone_key:
                raise PermissionDeniedError("cannot delete your own key",
                                            code=ErrorCode.SELF_DELETE)
            self.drop(cred)

        self._ctx.mutate(actor, request_id, apply)

    def delete_user_credentials(self, actor: Actor, user_number: int, kind: CredentialKind,
                                *, duress_only: bool = False,
                                request_id: bytes | None = None) -> int:
        """R-CRD-7: delete all of one kind (or only its duress keys) of a user; the
        logged-in actor's own credentials are spared. Returns how many went."""
        me = self._ctx.authorize(actor)

        def apply() -> int:
            self._ctx.user(user_number)
            doomed = [c for c in self._ctx.index.of_user(user_number, kind)
                      if (c.duress or not duress_only) and not self._is_own(me.number, actor, c)]
            for cred in doomed:
                self.drop(cred)
            return len(doomed)

        return self._ctx.mutate(actor, request_id, apply)

    def clear_credentials(self, actor: Actor, kind: CredentialKind, *,
                          request_id: bytes | None = None) -> int:
        """R-CRD-7: lock-wide "clear all PINs / cards / ..." sparing the logged-in
        user's own credentials. Returns how many went."""
        me = self._ctx.authorize(actor)
        self._ctx.kind_supported(kind)

        def apply() -> int:
            doomed = [c for c in self._ctx.index.credentials.values()
                      if c.kind is kind and not self._is_own(me.number, actor, c)]
            for cred in doomed:
                self.drop(cred)
            return len(doomed)

        return self._ctx.mutate(actor, request_id, apply)

    def _is_own(self, my_number: int, actor: Actor, cred: Credential) -> bool:
        del actor  # the actor's user owns the phone key it speaks with, too
        return cred.user_number == my_number

    def list_credentials(self, actor: Actor, user_number: int | None = None) -> list[Credential]:
        """Credentials (digests redacted from repr) of one user or all; admins see all,
        a user sees their own."""
        me = self._ctx.authorize(actor, admin=False)
        if me.role is not Role.ADMIN:
            if user_number not in (None, me.number):
                raise PermissionDeniedError("admin only", code=ErrorCode.PERMISSION_DENIED)
            user_number = me.number
        if user_number is not None:
            self._ctx.user(user_number)
            return self._ctx.index.of_user(user_number)
        return [self._ctx.index.credentials[i] for i in sorted(self._ctx.index.credentials)]

