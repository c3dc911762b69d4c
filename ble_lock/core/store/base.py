"""The lock's durable store: a small interface and an in-memory implementation.

The :class:`Lock` keeps its working state in memory (indexes for 1:N matching) and
writes every mutation through to a :class:`Store` inside one :meth:`Store.transaction`:
either every write of the mutation is durable or none is. ``ble_lock.core.store.sqlite``
implements it on SQLite; :class:`MemoryStore` here serves tests.

Records are the dataclasses of :mod:`ble_lock.core.model`; ``ble_lock.core.store.codec`` turns
any of them into bytes and back for a store that keeps blobs.

Stability: this Protocol only ever grows (new methods are announced in commit messages).
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from ble_lock.core.errors import ErrorCode, StorageError
from ble_lock.core.model import Credential, Invite, LockEvent, Settings, SyncLink, User

__all__ = ["MemoryStore", "Store"]


class Store(Protocol):
    """Durable state of one lock. Reads see the writes of the open transaction.

    Every method that writes must be called inside :meth:`transaction` (the lock always
    does); an implementation may reject writes outside one with :class:`StorageError`.
    """

    def transaction(self) -> AbstractContextManager[None]:
        """Open a transaction: commit on normal exit, roll back if the block raises.
        A nested call joins the outer transaction (commits with it)."""
        ...

    @property
    def changes(self) -> int:
        """Rows written since the store was opened (never decreases, rolled back or not):
        a scope that wrote nothing has nothing to undo in memory either."""
        ...

    def savepoint(self) -> AbstractContextManager[None]:
        """Inside a transaction: a nested scope whose writes alone are undone if the block
        raises (the outer transaction goes on and commits the rest); outside one, the same
        as :meth:`transaction`. The lock's service answers each request in one, so that a
        request that fails half-way leaves nothing while the replay counter written before
        it in the same transaction stays (one commit, one fsync per unlock)."""
        ...

    # -- users (R-USR-*)
    def load_users(self) -> list[User]:
        """Every user, any order."""
        ...

    def put_user(self, user: User) -> None:
        """Insert or replace the user with ``user.number``."""
        ...

    def delete_user(self, number: int) -> None:
        """Remove a user (no error if absent). Credentials are removed by the lock."""
        ...

    # -- credentials (R-CRD-*)
    def load_credentials(self) -> list[Credential]:
        ...

    def put_credential(self, credential: Credential) -> None:
        """Insert or replace the credential with ``credential.id``."""
        ...

    def delete_credential(self, credential_id: int) -> None:
        ...

    # -- settings (R-MOD-*)
    def load_settings(self) -> Settings | None:
        """The stored settings, or None on a factory-fresh store."""
        ...

    def put_settings(self, settings: Settings) -> None:
        ...

    # -- named counters (next ids, event sequence, dropped events). Survive factory reset.
    def get_counter(self, name: str) -> int:
        """The counter's value, 0 if never set."""
        ...

    def set_counter(self, name: str, value: int) -> None:
        """Values are signed 64-bit; outside that range: :class:`StorageError`."""
        ...

    # -- secrets (per-lock hashing key, visitor secret, setup secret, protocol keys)
    def get_secret(self, name: str) -> bytes | None:
        ...

    def put_secret(self, name: str, value: bytes) -> None:
        ...

    def delete_secret(self, name: str) -> None:
        ...

    # -- event log (R-APP-6)
    def append_event(self, event: LockEvent, *, keep: int) -> int:
        """Append ``event`` (its ``seq`` is larger than every stored one), then drop the
        oldest events beyond ``keep``; return how many this call dropped."""
        ...

    def events_after(self, seq: int, limit: int) -> list[LockEvent]:
        """Up to ``limit`` events with ``seq`` greater than ``seq``, oldest first."""
        ...

    # -- per-phone replay counters (1-round-trip unlock). Kept per key, not per credential:
    # they survive deleting the key and a factory reset (replay state that lasts).
    def get_phone_counter(self, public_key: bytes) -> int:
        """Last accepted counter for this phone, 0 if none."""
        ...

    def set_phone_counter(self, public_key: bytes, value: int) -> None:
        ...

    def delete_phone_counter(self, public_key: bytes) -> None:
        """Forget a phone's counter (the lock itself never does: see above)."""
        ...

    # -- Bluetooth-key invites (R-APP-3)
    def load_invites(self) -> list[Invite]:
        ...

    def put_invite(self, invite: Invite) -> None:
        ...

    def delete_invite(self, invite_id: int) -> None:
        ...

    # -- sync-unlock links (R-SYN-*)
    def load_links(self) -> list[SyncLink]:
        ...

    def put_link(self, link: SyncLink) -> None:
        """Insert or replace the link with ``link.peer_lock_id``."""
        ...

    def delete_link(self, peer_lock_id: bytes) -> None:
        ...

    # -- idempotency: results of applied requests, per actor
    def get_applied(self, actor: bytes, request_id: bytes) -> bytes | None:
        """The recorded result of (actor, request_id), or None if never applied."""
        ...

    def put_applied(self, actor: bytes, request_id: bytes, result: bytes, *, keep: int) -> None:
        """Record a result, then forget this actor's oldest records beyond ``keep``."""
        ...

    # -- used one-time visitor codes (R-APP-4)
    def is_code_used(self, code_id: int) -> bool:
        ...

    def mark_code_used(self, code_id: int, valid_until: float) -> None:
        ...

    def prune_used_codes(self, before: float) -> int:
        """Forget used codes whose ``valid_until`` is before ``before``; return how many."""
        ...

    # -- R-SEC-5
    def factory_reset(self, *, keep_secrets: Container[str]) -> None:
        """Erase users, credentials, settings, invites, links, applied requests, used
        codes and every secret not named in ``keep_secrets``. Events, counters and phone
        replay counters stay (the event sequence never goes back; a phone's old first
        messages stay refused)."""
        ...


