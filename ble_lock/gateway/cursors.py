"""Cursors kept by the event stream itself: exactly once, one fsync per batch.

When the gateway writes its stream to a file, the file is the record of what was
streamed: every event line carries ``lock`` and ``seq``, and a lock's cursor is the
``seq`` of its last event (``LockEventPage.next_cursor``). So a batch (one catch-up of
one lock, the pages read in a row) is committed by **one** fsync of the stream file;
no second file has to be made durable after it, and there is no window between two
durable writes where a crash streams an event twice (the old order: lines, fsync,
then the cursor file, fsync, rename, fsync of the directory).

The state file (``state`` in the configuration) is only a checkpoint that spares a
restart the scan of the whole stream: ``{"version": 2, "cursors": {...}, "offset": N,
"inode": I}`` written atomically (temporary file, rename) after each commit but never
fsynced. On open, the cursors of the checkpoint are advanced by the event lines after
its ``offset`` (all of the file when the checkpoint is missing, older than the stream,
or from another file). A line cut short or unreadable at the end (a crash while
writing) is cut off the file before anything is appended: an event is in the stream
(whole) exactly when its lock's cursor counts it.

A version 1 cursor file (the old format, no offset) is read as a checkpoint at offset 0.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeGuard

from ble_lock.core.errors import ErrorCode, StorageError

__all__ = ["Step", "StreamCursors"]

_VERSION = 2
Step = Callable[[str], None]
"""A test's hook, called with ``"written"`` after a page's lines are written and its
cursor set (before the commit) and ``"committed"`` after the commit."""


class StreamCursors:
    """Each lock's cursor, recovered from the stream file ``output`` (see the module doc).

    The interface of :class:`~ble_lock.gateway.stream.CursorStore`: ``get``, ``set``
    (``persist`` ignored: the commit is the stream's fsync, see :meth:`flush`) and
    ``flush`` (the checkpoint, after the caller made the stream durable).
    """

    def __init__(self, state: Path, output: Path, *, step: Step | None = None) -> None:
        self.path = state
        self.output = output
        self._step = step
        self._dirty = False
        cursors, offset, inode = self._checkpoint()
        self._cursors = cursors
        self._recover(offset, inode)

    def __repr__(self) -> str:
        return f"StreamCursors({self.output}, locks={len(self._cursors)})"

    def get(self, lock: str) -> int:
        return self._cursors.get(lock, 0)

    def set(self, lock: str, cursor: int, *, persist: bool = True) -> None:
        """Record a lock's cursor (its lines are written already; the stream's fsync
        commits both)."""
        if self._cursors.get(lock) != cursor:
            self._cursors[lock] = cursor
            self._dirty = True
        if self._step is not None:
            self._step("written")

    def flush(self) -> None:
        """Save the checkpoint (no fsync: the stream, synced by the caller, is the
        record; a lost checkpoint only makes the next start scan further back)."""
        if not self._dirty:
            return
        self._dirty = False
        try:
            st = os.stat(self.output)
            offset, inode = st.st_size, st.st_ino
        except FileNotFoundError:  # moved away (log rotation): the next start scans all
            offset, inode = 0, None
        except OSError as exc:
            raise StorageError(f"cannot read the event stream {self.output}: {exc}",
                               code=ErrorCode.STORAGE_ERROR) from exc
        data = json.dumps({"version": _VERSION, "cursors": self._cursors,
                           "offset": offset, "inode": inode}, sort_keys=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(data)
            os.replace(tmp, self.path)
        except OSError as exc:
            raise StorageError(f"cannot save the cursor file {self.path}: {exc}",
                               code=ErrorCode.STORAGE_ERROR) from exc
        if self._step is not None:
            self._step("committed")

    def _checkpoint(self) -> tuple[dict[str, int], int, int | None]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}, 0, None
        except (OSError, ValueError) as exc:
            raise StorageError(f"cannot read the cursor file {self.path}: {exc}",
                               code=ErrorCode.STORAGE_CORRUPT) from exc
        cursors = raw.get("cursors") if isinstance(raw, dict) else None
        version = raw.get("version") if isinstance(raw, dict) else None
        if version not in (1, _VERSION) or not isinstance(cursors, dict) or not all(
                isinstance(k, str) and _count(v) for k, v in cursors.items()):
            raise StorageError(f"the cursor file {self.path} is damaged",
                               code=ErrorCode.STORAGE_CORRUPT)
        offset, inode = raw.get("offset", 0), raw.get("inode")
        if version == 1 or not _count(offset) or not (inode is None or _count(inode)):
            offset, inode = 0, None
        return dict(cursors), offset, inode

    def _recover(self, offset: int, inode: int | None) -> None:
        """Advance the cursors by the lines after ``offset``; cut a torn tail."""
        try:
            with open(self.output, "r+b") as f:
                st = os.fstat(f.fileno())
                if offset > st.st_size or (inode is not None and inode != st.st_ino):
                    offset = 0  # the checkpoint is not of this file (or ahead of it)
                if offset:
                    f.seek(offset - 1)
                    if f.read(1) != b"\n":
                        offset = 0
                f.seek(offset)
                good = offset
                for line in f:
                    seq = _event(line)
                    if seq is None:
                        break
                    good += len(line)
                    if seq[0] is not None and seq[1] > self._cursors.get(seq[0], 0):
                        self._cursors[seq[0]] = seq[1]
                if good < st.st_size:  # a crash while writing: cut the partial lines
                    f.truncate(good)
                    self._dirty = True
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StorageError(f"cannot read the event stream {self.output}: {exc}",
                               code=ErrorCode.STORAGE_ERROR) from exc


def _count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _event(line: bytes) -> tuple[str | None, int] | None:
    """``(lock, seq)`` of an event line, ``(None, 0)`` for another whole line, None for
    a line cut short or unreadable."""
    if not line.endswith(b"\n"):
        return None
    with contextlib.suppress(ValueError):
        obj = json.loads(line)
        if not isinstance(obj, dict):
            return None
        lock, seq = obj.get("lock"), obj.get("seq")
        if obj.get("type") == "event" and isinstance(lock, str) and _count(seq):
            return lock, seq
        return None, 0
    return None
