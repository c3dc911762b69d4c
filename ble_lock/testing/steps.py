"""Pausing a claim or an invite redemption at one step, from outside the process.

The interruption tests (``tests/cli/test_atomic_pairing.py``) run ``ble-lock claim`` and
``ble-lock key redeem`` as real processes and interrupt them at each
:class:`~ble_lock.central.app.PairingStep` deterministically: with
``BLE_LOCK_PAUSE_AT=<step name>`` in its environment the command stops when it reaches
that step (the first time), writes ``ble-lock: paused at <STEP>`` on stderr and waits for
``SIGUSR1``.
Meanwhile the test interrupts it (SIGINT, SIGKILL), drops the Bluetooth link in the
simulator or restarts the lock, then resumes it with ``SIGUSR1``. No sleep decides
where the interruption lands.

POSIX only (``SIGUSR1``). Nothing here runs unless the variable is set.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from ble_lock.central.app import PairingStep, StepHook

__all__ = ["ENV_PAUSE", "PAUSED", "pause_hook_from_env"]

ENV_PAUSE = "BLE_LOCK_PAUSE_AT"
"""The environment variable naming the :class:`PairingStep` to pause at."""

PAUSED = "ble-lock: paused at"
"""What the paused process writes on stderr, followed by the step's name."""


def pause_hook_from_env() -> StepHook | None:
    """The step hook ``BLE_LOCK_PAUSE_AT`` asks for, or None when it is unset.

    An unknown step name raises ``ValueError`` (a test's typo must not pass unpaused)."""
    wanted = os.environ.get(ENV_PAUSE, "").strip()
    if not wanted:
        return None
    try:
        step = PairingStep[wanted.upper()]
    except KeyError:
        raise ValueError(f"{ENV_PAUSE}={wanted!r}: not one of "
                         f"{', '.join(s.name for s in PairingStep)}") from None

    paused: list[PairingStep] = []

    async def pause(reached: PairingStep) -> None:
        if reached is not step or paused:  # once: a pairing retried reaches it again
            return
        paused.append(reached)
        loop = asyncio.get_running_loop()
        resumed: asyncio.Future[None] = loop.create_future()

        def resume() -> None:
            if not resumed.done():
                resumed.set_result(None)

        # the handler is in place before the line that lets the test send SIGUSR1
        loop.add_signal_handler(signal.SIGUSR1, resume)
        try:
            print(f"{PAUSED} {step.name}", file=sys.stderr, flush=True)
            await resumed
        finally:
            loop.remove_signal_handler(signal.SIGUSR1)

    return pause
