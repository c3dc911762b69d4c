"""The lock's durable :class:`~ble_lock.core.store.Store` on SQLite (stdlib ``sqlite3``).

Durability and atomicity (issue "done when": crash consistency):

* WAL journal with ``synchronous=FULL``: a committed transaction survives a crash or
  power cut; an interrupted one leaves no trace.
* One SQLite transaction per :meth:`SqliteStore.transaction` block (the lock opens one per
  mutation), ``BEGIN IMMEDIATE`` so that a writer never deadlocks half-way; nested blocks
  join the outer one, exactly like :class:`~ble_lock.core.store.MemoryStore`.
* Foreign keys on: a credential or invite cannot outlive its user. The checks are deferred
  to COMMIT, so the lock may write rows in any order inside a mutation.

Schema: users and credentials in native columns, one per record field, each ``CHECK``-typed
(schema 3, issue 15: opening them parses no JSON); the other tables a key column plus the
record as a blob (``ble_lock.core.store.codec`` JSON, which gives fields added later their
defaults). ``PRAGMA user_version`` is the schema
version; :data:`MIGRATIONS` are the steps from each version to the next, applied in order
in one transaction on open. A store written by a newer ble-lock is refused
(``STORAGE_VERSION``), a damaged or foreign file is refused (``STORAGE_CORRUPT``).

No secret is stored in plaintext by this module: credentials carry only the keyed digests
the core computed; the ``secrets`` table holds the key material the core hands over (it
must read it back to verify). The file is created ``0600``. Like the
:class:`~ble_lock.core.lock.Lock` it serves, a store takes one caller at a time (any
thread: the emulator may call from an executor; callers serialize).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Container, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from itertools import starmap
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ble_lock.core.errors import ErrorCode, StorageError
from ble_lock.core.model import (
    Credential,
    CredentialKind,
    Invite,
    LockEvent,
    Note,
    Role,
    Settings,
    SyncLink,
    User,
    WeekdaySchedule,
)
from ble_lock.core.store import codec

if TYPE_CHECKING:
    from ble_lock.core.store import Store

__all__ = ["APPLICATION_ID", "CREDENTIAL_COLUMNS", "MIGRATIONS", "SCHEMA_VERSION", "USER_COLUMNS",
           "Migration", "SqliteStore"]

#: ``PRAGMA application_id`` of a ble-lock store ("BLK1"): tells our file from others.
APPLICATION_ID = 0x424C4B31

Migration = Callable[[sqlite3.Connection], None]
T = TypeVar("T")

_SCHEMA_V1 = """
CREATE TABLE users (number INTEGER PRIMARY KEY, record BLOB NOT NULL);
CREATE TABLE credentials (
    id INTEGER PRIMARY KEY,
    user_number INTEGER NOT NULL REFERENCES users (number) DEFERRABLE INITIALLY DEFERRED,
    kind INTEGER NOT NULL,
    record BLOB NOT NULL
);
CREATE INDEX credentials_by_user ON credentials (user_number);
CREATE TABLE settings (id INTEGER PRIMARY KEY CHECK (id = 0), record BLOB NOT NULL);
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE events (seq INTEGER PRIMARY KEY, record BLOB NOT NULL);
CREATE TABLE phone_counters (public_key BLOB PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE invites (
    id INTEGER PRIMARY KEY,
    user_number INTEGER NOT NULL REFERENCES users (number) DEFERRABLE INITIALLY DEFERRED,
    record BLOB NOT NULL
);
CREATE INDEX invites_by_user ON invites (user_number);
CREATE TABLE links (peer_lock_id BLOB PRIMARY KEY, record BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE applied (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    actor BLOB NOT NULL,
    request_id BLOB NOT NULL,
    result BLOB NOT NULL,
    UNIQUE (actor, request_id)
);
CREATE TABLE used_codes (code_id INTEGER PRIMARY KEY, valid_until REAL NOT NULL);
CREATE INDEX used_codes_by_expiry ON used_codes (valid_until);
"""


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    # Not executescript(): it would COMMIT the migration transaction half-way.
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _migrate_0_to_1(conn: sqlite3.Connection) -> None:
    """Version 1: the initial schema."""
    _run_script(conn, _SCHEMA_V1)


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    """Version 2: R-SYN-1 pending sync links. ``links.confirm_by`` mirrors the record's
    countdown deadline (NULL: confirmed), so pending links can be found without decoding
    every record. Links written before version 2 were confirmed by the admin's central
    under the old rules: they stay confirmed (NULL; their records lack the field, which
    loads as ``None``)."""
    conn.execute("ALTER TABLE links ADD COLUMN confirm_by REAL")
    conn.execute("CREATE INDEX links_pending ON links (confirm_by) WHERE confirm_by IS NOT NULL")


_USERS_V3 = """
CREATE TABLE users_v3 (
    number INTEGER PRIMARY KEY,
    name TEXT NOT NULL CHECK (typeof(name) = 'text'),
    role INTEGER NOT NULL CHECK (typeof(role) = 'integer'),
    valid_from REAL CHECK (typeof(valid_from) IN ('real', 'null')),
    valid_until REAL CHECK (typeof(valid_until) IN ('real', 'null')),
    schedules TEXT CHECK (typeof(schedules) IN ('text', 'null')),
    created_at REAL NOT NULL CHECK (typeof(created_at) = 'real')
)"""
_CREDENTIALS_V3 = """
CREATE TABLE credentials_v3 (
    id INTEGER PRIMARY KEY,
    kind INTEGER NOT NULL CHECK (typeof(kind) = 'integer'),
    user_number INTEGER NOT NULL REFERENCES users (number) DEFERRABLE INITIALLY DEFERRED
        CHECK (typeof(user_number) = 'integer'),
    digest BLOB NOT NULL CHECK (typeof(digest) = 'blob'),
    duress INTEGER NOT NULL CHECK (duress IN (0, 1)),
    label TEXT NOT NULL CHECK (typeof(label) = 'text'),
    length INTEGER NOT NULL CHECK (typeof(length) = 'integer'),
    public_key BLOB CHECK (typeof(public_key) IN ('blob', 'null')),
    revoked INTEGER NOT NULL CHECK (revoked IN (0, 1)),
    valid_from REAL CHECK (typeof(valid_from) IN ('real', 'null')),
    valid_until REAL CHECK (typeof(valid_until) IN ('real', 'null')),
    created_at REAL NOT NULL CHECK (typeof(created_at) = 'real')
)"""
#: Column lists in the records' field order (the row builders take them positionally).
USER_COLUMNS = "number, name, role, valid_from, valid_until, schedules, created_at"
CREDENTIAL_COLUMNS = (
    "id, kind, user_number, digest, duress, label, length, public_key, revoked, "
    "valid_from, valid_until, created_at"
)


def _migrate_2_to_3(conn: sqlite3.Connection) -> None:
    """Version 3: users and credentials in native columns, not JSON blobs (issue 15:
    opening 10,000 users and 40,000 credentials spent most of its time parsing JSON).
    The SQLite recipe for a changed table (new table, copy, drop, rename), run by
    :meth:`SqliteStore._apply_migrations` with foreign keys off and checked before the
    commit. The ``CHECK`` constraints keep each column's type, so a row always loads."""
    conn.execute(_USERS_V3)
    conn.execute(_CREDENTIALS_V3)
    # Each table decoded in one go (codec.loads_many: one JSON parse, generated decoders).
    blobs = [_as_bytes(r[0]) for r in conn.execute("SELECT record FROM users ORDER BY number")]
    conn.executemany(
        # column lists are this module's constants, values travel as parameters
        f"INSERT INTO users_v3 ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
        map(_user_row, codec.loads_many(User, blobs)),
    )
    blobs = [_as_bytes(r[0]) for r in conn.execute("SELECT record FROM credentials ORDER BY id")]
    conn.executemany(
        f"INSERT INTO credentials_v3 ({CREDENTIAL_COLUMNS}) "  # noqa: S608 -- as above
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        map(_credential_row, codec.loads_many(Credential, blobs)),
    )
    del blobs
    conn.execute("DROP TABLE credentials")
    conn.execute("DROP TABLE users")
    conn.execute("ALTER TABLE users_v3 RENAME TO users")
    conn.execute("ALTER TABLE credentials_v3 RENAME TO credentials")
    conn.execute("CREATE INDEX credentials_by_user ON credentials (user_number)")


def _user_row(u: User) -> tuple[object, ...]:
    schedules = codec.dumps(u.schedules).decode() if u.schedules else None
    return (u.number, u.name, int(u.role), _real(u.valid_from), _real(u.valid_until),
            schedules, float(u.created_at))


def _credential_row(c: Credential) -> tuple[object, ...]:
    return (c.id, int(c.kind), c.user_number, bytes(c.digest), int(c.duress), c.label,
            c.length, None if c.public_key is None else bytes(c.public_key), int(c.revoked),
            _real(c.valid_from), _real(c.valid_until), float(c.created_at))


def _real(value: float | None) -> float | None:
    return None if value is None else float(value)


_SCHEDULES_TYPE = tuple[WeekdaySchedule, ...]


def _schedules(text: str) -> tuple[WeekdaySchedule, ...]:
    return cast(_SCHEDULES_TYPE, codec.from_jsonable(_SCHEDULES_TYPE, json.loads(text)))


_ROLES = {m.value: m for m in Role}
_KINDS = {m.value: m for m in CredentialKind}
_BOOLS = {0: False, 1: True}
# Row -> record, generated once (KeyError for an unknown role or kind: a corrupt row).
_build_user = codec.row_builder(
    User,
    {"role": "roles[{}]", "schedules": "(() if {0} is None else schedules({0}))"},
    {"roles": _ROLES, "schedules": _schedules},
)
_build_credential = codec.row_builder(
    Credential,
    {"kind": "kinds[{}]", "duress": "bools[{}]", "revoked": "bools[{}]"},
    {"kinds": _KINDS, "bools": _BOOLS},
)

_RESET_TABLES = (
    "credentials", "invites", "users", "settings", "links", "applied", "used_codes",
)  # fmt: skip

#: ``MIGRATIONS[i]`` takes a store from schema version ``i`` to ``i + 1``. Append only.
MIGRATIONS: tuple[Migration, ...] = (_migrate_0_to_1, _migrate_1_to_2, _migrate_2_to_3)
SCHEMA_VERSION = len(MIGRATIONS)


def _storage_error(action: str, exc: BaseException) -> StorageError:
    text = str(exc)
    corrupt = isinstance(exc, sqlite3.DatabaseError) and (
        "not a database" in text or "malformed" in text
    )
    code = ErrorCode.STORAGE_CORRUPT if corrupt else ErrorCode.STORAGE_ERROR
    return StorageError(f"lock store: {action} failed: {text}", code=code)


def _corrupt(message: str) -> StorageError:
    return StorageError(f"lock store: {message}", code=ErrorCode.STORAGE_CORRUPT)


class SqliteStore:
    """A :class:`~ble_lock.core.store.Store` in one SQLite file (or ``":memory:"``).

    ``migrations`` replaces :data:`MIGRATIONS` (tests of the migration hook only).
    ``check`` runs ``PRAGMA quick_check`` on open, so damage is reported up front:
    ``True`` always, ``False`` never, ``None`` (the default) when the previous run did
    not close the file cleanly. The clean-shutdown marker is SQLite's own: the last
    connection to close a WAL database checkpoints the WAL into it, syncs it and deletes
    the ``-wal`` file, so a ``-wal`` file found before connecting means a connection
    did not close -- a crash, a kill, a power cut (the only moments a page can be torn),
    or another process that still has the store open -- and the check runs. It costs no
    write and no fsync. Damage that appears after a clean close (a failing medium) is
    found by the first read of the damaged page, as ``STORAGE_CORRUPT`` naming the file;
    the lock reads its users and credentials on open. :attr:`checked` tells whether
    this open ran the check (issue 15: it is a sixth of opening 100,000 users).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        migrations: Sequence[Migration] | None = None,
        check: bool | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.path = str(path)
        self._migrations = tuple(MIGRATIONS if migrations is None else migrations)
        self._depth = 0
        self.commits = 0
        self.syncs = 0
        """Commits that wrote something: each is one fsync of the WAL (synchronous=FULL)
        and nothing else, barring an occasional checkpoint. A commit that changed no row
        writes no WAL frame, hence no fsync. Tests count the unlock path's sync points
        with it (issue 15: one per unlock)."""
        if check is None:  # before connecting: the first read opens (creates) the WAL
            check = self.path != ":memory:" and Path(self.path + "-wal").exists()
        self.checked = check
        """Whether this open ran ``PRAGMA quick_check`` (see ``check``)."""
        try:
            if self.path != ":memory:" and not Path(self.path).exists():
                # Owner-only from the first byte: the file holds the lock's key material.
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            self._conn = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(
                f"lock store: cannot open {self.path}: {exc}", code=ErrorCode.STORAGE_ERROR
            ) from exc
        try:
            version = self._configure(check=check)
        except sqlite3.Error as exc:
            self._conn.close()
            err = _storage_error(f"opening {self.path}", exc)
            if err.code is ErrorCode.STORAGE_CORRUPT:
                err = _corrupt(
                    f"{self.path} is not a ble-lock store (corrupt or not SQLite): {exc}"
                )
            raise err from exc
        except BaseException:
            self._conn.close()
            raise
        if version < len(self._migrations):
            self._apply_migrations(version)

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"

    def close(self) -> None:
        """Close the file; the store cannot be used afterwards."""
        self._conn.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return _as_int(self._pragma("user_version"))

    # -- opening -------------------------------------------------------------------------

    def _pragma(self, name: str) -> object:
        return self._conn.execute(f"PRAGMA {name}").fetchone()[0]

    def _configure(self, *, check: bool) -> int:
        """Check the file is ours and sound, set the pragmas; return its schema version."""
        app_id = _as_int(self._pragma("application_id"))
        if app_id not in (0, APPLICATION_ID):
            raise _corrupt(f"{self.path} belongs to another application (id {app_id:#x})")
        if check and self._pragma("quick_check") != "ok":
            raise _corrupt(
                f"{self.path} is damaged (integrity check failed); "
                "restore a backup or factory-reset the lock"
            )
        mode = self._pragma("journal_mode=WAL")
        if mode not in ("wal", "memory"):
            raise StorageError(f"lock store: no WAL journal on {self.path} (got {mode})")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        version, known = _as_int(self._pragma("user_version")), len(self._migrations)
        if version > known:
            raise StorageError(
                f"lock store: {self.path} has schema version {version}, newer than "
                f"this ble-lock understands ({known}); upgrade ble-lock",
                code=ErrorCode.STORAGE_VERSION,
            )
        tables = self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if version == 0 and tables:
            raise _corrupt(f"{self.path} holds tables but no ble-lock schema version")
        return version

    def _apply_migrations(self, version: int) -> None:
        """Steps ``version .. known-1`` in order, in one transaction: all or nothing."""
        step, known = version, len(self._migrations)
        try:
            # Foreign keys off while a step rebuilds a table (SQLite's recipe: a DROP
            # would otherwise delete the rows that reference it), checked before COMMIT.
            # The pragma is a no-op inside a transaction, hence outside it.
            self._conn.execute("PRAGMA foreign_keys=OFF")
            self._conn.execute("BEGIN IMMEDIATE")
            for step in range(version, known):
                self._migrations[step](self._conn)
            broken = self._conn.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise StorageError(f"lock store: dangling references after migrating: {broken}")
            self._conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            self._conn.execute(f"PRAGMA user_version={known}")
            self._conn.execute("COMMIT")
            self._conn.execute("PRAGMA foreign_keys=ON")
        except Exception as exc:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            self._conn.close()
            raise StorageError(
                f"lock store: migrating {self.path} from schema version {step} to "
                f"{step + 1} failed (nothing changed): {exc}"
            ) from exc

    # -- transactions --------------------------------------------------------------------

    def transaction(self) -> AbstractContextManager[None]:
        """Commit on normal exit, roll back if the block raises; nested calls join."""
        return self._transaction()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._call("begin", lambda: self._conn.execute("BEGIN IMMEDIATE"))
        self._depth = 1
        changes = self._conn.total_changes
        try:
            yield
        except BaseException:
            self._depth = 0
            self._rollback()
            raise
        self._depth = 0
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise _storage_error("commit (nothing was written)", exc) from exc
        self.commits += 1
        if self._conn.total_changes != changes:
            self.syncs += 1

    @property
    def changes(self) -> int:
        """See :attr:`Store.changes` (SQLite's ``total_changes``)."""
        return self._conn.total_changes

    def savepoint(self) -> AbstractContextManager[None]:
        """See :meth:`Store.savepoint` (SQL ``SAVEPOINT``: no fsync of its own)."""
        return self._savepoint()

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        if not self._depth:
            with self._transaction():
                yield
            return
        self._call("savepoint", lambda: self._conn.execute("SAVEPOINT attempt"))
        try:
            yield
        except BaseException:
            self._call("rollback to savepoint", self._undo_savepoint)
            raise
        self._call("release savepoint", lambda: self._conn.execute("RELEASE attempt"))

    def _undo_savepoint(self) -> None:
        self._conn.execute("ROLLBACK TO attempt")
        self._conn.execute("RELEASE attempt")

    def _rollback(self) -> None:
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            raise _storage_error("rollback", exc) from exc

    def _call(self, action: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (sqlite3.Error, OverflowError) as exc:
            err = _storage_error(action, exc)
            if err.code is ErrorCode.STORAGE_CORRUPT:
                err = _corrupt(
                    f"{self.path} is damaged ({action} failed: {exc}); "
                    "restore a backup or factory-reset the lock"
                )
            raise err from exc

    def _write(self, action: str, sql: str, params: Sequence[object] = ()) -> int:
        if not self._depth:
            raise StorageError(
                f"lock store: {action} outside a transaction", code=ErrorCode.STORAGE_ERROR
            )
        return self._call(action, lambda: self._conn.execute(sql, params).rowcount)

    def _rows(self, action: str, sql: str, params: Sequence[object] = ()) -> list[Any]:
        return self._call(action, lambda: self._conn.execute(sql, params).fetchall())

    # Table and column names below are constants of this module, never input: the
    # f-strings cannot inject (values always travel as parameters).
    def _put(self, table: str, columns: str, *values: object) -> None:
        """Insert, or update in place (an update keeps the row's age order)."""
        key, *rest = columns.split(", ")
        updates = ", ".join(f"{c} = excluded.{c}" for c in rest)
        marks = ", ".join("?" * len(values))
        sql = f"INSERT INTO {table} ({columns}) VALUES ({marks}) "  # noqa: S608 -- see above
        self._write(f"write {table}", sql + f"ON CONFLICT ({key}) DO UPDATE SET {updates}", values)

    def _delete(self, table: str, where: str, *values: object) -> int:
        sql = f"DELETE FROM {table} WHERE {where}"  # noqa: S608 -- see above
        return self._write(f"deleting in {table}", sql, values)

    def _get(self, table: str, column: str, key: str, value: object) -> object | None:
        sql = f"SELECT {column} FROM {table} WHERE {key} = ?"  # noqa: S608 -- see above
        rows = self._rows(f"read {table}", sql, (value,))
        return rows[0][0] if rows else None

    def _load(self, cls: type[T], table: str, order: str) -> list[T]:
        sql = f"SELECT record FROM {table} ORDER BY {order}"  # noqa: S608 -- see above
        # One JSON parse and generated decoders for the whole table (issue 15: opening
        # a lock with 10,000 users and 40,000 credentials).
        return codec.loads_many(cls, [_as_bytes(r[0]) for r in self._rows(f"read {table}", sql)])

    # -- users and credentials (R-USR-*, R-CRD-*) ------------------------------------------

    def _load_rows(self, cls: type[T], build: Callable[..., T], table: str, columns: str,
                   key: str) -> list[T]:
        sql = f"SELECT {columns} FROM {table} ORDER BY {key}"  # noqa: S608 -- see above
        # Native columns, one generated builder per row, no JSON (issue 15: opening a
        # lock with 10,000 users and 40,000 credentials).
        with codec.gc_paused():
            rows = self._rows(f"read {table}", sql)
            try:
                return list(starmap(build, rows))
            except (KeyError, ValueError, TypeError) as exc:
                bad = next((r[0] for r in rows if not _builds(build, r)), "?")
                raise StorageError(
                    f"corrupt {cls.__name__} record ({table} {key} {bad}): {exc!r}",
                    code=ErrorCode.STORAGE_ERROR,
                ) from exc

    def load_users(self) -> list[User]:
        return self._load_rows(User, _build_user, "users", USER_COLUMNS, "number")

    def put_user(self, user: User) -> None:
        self._put("users", USER_COLUMNS, *_user_row(user))

    def delete_user(self, number: int) -> None:
        self._delete("users", "number = ?", number)

    def load_credentials(self) -> list[Credential]:
        return self._load_rows(
            Credential, _build_credential, "credentials", CREDENTIAL_COLUMNS, "id"
        )

    def put_credential(self, credential: Credential) -> None:
        self._put("credentials", CREDENTIAL_COLUMNS, *_credential_row(credential))

    def delete_credential(self, credential_id: int) -> None:
        self._delete("credentials", "id = ?", credential_id)

    # -- settings, counters, secrets -----------------------------------------------------

    def load_settings(self) -> Settings | None:
        blob = self._get("settings", "record", "id", 0)
        return None if blob is None else codec.loads(Settings, _as_bytes(blob))

    def put_settings(self, settings: Settings) -> None:
        self._put("settings", "id, record", 0, codec.dumps(settings))

    def get_counter(self, name: str) -> int:
        value = self._get("counters", "value", "name", name)
        return 0 if value is None else _as_int(value)

    def set_counter(self, name: str, value: int) -> None:
        self._put("counters", "name, value", name, value)

    def get_secret(self, name: str) -> bytes | None:
        value = self._get("secrets", "value", "name", name)
        return None if value is None else _as_bytes(value)

    def put_secret(self, name: str, value: bytes) -> None:
        self._put("secrets", "name, value", name, bytes(value))

    def delete_secret(self, name: str) -> None:
        self._delete("secrets", "name = ?", name)

    # -- event log (R-APP-6) -------------------------------------------------------------

    def append_event(self, event: LockEvent, *, keep: int) -> int:
        self._put("events", "seq, record", event.seq, codec.dumps(event))
        return self._delete(
            "events",
            "seq IN (SELECT seq FROM events ORDER BY seq DESC LIMIT -1 OFFSET ?)",
            max(keep, 0),
        )

    def events_after(self, seq: int, limit: int) -> list[LockEvent]:
        sql = "SELECT record FROM events WHERE seq > ? ORDER BY seq LIMIT ?"
        rows = self._rows("read events", sql, (seq, max(limit, 0)))
        return [codec.loads(LockEvent, _as_bytes(r[0]), upgrade=_upgrade_event) for r in rows]

    # -- phone replay counters -----------------------------------------------------------

    def get_phone_counter(self, public_key: bytes) -> int:
        value = self._get("phone_counters", "value", "public_key", bytes(public_key))
        return 0 if value is None else _as_int(value)

    def set_phone_counter(self, public_key: bytes, value: int) -> None:
        self._put("phone_counters", "public_key, value", bytes(public_key), value)

    def delete_phone_counter(self, public_key: bytes) -> None:
        self._delete("phone_counters", "public_key = ?", bytes(public_key))

    # -- Bluetooth-key invites, sync links -----------------------------------------------

    def load_invites(self) -> list[Invite]:
        return self._load(Invite, "invites", "id")

    def put_invite(self, invite: Invite) -> None:
        i = invite
        self._put("invites", "id, user_number, record", i.id, i.user_number, codec.dumps(i))

    def delete_invite(self, invite_id: int) -> None:
        self._delete("invites", "id = ?", invite_id)

    def load_links(self) -> list[SyncLink]:
        return self._load(SyncLink, "links", "peer_lock_id")

    def put_link(self, link: SyncLink) -> None:
        self._put("links", "peer_lock_id, record, confirm_by", bytes(link.peer_lock_id),
                  codec.dumps(link), link.confirm_by)

    def delete_link(self, peer_lock_id: bytes) -> None:
        self._delete("links", "peer_lock_id = ?", bytes(peer_lock_id))

    # -- idempotency records -------------------------------------------------------------

    def get_applied(self, actor: bytes, request_id: bytes) -> bytes | None:
        sql = "SELECT result FROM applied WHERE actor = ? AND request_id = ?"
        rows = self._rows("read applied", sql, (bytes(actor), bytes(request_id)))
        return _as_bytes(rows[0][0]) if rows else None

    def put_applied(self, actor: bytes, request_id: bytes, result: bytes, *, keep: int) -> None:
        actor = bytes(actor)
        self._write(
            "write applied",
            "INSERT INTO applied (actor, request_id, result) VALUES (?, ?, ?) "
            "ON CONFLICT (actor, request_id) DO UPDATE SET result = excluded.result",
            (actor, bytes(request_id), bytes(result)),
        )
        self._delete(
            "applied",
            "actor = ? AND n NOT IN "
            "(SELECT n FROM applied WHERE actor = ? ORDER BY n DESC LIMIT ?)",
            actor, actor, max(keep, 0),
        )  # fmt: skip

    # -- used one-time visitor codes (R-APP-4) -------------------------------------------

    def is_code_used(self, code_id: int) -> bool:
        return self._get("used_codes", "1", "code_id", code_id) is not None

    def mark_code_used(self, code_id: int, valid_until: float) -> None:
        self._put("used_codes", "code_id, valid_until", code_id, float(valid_until))

    def prune_used_codes(self, before: float) -> int:
        return self._delete("used_codes", "valid_until < ?", float(before))

    # -- factory reset (R-SEC-5) ---------------------------------------------------------

    def factory_reset(self, *, keep_secrets: Container[str]) -> None:
        """Everything but events, counters and the named secrets (see the Protocol)."""
        for table in _RESET_TABLES:
            self._delete(table, "1")
        for (name,) in self._rows("read secrets", "SELECT name FROM secrets"):
            if not isinstance(name, str) or name not in keep_secrets:
                self._delete("secrets", "name = ?", name)


def _upgrade_event(value: Any) -> Any:
    """An event row written before details were typed holds ``detail`` as text: it loads
    as a :class:`Note` with that text (the wire renders it unchanged), "" as no detail."""
    if isinstance(value, dict) and isinstance(value.get("detail"), str):
        text = value["detail"]
        value = {**value, "detail": {codec.TAG_KEY: Note.TAG, "text": text} if text else None}
    return value


def _builds(build: Callable[..., object], row: Sequence[object]) -> bool:
    try:
        build(*row)
    except (KeyError, ValueError, TypeError):
        return False
    return True


def _as_bytes(value: object) -> bytes:
    if not isinstance(value, bytes):
        raise _corrupt(f"expected a blob, found {type(value).__name__}")
    return value


def _as_int(value: object) -> int:
    if not isinstance(value, int):
        raise _corrupt(f"expected an integer, found {type(value).__name__}")
    return value


if TYPE_CHECKING:

    def _conforms(store: SqliteStore) -> Store:
        return store
