"""What every command shares: the options (``--home``, ``--timeout``, ``-v``,
``--adapter``), the keystore, LOCK resolution (address, name or lock id), the backend
that reaches locks (Bluetooth by default; tests pass an in-memory one), and running a
coroutine with the one-line error handling of :mod:`ble_lock.cli.errors`."""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar

import click

from ble_lock.central.keystore import Keystore, KeystoreError, LockRecord, lock_key
from ble_lock.cli.errors import CliError, exit_for
from ble_lock.cli.output import progress
from ble_lock.cli.signals import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERRUPTED,
    interruptible,
    pipe_closed,
    silence_closed_pipes,
)
from ble_lock.core.errors import ErrorCode, LockError, TransportError

if TYPE_CHECKING:  # loaded when a command reaches a lock: `--help` and offline commands
    # never import bleak (tests/cli/test_entry.py)
    from ble_lock.central.client import LockClient
    from ble_lock.central.discovery import LockAdvert

__all__ = [
    "App",
    "Backend",
    "BleBackend",
    "Target",
    "command_runner",
    "connected",
    "paired",
    "parse_time",
    "pass_app",
    "resolve_lock",
    "run",
    "run_sync",
]

P = ParamSpec("P")
T = TypeVar("T")

_ADDRESS = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
_LOCK_ID = re.compile(r"^[0-9A-Fa-f]{8}$")
#: what a lock advertises before its lock id unless given another name (``emulate --name``):
#: ``ble_lock.wire.link.gatt.NAME_PREFIX``, not imported so that offline commands do not load
#: the wire codec (tests/cli/test_entry.py checks the two agree)
ADVERTISED_PREFIX = "BLELOCK-"


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
        from ble_lock.central.discovery import scan

        return await scan(timeout=timeout, adapter=adapter)

    async def client(self, target: Target, *, keystore: Keystore, timeout: float,
                     adapter: str | None) -> LockClient:
        from ble_lock.central.client import LockClient

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


def _failed(exc: Exception, app: App) -> click.exceptions.Exit:
    """The exit for a failed command: quiet 141 when its output pipe closed (a
    ``BrokenPipeError`` of stdout/stderr, not of a Bluetooth socket), else the one line."""
    if isinstance(exc, BrokenPipeError) and pipe_closed():
        silence_closed_pipes()
        return click.exceptions.Exit(EXIT_BROKEN_PIPE)
    return click.exceptions.Exit(exit_for(exc, app.verbose))


def run(app: App, coro: Coroutine[Any, Any, T]) -> T:
    """Run one command's coroutine; a failure becomes one line and its exit status, a
    Ctrl-C exit 130 after the coroutine's ``finally`` blocks ran (:mod:`.signals`)."""
    import asyncio  # here: offline commands (`code one-time`) never load it

    try:
        with interruptible():
            return asyncio.run(coro)
    except (click.exceptions.Exit, click.ClickException, click.Abort):
        raise
    except KeyboardInterrupt:
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
    except Exception as exc:  # every failure ends as one line + exit status, by design
        raise _failed(exc, app) from None
    finally:
        coro.close()  # never started (a Ctrl-C before the loop ran it): no warning


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
        with interruptible():
            func()
    except (click.exceptions.Exit, click.ClickException, click.Abort):
        raise
    except KeyboardInterrupt:
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
    except Exception as exc:  # every failure ends as one line + exit status, by design
        raise _failed(exc, app) from None


def parse_time(text: str) -> int:
    """Unix seconds, or an ISO date/time (UTC unless it says otherwise)."""
    try:
        return int(float(text))
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"{text!r} is not a time: give unix seconds or an ISO date "
                       "(2026-01-31T18:00)", code=ErrorCode.INVALID_ARGUMENT) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp())


def _not_paired(text: str, keystore: Keystore) -> LockError:
    """LOCK names no lock of the keystore: say which folder was looked in and what it
    holds (a typo, or the wrong --home), without scanning for 10 s first."""
    home = keystore.home
    if not home.exists():
        return KeystoreError(f"the keystore folder {home} does not exist",
                             hint="check --home / $BLE_LOCK_HOME; `ble-lock claim` or "
                                  "`ble-lock key redeem` create it")
    names = [record.name or record.lock_id for record in keystore.locks()]
    if not names:
        return TransportError(f"this phone is paired with no lock yet ({home}), so "
                              f"not with {text!r}", code=ErrorCode.NOT_PAIRED)
    close = difflib.get_close_matches(text, names, n=1)
    hint = (f"did you mean {close[0]!r}? " if close else "") + "this phone knows " + \
        ", ".join(repr(n) for n in names) + " (`ble-lock scan` shows the locks nearby)"
    return TransportError(f"no lock {text!r} in the keystore ({home})",
                          code=ErrorCode.NOT_PAIRED, hint=hint)


def resolve_lock(text: str, keystore: Keystore, *, paired_only: bool = False) -> Target:
    """LOCK: a Bluetooth address, 8 hex digits of lock id, the name given at pairing
    (keystore), or an advertised name.

    ``paired_only``: the command needs a lock this phone is paired with, so a LOCK that
    names no keystore record fails at once (``NOT_PAIRED`` listing the known names, or
    ``KEYSTORE_ERROR`` naming a missing keystore folder) instead of after a scan. Only an
    address is still looked for (a lock's address may have changed since it was stored).
    """
    text = text.strip()
    if not text:
        raise CliError("LOCK is empty: give an address, a name or a lock id")
    if _ADDRESS.match(text):
        if paired_only and not keystore.home.exists():
            raise _not_paired(text, keystore)
        return Target(text=text, address=text.upper())
    if _LOCK_ID.match(text):
        if paired_only and (not keystore.home.exists()
                            or keystore.get(text.upper()) is None):
            raise _not_paired(text, keystore)
        return Target(text=text, lock_id=bytes.fromhex(text))
    records = keystore.locks() if keystore.home.exists() else []
    for record in records:
        if text in (record.name, f"{ADVERTISED_PREFIX}{record.lock_id}"):
            return Target(text=text, lock_id=bytes.fromhex(record.lock_id))
    if paired_only:
        raise _not_paired(text, keystore)
    return Target(text=text, name=text)  # an advertised name (`emulate --name`: any text)


@asynccontextmanager
async def connected(app: App, lock: str, *, keystore: Keystore | None = None,
                    paired_only: bool = False) -> AsyncIterator[LockClient]:
    """A connected client for LOCK (spinner while scanning and connecting);
    ``paired_only``: see :func:`resolve_lock`."""
    ks = keystore if keystore is not None else app.keystore()
    target = resolve_lock(lock, ks, paired_only=paired_only)
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
    async with connected(app, lock, keystore=keystore, paired_only=True) as client:
        record = record_of(client, lock)
        if record.pending or record.user_no is None:
            await finish_pending(client, lock)
        yield client


async def finish_pending(client: LockClient, lock: str) -> None:
    """Complete the pairing this phone holds as pending; a lock that never took it says
    so as NOT_PAIRED (the record stays: only a new claim or redemption replaces it)."""
    from ble_lock.central.client import NOT_BOUND_CODES  # bleak: only when a lock is reached

    try:
        await client.finish_pairing()
    except LockError as exc:
        if exc.code not in NOT_BOUND_CODES:
            raise
        raise TransportError(
            f"this phone is not paired with lock {lock}: its last pairing with it did not "
            f"complete ({exc.code.name})", code=ErrorCode.NOT_PAIRED,
            hint="claim it again, or redeem the invite again") from None
