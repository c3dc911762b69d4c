"""What every command shares: the options (``--home``, ``--timeout``, ``-v``,
``--adapter``), the keystore, LOCK resolution (address, name or lock id), the backend
that reaches locks (Bluetooth by default; tests pass an in-memory one), and running a
coroutine with the one-line error handling of :mod:`ble_lock.cli.errors`."""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, Protocol, TypeVar

import click

from ble_lock.central.client import NOT_BOUND_CODES, LockClient
from ble_lock.central.discovery import LockAdvert, scan
from ble_lock.central.engine import lock_key
from ble_lock.central.keystore import Keystore, LockRecord
from ble_lock.cli.errors import CliError, exit_for
from ble_lock.cli.output import progress
from ble_lock.core.errors import ErrorCode, LockError, TransportError

__all__ = [
    "App",
    "Backend",
    "BleBackend",
    "Target",
    "command_runner",
    "connected",
    "paired",
    "pass_app",
    "resolve_lock",
    "run",
]

P = ParamSpec("P")
T = TypeVar("T")

_ADDRESS = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
_LOCK_ID = re.compile(r"^[0-9A-Fa-f]{8}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """What LOCK named: exactly one of address, name, lock id (as the scan will match)."""

    text: str
    address: str | None = None
    name: str | None = None
    lock_id: bytes | None = None


class Backend(Protocol):
    """How the command line reaches locks."""

    async def scan(self, *, timeout: float, adapter: str | None) -> list[LockAdvert]: ...

    async def client(self, target: Target, *, keystore: Keystore, timeout: float,
                     adapter: str | None) -> LockClient: ...


class BleBackend:
    """Bluetooth through bleak (BlueZ, macOS, Windows, or the simulator's BlueZ)."""

    async def scan(self, *, timeout: float, adapter: str | None) -> list[LockAdvert]:
        return await scan(timeout=timeout, adapter=adapter)

    async def client(self, target: Target, *, keystore: Keystore, timeout: float,
                     adapter: str | None) -> LockClient:
        return await LockClient.find(address=target.address, name=target.name,
                                     lock_id=target.lock_id, adapter=adapter,
                                     scan_timeout=timeout, keystore=keystore, timeout=timeout)


@dataclass(slots=True, kw_only=True)
class App:
    """The ``ctx.obj`` of every command."""

    home: Path | None = None
    timeout: float = 10.0
    verbose: int = 0
    adapter: str | None = None
    backend: Backend = field(default_factory=BleBackend)
    #: whether a person can be asked (hidden secret prompts, fingerprint confirmation);
    #: None: when stdin is a terminal. Tests set it.
    interactive: bool | None = None

    def can_ask(self) -> bool:
        """Whether prompts reach a person (stdin is a terminal, unless set)."""
        if self.interactive is not None:
            return self.interactive
        return sys.stdin.isatty()

    def keystore(self) -> Keystore:
        return Keystore(self.home)

    def state_home(self) -> Path:
        return self.keystore().home


pass_app = click.make_pass_decorator(App, ensure=True)


def setup_logging(verbose: int) -> None:
    if verbose:
        logging.basicConfig(level=logging.DEBUG if verbose > 1 else logging.INFO,
                            format="%(asctime)s %(name)s %(levelname)s %(message)s")


def run(app: App, coro: Coroutine[Any, Any, T]) -> T:
    """Run one command's coroutine; a failure becomes one line and its exit status."""
    try:
        return asyncio.run(coro)
    except (click.exceptions.Exit, click.ClickException, click.Abort):
        raise
    except KeyboardInterrupt:
        raise click.Abort() from None
    except Exception as exc:  # every failure ends as one line + exit status, by design
        raise click.exceptions.Exit(exit_for(exc, app.verbose)) from None


def command_runner(func: Callable[P, Awaitable[None]]) -> Callable[P, None]:
    """Turn ``async def cmd(app, ...)`` into a click callback run by :func:`run`."""

    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        app = click.get_current_context().find_object(App) or App()

        async def main() -> None:
            await func(*args, **kwargs)

        run(app, main())

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


def run_sync(app: App, func: Callable[[], None]) -> None:
    """Run a command that needs no event loop with the same error handling."""
    try:
        func()
    except (click.exceptions.Exit, click.ClickException, click.Abort):
        raise
    except Exception as exc:  # every failure ends as one line + exit status, by design
        raise click.exceptions.Exit(exit_for(exc, app.verbose)) from None


def resolve_lock(text: str, keystore: Keystore) -> Target:
    """LOCK: a Bluetooth address, 8 hex digits of lock id, the name given at pairing
    (keystore), or an advertised name."""
    text = text.strip()
    if not text:
        raise CliError("LOCK is empty: give an address, a name or a lock id")
    if _ADDRESS.match(text):
        return Target(text=text, address=text.upper())
    if _LOCK_ID.match(text):
        return Target(text=text, lock_id=bytes.fromhex(text))
    for record in keystore.locks():
        if record.name == text:
            return Target(text=text, lock_id=bytes.fromhex(record.lock_id))
    return Target(text=text, name=text)


@asynccontextmanager
async def connected(app: App, lock: str, *, keystore: Keystore | None = None
                    ) -> AsyncIterator[LockClient]:
    """A connected client for LOCK (spinner while scanning and connecting)."""
    ks = keystore if keystore is not None else app.keystore()
    target = resolve_lock(lock, ks)
    async with progress(f"looking for {lock}"):
        client = await app.backend.client(target, keystore=ks, timeout=app.timeout,
                                          adapter=app.adapter)
    try:
        async with progress(f"connecting to {client.address or lock}"):
            await client.connect()
        yield client
    finally:
        await client.close()


def record_of(client: LockClient, lock: str) -> LockRecord:
    record = client.record
    if record is None:
        lock_hex = lock_key(client.lock_id) if client.lock_id else lock
        raise TransportError(f"this phone is not paired with lock {lock_hex}",
                       code=ErrorCode.NOT_PAIRED)
    return record


@asynccontextmanager
async def paired(app: App, lock: str, *, keystore: Keystore | None = None
                 ) -> AsyncIterator[LockClient]:
    """A connected client for a lock this phone is paired with (else NOT_PAIRED). A
    pairing left pending by an interrupted claim or redemption is completed first (one
    session: docs/protocol.md, "Interrupted pairing")."""
    async with connected(app, lock, keystore=keystore) as client:
        record = record_of(client, lock)
        if record.pending or record.user_no is None:
            await finish_pending(client, lock)
        yield client


async def finish_pending(client: LockClient, lock: str) -> None:
    """Complete the pairing this phone holds as pending; a lock that never took it says
    so as NOT_PAIRED (the record stays: only a new claim or redemption replaces it)."""
    try:
        await client.finish_pairing()
    except LockError as exc:
        if exc.code not in NOT_BOUND_CODES:
            raise
        raise TransportError(
            f"this phone is not paired with lock {lock}: its last pairing with it did not "
            f"complete ({exc.code.name})", code=ErrorCode.NOT_PAIRED,
            hint="claim it again, or redeem the invite again") from None
