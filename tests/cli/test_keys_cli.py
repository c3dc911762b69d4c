"""CliRunner: Bluetooth keys (issue, redeem, list, revoke) and visitor codes made offline."""

from __future__ import annotations

import json
from pathlib import Path

from ble_lock.central.keystore import Keystore
from ble_lock.core.errors import ErrorCode
from ble_lock.testing.memory_lock import START, MemoryLock
from tests.cli._memory import Cli


def test_key_issue_redeem_unlock_list_revoke(owned: Cli, door: MemoryLock,
                                             tmp_path: Path) -> None:
    """R-APP-3 guest keys; a revoked key opens nothing."""
    owned.ok("users", "add", "door", "Carl")
    issued = owned.json("key", "issue", "door", "--user", "2")
    assert issued["user_number"] == 2
    assert issued["invite"] == (f"BLEKEY1:0BADC0DE:{issued['invite_id']}:{issued['code']}:"
                                f"{door.fingerprint.hex().upper()}")
    guest = tmp_path / "guest"
    redeemed = owned("key", "redeem", "-", "--json", home=guest, input=issued["invite"] + "\n")
    assert redeemed.exit_code == 0, redeemed.output
    assert json.loads(redeemed.stdout)["role"] == "normal"
    assert Keystore(guest).get("0BADC0DE") is not None
    unlocked = owned("unlock", "0BADC0DE", "--json", home=guest)
    assert json.loads(unlocked.stdout) == {"unlocked": True, "user": 2}
    listing = owned.json("key", "list", "door")
    assert set(listing) == {"keys", "invites"}
    carls = [k for k in listing["keys"] if k["user"] == 2]
    assert len(carls) == 1
    assert carls[0]["name"] == "Carl"
    assert "Carl" in owned.ok("key", "list", "door")
    out = owned.ok("key", "revoke", "door", str(carls[0]["credential_id"]))
    assert out.strip() == f"key {carls[0]['credential_id']} revoked"
    denied = owned("unlock", "0BADC0DE", home=guest)
    assert denied.exit_code in (int(ErrorCode.UNKNOWN_PEER), int(ErrorCode.KEY_REVOKED))
    assert denied.stderr.startswith("error: ")


def test_key_issue_new_user_human_and_pending_invites(owned: Cli) -> None:
    out = owned.ok("key", "issue", "door", "--name", "Eve", "--until", "2026-03-01")
    assert "Bluetooth key for user 2" in out
    assert "On the other phone: ble-lock key redeem, and paste the invite" in out
    listing = owned.json("key", "list", "door")
    assert [i["user_number"] for i in listing["invites"]] == [2]
    assert "pending invites:" in owned.ok("key", "list", "door")


def test_key_errors(owned: Cli, door: MemoryLock, tmp_path: Path) -> None:
    owned.fails(ErrorCode.INVALID_ARGUMENT, "key", "issue", "door")
    owned.fails(ErrorCode.UNKNOWN_USER, "key", "issue", "door", "--user", "7")
    owned.fails(ErrorCode.UNKNOWN_KEY, "key", "revoke", "door", "999")
    issued = owned.json("key", "issue", "door", "--name", "Eve")
    forged = issued["invite"].replace(issued["code"], "0" * len(issued["code"]))
    result = owned("key", "redeem", "-", home=tmp_path / "eve", input=forged + "\n")
    assert result.exit_code == int(ErrorCode.PAIRING_FAILED), result.output


def test_code_one_time_and_periodic_offline(owned: Cli, door: MemoryLock) -> None:
    """R-APP-4: codes made from the stored secret, with no connection; the lock takes them."""
    at = str(int(START))
    one = owned.json("code", "one-time", "door", "--at", at, "--nonce", "3")
    assert (one["lock_id"], one["kind"]) == ("0BADC0DE", "one-time")
    assert one["valid_until"] - one["valid_from"] == 6 * 3600
    door.links.clear()
    decision = door.lock.enter_pin(one["code"])
    assert decision.granted
    assert not door.links  # made offline: no connection was opened
    again = door.lock.enter_pin(one["code"])
    assert not again.granted
    periodic = owned.json("code", "periodic", "door", "--from", at, "--until",
                          str(int(START) + 86400))
    assert periodic["kind"] == "periodic"
    assert door.lock.enter_pin(periodic["code"]).granted
    assert door.lock.enter_pin(periodic["code"]).granted  # reusable in its window
    human = owned.ok("code", "one-time", "door", "--at", at)
    assert "one-time visitor code" in human
    assert owned.ok("code", "fetch-secret", "door").startswith("visitor secret stored")


def test_code_errors(owned: Cli, cli: Cli, tmp_path: Path) -> None:
    owned.fails(ErrorCode.INVALID_ARGUMENT, "code", "periodic", "door", "--from", "2026-01-02",
                "--until", "2026-01-01")
    (tmp_path / "stranger").mkdir()  # an empty keystore; a missing folder: tests/cli/test_entry.py
    result = cli("code", "one-time", "door", home=tmp_path / "stranger")
    assert result.exit_code == int(ErrorCode.NOT_PAIRED)
    assert result.stderr.startswith("error: this phone is paired with no lock yet")
    assert "'door'" in result.stderr
    ks = Keystore(owned.home)
    ks.update("0BADC0DE", visitor_secret=None)
    err = owned.fails(ErrorCode.PERMISSION_DENIED, "code", "one-time", "door")
    assert "ble-lock code fetch-secret" in err


def test_invite_text_round_trip_and_secret_out_of_repr() -> None:
    from ble_lock.cli.invites import InviteText

    text = InviteText(lock_id=bytes.fromhex("0badc0de"), invite_id=7, code="12345678",
                      fingerprint=bytes(range(16)))
    assert InviteText.parse(text.text()) == text
    assert "12345678" not in repr(text)
