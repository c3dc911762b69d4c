"""The command line against real locks without Bluetooth: a backend whose ``client()``
connects ``LockClient`` to in-process ``MemoryLock`` s (the real core and protocol), and
a running emulator panel (the real control socket) in a background thread."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from ble_lock.central.client import LockClient
from ble_lock.central.discovery import LockAdvert, matches
from ble_lock.central.keystore import Keystore
from ble_lock.cli import main
from ble_lock.cli.app import App, Target
from ble_lock.core.errors import ErrorCode, TransportError
from ble_lock.peripheral.clock import ManualClock
from ble_lock.peripheral.control import ControlServer
from ble_lock.peripheral.emulator import Emulator, EmulatorConfig
from ble_lock.testing import START
from ble_lock.testing.memory_lock import MemoryLock


class MemoryBackend:
    """Locks in this process; scans see all of them."""

    def __init__(self, *locks: MemoryLock) -> None:
        self.locks = list(locks)
        self.clients: list[LockClient] = []

    def advert(self, lock: MemoryLock) -> LockAdvert:
        return LockAdvert(lock_id=lock.lock_id, address=lock.address,
                          name=f"BLELOCK-{lock.lock_id.hex().upper()}", flags=lock.info().flags,
                          version=1, rssi=-40)

    async def scan(self, *, timeout: float, adapter: str | None) -> list[LockAdvert]:
        return [self.advert(lock) for lock in self.locks]

    async def client(self, target: Target, *, keystore: Keystore, timeout: float,
                     adapter: str | None) -> LockClient:
        for lock in self.locks:
            if matches(self.advert(lock), address=target.address, name=target.name,
                       lock_id=target.lock_id):
                client = LockClient(lock.connector(), keystore=keystore, lock_id=lock.lock_id,
                                    address=lock.address, timeout=timeout)
                self.clients.append(client)
                return client
        raise TransportError(f"no lock {target.text} found within {timeout:g} s",
                             code=ErrorCode.LOCK_NOT_FOUND)


@dataclass
class Cli:
    """``cli("users", "list", "door")`` runs ``ble-lock --home HOME ...`` in process.

    ``input`` is stdin (secrets with ``-``, answers to prompts); ``interactive`` says
    whether the command may ask a person (a terminal), as ``App.interactive``."""

    home: Path
    backend: MemoryBackend

    def __call__(self, *args: str, home: Path | None = None, input: str | None = None,
                 interactive: bool = False) -> Result:
        app = App(backend=self.backend, timeout=5.0, interactive=interactive)
        return CliRunner().invoke(main, ["--home", str(home or self.home), *args], obj=app,
                                  input=input)

    def ok(self, *args: str, **kw: Any) -> str:
        result = self(*args, **kw)
        assert result.exit_code == 0, (result.output, result.stderr)
        return result.stdout

    def json(self, *args: str, **kw: Any) -> Any:
        return json.loads(self.ok(*args, "--json", **kw))

    def fails(self, code: ErrorCode, *args: str, **kw: Any) -> str:
        """Runs a command that must fail with ``code``: one line on stderr, no traceback."""
        result = self(*args, **kw)
        assert result.exit_code == int(code), (result.exit_code, result.output)
        err = result.stderr
        assert err.startswith("error: "), err
        assert f"({code.name})" in err, err
        assert len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in result.output
        return err


@contextmanager
def running_panel(state: Path, *, profile: str = "face-palm") -> Iterator[Emulator]:
    """An emulator (no radio) serving its panel's control socket from a background loop."""
    emulator = Emulator(EmulatorConfig(state_dir=state, clock=ManualClock(START),
                                       profile=profile))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> ControlServer:
        emulator.build()
        assert emulator.panel is not None
        control = ControlServer(emulator.panel, state)
        await control.start()
        return control

    control = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield emulator
    finally:
        asyncio.run_coroutine_threadsafe(control.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
        if emulator.opened is not None:
            emulator.opened.store.close()
