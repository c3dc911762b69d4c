"""CliRunner: issue 14 items 8-10, errors that name their cause, numbers that mean one
thing and output that speaks to people (in-memory locks: the real core and protocol)."""

from __future__ import annotations

import asyncio
import io
import re
import sys
from pathlib import Path

import click
import click.testing
import pytest

from ble_lock.cli import lockcfg, main, output
from ble_lock.cli.errors import format_error
from ble_lock.core.errors import ErrorCode, PairingError, RemoteProtocolError
from ble_lock.core.model import CredentialKind
from ble_lock.core.rules.lockout import InputPath
from ble_lock.testing.memory_lock import MemoryLock
from ble_lock.testing.waiting import yield_to_loop
from ble_lock.wire import messages as m
from ble_lock.wire.security.pairing import QrPayload
from tests.cli._memory import Cli, MemoryBackend

# ---------------------------------------------------------------- item 8: causes


def test_error_line_names_the_code_once() -> None:
    """`NOT_IN_PAIRING_MODE (NOT_IN_PAIRING_MODE)` no more, whatever the message says."""
    refused = RemoteProtocolError.with_reason("pairing refused: NOT_IN_PAIRING_MODE",
                                              ErrorCode.NOT_IN_PAIRING_MODE)
    line = format_error(refused)
    assert line.startswith("error: pairing refused (NOT_IN_PAIRING_MODE) - press SET")
    assert line.count("NOT_IN_PAIRING_MODE") == 1
    bare = format_error(PairingError("LOCKED_OUT", code=ErrorCode.PAIRING_FAILED))
    assert bare.startswith("error: LOCKED_OUT (PAIRING_FAILED)")  # another code: kept
    alone = format_error(RemoteProtocolError.with_reason("LOCKED_OUT", ErrorCode.LOCKED_OUT))
    assert alone.startswith("error: locked out (LOCKED_OUT)")


def test_claim_not_in_pairing_mode_says_the_code_once(tmp_path: Path) -> None:
    lock = MemoryLock(pairing_mode=False)
    cli = Cli(home=tmp_path / "home", backend=MemoryBackend(lock))
    err = cli.fails(ErrorCode.NOT_IN_PAIRING_MODE, "claim", "0BADC0DE", "--code", "-",
                    "--accept-new-fingerprint", input=lock.setup_code + "\n")
    assert err.count("NOT_IN_PAIRING_MODE") == 1, err


@pytest.mark.parametrize("code", ["12", "12345678901", "12345abcde", "1234-5678-9"])
def test_setup_code_of_the_wrong_shape_is_refused_before_any_radio(
        cli: Cli, door: MemoryLock, code: str) -> None:
    """`--code 12` costs no guess: refused before a connection, the lock's pairing
    limiter untouched, and a right code still claims."""
    err = cli.fails(ErrorCode.INVALID_ARGUMENT, "claim", "0BADC0DE", "--code", "-",
                    "--accept-new-fingerprint", input=code + "\n")
    assert "a setup code is 10 digits" in err
    assert "nothing was sent to the lock" in err
    assert cli.backend.clients == []
    assert door.lock.lockout_remaining(InputPath.PAIRING) is None
    cli.ok("claim", "0BADC0DE", "--code", "-", "--accept-new-fingerprint",
           input=door.setup_code + "\n")


def test_setup_code_with_separators_is_accepted(cli: Cli, door: MemoryLock) -> None:
    spaced = f"{door.setup_code[:5]} {door.setup_code[5:]}"
    cli.ok("claim", "0BADC0DE", "--code", "-", "--accept-new-fingerprint", input=spaced + "\n")


def test_invite_with_a_code_of_the_wrong_shape_is_refused_locally(owned: Cli,
                                                                 tmp_path: Path) -> None:
    issued = owned.json("key", "issue", "door", "--name", "Eve")
    sessions = len(owned.backend.clients)
    broken = issued["invite"].replace(issued["code"], "1!")
    result = owned("key", "redeem", "-", home=tmp_path / "eve", input=broken + "\n")
    assert result.exit_code == int(ErrorCode.INVALID_ARGUMENT), result.output
    assert "copy the whole invite again" in result.stderr
    assert len(owned.backend.clients) == sessions


