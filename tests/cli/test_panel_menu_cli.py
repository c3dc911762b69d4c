"""CliRunner: ``ble-lock panel menu`` (issue 11, R-USR-1 DL20VC): the master enters the
menu with a fingerprint, PIN or card at a running emulator's panel."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ble_lock.core.errors import ErrorCode
from ble_lock.core.model import Actor, CredentialKind
from ble_lock.peripheral.emulator import Emulator
from tests.cli._memory import Cli, running_panel

CARD = "cafe0001"
CODE = "482915"


@pytest.fixture
def dl20(tmp_path: Path) -> Iterator[Emulator]:
    with running_panel(tmp_path / "home" / "emulator", profile="dl20vc") as emu:
        yield emu


def _menu_user(cli: Cli) -> object:
    return json.loads(cli.ok("panel", "--json", "status"))["display"]["menu"]


def test_r_usr_1_panel_menu_with_pin_card_or_finger(cli: Cli, dl20: Emulator) -> None:
    """R-USR-1 (DL20VC): "使用主用户的指纹、密码或感应卡验证成功后，即可进入主菜单"."""
    assert cli.ok("panel", "claim", "135790").startswith("admin user 1 added")
    assert _menu_user(cli) is None
    assert cli.ok("panel", "menu", "--pin", "135790").startswith("menu (user 1)")
    assert _menu_user(cli) == 1
    assert cli.ok("panel", "menu", "--exit").startswith("menu closed")
    assert _menu_user(cli) is None

    lock, master = dl20.lock, Actor.panel(1)
    assert lock is not None
    lock.add_card(master, 1, bytes.fromhex(CARD), CODE, card_code_confirm=CODE)
    assert cli.ok("panel", "menu", "--card", CARD).startswith("menu (user 1)")
    lock.begin_enrolment(master, 1, CredentialKind.FINGERPRINT)
    while "enrolled" not in cli.ok("panel", "finger", "master-thumb"):
        pass
    reply = json.loads(cli.ok("panel", "--json", "menu", "--finger", "master-thumb"))
    assert (reply["outcome"], reply["user"], reply["display"]["menu"]) == ("granted", 1, 1)

    bob = lock.add_user(master, name="bob")
    lock.add_pin(master, bob.number, "246801")
    refused = cli("panel", "menu", "--pin", "246801")  # a refusal exits with its code
    assert refused.exit_code == int(ErrorCode.PERMISSION_DENIED), refused.output
    assert refused.stdout.startswith("not a master credential")
    assert _menu_user(cli) is None


def test_panel_menu_needs_exactly_one_credential(cli: Cli, dl20: Emulator) -> None:
    cli.ok("panel", "claim", "135790")
    result = cli("panel", "menu")
    assert result.exit_code != 0
    result = cli("panel", "menu", "--pin", "135790", "--card", CARD)
    assert result.exit_code != 0
