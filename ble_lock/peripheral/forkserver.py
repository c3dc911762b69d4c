"""Many emulator processes, started cheaply: ``python -m ble_lock.peripheral.forkserver``.

One process imports the emulator once (bless, dbus-fast, cryptography, the core and the
protocol), moves everything it allocated out of the garbage collector's reach
(``gc.freeze``: a collection in a child does not touch, hence does not copy, those pages)
and forks one child per request. Each child is a real emulator process
(:func:`ble_lock.peripheral.process.cli`, its own event loop, bus connection, store and
panel); the pages of the imports stay shared with the server until written, so a child's
private memory (USS) is what its own lock uses. A benchmark runs 50 locks this way on a
small machine (bench/gateway.py).

Protocol, one JSON object per line: on stdin ``{"argv": [...], "env": {...}, "stdout":
path, "stderr": path}`` (the child's arguments, its whole environment, and the files its
output is appended to); on stdout ``{"pid": N}`` per child. At end of input the server
sends SIGTERM to its children, waits for them and exits. Children that exit are reaped.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import signal
import sys
import traceback
from typing import Any

from ble_lock.peripheral import process

__all__ = ["PRELOAD", "serve"]

PRELOAD = ("shutil", "cryptography.hazmat.backends.openssl.backend")
"""Modules a running emulator imports only after its start (found with ``python -X
importtime``: the stdlib's ``shutil`` and ``cryptography``'s OpenSSL backend), imported by
the server too, so that their pages are shared rather than each child's own."""


def _child(request: dict[str, Any]) -> None:
    """In the forked child: become the emulator described by ``request``; never returns."""
    code = 1
    try:
        gc.enable()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in request["env"].items()})
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, key in ((1, "stdout"), (2, "stderr")):
            out = os.open(request[key], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(out, fd)
            os.close(out)
        os.close(null)
        code = process.cli([str(a) for a in request["argv"]])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # the child must never return into the server's loop
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def serve() -> int:
    """Read requests from stdin until its end, forking one emulator per request."""
    children: set[int] = set()

    def reap(*_: object) -> None:
        with contextlib.suppress(ChildProcessError):
            while children:
                pid, _status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    return
                children.discard(pid)

    for name in PRELOAD:
        importlib.import_module(name)
    gc.disable()
    gc.collect()
    gc.freeze()
    signal.signal(signal.SIGCHLD, reap)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        children.add(pid)
        print(json.dumps({"pid": pid}), flush=True)
    for pid in list(children):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for pid in list(children):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":  # pragma: no cover - the process entry
    sys.exit(serve())