def test_a_used_invite_says_invite_used_not_wrong_code(owned: Cli, door: MemoryLock,
                                                      tmp_path: Path) -> None:
    """A second phone with an invite already redeemed hears INVITE_USED (exit 55) and
    costs no guess; a wrong code on that invite is still a wrong code (no oracle)."""
    issued = owned.json("key", "issue", "door", "--name", "Eve")
    owned.ok("key", "redeem", "-", home=tmp_path / "eve", input=issued["invite"] + "\n")
    err = owned.fails(ErrorCode.INVITE_USED, "key", "redeem", "-", home=tmp_path / "mallory",
                      input=issued["invite"] + "\n")
    assert "redeemed already" in err
    assert "ask an admin for a new one" in err
    assert "wrong code" not in err
    assert door.lock.lockout_remaining(InputPath.PAIRING) is None
    forged = issued["invite"].replace(issued["code"], "0" * len(issued["code"]))
    owned.fails(ErrorCode.PAIRING_FAILED, "key", "redeem", "-", home=tmp_path / "trudy",
                input=forged + "\n")


def test_pairing_lockout_says_the_time_left_and_that_pairing_mode_ends_first(
        cli: Cli, door: MemoryLock) -> None:
    """R-SEC-1 "announces the time left": five wrong setup codes lock pairing out for
    180 s; the refusal says how long, and that pairing mode (120 s, R-APP-1) ends first."""
    wrong = "1" * 9 + ("2" if door.setup_code != "1" * 9 + "2" else "3")
    claim = ("claim", "0BADC0DE", "--code", "-", "--accept-new-fingerprint")
    for _ in range(5):
        cli.fails(ErrorCode.PAIRING_FAILED, *claim, input=wrong + "\n")
    err = cli.fails(ErrorCode.LOCKED_OUT, *claim, input=door.setup_code + "\n")
    assert "retry in 180 s" in err, err
    assert "pairing mode ends in 120 s, before the wait does: press SET" in err, err
    assert err.count("LOCKED_OUT") == 1
    door.clock.advance(150)  # pairing mode is over, the lockout is not
    err = cli.fails(ErrorCode.LOCKED_OUT, *claim, input=door.setup_code + "\n")
    assert "retry in 30 s" in err, err
    assert "pairing mode is off: press SET on the lock after the wait" in err, err
    door.clock.advance(31)
    cli.fails(ErrorCode.NOT_IN_PAIRING_MODE, *claim, input=door.setup_code + "\n")
    door.lock.enter_pairing_mode()
    cli.ok(*claim, input=door.setup_code + "\n")


# ---------------------------------------------------------------- item 9: numbers


def test_claim_qr_alone_takes_the_lock_from_the_qr(cli: Cli, door: MemoryLock) -> None:
    """The QR text carries the lock id: LOCK is optional with --qr (not with --code)."""
    qr = QrPayload(lock_id=door.lock_id, setup_code=door.setup_code,
                   fingerprint=door.fingerprint).to_text()
    out = cli.json("claim", "--qr", "-", input=qr + "\n")
    assert (out["lock_id"], out["user"], out["role"]) == ("0BADC0DE", 1, "admin")
    missing = cli("claim", "--code", "-", input=door.setup_code + "\n")
    assert missing.exit_code == 2
    assert "Missing argument 'LOCK'" in missing.stderr


def test_claim_without_name_says_which_name_was_stored(cli: Cli, door: MemoryLock) -> None:
    out = cli.ok("claim", "0BADC0DE", "--code", "-", "--accept-new-fingerprint",
                 input=door.setup_code + "\n")
    first = out.splitlines()[0]
    assert "saved as 'BLELOCK-0BADC0DE' (no --name given: the default name" in first
    assert cli.ok("unlock", "BLELOCK-0BADC0DE").startswith("unlocked")


def test_invite_number_and_key_number_each_name_one_thing(owned: Cli, tmp_path: Path) -> None:
    """`key issue` prints an invite number and says it is not a key number; `key revoke
    --invite N` takes that number; `key revoke KEY` takes the number `key list` shows."""
    owned.ok("users", "add", "door", "Carl")
    out = owned.ok("key", "issue", "door", "--user", "2")
    invite_id = int(re.search(r"invite (\d+),", out).group(1))  # type: ignore[union-attr]
    assert f"(invite {invite_id} is not a key number" in out
    assert f"ble-lock key revoke door --invite {invite_id}" in out
    listing = owned.ok("key", "list", "door")
    assert "INVITE" in listing
    assert owned.ok("key", "revoke", "door", "--invite", str(invite_id)).strip() == (
        f"invite {invite_id} withdrawn")
    assert owned.json("key", "list", "door")["invites"] == []
    owned.fails(ErrorCode.UNKNOWN_KEY, "key", "revoke", "door", "--invite", str(invite_id))
    assert owned("key", "revoke", "door").exit_code == 2
    assert owned("key", "revoke", "door", "3", "--invite", "1").exit_code == 2
    # redeemed: the key's own number, from `key list`, is what `key revoke` takes
    issued = owned.json("key", "issue", "door", "--user", "2")
    guest = tmp_path / "guest"
    owned.ok("key", "redeem", "-", home=guest, input=issued["invite"] + "\n")
    key = next(k for k in owned.json("key", "list", "door")["keys"] if k["user"] == 2)
    assert owned.ok("key", "revoke", "door", str(key["credential_id"])).strip() == (
        f"key {key['credential_id']} revoked")


