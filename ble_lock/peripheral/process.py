"""The emulator as a process: ``python -m ble_lock.peripheral --state-dir DIR ...``.

``main(argv)`` (async) is also the simulator harness's target
(``ble.start_peripheral("ble_lock.peripheral.process:main", "--state-dir", d, ready="ready")``):
it runs until cancelled (the harness and :func:`cli` cancel it on SIGTERM/SIGINT), then
stops advertising, unregisters, closes the panel socket and the store.

stdout, one line each (nothing secret except on the first start, below):

* first start only: ``setup-code <code>`` and ``qr <BLELOCK1:...>`` (the lock's label; it
  stays in ``<state-dir>/label.json``, 0600, and on the panel's ``label`` op);
* ``ready lock_id=<hex> name=<name> profile=<profile> panel=<address> mfr_data=<0|1>``
  once it advertises and the panel listens;
* ``stopped`` after a clean shutdown.

Errors (bad state directory, no Bluetooth) print ``error [<CODE>]: <message>`` on stderr
and exit with the :class:`~ble_lock.core.errors.ErrorCode` as the status.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from ble_lock.core.errors import InvalidInputError, LockError
from ble_lock.core.profile import PROFILES
from ble_lock.dfu.image import VendorKey
from ble_lock.peripheral.clock import EmulatorClock, ManualClock, RealClock
from ble_lock.peripheral.emulator import Emulator, EmulatorConfig

__all__ = ["cli", "install_stop_signals", "load_vendor_key", "main", "parse_args"]

MAX_NAME = 29  # the scan response holds 31 bytes: length, type, name


def _name(text: str) -> str:
    if not 1 <= len(text.encode()) <= MAX_NAME:
        raise argparse.ArgumentTypeError(f"name must be 1..{MAX_NAME} bytes")
    return text


def _start(text: str) -> float:
    try:
        return float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("--manual-clock takes unix seconds") from exc


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ble_lock.peripheral",
                                     description="A BLE lock emulator on bless.")
    parser.add_argument("--state-dir", required=True, type=Path,
                        help="the lock's state directory (created and provisioned if empty)")
    parser.add_argument("--name", type=_name, help="advertised name (default BLELOCK-<id>)")
    parser.add_argument("--profile", choices=sorted(PROFILES),
                        help="model profile of a new lock (default dl20vc; fixed afterwards)")
    parser.add_argument("--adapter", help="Bluetooth adapter (default $BLE_ADAPTER or the "
                        "system's default)")
    parser.add_argument("--manual-clock", type=_start, metavar="START",
                        help="freeze the clock (the lock clock at START, unix s, and the link "
                        "clock of freshness and session timers); the panel's clock.advance "
                        "moves both")
    parser.add_argument("--vendor-key", type=Path, metavar="PEM",
                        help="the vendor's public (or private) key, Ed25519 or ECDSA P-256, "
                        "that firmware images must be signed by (R-APP-8); without it the lock "
                        "serves no SMP service")
    parser.add_argument("--panel-tcp", action="store_true",
                        help="serve the panel on loopback TCP even where Unix sockets exist")
    return parser.parse_args(argv)


def load_vendor_key(path: Path | None) -> VendorKey | None:
    """The ``--vendor-key`` file as a :class:`VendorKey` (None: none given); a file that
    cannot be read or is not a key is an ``InvalidInputError``."""
    if path is None:
        return None
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"--vendor-key: cannot read {path} ({exc.strerror})"
                                ) from None
    return VendorKey.from_pem(pem)


def _config(args: argparse.Namespace) -> EmulatorConfig:
    clock: EmulatorClock = (ManualClock(args.manual_clock) if args.manual_clock is not None
                            else RealClock())
    return EmulatorConfig(state_dir=args.state_dir, clock=clock, name=args.name,
                          profile=args.profile, vendor_key=load_vendor_key(args.vendor_key),
                          adapter=args.adapter or os.environ.get("BLE_ADAPTER") or None,
                          force_tcp_panel=args.panel_tcp)


async def main(argv: list[str]) -> None:
    """Run one emulated lock until cancelled."""
    try:
        config = _config(parse_args(argv))
    except LockError as exc:
        _fail(exc)
    emulator = Emulator(config)
    started = False
    try:
        try:
            await emulator.start()
        except LockError as exc:
            _fail(exc)
        started = True
        opened, address = emulator.opened, emulator.panel_address
        assert opened is not None
        assert address is not None
        assert emulator.lock is not None
        if opened.first_start and opened.label is not None:
            print(f"setup-code {opened.label.setup_code}", flush=True)
            print(f"qr {opened.label.qr}", flush=True)
        print(f"ready lock_id={emulator.lock.lock_id.hex().upper()} name={emulator.name} "
              f"profile={opened.profile} panel={address.text()} "
              f"mfr_data={int(emulator.advertises_flags)}", flush=True)
        await asyncio.Event().wait()
    finally:
        await emulator.stop()
        if started:
            print("stopped", flush=True)


def _fail(exc: LockError) -> NoReturn:
    """Exit with the error's code (the CLI's exit status convention, ``errors.py``)."""
    print(f"error [{exc.code.name}]: {exc.message}", file=sys.stderr, flush=True)
    raise SystemExit(int(exc.code))


def install_stop_signals(loop: asyncio.AbstractEventLoop, stop: Callable[[], object]) -> None:
    """Call ``stop`` on SIGTERM or SIGINT, on every platform bless runs on."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop)
        except (NotImplementedError, AttributeError, RuntimeError, ValueError):
            # Windows event loops have no add_signal_handler: a plain handler instead
            # (only possible in the main thread; elsewhere the caller stops the task).
            with contextlib.suppress(ValueError):
                signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop))


async def _run_until_signal(argv: list[str]) -> None:
    task = asyncio.ensure_future(main(argv))
    install_stop_signals(asyncio.get_running_loop(), task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def cli(argv: list[str] | None = None) -> int:
    """The console entry point; exit code 0 after SIGTERM/SIGINT."""
    asyncio.run(_run_until_signal(sys.argv[1:] if argv is None else argv))
    return 0
