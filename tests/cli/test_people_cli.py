"""CliRunner: users (role, validity, schedule) and credentials (PIN, card, enrolment
progress), with their JSON shapes and expected errors."""

from __future__ import annotations

import asyncio

import pytest

from ble_lock.cli.errors import CliError
from ble_lock.cli.people import parse_schedule, parse_time
from ble_lock.core.errors import ErrorCode
from ble_lock.core.model import CredentialKind
from ble_lock.testing.memory_lock import MemoryLock
from tests.cli._memory import Cli


def test_users_add_list_update_remove(owned: Cli) -> None:
    """R-USR-7 (validity window) and weekday schedules through the command line."""
    carl = owned.json("users", "add", "door", "Carl", "--from", "2026-01-01",
                      "--until", "2026-02-01T00:00", "--days", "mon-fri",
                      "--hours", "08:00-18:00")
    assert carl == {"user_number": 2, "role": "NORMAL", "name": "Carl",
                    "validity": {"valid_from": 1767225600, "valid_until": 1769904000},
                    "schedules": [{"days_mask": 0b0111110, "start_minute": 480,
                                   "end_minute": 1080}]}
    out = owned.ok("users", "add", "door", "Dora", "--role", "admin")
    assert out.strip() == "added user 3: Dora (admin)"
    listed = owned.json("users", "list", "door")
    assert [(u["user_number"], u["role"]) for u in listed] == [
        (1, "ADMIN"), (2, "NORMAL"), (3, "ADMIN")]
    assert [u["name"] for u in listed][1:] == ["Carl", "Dora"]
    table = owned.ok("users", "list", "door")
    assert "mon,tue,wed,thu,fri 08:00-18:00" in table
    assert "2026-01-01 00:00 UTC .. 2026-02-01 00:00 UTC" in table
    updated = owned.json("users", "update", "door", "2", "--name", "Carlos", "--always")
    assert (updated["name"], updated["validity"], updated["schedules"]) == (
        "Carlos", {"valid_from": None, "valid_until": None}, [])
    assert owned.ok("users", "remove", "door", "2").strip() == "removed user 2"
    assert [u["user_number"] for u in owned.json("users", "list", "door")] == [1, 3]


def test_users_errors(owned: Cli) -> None:
    owned.fails(ErrorCode.UNKNOWN_USER, "users", "remove", "door", "42")
    owned.fails(ErrorCode.INVALID_SCHEDULE, "users", "add", "door", "X", "--days", "mon")
    owned.fails(ErrorCode.INVALID_SCHEDULE, "users", "add", "door", "X", "--days", "funday",
                "--hours", "08:00-09:00")
    owned.fails(ErrorCode.INVALID_SCHEDULE, "users", "add", "door", "X", "--from", "2026-02-01",
                "--until", "2026-01-01")
    owned.fails(ErrorCode.INVALID_ARGUMENT, "users", "add", "door", "X", "--from", "someday")
    result = owned("users", "add", "door", "X", "--role", "king")
    assert result.exit_code == 2


def test_parsers() -> None:
    assert parse_time("1767225600") == 1767225600
    assert parse_time("2026-01-01T01:00+01:00") == 1767225600
    assert parse_schedule("all", "00:00-24:00").days_mask == 0x7F
    assert parse_schedule("sun,sat", "10:30-11:00").days_mask == 0b1000001
    with pytest.raises(CliError):
        parse_schedule("mon", "25:00-26:00")


def test_credentials_pin_card_list_remove(owned: Cli) -> None:
    owned.ok("users", "add", "door", "Carl")
    pin = owned.json("credentials", "add", "door", "2", "--pin", "-", input="135790\n")
    assert pin == {"credential_id": pin["credential_id"], "user_number": 2, "kind": "PIN",
                   "duress": False, "label": "", "revoked": False,
                   "validity": {"valid_from": None, "valid_until": None}}
    assert "135790" not in owned.ok("credentials", "list", "door")
    owned.ok("users", "add", "door", "Dora")
    duress = owned.ok("credentials", "add", "door", "3", "--pin", "-", "--duress",
                      input="246813\n")
    assert duress.strip().endswith("for user 3 (duress)")
    listed = owned.json("credentials", "list", "door", "--kind", "pin")
    assert [(c["user_number"], c["duress"]) for c in listed] == [(2, False), (3, True)]
    assert owned.json("credentials", "list", "door", "--user", "3") == [listed[1]]
    out = owned.ok("credentials", "remove", "door", str(pin["credential_id"]))
    assert out.strip() == f"removed credential {pin['credential_id']}"
    assert len(owned.json("credentials", "list", "door", "--kind", "pin")) == 1


