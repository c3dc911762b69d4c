"""Processes on a simulated host (a bless peripheral, or a central in its own process)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable
from typing import Protocol, TypeVar

from ble_lock.sim.errors import SimError

T = TypeVar("T")
_STREAM_LIMIT = 2**16  # asyncio's default StreamReader limit


async def start_child(
    *argv: str, env: dict[str, str] | None = None, cwd: str | None = None
) -> tuple[asyncio.subprocess.Process, asyncio.SubprocessTransport]:
    """``asyncio.create_subprocess_exec(*argv)`` (stdin empty, stdout/stderr piped), with its
    transport: asyncio's ``Process`` cannot close it, and one left open is only released
    (with a ``ResourceWarning``) when collected. Built from the public pieces instead."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.subprocess_exec(
        lambda: asyncio.subprocess.SubprocessStreamProtocol(limit=_STREAM_LIMIT, loop=loop),
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    return asyncio.subprocess.Process(transport, protocol, loop), transport


class BusHost(Protocol):
    """Where a process runs: a simulated ``Host``, or the machine's real system bus."""

    @property
    def name(self) -> str: ...

    def env(self) -> dict[str, str]: ...


class HostProcess:
    """A child process whose system bus is ``host``; its stdout is read line by line."""

    def __init__(
        self,
        host: BusHost,
        proc: asyncio.subprocess.Process,
        target: str,
        transport: asyncio.SubprocessTransport | None = None,
    ) -> None:
        self.host = host
        self.proc = proc
        self._transport = transport
        self.target = target
        self.lines: list[str] = []
        self.stderr = ""

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def read_line(self, timeout: float = 10.0) -> str:
        assert self.proc.stdout is not None
        try:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        except TimeoutError:
            raise SimError(f"{self.target}: no output within {timeout}s") from None
        if not raw:
            raise SimError(f"{self.target}: exited ({await self._exit_info()})")
        line = raw.decode(errors="replace").rstrip("\n")
        self.lines.append(line)
        return line

    async def expect(self, text: str, timeout: float = 10.0) -> str:
        """Read lines until one contains ``text``, all within ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            line = await self.read_line(max(0.0, deadline - loop.time()))
            if text in line:
                return line

    async def until(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable``, but fail at once (with its stderr) if the process exits first."""
        task = asyncio.ensure_future(awaitable)
        exited = asyncio.ensure_future(self.proc.wait())
        try:
            await asyncio.wait({task, exited}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            exited.cancel()
        if not task.done():
            task.cancel()
            raise SimError(f"{self.target}: exited ({await self._exit_info()})")
        return task.result()

    async def _exit_info(self) -> str:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), 5.0)
        if self.proc.stderr is not None:
            with contextlib.suppress(TimeoutError):
                self.stderr += (await asyncio.wait_for(self.proc.stderr.read(), 5.0)).decode(
                    errors="replace"
                )
        return f"rc={self.proc.returncode}, stderr={self.stderr[-2000:]!r}"

    async def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait, SIGKILL if needed; returns the exit code. Collects remaining output."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await self.proc.wait()
        for stream, is_err in ((self.proc.stdout, False), (self.proc.stderr, True)):
            if stream is None:
                continue
            with contextlib.suppress(Exception):
                rest = (await asyncio.wait_for(stream.read(), 5.0)).decode(errors="replace")
                if is_err:
                    self.stderr += rest
                else:
                    self.lines.extend(rest.splitlines())
        if self._transport is not None:
            self._transport.close()
        rc = self.proc.returncode
        assert rc is not None
        return rc


async def start_process(
    host: BusHost,
    *argv: str,
    name: str,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
) -> HostProcess:
    """Run ``argv`` with ``host`` as its system bus (``env`` added to ``host.env()``)."""
    full_env = host.env()
    full_env["PYTHONUNBUFFERED"] = "1"
    if env:
        full_env.update(env)
    proc, transport = await start_child(*argv, env=full_env, cwd=cwd)
    return HostProcess(host, proc, name, transport)


async def spawn(
    host: BusHost,
    target: str,
    *args: str,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
) -> HostProcess:
    """Start ``python -m ble_lock.sim.run target args...`` with ``host`` as its system bus."""
    return await start_process(
        host, sys.executable, "-m", "ble_lock.sim.run", target, *args, name=target, env=env, cwd=cwd
    )
