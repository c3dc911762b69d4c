"""The gateway's output: the JSON-lines event stream and the persisted cursors
(docs/flows.md, "Event stream").

Order of writes, per catch-up of one lock (the pages read in a row): the lines are
written and flushed page by page and made durable at the end. To a file, that fsync is
the commit: the cursors are recovered from the stream itself
(:class:`~ble_lock.gateway.cursors.StreamCursors`, exactly once, one fsync per batch).
To stdout, :class:`CursorStore` saves the lock's cursor after the batch atomically
(temporary file, fsync, rename, fsync of the directory): no event is skipped; one is
written twice only if the process dies between the two steps (the lines carry ``lock``
and ``seq``, so a reader can drop such a repeat).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from ble_lock.central.sync import describe_event
from ble_lock.core.errors import ErrorCode, StorageError
from ble_lock.wire import messages as m

__all__ = ["CursorStore", "EventSink", "event_line"]

_VERSION = 1
# one encoder for every line: json.dumps with separators builds a new one per call
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


def event_line(lock: str, name: str, record: m.EventRecord,
               names: Mapping[str, str]) -> dict[str, Any]:
    """One event as a stream object (never holds a secret: the log has none)."""
    return {
        "type": "event", "lock": lock, "name": name, "seq": record.seq,
        "at_ms": record.at_ms, "kind": record.kind.name,
        "user": record.user_number,
        "method": None if record.method is None else record.method.name,
        "duress": record.duress, "reason": record.reason,
        "credential": record.credential_id, "detail": record.detail,
        "text": describe_event(record, names),
    }


class EventSink:
    """JSON lines to stdout (``"-"``) or appended to a file."""

    def __init__(self, output: str = "-", *, stream: IO[str] | None = None) -> None:
        self._path = None if output == "-" else Path(output)
        self._own = False
        if stream is not None:
            self._out = stream
        elif self._path is None:
            self._out = sys.stdout
        else:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._out = self._path.open("a", encoding="utf-8")
            self._own = True
        self.lines = 0
        self._dirty = False

    def __repr__(self) -> str:
        return f"EventSink({str(self._path) if self._path else '-'}, lines={self.lines})"

    def write(self, objects: Iterable[Mapping[str, Any]], *, sync: bool = True) -> None:
        """Write and flush the lines; with ``sync`` also make them durable (fsync)."""
        text = "".join(_ENCODE(obj) + "\n" for obj in objects)
        if text:
            try:
                self._out.write(text)
                self._out.flush()
            except OSError as exc:
                raise StorageError(f"cannot write the event stream: {exc}",
                                   code=ErrorCode.STORAGE_ERROR) from exc
            self.lines += text.count("\n")
            self._dirty = True
        if sync:
            self.sync()

    def sync(self) -> None:
        """Make what was written durable (a file: fsync; stdout: flushed already)."""
        if not (self._own and self._dirty):
            return
        try:
            os.fsync(self._out.fileno())
        except OSError as exc:
            raise StorageError(f"cannot write the event stream: {exc}",
                               code=ErrorCode.STORAGE_ERROR) from exc
        self._dirty = False

    def close(self) -> None:
        if self._own:
            self._out.close()


class CursorStore:
    """Each lock's cursor (the ``next_cursor`` after its last streamed event)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._cursors: dict[str, int] = {}
        self._dirty = False
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            raise StorageError(f"cannot read the cursor file {path}: {exc}",
                               code=ErrorCode.STORAGE_CORRUPT) from exc
        cursors = raw.get("cursors") if isinstance(raw, dict) else None
        if raw.get("version") != _VERSION or not isinstance(cursors, dict) or not all(
                isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
                and v >= 0 for k, v in cursors.items()):
            raise StorageError(f"the cursor file {path} is damaged",
                               code=ErrorCode.STORAGE_CORRUPT)
        self._cursors = dict(cursors)

    def __repr__(self) -> str:
        return f"CursorStore({self.path}, locks={len(self._cursors)})"

    def get(self, lock: str) -> int:
        return self._cursors.get(lock, 0)

    def set(self, lock: str, cursor: int, *, persist: bool = True) -> None:
        """Record a lock's cursor; persist it (atomically) now or at :meth:`flush`."""
        if self._cursors.get(lock) != cursor:
            self._cursors[lock] = cursor
            self._dirty = True
        if persist:
            self.flush()

    def flush(self) -> None:
        """Persist the cursors if any changed since the last save."""
        if self._dirty:
            self._save()
            self._dirty = False

    def _save(self) -> None:
        data = json.dumps({"version": _VERSION, "cursors": self._cursors}, sort_keys=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
            with contextlib.suppress(OSError):  # not every platform opens directories
                dir_fd = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
        except OSError as exc:
            raise StorageError(f"cannot save the cursor file {self.path}: {exc}",
                               code=ErrorCode.STORAGE_ERROR) from exc
