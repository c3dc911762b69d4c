"""The phone's keystore: its identity key and what it knows about each paired lock.

File format (``keystore.json``, UTF-8 JSON, mode 0600, documented in
``docs/keystore.md``)::

    {
      "format": "ble-lock-keystore",
      "version": 1,
      "phone": {"private_key": "<hex, 32 bytes>", "public_key": "<hex, 32 bytes>"},
      "locks": {
        "<lock id>": {
          "lock_id": "...", "name": "...", "address": "AA:BB:..." | null,
          "lock_public_key": "<hex>", "user_no": 1 | null, "role": "admin" | null,
          "counter": 17, "visitor_secret": "<hex>" | null, "paired_at": 1732190000.0,
          "pending": false
        }
      }
    }

Every change is written atomically (temporary file in the same folder, fsync, rename, fsync
of the folder) under an exclusive lock of a sibling ``.lock`` file, so two processes using
the same keystore never lose each other's updates and a crash leaves either the old or the
new file, never a torn one. ``counter`` is the highest replay counter (for 1-round-trip
unlocks with that lock) this phone may have handed out: :meth:`Keystore.next_counter`
reserves counters in blocks of :data:`COUNTER_BLOCK`, persisting the top of a block
*before* it returns the block's first value, and hands out the rest from memory (no write,
no fsync per unlock: issue 15). A crash or restart skips what is left of a block, never
reuses a value: a counter value is never sent twice. ``pending`` marks a pairing in
doubt: the record was written before the message that makes the lock bind this phone
(PAIR3), and no session has proven it yet (``docs/keystore.md``, "Pending pairings").
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ble_lock.core.errors import ErrorCode, TransportError

__all__ = [
    "COUNTER_BLOCK",
    "ENV_HOME",
    "Keystore",
    "KeystoreError",
    "LockRecord",
    "PhoneIdentity",
    "default_home",
    "lock_key",
]

ENV_HOME = "BLE_LOCK_HOME"
_FORMAT = "ble-lock-keystore"
_VERSION = 1
_FILE = "keystore.json"
#: Replay counters reserved per keystore write. A crash skips at most this many minus one
#: (the lock accepts any larger counter; 2^63 values); two processes sharing a keystore
#: reserve disjoint blocks, and the one whose counters fell behind gets a resync.
COUNTER_BLOCK = 64
#: The durability steps of a keystore write, in order (:class:`Keystore` ``step`` hook).
STEPS = ("temp written", "temp synced", "renamed", "folder synced")


def lock_key(lock_id: bytes) -> str:
    """The keystore's name for a lock id (upper-case hex, as on the lock's label)."""
    return lock_id.hex().upper()


class KeystoreError(TransportError):
    """The keystore file is unreadable, of an unknown format, or too open."""

    default_code = ErrorCode.KEYSTORE_ERROR


@dataclass(frozen=True, slots=True, kw_only=True)
class PhoneIdentity:
    """The phone's static X25519 key pair; the private half never appears in a repr."""

    private_key: bytes = field(repr=False)
    public_key: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class LockRecord:
    """What the phone keeps about one paired lock."""

    lock_id: str
    name: str
    lock_public_key: bytes
    address: str | None = None
    user_no: int | None = None
    role: str | None = None
    counter: int = 0
    visitor_secret: bytes | None = field(default=None, repr=False)
    paired_at: float = 0.0
    pending: bool = False
    """Written before PAIR3 left (two-phase pairing); False once a session with this key
    was established, which proves the lock bound it (docs/keystore.md)."""


def default_home() -> Path:
    """The platform's per-user data folder for ble-lock (``$BLE_LOCK_HOME`` overrides it)."""
    override = os.environ.get(ENV_HOME)
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = os.environ.get("APPDATA") or str(Path.home() / "AppData" / "Roaming")
        return Path(base) / "ble-lock"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "ble-lock"
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "ble-lock"


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