_MISSING = object()
_INT64 = range(-(2**63), 2**63)


def _int64(value: int) -> int:
    """SQLite's INTEGER range, so tests on this store see the durable store's limits."""
    if isinstance(value, bool) or not isinstance(value, int) or value not in _INT64:
        raise StorageError("counter out of range", code=ErrorCode.STORAGE_ERROR)
    return value


class MemoryStore:
    """A :class:`Store` in dicts, with real transactions (an undo log) for tests."""

    def __init__(self) -> None:
        self._users: dict[int, User] = {}
        self._credentials: dict[int, Credential] = {}
        self._settings: dict[int, Settings] = {}
        self._counters: dict[str, int] = {}
        self._secrets: dict[str, bytes] = {}
        self._events: dict[int, LockEvent] = {}
        self._phone_counters: dict[bytes, int] = {}
        self._invites: dict[int, Invite] = {}
        self._links: dict[bytes, SyncLink] = {}
        self._applied: dict[bytes, dict[bytes, bytes]] = {}
        self._used_codes: dict[int, float] = {}
        self._undo: list[tuple[dict[Any, Any], Any, Any]] | None = None
        self.commits = 0
        self._changes = 0

    def __repr__(self) -> str:
        return f"MemoryStore(users={len(self._users)}, credentials={len(self._credentials)})"

    @contextmanager
    def _tx(self) -> Iterator[None]:
        if self._undo is not None:  # nested: join the outer transaction
            yield
            return
        self._undo = []
        try:
            yield
        except BaseException:
            for table, key, old in reversed(self._undo):
                if old is _MISSING:
                    table.pop(key, None)
                else:
                    table[key] = old
            raise
        finally:
            committed = self._undo is not None
            self._undo = None
            if committed:
                self.commits += 1

    def transaction(self) -> AbstractContextManager[None]:
        return self._tx()

    @property
    def changes(self) -> int:
        return self._changes

    def savepoint(self) -> AbstractContextManager[None]:
        if self._undo is None:
            return self._tx()
        return self._savepoint(self._undo)

    @contextmanager
    def _savepoint(self, undo: list[tuple[dict[Any, Any], Any, Any]]) -> Iterator[None]:
        mark = len(undo)
        try:
            yield
        except BaseException:
            while len(undo) > mark:
                table, key, old = undo.pop()
                if old is _MISSING:
                    table.pop(key, None)
                else:
                    table[key] = old
            raise

    def _write(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        if self._undo is None:
            raise StorageError("write outside a transaction", code=ErrorCode.STORAGE_ERROR)
        self._undo.append((table, key, table.get(key, _MISSING)))
        self._changes += 1
        if value is _MISSING:
            table.pop(key, None)
        else:
            table[key] = value

    # users
    def load_users(self) -> list[User]:
        return list(self._users.values())

    def put_user(self, user: User) -> None:
        self._write(self._users, user.number, user)

    def delete_user(self, number: int) -> None:
        self._write(self._users, number, _MISSING)

    # credentials
    def load_credentials(self) -> list[Credential]:
        return list(self._credentials.values())

    def put_credential(self, credential: Credential) -> None:
        self._write(self._credentials, credential.id, credential)

    def delete_credential(self, credential_id: int) -> None:
        self._write(self._credentials, credential_id, _MISSING)

    # settings
    def load_settings(self) -> Settings | None:
        return self._settings.get(0)

    def put_settings(self, settings: Settings) -> None:
        self._write(self._settings, 0, settings)

    # counters
    def get_counter(self, name: str) -> int:
        return self._counters.get(name, 0)

    def set_counter(self, name: str, value: int) -> None:
        self._write(self._counters, name, _int64(value))

    # secrets
    def get_secret(self, name: str) -> bytes | None:
        return self._secrets.get(name)

    def put_secret(self, name: str, value: bytes) -> None:
        self._write(self._secrets, name, bytes(value))

    def delete_secret(self, name: str) -> None:
        self._write(self._secrets, name, _MISSING)

    # events
    def append_event(self, event: LockEvent, *, keep: int) -> int:
        self._write(self._events, event.seq, event)
        dropped = 0
        while len(self._events) > keep:
            self._write(self._events, next(iter(self._events)), _MISSING)
            dropped += 1
        return dropped

    def events_after(self, seq: int, limit: int) -> list[LockEvent]:
        out = [e for s, e in self._events.items() if s > seq]
        out.sort(key=lambda e: e.seq)
        return out[:limit]

    # phone counters
    def get_phone_counter(self, public_key: bytes) -> int:
        return self._phone_counters.get(bytes(public_key), 0)

    def set_phone_counter(self, public_key: bytes, value: int) -> None:
        self._write(self._phone_counters, bytes(public_key), _int64(value))

    def delete_phone_counter(self, public_key: bytes) -> None:
        self._write(self._phone_counters, bytes(public_key), _MISSING)

    # invites
    def load_invites(self) -> list[Invite]:
        return list(self._invites.values())

    def put_invite(self, invite: Invite) -> None:
        self._write(self._invites, invite.id, invite)

    def delete_invite(self, invite_id: int) -> None:
        self._write(self._invites, invite_id, _MISSING)

    # links
    def load_links(self) -> list[SyncLink]:
        return list(self._links.values())

    def put_link(self, link: SyncLink) -> None:
        self._write(self._links, bytes(link.peer_lock_id), link)

    def delete_link(self, peer_lock_id: bytes) -> None:
        self._write(self._links, bytes(peer_lock_id), _MISSING)

    # applied requests
    def get_applied(self, actor: bytes, request_id: bytes) -> bytes | None:
        return self._applied.get(actor, {}).get(request_id)

    def put_applied(self, actor: bytes, request_id: bytes, result: bytes, *, keep: int) -> None:
        old = self._applied.get(actor, {})
        new = dict(old)
        new[bytes(request_id)] = bytes(result)
        while len(new) > keep:
            del new[next(iter(new))]
        self._write(self._applied, bytes(actor), new)

    # used one-time codes
    def is_code_used(self, code_id: int) -> bool:
        return code_id in self._used_codes

    def mark_code_used(self, code_id: int, valid_until: float) -> None:
        self._write(self._used_codes, code_id, valid_until)

    def prune_used_codes(self, before: float) -> int:
        stale = [c for c, until in self._used_codes.items() if until < before]
        for code_id in stale:
            self._write(self._used_codes, code_id, _MISSING)
        return len(stale)

    # reset
    def factory_reset(self, *, keep_secrets: Container[str]) -> None:
        tables: tuple[dict[Any, Any], ...] = (
            self._users, self._credentials, self._settings,
            self._invites, self._links, self._applied, self._used_codes,
        )
        for table in tables:
            for key in list(table):
                self._write(table, key, _MISSING)
        for name in list(self._secrets):
            if name not in keep_secrets:
                self._write(self._secrets, name, _MISSING)
