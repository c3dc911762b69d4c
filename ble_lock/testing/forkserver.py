"""Start emulator processes through ``python -m ble_lock.peripheral.forkserver``.

::

    async with ForkServer(tmp) as server:
        lock = await server.start(["--state-dir", d], env=host.env(), name="lock0")
        await lock.expect("ready", 30)
        ...                      # lock.pid, lock.lines, lock.stop()

Each child is a real emulator process (see ``ble_lock.peripheral.forkserver``); its
stdout and stderr are appended to ``<logs>/<name>.out`` and ``.err``, the server's
stderr to ``<logs>/forkserver.err``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from types import TracebackType

from ble_lock.core.errors import ErrorCode, TransportError

__all__ = ["ForkServer", "Forked"]


class Forked:
    """An emulator forked by the server; its output is in two files."""

    def __init__(self, pid: int, out: Path, err: Path) -> None:
        self.pid, self.out, self.err = pid, out, err

    def __repr__(self) -> str:
        return f"Forked(pid={self.pid})"

    @property
    def lines(self) -> list[str]:
        """Its stdout so far, line by line."""
        return self.out.read_text().splitlines() if self.out.exists() else []

    @property
    def stderr(self) -> str:
        return self.err.read_text() if self.err.exists() else ""

    async def expect(self, text: str, timeout: float) -> str:
        """The first stdout line holding ``text`` (polled: the output is a file)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = next((line for line in self.lines if text in line), None)
            if found is not None:
                return found
            if loop.time() > deadline:
                raise TransportError(f"emulator {self.pid}: no {text!r} in {timeout}s; "
                                     f"stderr {self.stderr[-2000:]!r}",
                                     code=ErrorCode.TIMEOUT)
            await asyncio.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM: the emulator stops advertising, closes its store, exits (reaped by
        the server)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)


class ForkServer:
    """The fork server as a child of this process (an async context manager)."""

    def __init__(self, logs: Path, *python_options: str) -> None:
        self.logs = logs
        self.stderr_path = logs / "forkserver.err"
        self._options = python_options
        self._proc: asyncio.subprocess.Process | None = None

    def __repr__(self) -> str:
        return f"ForkServer(pid={None if self._proc is None else self._proc.pid})"

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    async def __aenter__(self) -> ForkServer:
        self.logs.mkdir(parents=True, exist_ok=True)
        with self.stderr_path.open("ab") as err:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, *self._options, "-m", "ble_lock.peripheral.forkserver",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=err)
        return self

    async def start(self, argv: list[str], *, env: dict[str, str], name: str) -> Forked:
        """Fork one emulator with these arguments and this whole environment."""
        proc = self._proc
        assert proc is not None
        assert proc.stdin is not None
        assert proc.stdout is not None
        out, err = self.logs / f"{name}.out", self.logs / f"{name}.err"
        request = {"argv": argv, "env": env, "stdout": str(out), "stderr": str(err)}
        proc.stdin.write((json.dumps(request) + "\n").encode())
        await proc.stdin.drain()
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if not line:
            raise TransportError("the fork server exited", code=ErrorCode.CONNECTION_FAILED)
        return Forked(int(json.loads(line)["pid"]), out, err)

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        """End of input: the server stops its children, waits for them and exits."""
        proc = self._proc
        if proc is None:
            return
        assert proc.stdin is not None
        proc.stdin.close()
        await proc.wait()