def _unhex(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise KeystoreError(f"keystore field {what!r} is not a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise KeystoreError(f"keystore field {what!r} is not valid hex") from exc


def _record_to_json(rec: LockRecord) -> dict[str, Any]:
    return {
        "lock_id": rec.lock_id,
        "name": rec.name,
        "address": rec.address,
        "lock_public_key": rec.lock_public_key.hex(),
        "user_no": rec.user_no,
        "role": rec.role,
        "counter": rec.counter,
        "visitor_secret": _hex(rec.visitor_secret),
        "paired_at": rec.paired_at,
        "pending": rec.pending,
    }


def _record_from_json(raw: Any) -> LockRecord:
    if not isinstance(raw, dict):
        raise KeystoreError("keystore lock entry is not an object")
    try:
        secret = raw.get("visitor_secret")
        return LockRecord(
            lock_id=str(raw["lock_id"]),
            name=str(raw["name"]),
            address=None if raw.get("address") is None else str(raw["address"]),
            lock_public_key=_unhex(raw["lock_public_key"], "lock_public_key"),
            user_no=None if raw.get("user_no") is None else int(raw["user_no"]),
            role=None if raw.get("role") is None else str(raw["role"]),
            counter=int(raw.get("counter", 0)),
            visitor_secret=None if secret is None else _unhex(secret, "visitor_secret"),
            paired_at=float(raw.get("paired_at", 0.0)),
            pending=raw.get("pending", False) is True,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise KeystoreError(f"keystore lock entry is malformed: {exc}") from exc


def _entry(data: dict[str, Any], lock_id: str) -> dict[str, Any]:
    raw = data["locks"].get(lock_id)
    if not isinstance(raw, dict):
        raise KeystoreError(f"no lock {lock_id!r} in the keystore", code=ErrorCode.NOT_PAIRED)
    return raw


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """An inter-process exclusive lock on ``lock_path`` (POSIX flock, Windows msvcrt)."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock on every platform


class Keystore:
    """A keystore file in ``home`` (default: :func:`default_home`).

    Reads go to the file each time (another process may have changed it); every mutation
    is a locked read-modify-write with an atomic replace.
    """

    def __init__(self, home: Path | None = None, *, counter_block: int = COUNTER_BLOCK,
                 step: Callable[[str], None] | None = None) -> None:
        """``counter_block``: replay counters reserved per write (>= 1). ``step``: called
        with each of :data:`STEPS` as a write reaches it (tests inject a crash there)."""
        if counter_block < 1:
            raise ValueError("counter_block must be at least 1")
        self.home = home if home is not None else default_home()
        self.path = self.home / _FILE
        self._lock_path = self.home / ".keystore.lock"
        self._block = counter_block
        self._step = step
        # lock id -> (next counter to hand out, last one reserved on disk)
        self._reserved: dict[str, tuple[int, int]] = {}

    def __repr__(self) -> str:
        return f"Keystore({str(self.path)!r})"

    # -- reading -------------------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {"format": _FORMAT, "version": _VERSION, "phone": None, "locks": {}}
        if sys.platform != "win32" and st.st_mode & 0o077:
            raise KeystoreError(
                f"{self.path} is readable by other users (mode {st.st_mode & 0o777:o}); "
                f"run: chmod 600 {self.path}"
            )
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise KeystoreError(f"cannot read keystore {self.path}: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise KeystoreError(f"{self.path} is not a ble-lock keystore")
        if data.get("version") != _VERSION:
            raise KeystoreError(
                f"{self.path} has keystore version {data.get('version')!r}; "
                f"this ble-lock reads version {_VERSION}"
            )
        if not isinstance(data.get("locks"), dict):
            raise KeystoreError(f"{self.path}: 'locks' is not an object")
        return data

    def identity(self) -> PhoneIdentity | None:
        """The phone's key pair, or None before :meth:`ensure_identity`."""
        phone = self._load().get("phone")
        if phone is None:
            return None
        if not isinstance(phone, dict):
            raise KeystoreError("keystore 'phone' entry is not an object")
        return PhoneIdentity(
            private_key=_unhex(phone.get("private_key"), "private_key"),
            public_key=_unhex(phone.get("public_key"), "public_key"),
        )

    def locks(self) -> list[LockRecord]:
        """Every paired lock, sorted by name then id."""
        recs = [_record_from_json(v) for v in self._load()["locks"].values()]
        return sorted(recs, key=lambda r: (r.name, r.lock_id))

    def get(self, lock_id: str) -> LockRecord | None:
        raw = self._load()["locks"].get(lock_id)
        return None if raw is None else _record_from_json(raw)

    # -- writing -------------------------------------------------------------------------
    @contextlib.contextmanager
    def _mutate(self) -> Iterator[dict[str, Any]]:
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _exclusive(self._lock_path):
            data = self._load()
            yield data
            self._write(data)

    def _write(self, data: dict[str, Any]) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".keystore-", suffix=".tmp", dir=self.home)
        try:
            if sys.platform != "win32":
                os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=2, sort_keys=True)
                fh.write("\n")
                fh.flush()
                self._reached("temp written")
                os.fsync(fh.fileno())
            self._reached("temp synced")
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        self._reached("renamed")
        if sys.platform != "win32":
            # Make the rename itself durable.
            dfd = os.open(self.home, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        self._reached("folder synced")

    def _reached(self, step: str) -> None:
        if self._step is not None:
            self._step(step)

    def ensure_identity(self, generate: Callable[[], PhoneIdentity]) -> PhoneIdentity:
        """Return the phone's key pair, creating it with ``generate`` on first use.

        Only the first use writes: a keystore that has it is read, not rewritten (a
        gateway opens one client per lock; rewriting every record with two fsyncs each
        time was most of its CPU per event, issue 15)."""
        found = self.identity()
        if found is not None:
            return found  # written once, never changed: no lock needed to read it
        with self._mutate() as data:
            phone = data.get("phone")
            if phone is None:
                ident = generate()
                data["phone"] = {
                    "private_key": ident.private_key.hex(),
                    "public_key": ident.public_key.hex(),
                }
                return ident
        found = self.identity()
        assert found is not None
        return found

    def put(self, record: LockRecord) -> None:
        """Add or replace the record of one lock."""
        self._reserved.pop(record.lock_id, None)
        with self._mutate() as data:
            data["locks"][record.lock_id] = _record_to_json(record)

    def update(self, lock_id: str, **changes: Any) -> LockRecord:
        """Change fields of one lock's record; unknown lock -> :class:`KeystoreError`."""
        with self._mutate() as data:
            raw = _entry(data, lock_id)
            rec = replace(_record_from_json(raw), **changes)
            data["locks"][lock_id] = _record_to_json(rec)
            return rec

    def remove(self, lock_id: str) -> bool:
        """Forget a lock; returns whether it was there."""
        self._reserved.pop(lock_id, None)
        with self._mutate() as data:
            return data["locks"].pop(lock_id, None) is not None

    def next_counter(self, lock_id: str) -> int:
        """The next replay counter for ``lock_id``, never returned before by any process.

        From this keystore's reserved block if one is left (no I/O); else a new block of
        ``counter_block`` values above the stored counter is persisted (one locked write)
        *before* its first value is returned. Unknown lock -> :class:`KeystoreError`."""
        held = self._reserved.get(lock_id)
        if held is not None and held[0] <= held[1]:
            value, top = held
            self._reserved[lock_id] = (value + 1, top)
            return value
        with self._mutate() as data:
            raw = _entry(data, lock_id)
            value = int(raw.get("counter", 0)) + 1
            top = value + self._block - 1
            raw["counter"] = top
        self._reserved[lock_id] = (value + 1, top)
        return value

    def raise_counter(self, lock_id: str, at_least: int) -> int:
        """After a resync from the lock: make the stored counter at least ``at_least``;
        the block held in memory is dropped (the next counter is reserved above it)."""
        self._reserved.pop(lock_id, None)
        with self._mutate() as data:
            raw = _entry(data, lock_id)
            raw["counter"] = max(int(raw.get("counter", 0)), at_least)
            return int(raw["counter"])

    # -- pending pairings (docs/keystore.md, "Pending pairings") ---------------------------

    def confirm_pending(self, lock_id: str, lock_public_key: bytes) -> bool:
        """Key confirmation: a session with the pending record of ``lock_id`` (lock key
        ``lock_public_key``) was answered, so the lock bound this phone; the record is
        final. Returns whether a pending record changed (a record replaced meanwhile, or
        already final, is left alone)."""
        with self._mutate() as data:
            raw = data["locks"].get(lock_id)
            if not isinstance(raw, dict) or raw.get("pending") is not True \
                    or raw.get("lock_public_key") != lock_public_key.hex():
                return False
            raw["pending"] = False
            return True

    def discard_pending(self, lock_id: str, lock_public_key: bytes,
                        restore: LockRecord | None = None) -> bool:
        """Undo a pending record whose PAIR3 never left (the lock cannot have bound this
        phone): put back ``restore`` (the record it replaced) or remove it. A record
        replaced or confirmed meanwhile is left alone. Returns whether it was undone."""
        with self._mutate() as data:
            raw = data["locks"].get(lock_id)
            if not isinstance(raw, dict) or raw.get("pending") is not True \
                    or raw.get("lock_public_key") != lock_public_key.hex():
                return False
            if restore is None:
                del data["locks"][lock_id]
            else:
                data["locks"][lock_id] = _record_to_json(
                    replace(restore, counter=max(restore.counter, int(raw.get("counter", 0)))))
            return True
