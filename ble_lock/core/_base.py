"""Shared state and plumbing of :class:`ble_lock.core.lock.Lock` (see there for the API).

Two clocks: ``_mono()`` is the injected clock as is and drives timers (lockout, relock,
keypad sleep); ``_wall()`` adds the admin-set offset (``set_time``) and stamps events
and checks validity windows, schedules and visitor codes.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ble_lock.core.clock import Clock, Rng
from ble_lock.core.decision import DualPending
from ble_lock.core.errors import (
    ConflictError,
    ErrorCode,
    NotFoundError,
    PermissionDeniedError,
    StateError,
    StorageError,
)
from ble_lock.core.hashing import KeyedHasher
from ble_lock.core.index import Index
from ble_lock.core.model import (
    Actor,
    ActorKind,
    BoltState,
    Credential,
    CredentialKind,
    DoorState,
    EnrolmentSession,
    Event,
    EventKind,
    Invite,
    IssuedInvite,
    Role,
    Settings,
    SyncLink,
    UnlockMethod,
    User,
)
from ble_lock.core.profile import Profile
from ble_lock.core.rules.lockout import InputPath, Lockout, Lockouts, path_of_method
from ble_lock.core.rules.schedule import validity_denial
from ble_lock.core.store import Store, codec

__all__ = ["FACTORY_PREFIX", "MAX_COUNTER", "LockBase", "counter_in_range"]

R = TypeVar("R")

#: Secrets whose name starts with this survive a factory reset (printed on the lock).
FACTORY_PREFIX = "factory."
SECRET_HASH_KEY = "hash_key"  # noqa: S105 - a store key name, not a secret
SECRET_VISITOR = "visitor_secret"  # noqa: S105 - a store key name, not a secret
NOTIFICATION_QUEUE = 256
#: KeyedHasher domain of idempotency bindings (credential kinds use their own values).
REQUEST_DIGEST_DOMAIN = 255
#: The largest counter a store keeps (SQLite's signed 64-bit INTEGER). Counters from the
#: wire (64-bit) are range-checked against it before they reach the store.
MAX_COUNTER = 2**63 - 1
#: End of a running lockout in ms on the injected clock (0: none), so a restart (or a
#: battery pull) does not end it: one counter per barrier (R-SEC-1, ``lockout.py``).
LOCKOUT_COUNTER = "lockout_until_ms"
PAIRING_LOCKOUT_COUNTER = "pairing_lockout_until_ms"
REMOTE_LOCKOUT_COUNTER = "remote_lockout_until_ms"

_DENIALS = {
    ErrorCode.KEY_REVOKED: "key revoked",
    ErrorCode.KEY_EXPIRED: "key outside its validity",
    ErrorCode.OUTSIDE_VALIDITY: "user outside validity",
}

_RESULT_TYPES: dict[str, type[Any]] = {
    t.__name__: t
    for t in (User, Credential, Settings, EnrolmentSession, IssuedInvite, SyncLink, Invite)
}


class _KeepFactory:
    """``name in keep`` for every factory secret (a Container for Store.factory_reset)."""

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.startswith(FACTORY_PREFIX)


@dataclass(slots=True, kw_only=True)
class Keypad:
    """Runtime keypad state (R-PIN-3/4, R-MOD-6/8, R-LCK-1)."""

    digits: list[str] = field(default_factory=list)
    awake_until: float | None = None
    muted_once: bool = False
    confirm_lit: bool = False

    def __repr__(self) -> str:
        return f"Keypad(digits={len(self.digits)}, awake_until={self.awake_until})"


class LockBase:
    """State, transactions, events, authorization and idempotency for the mixins."""

    def __init__(self, *, store: Store, profile: Profile, clock: Clock, rng: Rng) -> None:
        self._store = store
        self._profile = profile
        self._clock = clock
        self._rng = rng
        self._tx_depth = 0
        self._pending: list[Event] = []
        self._notifications: deque[Event] = deque(maxlen=NOTIFICATION_QUEUE)
        self._lockout = Lockouts(
            limit=profile.lockout_failures,
            window=profile.lockout_window_s,
            duration=profile.lockout_duration_s,
        )
        self._keypad = Keypad()
        self._bolt = BoltState.LOCKED
        self._door = DoorState.CLOSED
        self._thumb_turn_locked = False
        self._battery = 100
        self._tamper_until: float | None = None
        self._pairing_until: float | None = None
        self._relock_at: float | None = None
        self._sync_relock_at: float | None = None
        self._dual_pending: DualPending | None = None  # R-USR-8
        self._request_digest: bytes | None = None
        self._load()
        for barrier, counter in self._lockout_counters():  # R-SEC-1 survives a restart
            persisted = store.get_counter(counter)
            if persisted:
                barrier.locked_until = persisted / 1000

    # -- loading and transactions

    def _load(self) -> None:
        """(Re)build the in-memory state from the store (also after a failed mutation)."""
        store = self._store
        key = store.get_secret(SECRET_HASH_KEY)
        if key is None:
            with store.transaction():
                key = self._rng.token_bytes(32)
                store.put_secret(SECRET_HASH_KEY, key)
                store.put_secret(SECRET_VISITOR, self._rng.token_bytes(32))
        self._hasher = KeyedHasher(key)
        self._index = Index.build(store.load_users(), store.load_credentials())
        self._settings = store.load_settings() or Settings()
        self._invites = {i.id: i for i in store.load_invites()}
        self._links = {bytes(link.peer_lock_id): link for link in store.load_links()}
        self._seq = store.get_counter("event_seq")

    @contextmanager
    def _tx(self) -> Iterator[None]:
        """One store transaction per mutation; on failure the memory state is reloaded."""
        if self._tx_depth:
            yield
            return
        self._tx_depth = 1
        try:
            with self._store.transaction():
                yield
        except BaseException:
            self._pending.clear()
            self._load()
            raise
        finally:
            self._tx_depth = 0
        self._notifications.extend(self._pending)
        self._pending.clear()

    @contextmanager
    def request_scope(self, digest: bytes) -> Iterator[None]:
        """Bind the request ids of the management calls made inside to ``digest``, what
        the request asks (the protocol passes a hash of its opcode and body). Without a
        scope a request id is bound to the operation called (e.g. ``add_user``)."""
        previous, self._request_digest = self._request_digest, bytes(digest)
        try:
            yield
        finally:
            self._request_digest = previous

    def _mutate(self, actor: Actor, request_id: bytes | None, fn: Callable[[], R]) -> R:
        """Run a management mutation once per (actor, request_id), atomically with the
        record of its result and of what was asked (idempotency). A repeat of the same
        request returns the first result without applying anything; another request
        reusing the id is refused (``REQUEST_ID_REUSED``), never answered from a record
        of something else."""
        asked = self._request_digest
        if asked is None:
            asked = hashlib.sha256(fn.__qualname__.encode()).digest()
        # Keyed (R-SEC-4): a request may carry a PIN; its record must not allow a
        # dictionary search for it.
        digest = self._hasher.digest(REQUEST_DIGEST_DOMAIN, asked)
        if request_id is not None:
            prior = self._store.get_applied(actor.identity(), bytes(request_id))
            if prior is not None:
                result: R = self._decode_result(prior, digest)
                return result
        with self._tx():
            result = fn()
            if request_id is not None:
                self._store.put_applied(
                    actor.identity(), bytes(request_id), self._encode_result(result, digest),
                    keep=self._profile.idempotency_per_actor,
                )
        return result

    def _encode_result(self, result: object, digest: bytes) -> bytes:
        if isinstance(result, IssuedInvite):  # the code is re-derived, never stored
            result = IssuedInvite(invite_id=result.invite_id, user_number=result.user_number,
                                  code="", expires_at=result.expires_at)
        name = type(result).__name__ if type(result).__name__ in _RESULT_TYPES else ""
        return json.dumps({"t": name, "v": codec.to_jsonable(result), "d": digest.hex()},
                          separators=(",", ":")).encode()

    def _decode_result(self, data: bytes, digest: bytes) -> Any:
        try:
            wrapped = json.loads(data)
            recorded = bytes.fromhex(wrapped.get("d", ""))
            tp = _RESULT_TYPES.get(wrapped["t"])
            value = wrapped["v"] if tp is None else codec.from_jsonable(tp, wrapped["v"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StorageError(f"corrupt idempotency record: {exc}") from exc
        # A record without a digest (written before requests were bound) matches nothing.
        if recorded != digest:
            raise ConflictError("request id already used for another request",
                                code=ErrorCode.REQUEST_ID_REUSED)
        return self._replayed(value)

    def _replayed(self, value: Any) -> Any:
        """Hook: adjust a recorded result before a repeat returns it (invite codes)."""
        return value

    def _visitor_key(self) -> bytes:
        secret = self._store.get_secret(SECRET_VISITOR)
        if secret is None:
            raise StateError("no visitor secret", code=ErrorCode.STORAGE_ERROR)
        return secret

    # -- time

    def _mono(self) -> float:
        return self._clock.now()

    def _wall(self) -> float:
        return self._clock.now() + self._settings.time_offset

    # -- events (R-APP-6)

    def _emit(self, kind: EventKind, **fields: Any) -> Event:
        """Append an event in the current transaction (or its own) and queue it for push."""
        with self._tx():
            self._seq += 1
            event = Event(seq=self._seq, timestamp=self._wall(), kind=kind, **fields)
            dropped = self._store.append_event(event, keep=self._profile.event_log_size)
            self._store.set_counter("event_seq", self._seq)
            if dropped:
                total = self._store.get_counter("events_dropped") + dropped
                self._store.set_counter("events_dropped", total)
            self._pending.append(event)
        return event

    # -- authorization: done here for every call, nothing the caller claims is trusted

    def _user(self, number: int) -> User:
        user = self._index.users.get(number)
        if user is None:
            raise NotFoundError(f"no user {number}", code=ErrorCode.UNKNOWN_USER)
        return user

    def _authorize(self, actor: Actor, *, admin: bool = True) -> User:
        """The actor's user after checking key, revocation, validity and role."""
        now = self._wall()
        if actor.kind is ActorKind.PHONE:
            cred_id = self._index.phones.get(actor.phone_key or b"")
            if cred_id is None:
                raise NotFoundError("unknown phone key", code=ErrorCode.UNKNOWN_KEY)
            cred: Credential | None = self._index.credentials[cred_id]
            user = self._user(self._index.credentials[cred_id].user_number)
        else:
            if actor.user_number is None:
                raise PermissionDeniedError("panel actor without a user")
            cred = None
            user = self._user(actor.user_number)
        denial = validity_denial(cred, user, now, self._settings.utc_offset_min)
        if denial is not None:
            raise PermissionDeniedError(_DENIALS[denial], code=denial)
        if admin and user.role is not Role.ADMIN:
            raise PermissionDeniedError("admin only", code=ErrorCode.PERMISSION_DENIED)
        return user

    # -- R-SEC-1: failure accounting per input path, shared by the panel and the protocol

    def _lockout_counters(self) -> tuple[tuple[Lockout, str], ...]:
        lockouts = self._lockout
        return ((lockouts.user, LOCKOUT_COUNTER), (lockouts.pairing, PAIRING_LOCKOUT_COUNTER),
                (lockouts.remote, REMOTE_LOCKOUT_COUNTER))

    def _limited(self, path: InputPath | None) -> bool:
        """Whether lockouts apply to ``path``: the app's switch (R-SEC-1, face-palm)
        turns off the manual's lockout, never the pairing limiter (the code-guessing
        bound, DESIGN "online guessing")."""
        return path is InputPath.PAIRING or self._settings.lockout_enabled

    def _locked_out(self, path: InputPath | None = None) -> float | None:
        """Seconds left in the lockout that refuses an attempt on ``path`` (None: an
        unlock without a path of its own: Bluetooth key, sync statement), or None."""
        if not self._limited(path):
            return None
        return self._lockout.denial(path, self._mono())

    def _register_failure(self, path: InputPath | None, kind: EventKind,
                          **fields: Any) -> float | None:
        """Log a failed verification/guess on ``path``; trip that path's barrier on the
        5th in 5 minutes. Returns the seconds of lockout now running for ``path``, or
        None (``path`` None: logged only)."""
        with self._tx():
            self._emit(kind, **fields)
            if path is None or not self._limited(path):
                return None
            barrier = self._lockout.barrier(path)
            if barrier.fail(path, self._mono()):
                until = math.ceil((barrier.locked_until or 0.0) * 1000)
                for each, counter in self._lockout_counters():
                    if each is barrier:
                        self._store.set_counter(counter, until)
                self._emit(EventKind.LOCKOUT,
                           detail=f"{path.value} {self._profile.lockout_duration_s:g}s")
            return self._locked_out(path)

    def _lockout_success(self, method: UnlockMethod) -> None:
        """R-SEC-1: a successful verification by ``method`` ends the run of its own path
        only (a dual-auth step: the presented credential's; none for a Bluetooth key)."""
        path = path_of_method(method)
        if path is not None:
            self._lockout.barrier(path).succeed(path)

    def _lift_lockout(self, *, pairing: bool = True) -> None:
        """End running lockouts and forget the runs: every barrier, or (``pairing``
        False: the app switched the manual's lockout off) all but the pairing limiter."""
        with self._tx():
            for barrier, counter in self._lockout_counters():
                if barrier is self._lockout.pairing and not pairing:
                    continue
                barrier.lift()
                if self._store.get_counter(counter):
                    self._store.set_counter(counter, 0)

    def _require_claimed(self) -> None:
        if not self._index.users:
            raise StateError("lock not claimed", code=ErrorCode.NOT_CLAIMED)

    def _kind_supported(self, kind: CredentialKind) -> None:
        if not self._profile.supports(kind):
            raise StateError(f"{kind.name} not supported by {self._profile.name}",
                             code=ErrorCode.UNSUPPORTED_BY_PROFILE)

    def _next_id(self, counter: str) -> int:
        value = self._store.get_counter(counter) + 1
        self._store.set_counter(counter, value)
        return value


def counter_in_range(value: object) -> bool:
    """Whether ``value`` is a counter a store can keep: an int in ``1..MAX_COUNTER``."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_COUNTER

