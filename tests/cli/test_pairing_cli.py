"""CliRunner: scan, info, claim, phones, unlock, lock, and the shared error handling."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ble_lock.central.keystore import Keystore
from ble_lock.cli.errors import format_error
from ble_lock.core.errors import ErrorCode, TransportError
from ble_lock.testing.memory_lock import MemoryLock
from ble_lock.wire.security.pairing import QrPayload
from tests.cli._memory import Cli


def test_scan_table_and_json(cli: Cli) -> None:
    out = cli.ok("scan", "--for", "0.5")
    assert "LOCK ID" in out
    assert "0BADC0DE" in out
    assert "factory_fresh" in out
    (row,) = cli.json("scan", "--for", "0.5")
    assert row == {"lock_id": "0BADC0DE", "name": "BLELOCK-0BADC0DE",
                   "address": "0B:AD:C0:DE:00:01", "rssi": -40,
                   "flags": "factory_fresh", "paired_as": None}


def test_claim_with_code_and_fingerprint_then_info(cli: Cli, door: MemoryLock,
                                                   tmp_path: Path) -> None:
    """R-USR-2: the claiming phone is user 1, admin; the keystore keeps the lock."""
    out = cli.ok("claim", "0BADC0DE", "--code", "-", "--trust-fingerprint",
                 door.fingerprint.hex(), "--name", "door", input=door.setup_code + "\n")
    assert out.splitlines() == ["claimed lock 0BADC0DE as user 1 (admin); saved as 'door'",
                                f"key fingerprint {door.fingerprint.hex().upper()}"]
    record = Keystore(tmp_path / "home").get("0BADC0DE")
    assert record is not None
    assert (record.user_no, record.role, record.name) == (1, "admin", "door")
    assert record.visitor_secret is not None  # fetched for offline visitor codes
    info = cli.json("info", "door")  # LOCK by the name given at pairing
    assert info["lock_id"] == "0BADC0DE"
    assert (info["user"], info["role"], info["paired_as"]) == (1, "admin", "door")
    assert info["system"]["claimed"] is True
    assert "verification_code" not in info["system"]  # the owner's secret stays out
    human = cli.ok("info", "0B:AD:C0:DE:00:01")  # LOCK by address
    assert "model" in human
    assert "credentials" in human
    assert re.search(r"^state +locked$", human, re.M), human  # words, not LOCKED (issue 14)


def test_claim_with_qr_json(cli: Cli, door: MemoryLock) -> None:
    qr = QrPayload(lock_id=door.lock_id, setup_code=door.setup_code,
                   fingerprint=door.fingerprint).to_text()
    out = cli.json("claim", "BLELOCK-0BADC0DE", "--qr", "-", input=qr + "\n")
    assert out == {"lock_id": "0BADC0DE", "name": "BLELOCK-0BADC0DE", "user": 1,
                   "role": "admin", "address": "0B:AD:C0:DE:00:01",
                   "fingerprint": door.fingerprint.hex().upper()}


def test_claim_errors(cli: Cli, door: MemoryLock) -> None:
    code = door.setup_code + "\n"
    assert cli("claim", "0BADC0DE").exit_code == int(ErrorCode.INVALID_ARGUMENT)
    cli.fails(ErrorCode.INVALID_ARGUMENT, "claim", "0BADC0DE", "--code", "-",
              "--trust-fingerprint", "abc", input=code)
    wrong_fp = "00" * 16
    cli.fails(ErrorCode.IDENTITY_MISMATCH, "claim", "0BADC0DE", "--code", "-",
              "--trust-fingerprint", wrong_fp, input=code)
    cli.fails(ErrorCode.LOCK_NOT_FOUND, "claim", "AABBCCDD", "--code", "-",
              "--accept-new-fingerprint", input=code)
    qr = QrPayload(lock_id=door.lock_id, setup_code=door.setup_code,
                   fingerprint=door.fingerprint).to_text()
    cli.fails(ErrorCode.INVALID_ARGUMENT, "claim", "0BADC0DE", "--qr", "-",
              "--accept-new-fingerprint", input=qr + "\n")  # the QR carries its own
    cli.fails(ErrorCode.INVALID_ARGUMENT, "claim", "0BADC0DE", "--code", "-",
              "--accept-new-fingerprint", "--trust-fingerprint", wrong_fp, input=code)


def test_claim_wrong_code_then_right_code(cli: Cli, door: MemoryLock) -> None:
    """A typo in the setup code does not keep the lock busy: the failed pairing's CLOSE
    reaches the lock before the command ends (engine fix, else CHANNEL_BUSY for 30 s)."""
    err = cli.fails(ErrorCode.PAIRING_FAILED, "claim", "0BADC0DE", "--code", "-",
                    "--accept-new-fingerprint", input="0000000000\n")
    assert "check the code" in err
    out = cli.ok("claim", "0BADC0DE", "--code", "-", "--accept-new-fingerprint",
                 input=door.setup_code + "\n")
    assert out.startswith("claimed lock 0BADC0DE as user 1 (admin)")


def test_claimed_twice_and_not_in_pairing_mode(owned: Cli, door: MemoryLock,
                                               tmp_path: Path) -> None:
    """Claiming again from the phone that owns the lock changes nothing and succeeds (a
    re-run after an interruption must: issue 14 item 1); another phone is refused."""
    users = door.lock.read_events(limit=500).events
    out = owned.ok("claim", "0BADC0DE", "--code", "-", "--accept-new-fingerprint",
                   input=door.setup_code + "\n")
    assert out.startswith("claimed lock 0BADC0DE as user 1 (admin); saved as 'door'")
    assert [e.kind for e in door.lock.read_events(limit=500).events] == \
        [e.kind for e in users]  # no pairing attempt reached the lock
    result = owned("claim", "0BADC0DE", "--code", "-", "--accept-new-fingerprint",
                   home=tmp_path / "other", input=door.setup_code + "\n")
    assert result.exit_code == int(ErrorCode.ALREADY_CLAIMED), result.output
    assert "ask an admin for an invite" in result.stderr


def test_unlock_lock_json_and_not_paired(owned: Cli, cli: Cli, tmp_path: Path) -> None:
    assert owned.json("unlock", "door") == {"unlocked": True, "user": 1}
    assert owned.ok("lock", "door").strip() == "locked"
    assert owned.json("lock", "door") == {"locked": True}
    (tmp_path / "other").mkdir()  # an empty keystore (a missing one: KEYSTORE_ERROR)
    err = _fails_home(cli, tmp_path / "other", ErrorCode.NOT_PAIRED, "unlock", "0BADC0DE")
    assert "claim it" in err


def _fails_home(cli: Cli, home: Path, code: ErrorCode, *args: str) -> str:
    result = cli(*args, home=home)
    assert result.exit_code == int(code), result.output
    assert result.stderr.count("\n") == 1
    return result.stderr


def test_phones_add_redeem_list_remove(owned: Cli, tmp_path: Path) -> None:
    """R-APP-3: one more admin phone with an invite; listed; removed."""
    invite = owned.json("phones", "add", "door", "--name", "Bea")
    assert invite["invite"].startswith("BLEKEY1:0BADC0DE:")
    assert set(invite) == {"invite_id", "user_number", "code", "expires_at", "lock_id",
                           "fingerprint", "invite"}
    bea = tmp_path / "bea"
    result = owned("key", "redeem", "-", "--name", "front", "--json", home=bea,
                   input=invite["invite"] + "\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"lock_id": "0BADC0DE", "name": "front",
                                         "user": invite["user_number"], "role": "admin"}
    phones = owned.json("phones", "list", "door")
    bea_no = invite["user_number"]
    assert [(p["user"], p["role"], p["this_phone_user"]) for p in phones] == [
        (1, "admin", True), (bea_no, "admin", False)]
    human = owned.ok("phones", "list", "door")
    assert "Bea" in human
    cred = phones[1]["credential_id"]
    assert owned.ok("phones", "remove", "door", str(cred)).strip() == \
        f"phone key {cred} removed"
    result = owned("unlock", "front", home=bea)
    assert result.exit_code in (int(ErrorCode.UNKNOWN_PEER), int(ErrorCode.KEY_REVOKED))
    assert result.stderr.startswith("error: ")


def test_phones_add_human_prints_invite_and_qr(owned: Cli) -> None:
    out = owned.ok("phones", "add", "door", "--name", "Bea")
    assert "invite BLEKEY1:0BADC0DE:" in out
    assert "▀" in out or "█" in out  # the QR code, in terminal characters
    assert "ble-lock key redeem, and paste the invite when asked" in out


def test_bad_lock_and_bad_invite(owned: Cli) -> None:
    # issue 14 item 7: a name the keystore does not know fails before any scan
    assert "this phone knows 'door'" in owned.fails(ErrorCode.NOT_PAIRED, "unlock", "nowhere")
    owned.fails(ErrorCode.LOCK_NOT_FOUND, "info", "nowhere")  # may be an advertised name
    owned.fails(ErrorCode.INVALID_ARGUMENT, "unlock", "  ")
    owned.fails(ErrorCode.INVALID_ARGUMENT, "key", "redeem", "-", input="BLEKEY1:nothex\n")


def test_usage_errors_exit_2(owned: Cli) -> None:
    result = owned("unlock")
    assert result.exit_code == 2
    assert "Missing argument 'LOCK'" in result.output


def test_unexpected_failure_is_one_line_exit_99(owned: Cli, door: MemoryLock) -> None:
    def broken() -> None:
        raise RuntimeError("boom")

    door.info = broken  # type: ignore[method-assign]  # a bug inside the stack
    result = owned("info", "door")
    assert result.exit_code == 99
    assert result.stderr.strip().splitlines() == [
        "error: unexpected RuntimeError: boom (INTERNAL) - run with -v for the traceback "
        "and report it"]
    verbose = owned("-v", "info", "door")
    assert "Traceback" in verbose.stderr


def test_error_line_format() -> None:
    line = format_error(TransportError("no lock", code=ErrorCode.LOCK_NOT_FOUND))
    assert line.startswith("error: no lock (LOCK_NOT_FOUND) - is it powered")
    assert "\n" not in line


def test_info_unpaired_and_scan_empty(cli: Cli, tmp_path: Path) -> None:
    info = cli.json("info", "0BADC0DE")
    assert info == {"lock_id": "0BADC0DE", "address": "0B:AD:C0:DE:00:01",
                    "profile": "face-palm", "flags": "factory_fresh", "protocol_version": 2}
    cli.backend.locks.clear()
    assert cli.ok("scan", "--for", "0.5").strip() == "no lock found (is one advertising nearby?)"
    assert cli.json("scan", "--for", "0.5") == []