# ---------------------------------------------------------------- item 10: output


def _commands(group: click.Group, prefix: tuple[str, ...] = ()
              ) -> list[tuple[tuple[str, ...], click.Command]]:
    found: list[tuple[tuple[str, ...], click.Command]] = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # the lazy group loads each command here
        command = group.get_command(ctx, name)
        assert command is not None, name
        found.append(((*prefix, name), command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*prefix, name)))
    return found


def test_no_rule_ids_in_help(cli: Cli) -> None:
    """Rule ids (R-APP-4) are for the code and the docs, not for `--help`."""
    commands = _commands(main)
    assert len(commands) > 40
    for path, _command in [((), main), *commands]:
        text = cli.ok(*path, "--help")
        assert not re.search(r"\bR-[A-Z]{3}-", text), (path, text)


def test_events_follow_and_events_share_columns_and_header(owned: Cli,
                                                          door: MemoryLock) -> None:
    """`events --follow` prints the header of `events` once, then rows in the same
    columns, whatever the widths of the sequence numbers."""
    owned.ok("unlock", "door")
    table = owned.ok("events", "door").splitlines()
    records = [m.EventRecord(**{**r, "kind": m.EventKind[r["kind"]],
                                "method": None if r["method"] is None
                                else m.UnlockMethod[r["method"]],
                                "reason": None})
               for r in owned.json("events", "door")]
    columns = lockcfg._event_columns()
    runner = click.testing.CliRunner()

    def follow() -> None:
        columns.start()
        for record in records:
            lockcfg._print_event(record, False, columns)
        lockcfg._print_event(records[-1], False, columns)  # a later one: no second header

    result = runner.invoke(click.command()(follow))
    followed = result.output.splitlines()
    assert followed[0] == table[0]
    assert followed[0].split() == ["SEQ", "TIME", "(UTC)", "EVENT"]
    assert followed[1:-1] == table[1:]
    starts = {line.index(line.split()[1]) for line in followed}
    assert len(starts) == 1  # the time column starts at one place on every line


def test_event_json_names_the_reason(owned: Cli, door: MemoryLock) -> None:
    """Docs promise enums by name: a denial's reason is its ErrorCode name."""
    decision = door.lock.present_biometric(CredentialKind.PALM, b"stranger")
    assert getattr(decision, "granted", None) is False
    records = owned.json("events", "door")
    reasons = [r["reason"] for r in records if r["reason"] is not None]
    assert reasons, records
    assert all(isinstance(r, str) for r in reasons), reasons
    assert "NO_MATCH" in reasons
    assert lockcfg.event_json(m.EventRecord(seq=1, at_ms=0, kind=m.EventKind.UNLOCK_FAILED,
                                            reason=250))["reason"] == 250  # unknown: number


def test_spinner_lines_leave_no_text_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    """A line printed during a spinner (an enrolment's captures) first clears the
    spinner's line on the terminal; the spinner's line is cleared at the end."""
    err = io.StringIO()
    monkeypatch.setattr(output, "_interactive", lambda: True)
    monkeypatch.setattr(sys, "stderr", err)
    printed: list[str] = []
    monkeypatch.setattr(click, "echo", lambda text, **_: printed.append(
        f"{err.getvalue()}|{text}"))

    async def main_() -> None:
        async with output.progress("waiting for the lock") as spinner:
            await yield_to_loop()  # the spinner draws its line
            spinner.echo("  capture 1/5: straight")

    asyncio.run(main_())
    assert printed
    assert printed[0].endswith("\r\033[K|  capture 1/5: straight")
    assert err.getvalue().endswith("\r\033[K")
