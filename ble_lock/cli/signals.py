"""Ctrl-C and closed pipes, the same way in every command.

* Start-up (imports, argument parsing, ``--help``): :func:`ble_lock.cli.entry` makes SIGINT
  end the process at once with status 130 (:func:`ble_lock.cli.exit_at_once`); nothing has
  been changed yet, and a ``KeyboardInterrupt`` raised inside an import would print a
  traceback.
* A command's body (:func:`ble_lock.cli.app.run` / ``run_sync``) runs under
  :func:`interruptible`: SIGINT raises ``KeyboardInterrupt`` there (asyncio cancels the main
  task first), so ``finally`` blocks close the link and finish or undo what they must; the
  command then exits 130 without a traceback.
* Output to a pipe whose reader went away (``ble-lock events door | head -2``) ends the
  command quietly with 141 (128 + SIGPIPE, what a shell reports for a process killed by
  SIGPIPE). SIGPIPE itself stays ignored (Python's default): a D-Bus socket closed by its
  peer must be an error the client handles, not a silent death.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_INTERRUPTED",
    "interruptible",
    "pipe_closed",
    "silence_closed_pipes",
]

EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # 141


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within: SIGINT raises ``KeyboardInterrupt`` (Python's default handler, the one
    ``asyncio.run`` turns into a cancellation of the main task); the handler before is
    restored on the way out. Off the main thread (signals cannot be set there): as is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def _reader_gone(stream: IO[Any]) -> bool:
    """Whether ``stream`` is the write end of a pipe whose read end is closed: poll(2)
    reports POLLERR for it (Linux, macOS); elsewhere, whether a flush fails with EPIPE."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    try:
        stream.flush()
    except BrokenPipeError:
        return True
    except (OSError, ValueError):
        pass
    return False


def pipe_closed() -> bool:
    """Whether stdout or stderr is a pipe whose reader has gone. Tells a closed output
    pipe from a ``BrokenPipeError`` of a Bluetooth/D-Bus socket."""
    return _reader_gone(sys.stdout) or _reader_gone(sys.stderr)


def silence_closed_pipes() -> None:
    """Point stdout and stderr at /dev/null when their reader has gone, so the flush at
    exit does not fail again ("Exception ignored ... BrokenPipeError"): Python's
    documented remedy (the ``signal`` module docs, "Note on SIGPIPE")."""
    for stream in (sys.stdout, sys.stderr):
        if _reader_gone(stream):
            with contextlib.suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, stream.fileno())
                os.close(devnull)
