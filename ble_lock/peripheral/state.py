"""The emulator's state directory: the lock's store, static key, factory record, label.

Layout (every file the lock writes is ``0600``; atomic writes: temporary file, fsync,
rename, fsync of the directory where the platform allows it):

===============  ==========================================================================
``lock.db``      the core's :class:`~ble_lock.core.store.sqlite.SqliteStore` (users,
                 credentials, settings, events, replay counters; WAL, synchronous=FULL)
``lock_key``     the lock's static X25519 private key, 32 raw bytes
``factory.json`` the model profile (not secret)
``label.json``   what a real lock prints on its label: serial, lock id, setup code and
                 QR payload. The store keeps only the setup code's derived secret; the
                 label keeps the code itself, like the sticker inside a real lock's
                 battery cover, readable only by the owner of the state directory.
``panel.sock``   the front panel's control socket (``panel.addr`` names the address)
===============  ==========================================================================

First start (no ``lock.db``): the key and the provisioned store are written under
temporary names and ``lock.db`` appears last, by rename; a crash before that leaves a
directory that provisions from scratch at the next start, never a lock whose setup code
is lost.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ble_lock.core.clock import Rng as CoreRng
from ble_lock.core.errors import ErrorCode, InvalidInputError, StorageError
from ble_lock.core.lock import provision
from ble_lock.core.model import FactoryData
from ble_lock.core.profile import PROFILES
from ble_lock.core.store.sqlite import SqliteStore
from ble_lock.wire.security.crypto import KeyPair, fingerprint
from ble_lock.wire.security.pairing import QrPayload

__all__ = ["Label", "StateDir", "atomic_write"]

DB = "lock.db"
KEY = "lock_key"
FACTORY = "factory.json"
LABEL = "label.json"
PANEL_SOCK = "panel.sock"
PANEL_ADDR = "panel.addr"
_NEW = ".new"


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (mode 0600) so that a crash leaves the old or the new
    file, never a torn one."""
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    try:  # POSIX: make the rename durable; Windows cannot open a directory (no-op there)
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True, kw_only=True)
class Label:
    """The lock's label: the setup code and its QR payload (secrets: not in repr)."""

    serial: str
    lock_id: bytes
    setup_code: str = field(repr=False)
    qr: str = field(repr=False)

    def to_json(self) -> dict[str, str]:
        return {"serial": self.serial, "lock_id": self.lock_id.hex().upper(),
                "setup_code": self.setup_code, "qr": self.qr}

    def for_key(self, key: KeyPair) -> Label:
        """The same label with the QR payload of ``key``'s fingerprint (the QR carries
        the fingerprint of the lock's current static key)."""
        qr = QrPayload(lock_id=self.lock_id, setup_code=self.setup_code,
                       fingerprint=fingerprint(key.public)).to_text()
        return Label(serial=self.serial, lock_id=self.lock_id, setup_code=self.setup_code,
                     qr=qr)


@dataclass(frozen=True, slots=True, kw_only=True)
class Opened:
    """An opened state directory."""

    store: SqliteStore
    static_key: KeyPair = field(repr=False)
    profile: str
    first_start: bool
    label: Label | None  # None if the label file was removed by the owner


class StateDir:
    """Open (and on first start, provision) a lock's state directory."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"StateDir({str(self.path)!r})"

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def provisioned(self) -> bool:
        return self.file(DB).exists()

    def open(self, *, profile: str | None, rng: CoreRng) -> Opened:
        """Open the lock; provision it first if the directory holds none. ``profile``
        None means the stored one (``dl20vc`` for a new lock); a different profile than
        the stored one is refused (a lock does not change model)."""
        if profile is not None and profile not in PROFILES:
            raise InvalidInputError(f"unknown model profile {profile!r}",
                               code=ErrorCode.INVALID_ARGUMENT)
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"state directory {self.path}: {exc}") from exc
        first = not self.provisioned
        if first:
            self._provision(profile or "dl20vc", rng)
        stored = self._read_factory()
        if profile is not None and profile != stored:
            raise InvalidInputError(f"this lock is a {stored}, not a {profile}",
                               code=ErrorCode.INVALID_ARGUMENT)
        key = self._read_key()
        store = SqliteStore(self.file(DB))
        label = self.read_label()
        return Opened(store=store, static_key=key, profile=stored, first_start=first,
                      label=None if label is None else label.for_key(key))

    def rotate_key(self, rng: CoreRng) -> KeyPair:
        """A new static key (factory reset, ``docs/protocol.md`` key schedule); the label
        keeps its setup code, its QR gets the new fingerprint (recomputed on open, so a
        crash between the two writes cannot leave them inconsistent)."""
        key = KeyPair.from_private_bytes(rng.token_bytes(32))
        atomic_write(self.file(KEY), key.private_bytes())
        label = self.read_label()
        if label is not None:
            atomic_write(self.file(LABEL), json.dumps(label.for_key(key).to_json()).encode())
        return key

    def _provision(self, profile: str, rng: CoreRng) -> None:
        new_db = self.file(DB + _NEW)
        for leftover in (new_db, self.file(DB + _NEW + "-wal"), self.file(DB + _NEW + "-shm")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        key = KeyPair.from_private_bytes(rng.token_bytes(32))
        with SqliteStore(new_db) as store:
            factory = provision(store, rng)
        atomic_write(self.file(KEY), key.private_bytes())
        atomic_write(self.file(FACTORY), json.dumps({"version": 1, "profile": profile}).encode())
        atomic_write(self.file(LABEL), json.dumps(_label(factory, key).to_json()).encode())
        os.replace(new_db, self.file(DB))  # the lock exists from here on
        _fsync_dir(self.path)

    def _read_factory(self) -> str:
        try:
            data = json.loads(self.file(FACTORY).read_text())
            profile = data["profile"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StorageError(f"{self.file(FACTORY)}: unreadable factory record",
                               code=ErrorCode.STORAGE_CORRUPT) from exc
        if profile not in PROFILES:
            raise StorageError(f"{self.file(FACTORY)}: unknown profile",
                               code=ErrorCode.STORAGE_CORRUPT)
        return str(profile)

    def _read_key(self) -> KeyPair:
        try:
            raw = self.file(KEY).read_bytes()
        except OSError as exc:
            raise StorageError(f"{self.file(KEY)}: the lock's key is missing",
                               code=ErrorCode.STORAGE_CORRUPT) from exc
        if len(raw) != 32:
            raise StorageError(f"{self.file(KEY)}: not a 32-byte key",
                               code=ErrorCode.STORAGE_CORRUPT)
        return KeyPair.from_private_bytes(raw)

    def read_label(self) -> Label | None:
        try:
            data = json.loads(self.file(LABEL).read_text())
            return Label(serial=data["serial"], lock_id=bytes.fromhex(data["lock_id"]),
                         setup_code=data["setup_code"], qr=data["qr"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StorageError(f"{self.file(LABEL)}: unreadable label",
                               code=ErrorCode.STORAGE_CORRUPT) from exc


def _label(factory: FactoryData, key: KeyPair) -> Label:
    qr = QrPayload(lock_id=factory.lock_id, setup_code=factory.setup_code,
                   fingerprint=fingerprint(key.public)).to_text()
    return Label(serial=factory.serial, lock_id=factory.lock_id,
                 setup_code=factory.setup_code, qr=qr)
