"""The shared context of the lock's services (:class:`Management`) and the door's
runtime state (:class:`Device`); see :class:`ble_lock.core.lock.Lock` for the API.

:class:`Management` is what every service is given in its constructor: the store,
profile, clock and rng, the keyed hasher, the user/credential :class:`Index` and the
settings (the state every service reads), and the machinery every management call
goes through: one store transaction per mutation (:meth:`Management.tx`), request-id
idempotency bound to what was asked (:meth:`Management.request_scope`,
:meth:`Management.mutate`), the event log (:meth:`Management.emit`), authorization
(:meth:`Management.authorize`: nothing the caller claims is trusted) and the lockout's
failure accounting (R-SEC-1).

Two times: :meth:`Management.now` is the injected clock as it is and drives timers
(lockout, relock, keypad sleep, pending links); it is the clock a restart resumes, so
deadlines persisted on it (a running lockout, a pending link) survive a battery pull.
:meth:`Management.wall` adds the admin-set offset (``set_time``) and stamps events and
checks validity windows, schedules and visitor codes.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from types import TracebackType
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
    EventKind,
    Invite,
    IssuedInvite,
    LockEvent,
    LockoutStarted,
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

__all__ = [
    "FACTORY_PREFIX",
    "MAX_COUNTER",
    "Device",
    "KeepFactory",
    "Keypad",
    "Management",
    "counter_in_range",
]

R = TypeVar("R")

#: Secrets whose name starts with this survive a factory reset (printed on the lock).
FACTORY_PREFIX = "factory."
SECRET_HASH_KEY = "hash_key"  # noqa: S105 - a store key name, not a secret
SECRET_VISITOR = "visitor_secret"  # noqa: S105 - a store key name, not a secret
NOTIFICATION_QUEUE = 256
#: KeyedHasher domain of idempotency bindings (credential kinds use their own values).
REQUEST_DIGEST_DOMAIN = 255
#: A transaction joined by a nested ``tx()`` (stateless, so one serves every nesting).
_JOINED: AbstractContextManager[None] = nullcontext()
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


class KeepFactory:
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


@dataclass(slots=True, kw_only=True)
class Device:
    """The door's runtime state, not stored (a restart starts locked and closed):
    bolt, door sensor, thumb-turn, battery, keypad, and the running deadlines on the
    injected clock that several services set and :class:`~ble_lock.core.timers.Timers`
    expires."""

    bolt: BoltState = BoltState.LOCKED
    door: DoorState = DoorState.CLOSED
    thumb_turn_locked: bool = False
    battery: int = 100
    keypad: Keypad = field(default_factory=Keypad)
    tamper_until: float | None = None
    pairing_until: float | None = None
    relock_at: float | None = None
    sync_relock_at: float | None = None
    dual_pending: DualPending | None = None  # R-USR-8

    def reset(self) -> None:
        """What a factory reset ends (R-SEC-5): pairing mode, dual-auth, relock timers."""
        self.pairing_until = None
        self.dual_pending = None
        self.relock_at = self.sync_relock_at = None


class Management:
    """The services' shared context: state, transactions, events, authorization,
    idempotency and failure accounting. Services receive it in their constructor and
    own their own state besides (invites, links, enrolment runs); a service whose state
    comes from the store registers its reload with :meth:`on_reload`."""

    def __init__(self, *, store: Store, profile: Profile, clock: Clock, rng: Rng) -> None:
        self.store = store
        self.profile = profile
        self.clock = clock
        self.rng = rng
        self.device = Device()
        self._tx_depth = 0
        self._pending: list[LockEvent] = []
        self._on_commit: list[Callable[[], None]] = []
        self._batch = False
        self.notifications: deque[LockEvent] = deque(maxlen=NOTIFICATION_QUEUE)
        self.lockouts = Lockouts(
            limit=profile.lockout_failures,
            window=profile.lockout_window_s,
            duration=profile.lockout_duration_s,
        )
        self._request_digest: bytes | Callable[[], bytes] | None = None
        self._reloads: list[Callable[[], None]] = []
        self.load()
        for barrier, counter in self._lockout_counters():  # R-SEC-1 survives a restart
            persisted = store.get_counter(counter)
            if persisted:
                barrier.locked_until = persisted / 1000

    # -- loading and transactions

    def on_reload(self, reload: Callable[[], None]) -> None:
        """Run ``reload`` (a service rebuilding its state from the store) now and after
        every failed mutation."""
        self._reloads.append(reload)
        reload()

    def load(self) -> None:
        """(Re)build the in-memory state from the store (also after a failed mutation)."""
        store = self.store
        key = store.get_secret(SECRET_HASH_KEY)
        if key is None:
            with store.transaction():
                key = self.rng.token_bytes(32)
                store.put_secret(SECRET_HASH_KEY, key)
                store.put_secret(SECRET_VISITOR, self.rng.token_bytes(32))
        self.hasher = KeyedHasher(key)
        self.index = Index.build(store.load_users(), store.load_credentials())
        self.settings = store.load_settings() or Settings()
        self._seq = store.get_counter("event_seq")
        for reload in self._reloads:
            reload()

    def rekey(self) -> None:
        """After a factory reset: a new hash key and visitor secret, no users (R-SEC-5)."""
        key = self.rng.token_bytes(32)
        self.store.put_secret(SECRET_HASH_KEY, key)
        self.store.put_secret(SECRET_VISITOR, self.rng.token_bytes(32))
        self.hasher = KeyedHasher(key)
        self.index = Index()

    def tx(self) -> AbstractContextManager[None]:
        """One store transaction per mutation; on failure the memory state is reloaded.
        Inside one, a nested call joins it (the outer one commits or rolls back). Inside
        a :meth:`batch`, each mutation is a savepoint: all or nothing on its own, as if
        it were alone, and committed with the batch."""
        if not self._tx_depth:
            return _OuterTx(self)
        if self._batch and self._tx_depth == 1:
            return _Savepoint(self)
        return _JOINED

    def batch(self) -> AbstractContextManager[None]:
        """One store transaction (one commit, one fsync) around several mutations, each
        still all or nothing on its own (a savepoint: a failing one is undone alone, with
        its events, its :meth:`after_commit` actions and, if it wrote, the memory state),
        events pushed and actions run once the batch committed. The lock's service runs
        each received frame in one: the replay counter a handshake advances and the
        0-RTT request it carries commit together (one fsync per unlock, issue 15). Inside
        a transaction, a batch joins it."""
        if self._tx_depth:
            return _JOINED
        return _OuterTx(self, batch=True)

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the open transaction has committed (at once if none is
        open); dropped if it rolls back. The door acts here (the bolt): only on what is
        durable, the replay counter and the unlock event among it (R-APP-6)."""
        if self._tx_depth:
            self._on_commit.append(action)
        else:
            action()

    def _end_tx(self, failed: bool) -> None:
        """The outer transaction ended (the store's committed or rolled back): on failure
        the memory state is reloaded and nothing is pushed nor done, else its events are
        queued and its :meth:`after_commit` actions run, in order."""
        self._batch = False
        if failed:
            try:
                self._pending.clear()
                self._on_commit.clear()
                self.load()
            finally:
                self._tx_depth = 0
            return
        self._tx_depth = 0
        self.notifications.extend(self._pending)
        self._pending.clear()
        actions, self._on_commit = self._on_commit, []
        for action in actions:
            action()

    def request_scope(self, digest: bytes | Callable[[], bytes]
                      ) -> AbstractContextManager[None]:
        """Bind the request ids of the management calls made inside to ``digest``, what
        the request asks (the protocol passes a hash of its opcode and body). Without a
        scope a request id is bound to the operation called (e.g. ``add_user``).
        ``digest`` may be a function computing it: it is called only if a management
        mutation runs in the scope (an unlock, the hot path, never needs it)."""
        return _RequestScope(self, digest if callable(digest) else bytes(digest))

    def _bind_request(self, digest: bytes | Callable[[], bytes] | None
                      ) -> bytes | Callable[[], bytes] | None:
        previous, self._request_digest = self._request_digest, digest
        return previous

    def mutate(self, actor: Actor, request_id: bytes | None, fn: Callable[[], R], *,
               replayed: Callable[[Any], Any] | None = None) -> R:
        """Run a management mutation once per (actor, request_id), atomically with the
        record of its result and of what was asked (idempotency). A repeat of the same
        request returns the first result without applying anything; another request
        reusing the id is refused (``REQUEST_ID_REUSED``), never answered from a record
        of something else. ``replayed`` adjusts a recorded result before a repeat
        returns it (an invite's code is re-derived, never stored)."""
        scoped = self._request_digest
        asked = scoped() if callable(scoped) else scoped
        if asked is None:
            asked = hashlib.sha256(fn.__qualname__.encode()).digest()
        # Keyed (R-SEC-4): a request may carry a PIN; its record must not allow a
        # dictionary search for it.
        digest = self.hasher.digest(REQUEST_DIGEST_DOMAIN, asked)
        if request_id is not None:
            prior = self.store.get_applied(actor.identity(), bytes(request_id))
            if prior is not None:
                value = _decode_result(prior, digest)
                result: R = value if replayed is None else replayed(value)
                return result
        with self.tx():
            result = fn()
            if request_id is not None:
                self.store.put_applied(
                    actor.identity(), bytes(request_id), _encode_result(result, digest),
                    keep=self.profile.idempotency_per_actor,
                )
        return result

    def visitor_key(self) -> bytes:
        """The visitor-code secret (R-APP-4)."""
        secret = self.store.get_secret(SECRET_VISITOR)
        if secret is None:
            raise StorageError("no visitor secret", code=ErrorCode.STORAGE_ERROR)
        return secret

    # -- time

    def now(self) -> float:
        """The injected clock: timers and persisted deadlines (module docstring)."""
        return self.clock.now()

    def wall(self) -> float:
        """The lock's wall clock: the injected clock plus the admin-set offset."""
        return self.clock.now() + self.settings.time_offset

    # -- events (R-APP-6)

    def emit(self, kind: EventKind, **fields: Any) -> LockEvent:
        """Append an event in the current transaction (or its own) and queue it for push."""
        with self.tx():
            self._seq += 1
            event = LockEvent(seq=self._seq, timestamp=self.wall(), kind=kind, **fields)
            dropped = self.store.append_event(event, keep=self.profile.event_log_size)
            self.store.set_counter("event_seq", self._seq)
            if dropped:
                total = self.store.get_counter("events_dropped") + dropped
                self.store.set_counter("events_dropped", total)
            self._pending.append(event)
        return event

    # -- authorization: done here for every call, nothing the caller claims is trusted

    def user(self, number: int) -> User:
        """User ``number`` or ``UNKNOWN_USER``."""
        user = self.index.users.get(number)
        if user is None:
            raise NotFoundError(f"no user {number}", code=ErrorCode.UNKNOWN_USER)
        return user

    def authorize(self, actor: Actor, *, admin: bool = True) -> User:
        """The actor's user after checking key, revocation, validity and role."""
        now = self.wall()
        if actor.kind is ActorKind.PHONE:
            cred_id = self.index.phones.get(actor.phone_key or b"")
            if cred_id is None:
                raise NotFoundError("unknown phone key", code=ErrorCode.UNKNOWN_KEY)
            cred: Credential | None = self.index.credentials[cred_id]
            user = self.user(self.index.credentials[cred_id].user_number)
        else:
            if actor.user_number is None:
                raise PermissionDeniedError("panel actor without a user")
            cred = None
            user = self.user(actor.user_number)
        denial = validity_denial(cred, user, now, self.settings.utc_offset_min)
        if denial is not None:
            raise PermissionDeniedError(_DENIALS[denial], code=denial)
        if admin and user.role is not Role.ADMIN:
            raise PermissionDeniedError("admin only", code=ErrorCode.PERMISSION_DENIED)
        return user

    # -- R-SEC-1: failure accounting per input path, shared by the panel and the protocol

    def _lockout_counters(self) -> tuple[tuple[Lockout, str], ...]:
        lockouts = self.lockouts
        return ((lockouts.user, LOCKOUT_COUNTER), (lockouts.pairing, PAIRING_LOCKOUT_COUNTER),
                (lockouts.remote, REMOTE_LOCKOUT_COUNTER))

    def limited(self, path: InputPath | None) -> bool:
        """Whether lockouts apply to ``path``: the app's switch (R-SEC-1, face-palm)
        turns off the manual's lockout, never the pairing limiter (the code-guessing
        bound, DESIGN "online guessing")."""
        return path is InputPath.PAIRING or self.settings.lockout_enabled

    def locked_out(self, path: InputPath | None = None) -> float | None:
        """Seconds left in the lockout that refuses an attempt on ``path`` (None: an
        unlock without a path of its own: Bluetooth key, sync statement), or None."""
        if not self.limited(path):
            return None
        return self.lockouts.denial(path, self.now())

    def register_failure(self, path: InputPath | None, kind: EventKind,
                          **fields: Any) -> float | None:
        """Log a failed verification/guess on ``path``; trip that path's barrier on the
        5th in 5 minutes. Returns the seconds of lockout now running for ``path``, or
        None (``path`` None: logged only)."""
        with self.tx():
            self.emit(kind, **fields)
            if path is None or not self.limited(path):
                return None
            barrier = self.lockouts.barrier(path)
            if barrier.fail(path, self.now()):
                until = math.ceil((barrier.locked_until or 0.0) * 1000)
                for each, counter in self._lockout_counters():
                    if each is barrier:
                        self.store.set_counter(counter, until)
                self.emit(EventKind.LOCKOUT,
                          detail=LockoutStarted(path=path.value,
                                                       duration_s=self.profile.lockout_duration_s))
            return self.locked_out(path)

    def lockout_success(self, method: UnlockMethod) -> None:
        """R-SEC-1: a successful verification by ``method`` ends the run of its own path
        only (a dual-auth step: the presented credential's; none for a Bluetooth key)."""
        path = path_of_method(method)
        if path is not None:
            self.lockouts.barrier(path).succeed(path)

    def lift_lockout(self, *, pairing: bool = True) -> None:
        """End running lockouts and forget the runs: every barrier, or (``pairing``
        False: the app switched the manual's lockout off) all but the pairing limiter."""
        with self.tx():
            for barrier, counter in self._lockout_counters():
                if barrier is self.lockouts.pairing and not pairing:
                    continue
                barrier.lift()
                if self.store.get_counter(counter):
                    self.store.set_counter(counter, 0)

    def require_claimed(self) -> None:
        """``NOT_CLAIMED`` on a factory-fresh lock."""
        if not self.index.users:
            raise StateError("lock not claimed", code=ErrorCode.NOT_CLAIMED)

    def kind_supported(self, kind: CredentialKind) -> None:
        """``UNSUPPORTED_BY_PROFILE`` for a credential kind this model lacks."""
        if not self.profile.supports(kind):
            raise StateError(f"{kind.name} not supported by {self.profile.name}",
                             code=ErrorCode.UNSUPPORTED_BY_PROFILE)

    def next_id(self, counter: str) -> int:
        """The next value of a named id counter (in the open transaction)."""
        value = self.store.get_counter(counter) + 1
        self.store.set_counter(counter, value)
        return value

    def put_settings(self, settings: Settings) -> None:
        """Store and apply new settings, logged (callers validated them)."""
        self.store.put_settings(settings)
        self.settings = settings
        self.emit(EventKind.SETTINGS_CHANGED)


