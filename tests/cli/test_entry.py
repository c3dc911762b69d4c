"""The ``ble-lock`` entry point as a process (issue 14): what start-up imports (item 12),
Ctrl-C at every step of start-up and inside a command (item 5), a closed output pipe
(item 5), a wrong ``--home`` (item 7), no Bluetooth stack at all (item 4).

Interrupts are injected deterministically: a ``sitecustomize`` module on ``PYTHONPATH``
adds an import hook that sends SIGINT to its own process when a named module starts to
load, so the signal lands inside that import, never after a sleep.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from ble_lock.central.keystore import Keystore, LockRecord
from ble_lock.cli import main
from ble_lock.cli.app import ADVERTISED_PREFIX
from ble_lock.cli.root import COMMANDS, LazyGroup
from ble_lock.core.errors import ErrorCode
from ble_lock.wire.link.gatt import NAME_PREFIX

pytestmark = pytest.mark.timeout(120)

#: packages a command that needs no Bluetooth must not load (R: issue 14 item 12)
HEAVY = ("bleak", "bless", "construct", "dbus_fast", "dbus_next", "ble_lock.sim",
         "ble_lock.peripheral", "ble_lock.wire", "ble_lock.lockapp", "segno",
         "cryptography", "asyncio")

_SITECUSTOMIZE = '''
import os, signal, sys

class _InterruptAt:
    """Sends SIGINT to this process when the module named in $BLE_LOCK_TEST_SIGINT_AT
    starts to import (the handler runs inside that import)."""

    def find_spec(self, name, path=None, target=None):
        if name == os.environ.get("BLE_LOCK_TEST_SIGINT_AT"):
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, _InterruptAt())
'''


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("BLE_LOCK_HOME", "BLE_ADAPTER")}
    # no system bus: a command that did reach for Bluetooth fails, never finds a real one
    env["DBUS_SYSTEM_BUS_ADDRESS"] = f"unix:path={tmp_path / 'no-bus'}"
    env.update(extra)
    return env


def _run(tmp_path: Path, *args: str, python_flags: tuple[str, ...] = (),
         **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *python_flags, "-m", "ble_lock.cli", *args],
                          capture_output=True, text=True, env=_env(tmp_path, **env),
                          timeout=60, check=False, stdin=subprocess.DEVNULL)


def _paired_home(tmp_path: Path) -> Path:
    """A keystore holding lock 0BADC0DE as 'door', with a visitor secret."""
    home = tmp_path / "phone"
    Keystore(home).put(LockRecord(lock_id="0BADC0DE", name="door",
                                  lock_public_key=bytes(range(32)),
                                  visitor_secret=bytes(range(32)), role="admin", user_no=1))
    return home


def _imported(stderr: str) -> list[str]:
    """Module names from ``python -X importtime`` (its lines on stderr)."""
    return [line.rsplit("|", 1)[1].strip() for line in stderr.splitlines()
            if line.startswith("import time:") and "|" in line
            and not line.rstrip().endswith("imported package")]


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_help_and_code_one_time_load_no_bluetooth_stack(tmp_path: Path) -> None:
    """Item 12: `--help` and `code one-time` import neither bleak, bless, construct, the
    simulator, the emulator nor the wire codec (counted with -X importtime, not timed)."""
    floor = subprocess.run([sys.executable, "-X", "importtime", "-c", "import click"],
                           capture_output=True, text=True, check=True)
    click_modules = set(_imported(floor.stderr))
    assert "click" in click_modules

    helped = _run(tmp_path, "--help", python_flags=("-X", "importtime"))
    assert helped.returncode == 0, helped.stderr
    assert "code" in helped.stdout
    assert "Visitor passwords" in helped.stdout
    modules = _imported(helped.stderr)
    assert _heavy(modules) == []
    # the group and its helpers only, beside click and -m's runpy
    own = [m for m in modules if m.startswith("ble_lock")]
    assert sorted(own) == ["ble_lock", "ble_lock.cli", "ble_lock.cli.root",
                           "ble_lock.cli.signals"]
    assert len(set(modules) - click_modules) < 40, sorted(set(modules) - click_modules)

    home = _paired_home(tmp_path)
    made = _run(tmp_path, "--home", str(home), "code", "one-time", "door", "--at",
                "1767225600", "--nonce", "3", "--json", python_flags=("-X", "importtime"))
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["kind"] == "one-time"
    modules = _imported(made.stderr)
    # what cli/codes.py imports (importlib.import_module itself is not in -X importtime)
    assert "ble_lock.central.visitor" in modules
    assert _heavy(modules) == []


def test_a_command_that_reaches_a_lock_loads_bleak_only_when_it_runs(tmp_path: Path) -> None:
    """The lazy loading is real: `scan` does import bleak (and fails: no system bus)."""
    done = _run(tmp_path, "scan", "--for", "1", python_flags=("-X", "importtime"))
    assert "bleak" in _imported(done.stderr)
    assert done.returncode == int(ErrorCode.BLUETOOTH_UNAVAILABLE)


def test_declared_short_helps_match_the_commands() -> None:
    """One fact, two places: the short help the top-level --help shows without importing
    a command (root.COMMANDS) is the one the command's own docstring gives."""
    ctx = click.Context(main)
    for name, lazy in COMMANDS.items():
        command = lazy.load()
        assert command.name == name or name in (command.name or "")
        for limit in (45, 200):
            declared = click.Command(name, help=lazy.short_help).get_short_help_str(limit)
            assert declared == command.get_short_help_str(limit), name
    assert isinstance(main, LazyGroup)
    assert main.list_commands(ctx) == sorted(COMMANDS)


