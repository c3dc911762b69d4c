"""The command-line story on real BlueZ (issue 12): ``ble-lock emulate`` on the first
adapter, every phone command a ``ble-lock`` process on the second, as a user types them.
Skipped unless pytest runs with ``--ble-adapter`` (twice).

``scripts/test-real-bluez.sh`` runs it in a throw-away VM (docs/testing.md, "The real-BlueZ
lane"). Each step prints ``PASS``/``FAIL`` with its duration; under software emulation a
``ble-lock`` process start alone takes up to a minute, so the limits are generous.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ble_lock.sim.process import HostProcess, start_process
from ble_lock.testing import START
from tests.real.test_real_story import SLOW, Steps

pytestmark = [pytest.mark.ble_adapter, pytest.mark.timeout(5400)]


class _System:
    """The machine's own system bus (real BlueZ): what ``start_process`` runs against."""

    name = "system"

    def env(self) -> dict[str, str]:
        return dict(os.environ)


@dataclass(frozen=True, slots=True)
class _Done:
    rc: int
    out: str
    err: str


async def _cli(home: Path, adapter: str, *args: str, input: str | None = None) -> _Done:
    """One ``ble-lock`` command to its end; secrets only on stdin (``-``)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ble_lock.cli", "--home", str(home), "--adapter", adapter,
        "--timeout", str(SLOW), *args,
        stdin=asyncio.subprocess.DEVNULL if input is None else asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(
        proc.communicate(None if input is None else input.encode()), SLOW * 2)
    assert proc.returncode is not None
    return _Done(proc.returncode, out.decode(), err.decode())


async def _ok(home: Path, adapter: str, *args: str, input: str | None = None) -> str:
    done = await _cli(home, adapter, *args, input=input)
    assert done.rc == 0, (args, done.rc, done.err)
    return done.out


async def test_cli_story_on_real_bluez(ble_adapters: list[str], tmp_path: Path) -> None:
    """emulate → scan → panel SET → claim with the QR → unlock → users add → events,
    each a ``ble-lock`` command line."""
    lock_adapter, phone = ble_adapters[0], ble_adapters[1]
    lock_home, owner = tmp_path / "lock", tmp_path / "owner"
    steps = Steps()
    emulator: HostProcess | None = None
    try:
        async def emulate() -> dict[str, str]:
            nonlocal emulator
            emulator = await start_process(
                _System(), sys.executable, "-m", "ble_lock.cli", "--home", str(lock_home),
                "emulate", "--adapter", lock_adapter, "--profile", "face-palm",
                "--name", "front", "--manual-clock", str(START), name="ble-lock emulate")
            try:
                ready = await emulator.expect("ready ", SLOW)
            except Exception:
                await emulator.stop(timeout=10)
                raise AssertionError(f"emulate printed {emulator.lines!r}, "
                                     f"stderr {emulator.stderr[-3000:]!r}") from None
            fields = dict(item.split("=", 1) for item in ready.split()[1:])
            # the label (setup code, QR text) comes before the ready line
            fields["qr"] = next(line.split(" ", 1)[1] for line in emulator.lines
                                if line.startswith("qr "))
            return fields

        lock = await steps.run("cli: ble-lock emulate", emulate)

        async def scan() -> None:
            found = json.loads(await _ok(owner, phone, "scan", "--for", "30", "--json"))
            assert [s["lock_id"] for s in found if s["name"] == "front"] == [lock["lock_id"]]

        await steps.run("cli: ble-lock scan", scan)
        await steps.run("cli: ble-lock panel set",
                        lambda: _ok(lock_home, lock_adapter, "panel", "set"))
        await steps.run("cli: ble-lock claim --qr -", lambda: _ok(
            owner, phone, "claim", "front", "--qr", "-", "--name", "door",
            input=lock["qr"] + "\n"))

        async def unlock() -> None:
            out = await _ok(owner, phone, "unlock", "door", "--json")
            assert json.loads(out)["user"] == 1

        await steps.run("cli: ble-lock unlock", unlock)

        async def users_add() -> None:
            added = json.loads(await _ok(owner, phone, "users", "add", "door", "Carl",
                                         "--json"))
            listed = json.loads(await _ok(owner, phone, "users", "list", "door", "--json"))
            assert added["user_number"] in [u["user_number"] for u in listed]

        await steps.run("cli: ble-lock users add + list", users_add)

        async def events() -> None:
            got = json.loads(await _ok(owner, phone, "events", "door", "--json"))
            kinds = [e["kind"] for e in got]
            assert {"CLAIMED", "UNLOCK", "USER_ADDED"} <= set(kinds), kinds

        await steps.run("cli: ble-lock events", events)
    finally:
        if emulator is not None:
            await emulator.stop(timeout=SLOW)
    print("\n".join(["", "real-BlueZ command line:", *steps.report]), flush=True)
