"""The ``ble-lock`` command line (click); thin over the library. Reference: docs/cli.md.

:func:`entry` is the console script. The group itself, :data:`main`, lives in
:mod:`~ble_lock.cli.root` and loads each command's module only when that command runs, so
start-up stays close to ``import click`` (``bench/cli.py``). :mod:`~ble_lock.cli.app` holds
the shared options, LOCK resolution and error handling, :mod:`~ble_lock.cli.output`
tables, ``--json`` and QR codes.

This module imports only ``os`` and ``signal`` at load time: the console script imports it
first, and a Ctrl-C must be handled from the first instruction of :func:`entry` on.
"""

from __future__ import annotations

import os
import signal
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ble_lock.cli.root import main

__all__ = ["entry", "exit_at_once", "main"]


def entry() -> None:
    """Run ``ble-lock``: a Ctrl-C while it starts (imports, parsing, ``--help``) exits 130
    at once and quietly; inside a command it is handled by the command
    (:mod:`ble_lock.cli.signals`)."""
    signal.signal(signal.SIGINT, exit_at_once)
    from ble_lock.cli.root import main

    main(prog_name="ble-lock")


def exit_at_once(signum: int, frame: FrameType | None) -> None:
    """SIGINT handler for start-up: exit 130 now, printing nothing (nothing is changed yet,
    and a ``KeyboardInterrupt`` raised inside an import would print a traceback)."""
    os._exit(128 + signum)


def __getattr__(name: str) -> object:
    # PEP 562: ``from ble_lock.cli import main`` (tests, embedding) without loading click
    # at ``import ble_lock.cli``.
    if name == "main":
        from ble_lock.cli.root import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