def counter_in_range(value: object) -> bool:
    """Whether ``value`` is a counter a store can keep: an int in ``1..MAX_COUNTER``."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_COUNTER


def _encode_result(result: object, digest: bytes) -> bytes:
    if isinstance(result, IssuedInvite):  # the code is re-derived, never stored
        result = IssuedInvite(invite_id=result.invite_id, user_number=result.user_number,
                              code="", expires_at=result.expires_at)
    name = type(result).__name__ if type(result).__name__ in _RESULT_TYPES else ""
    return json.dumps({"t": name, "v": codec.to_jsonable(result), "d": digest.hex()},
                      separators=(",", ":")).encode()

def _decode_result(data: bytes, digest: bytes) -> Any:
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
    return value


class _OuterTx:
    """:meth:`Management.tx` when no transaction is open: the store's transaction around
    the block, then :meth:`Management._end_tx`. A plain class, not a generator: every
    unlock and every event runs one."""

    __slots__ = ("_batch", "_mgmt", "_store_tx")

    def __init__(self, mgmt: Management, *, batch: bool = False) -> None:
        self._mgmt = mgmt
        self._batch = batch
        self._store_tx = mgmt.store.transaction()

    def __enter__(self) -> None:
        self._mgmt._tx_depth = 1
        self._mgmt._batch = self._batch
        try:
            self._store_tx.__enter__()
        except BaseException:
            self._mgmt._end_tx(failed=True)
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        try:
            suppressed = bool(self._store_tx.__exit__(exc_type, exc, tb))
        except BaseException:
            self._mgmt._end_tx(failed=True)
            raise
        self._mgmt._end_tx(failed=exc_type is not None and not suppressed)
        return suppressed


class _Savepoint:
    """:meth:`Management.tx` for a mutation inside a :meth:`Management.batch`: a store
    savepoint. On failure the mutation's events and actions are dropped and, if it wrote
    anything, the memory state reloaded (from the store as it was when the mutation
    began); a mutation refused before it wrote (a denial, a bad argument) costs no
    reload."""

    __slots__ = ("_actions", "_changes", "_events", "_mgmt", "_store_sp")

    def __init__(self, mgmt: Management) -> None:
        self._mgmt = mgmt
        self._store_sp = mgmt.store.savepoint()
        self._events = len(mgmt._pending)
        self._actions = len(mgmt._on_commit)
        self._changes = mgmt.store.changes

    def __enter__(self) -> None:
        self._store_sp.__enter__()
        self._mgmt._tx_depth += 1

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        mgmt = self._mgmt
        mgmt._tx_depth -= 1
        wrote = mgmt.store.changes != self._changes
        suppressed = bool(self._store_sp.__exit__(exc_type, exc, tb))
        if exc_type is not None and not suppressed:
            del mgmt._pending[self._events:]
            del mgmt._on_commit[self._actions:]
            if wrote:
                mgmt.load()
        return suppressed


class _RequestScope:
    """:meth:`Management.request_scope`: binds on entry, restores the outer binding on
    exit (exceptions pass through). A plain class: it wraps every request."""

    __slots__ = ("_digest", "_mgmt", "_previous")

    def __init__(self, mgmt: Management, digest: bytes | Callable[[], bytes]) -> None:
        self._mgmt = mgmt
        self._digest = digest
        self._previous: bytes | Callable[[], bytes] | None = None

    def __enter__(self) -> None:
        self._previous = self._mgmt._bind_request(self._digest)

    def __exit__(self, *exc_info: object) -> None:
        self._mgmt._bind_request(self._previous)
