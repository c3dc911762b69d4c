"""CliRunner: ``ble-lock panel ...`` against a running emulator's control socket (the
emulator's lock, panel and socket without the radio), and ``emulate``'s argument checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ble_lock.core.errors import ErrorCode
from ble_lock.peripheral.emulator import Emulator
from tests.cli._memory import Cli, running_panel


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    with running_panel(tmp_path / "home" / "emulator") as emu:
        yield emu


def test_panel_status_label_and_set(cli: Cli, emulator: Emulator) -> None:
    out = cli.ok("panel", "--json", "status")
    assert '"bolt": "locked"' in out
    human = cli.ok("panel", "status")
    assert human.splitlines()[0] == "ready"
    assert "  bolt          locked" in human
    # issue 14 item 10: the words of the rest of the CLI, never Python values
    assert "  claimed       off" in human
    assert "  enrolling     none" in human
    assert "  flags         factory-fresh" in human
    for python in ("True", "False", "None", "['", "FACTORY_FRESH"):
        assert python not in human, (python, human)
    label = cli.ok("panel", "label")
    assert emulator.label is not None
    assert f"setup_code  {emulator.label.setup_code}" in label
    assert "▀" in label or "█" in label
    assert cli.ok("panel", "set").startswith("pairing mode")


def test_panel_claim_pin_lockout_clock(cli: Cli, emulator: Emulator, tmp_path: Path) -> None:
    """R-USR-2 at the keypad, R-SEC-1 lockout counted down on the manual clock."""
    state = ["--state-dir", str(tmp_path / "home" / "emulator")]
    assert cli.ok("panel", *state, "claim", "135790").startswith("admin user 1 added")
    assert cli.ok("panel", "pin", "135790").strip() == "opened (user 1) by PIN"
    assert cli.ok("panel", "button").startswith("locked")
    for _ in range(5):  # a refusal prints what the lock said and exits with its code
        result = cli("panel", "pin", "975310")
        assert result.exit_code in (int(ErrorCode.NO_MATCH), int(ErrorCode.LOCKED_OUT))
    out = result.stdout
    assert "try again in 180 s" in out
    assert "[LOCKED_OUT]" in out or "[NO_MATCH]" in out
    cli.ok("panel", "clock", "181")
    assert cli.ok("panel", "keys", "135790#").startswith("opened (user 1)")


def test_panel_every_input(cli: Cli, emulator: Emulator) -> None:
    cli.ok("panel", "claim", "135790")
    for args, expect in [
        (("door", "open"), "door open"), (("door", "closed"), "door closed"),
        (("touch",), ""), (("key",), "opened"), (("handle",), "opened from inside"),
        (("battery", "15"), "battery 15%"), (("tamper",), "tamper alarm"),
        (("finger", "7"), "[NO_MATCH]"), (("palm", "me"), "[NO_MATCH]"),
    ]:
        result = cli("panel", *args)
        refused = "[NO_MATCH]" in expect
        assert result.exit_code == (int(ErrorCode.NO_MATCH) if refused else 0), (
            args, result.output)
        assert expect in result.stdout, (args, result.stdout)
    assert emulator.lock is not None
    assert emulator.lock.battery_percent == 15


def test_panel_errors(cli: Cli, emulator: Emulator, tmp_path: Path) -> None:
    cli.fails(ErrorCode.MALFORMED_PIN, "panel", "claim", "12")
    cli.fails(ErrorCode.UNSUPPORTED_BY_PROFILE, "panel", "card", "a1b2c3d4")  # face-palm
    cli.fails(ErrorCode.INVALID_ARGUMENT, "panel", "finger", "")
    assert cli("panel", "battery", "101").exit_code == 2
    assert cli("panel", "door", "ajar").exit_code == 2
    err = cli.fails(ErrorCode.CONNECTION_FAILED, "panel", "--state-dir",
                    str(tmp_path / "nothing"), "status")
    assert "ble-lock emulate" in err


def test_emulate_checks_its_arguments(cli: Cli) -> None:
    cli.fails(ErrorCode.INVALID_ARGUMENT, "emulate", "--name", "x" * 30)
    assert cli("emulate", "--profile", "nope").exit_code == 2
    assert "--manual-clock" in cli.ok("emulate", "--help")


def test_panel_json_on_each_input(cli: Cli, emulator: Emulator) -> None:
    import json

    cli.ok("panel", "claim", "135790")
    reply = json.loads(cli.ok("panel", "pin", "135790", "--json"))
    assert (reply["outcome"], reply["user"], reply["method"]) == ("granted", 1, "PIN")
    assert json.loads(cli.ok("panel", "status", "--json"))["display"]["bolt"] == "unlocked"
    refused = cli("panel", "palm", "x", "--json")
    assert refused.exit_code == int(ErrorCode.NO_MATCH)  # the reply is printed all the same
    palm = json.loads(refused.stdout)
    assert palm["outcome"] == "denied"
