"""One emulated lock per Bluetooth adapter: a claim the second emulator finds taken.

Why not several: BlueZ accepts several GATT applications and several advertisements on
one adapter (``org.bluez.GattManager``: an application is identified by its object path
*and* its bus connection; ``org.bluez.LEAdvertisingManager``: ``SupportedInstances``), but
it merges every application into the one GATT database of the adapter, served at the
adapter's one address. Two emulators on one adapter are therefore one device with two
copies of the lock service: a phone that connects cannot tell the locks apart (bleak
refuses the duplicate UUIDs: "Multiple Characteristics with this UUID"), and a scanner
keeps one advertisement per address, so the first lock vanishes from scans. bless adds
that each server renames the adapter (its ``Alias``) after itself. A lock is one
peripheral: docs/peripheral.md, "One adapter per lock".

The claim is an advisory ``flock`` on a file in the runtime directory
(``$XDG_RUNTIME_DIR/ble-lock``, else ``<tmp>/ble-lock-<uid>``) named after the D-Bus
daemon's id (``org.freedesktop.DBus.GetId``: the simulator's hosts each have their own
system bus) and the adapter. The kernel releases it when the process ends, SIGKILL
included, so a crashed emulator never blocks the next one. Platforms without ``fcntl``
(Windows) are not guarded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import IO

from ble_lock.core.errors import ErrorCode, TransportError

__all__ = ["AdapterClaim", "runtime_dir"]

_log = logging.getLogger(__name__)


def runtime_dir() -> Path:
    """Where the claims live: per user, cleared at reboot where the platform does."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base:
        return Path(base) / "ble-lock"
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"ble-lock-{uid}"


class AdapterClaim:
    """Holds ``adapter`` of the bus ``bus_id`` for one emulator until :meth:`release`.

    ``take()`` raises ``TransportError`` ``ADAPTER_IN_USE`` naming the emulator that holds
    it (its lock, state directory and pid, read from the claim file)."""

    def __init__(self, bus_id: str, adapter: str, *, directory: Path | None = None) -> None:
        self.bus_id = bus_id
        self.adapter = adapter
        digest = hashlib.sha256(f"{bus_id}\0{adapter}".encode()).hexdigest()[:20]
        self.path = (directory or runtime_dir()) / f"emulator-{digest}.lock"
        self._file: IO[str] | None = None
        self._info: dict[str, object] = {}

    def __repr__(self) -> str:
        return f"AdapterClaim({self.adapter!r}, held={self.held})"

    @property
    def held(self) -> bool:
        return self._file is not None

    def take(self, *, state_dir: Path) -> None:
        """Claim the adapter for the lock kept in ``state_dir``."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: one server per process anyway
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            file = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release
        except OSError as exc:  # no runtime directory: serve, but unguarded
            _log.warning("cannot claim adapter %s (%s): a second emulator on it would not be "
                         "refused", self.adapter, exc)
            return
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(file)
            file.close()
            raise TransportError(
                f"adapter {self.adapter} already serves {holder}: one lock per adapter",
                code=ErrorCode.ADAPTER_IN_USE,
                hint="stop that emulator, or give this one another adapter (--adapter hciN; "
                     "`ble-lock sim` makes hosts with their own adapters)") from None
        self._file = file
        self._info = {"pid": os.getpid(), "state_dir": str(state_dir)}
        self._write()

    def describe(self, lock_id: str) -> None:
        """Name the lock in the claim (once the state directory is open)."""
        self._info["lock_id"] = lock_id
        self._write()

    def _write(self) -> None:
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            self._file.write(json.dumps(self._info))
            self._file.flush()

    def release(self) -> None:
        """Give the adapter back (also done by the kernel when the process ends)."""
        file, self._file = self._file, None
        if file is not None:
            with contextlib.suppress(OSError):
                file.truncate(0)
            file.close()  # closing the descriptor drops the flock


def _holder(file: IO[str]) -> str:
    """Who holds the claim, as the claim file says (best effort: it may be mid-write)."""
    try:
        file.seek(0)
        info = json.loads(file.read() or "{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or "state_dir" not in info:
        return "another emulated lock"
    lock = f"lock {info['lock_id']}" if "lock_id" in info else "a lock"
    return f"{lock} (emulator pid {info.get('pid', '?')}, state {info['state_dir']})"