def test_credentials_errors(owned: Cli) -> None:
    owned.ok("users", "add", "door", "Carl")
    owned.fails(ErrorCode.WEAK_PIN, "credentials", "add", "door", "2", "--pin", "-",
                input="123456\n")
    owned.fails(ErrorCode.MALFORMED_PIN, "credentials", "add", "door", "2", "--pin", "-",
                input="12a\n")
    owned.fails(ErrorCode.UNKNOWN_USER, "credentials", "add", "door", "9", "--pin", "-",
                input="135790\n")
    owned.fails(ErrorCode.INVALID_ARGUMENT, "credentials", "add", "door", "2")
    owned.fails(ErrorCode.INVALID_ARGUMENT, "credentials", "add", "door", "2", "--pin", "-",
                "--finger", input="135790\n")
    owned.fails(ErrorCode.INVALID_ARGUMENT, "credentials", "add", "door", "2", "--card", "zz",
                "--card-code", "-", input="123456\n")
    owned.fails(ErrorCode.INVALID_ARGUMENT, "credentials", "add", "door", "2", "--card", "ab")
    owned.fails(ErrorCode.UNKNOWN_CREDENTIAL, "credentials", "remove", "door", "999")


def _auto_present(door: MemoryLock, kind: CredentialKind, template: bytes) -> None:
    """Present ``template`` at the sensor whenever an enrolment runs (as a person at the
    lock would), from the command's own event loop."""
    deliver = door.deliver

    def present() -> None:
        if door.lock.enrolling is not None:
            door.lock.present_biometric(kind, template)
            door.panel()

    def patched() -> None:
        deliver()
        if door.lock.enrolling is not None:
            asyncio.get_running_loop().call_later(0.01, present)

    door.deliver = patched  # type: ignore[method-assign]  # test hook on the memory lock


def test_credentials_enrol_finger_progress_step_by_step(owned: Cli, door: MemoryLock) -> None:
    """R-CRD-4: the enrolment runs at the lock; the command shows each capture."""
    owned.ok("users", "add", "door", "Carl")
    _auto_present(door, CredentialKind.FINGERPRINT, b"finger-7")
    out = owned.ok("credentials", "add", "door", "2", "--finger").splitlines()
    assert out[0] == "enrolling a fingerprint for user 2: present it at the lock"
    captures = [line for line in out if line.strip().startswith("capture ")]
    needed = int(captures[0].split("/")[1].split(":")[0])
    assert [c.split(":")[0].strip() for c in captures] == [  # counted from 1 (issue 14)
        f"capture {i}/{needed}" for i in range(1, len(captures) + 1)]
    assert out[-2].strip().startswith("done: credential ")
    assert out[-1].startswith("added fingerprint credential ")
    decision = door.lock.present_biometric(CredentialKind.FINGERPRINT, b"finger-7")
    assert getattr(decision, "granted", None) is True


def test_credentials_enrol_json_has_steps(owned: Cli, door: MemoryLock) -> None:
    owned.ok("users", "add", "door", "Carl")
    _auto_present(door, CredentialKind.PALM, b"palm-1")
    out = owned.json("credentials", "add", "door", "2", "--palm")
    assert out["credential"]["kind"] == "PALM"
    assert out["steps"][-1]["state"] == "DONE"
    assert [s["captured"] for s in out["steps"]] == list(range(1, len(out["steps"]) + 1))


def test_credentials_enrol_times_out(owned: Cli) -> None:
    owned.ok("users", "add", "door", "Carl")
    owned.fails(ErrorCode.TIMEOUT, "credentials", "add", "door", "2", "--face",
                "--enrol-timeout", "1")


def test_credentials_pin_prompted_hidden(owned: Cli) -> None:
    """``--pin`` alone asks twice without echo (a new PIN), so it stays out of ``ps`` and
    the shell history."""
    owned.ok("users", "add", "door", "Carl")
    result = owned("credentials", "add", "door", "2", "--pin", input="135790\n135790\n",
                   interactive=True)
    assert result.exit_code == 0, result.output
    assert "135790" not in result.output  # neither echoed nor printed
    assert result.stderr.splitlines() == ["PIN: ", "Repeat for confirmation: "]
    assert result.stdout.strip().startswith("added pin credential")
    pins = owned.json("credentials", "list", "door", "--kind", "pin")
    assert [c["user_number"] for c in pins] == [2]