def test_advertised_prefix_is_the_wire_one() -> None:
    assert ADVERTISED_PREFIX == NAME_PREFIX


@pytest.mark.parametrize("module", [
    "click",  # the first import of the entry point
    "ble_lock.cli.root",  # the group
    "ble_lock.cli.codes",  # the command's module, loaded while parsing
    "ble_lock.central.keystore",
])
def test_ctrl_c_during_start_up_exits_130_quietly(tmp_path: Path, module: str) -> None:
    """Item 5: SIGINT while `code one-time` imports MODULE: exit 130, no traceback."""
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    home = _paired_home(tmp_path)
    done = _run(tmp_path, "--home", str(home), "code", "one-time", "door",
                PYTHONPATH=str(tmp_path / "hook"), BLE_LOCK_TEST_SIGINT_AT=module)
    assert done.returncode == 130, done.stderr
    assert done.stderr == ""
    assert done.stdout == ""


def test_ctrl_c_inside_a_command_exits_130_quietly(tmp_path: Path) -> None:
    """Item 5: SIGINT inside `scan`'s coroutine (as it loads the discovery module, before
    it reaches the bus): asyncio cancels it, the command exits 130, no traceback."""
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    done = _run(tmp_path, "scan", "--for", "1", PYTHONPATH=str(tmp_path / "hook"),
                BLE_LOCK_TEST_SIGINT_AT="ble_lock.central.discovery")
    assert done.returncode == 130, done.stderr
    assert done.stderr == ""


def test_sigint_hook_really_interrupts(tmp_path: Path) -> None:
    """The test above can fail: the same hook in plain Python gives the traceback."""
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    done = subprocess.run([sys.executable, "-c", "import click"], capture_output=True,
                          text=True, check=False, timeout=60,
                          env=_env(tmp_path, PYTHONPATH=str(tmp_path / "hook"),
                                   BLE_LOCK_TEST_SIGINT_AT="click"))
    assert done.returncode != 0
    assert "KeyboardInterrupt" in done.stderr


def test_help_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    """Item 5: `ble-lock --help | true`: the reader is gone before the first write."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([sys.executable, "-m", "ble_lock.cli", "--help"], stdout=write,
                              stderr=subprocess.PIPE, text=True, env=_env(tmp_path),
                              timeout=60, check=False)
    finally:
        os.close(write)
    assert done.returncode == 141
    assert done.stderr == ""


def test_code_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    """Item 5: a command's output into a closed pipe: 141, nothing on stderr (not a
    Bluetooth error: the BrokenPipeError is stdout's)."""
    home = _paired_home(tmp_path)
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([sys.executable, "-m", "ble_lock.cli", "--home", str(home),
                               "code", "one-time", "door"], stdout=write,
                              stderr=subprocess.PIPE, text=True, env=_env(tmp_path),
                              timeout=60, check=False)
    finally:
        os.close(write)
    assert done.returncode == 141, done.stderr
    assert done.stderr == ""


def test_wrong_home_names_the_folder(tmp_path: Path) -> None:
    """Item 7: a --home that does not exist: KEYSTORE_ERROR naming it, at once."""
    missing = tmp_path / "typo"
    for args in (("unlock", "door"), ("code", "one-time", "door"), ("users", "list", "door")):
        done = _run(tmp_path, "--home", str(missing), *args)
        assert done.returncode == int(ErrorCode.KEYSTORE_ERROR), done.stderr
        assert done.stderr.count("\n") == 1
        assert f"the keystore folder {missing} does not exist" in done.stderr
        assert "--home" in done.stderr
    assert not missing.exists()  # nothing created by a failed look-up


def test_unknown_lock_name_fails_before_any_scan(tmp_path: Path) -> None:
    """Item 7: no system bus at all, yet the answer is about the name: the command never
    reached for Bluetooth (a scan would have failed with BLUETOOTH_UNAVAILABLE)."""
    home = _paired_home(tmp_path)
    done = _run(tmp_path, "--home", str(home), "unlock", "dor")
    assert done.returncode == int(ErrorCode.NOT_PAIRED), done.stderr
    assert "no lock 'dor' in the keystore" in done.stderr
    assert "did you mean 'door'?" in done.stderr
    done = _run(tmp_path, "--home", str(home), "events", "0BADC0DF")
    assert done.returncode == int(ErrorCode.NOT_PAIRED), done.stderr
    assert "this phone knows 'door'" in done.stderr


def test_no_system_bus_names_the_cause_and_both_fixes(tmp_path: Path) -> None:
    """Item 4, without any bus: one line, its own exit status, both ways out."""
    done = _run(tmp_path, "scan", "--for", "1")
    assert done.returncode == int(ErrorCode.BLUETOOTH_UNAVAILABLE) == 86
    assert done.stderr.count("\n") == 1
    line = done.stderr
    assert f"no system D-Bus at unix:path={tmp_path / 'no-bus'}" in line
    assert "(BLUETOOTH_UNAVAILABLE)" in line
    assert "systemctl start bluetooth" in line
    assert "ble-lock sim" in line
    assert "move closer" not in line
