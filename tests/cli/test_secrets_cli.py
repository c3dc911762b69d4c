"""Issue 10 items 5 and 6, issue 11 item 9, by CliRunner:

- no secret on the command line: setup codes, QR texts, invites, PINs and card codes come
  from a hidden prompt, stdin (``-``) or a file; one given as an argument is refused and
  never repeated;
- no silent trust on first use: ``claim --code`` without a fingerprint shows the lock's key
  fingerprint and keeps the key only when confirmed; without a terminal and without
  ``--trust-fingerprint`` / ``--accept-new-fingerprint`` it refuses before reaching the
  lock; ``info`` shows the fingerprint of a paired lock;
- sync unlock on a model without it (DL20VC) names the lock and its model (R-SYN-*).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ble_lock.central.keystore import Keystore
from ble_lock.cli.trust import PendingKeystore
from ble_lock.core.errors import ErrorCode
from ble_lock.core.profile import DL20VC
from ble_lock.testing.memory_lock import MemoryLock
from ble_lock.wire.security.pairing import QrPayload
from tests.cli._memory import Cli, MemoryBackend

PIN = "135790"


def _pins(cli: Cli) -> list[int]:
    return [c["user_number"] for c in cli.json("credentials", "list", "door", "--kind", "pin")]


def _fp(door: MemoryLock) -> str:
    return door.fingerprint.hex().upper()


# ---------------------------------------------------------------- secrets (item 6)


def test_pin_given_as_argument_is_refused_and_not_repeated(owned: Cli) -> None:
    """A PIN in argv is visible in `ps` and the shell history: refused, nothing sent."""
    owned.ok("users", "add", "door", "Carl")
    err = owned.fails(ErrorCode.INVALID_ARGUMENT, "credentials", "add", "door", "2",
                      "--pin", PIN)
    assert PIN not in err
    assert "--pin alone asks for it, --pin - reads it from stdin, --pin-file FILE" in err
    assert _pins(owned) == []


def test_pin_from_stdin_and_from_file(owned: Cli, door: MemoryLock, tmp_path: Path) -> None:
    owned.ok("users", "add", "door", "Carl")
    owned.ok("users", "add", "door", "Dora")
    out = owned.ok("credentials", "add", "door", "2", "--pin", "-", input=PIN + "\n")
    assert PIN not in out
    pin_file = tmp_path / "pin.txt"
    pin_file.write_text("246813\nignored second line\n")
    owned.ok("credentials", "add", "door", "3", "--pin-file", str(pin_file))
    assert _pins(owned) == [2, 3]
    # the file's PIN is the one stored: typed at the keypad it opens for Dora
    assert door.lock.enter_pin("246813").user_number == 3


def test_pin_prompt_repeats_until_both_entries_match(owned: Cli) -> None:
    owned.ok("users", "add", "door", "Carl")
    result = owned("credentials", "add", "door", "2", "--pin", interactive=True,
                   input=f"{PIN}\n999999\n{PIN}\n{PIN}\n")
    assert result.exit_code == 0, result.output
    assert "do not match" in result.stderr
    assert PIN not in result.output
    assert _pins(owned) == [2]


def test_prompt_without_terminal_is_refused(owned: Cli) -> None:
    owned.ok("users", "add", "door", "Carl")
    err = owned.fails(ErrorCode.INVALID_ARGUMENT, "credentials", "add", "door", "2", "--pin",
                      input=f"{PIN}\n{PIN}\n")
    assert "no terminal to ask for the PIN" in err
    assert "--pin - (stdin) or --pin-file FILE" in err
    assert _pins(owned) == []


def test_secret_sources_bad_combinations(owned: Cli, tmp_path: Path) -> None:
    owned.ok("users", "add", "door", "Carl")
    pin_file = tmp_path / "pin.txt"
    pin_file.write_text(PIN)
    owned.fails(ErrorCode.INVALID_ARGUMENT, "credentials", "add", "door", "2", "--pin", "-",
                "--pin-file", str(pin_file), input=PIN + "\n")
    err = owned.fails(ErrorCode.INVALID_ARGUMENT, "credentials", "add", "door", "2",
                      "--pin-file", str(tmp_path / "missing"))
    assert "cannot read --pin-file" in err
    empty = tmp_path / "empty"
    empty.write_text("\n")
    assert "no PIN in" in owned.fails(ErrorCode.INVALID_ARGUMENT, "credentials", "add",
                                      "door", "2", "--pin-file", str(empty))
    assert "no PIN in stdin" in owned.fails(ErrorCode.INVALID_ARGUMENT, "credentials", "add",
                                            "door", "2", "--pin", "-", input="")
    owned.fails(ErrorCode.INVALID_ARGUMENT, "credentials", "add", "door", "2",
                "--card-code", "-", input="123456\n")  # a card code without --card
    assert _pins(owned) == []


@pytest.fixture
def dl20vc(tmp_path: Path) -> Cli:
    """A DL20VC claimed by this phone (setup code from stdin, fingerprint pinned)."""
    lock = MemoryLock(profile=DL20VC, lock_id=bytes.fromhex("d1200001"), seed=7)
    lock.address = "D1:20:00:01:00:01"
    cli = Cli(home=tmp_path / "home", backend=MemoryBackend(lock))
    cli.ok("claim", "D1200001", "--code", "-", "--trust-fingerprint", _fp(lock), "--name",
           "door", input=lock.setup_code + "\n")
    return cli


def test_card_code_from_prompt_file_and_argument_refused(dl20vc: Cli, tmp_path: Path) -> None:
    """R-CRD-5: the card security code is a secret like a PIN."""
    dl20vc.ok("users", "add", "door", "Carl")
    err = dl20vc.fails(ErrorCode.INVALID_ARGUMENT, "credentials", "add", "door", "2",
                       "--card", "a1b2c3d4", "--card-code", "482915")
    assert "482915" not in err
    result = dl20vc("credentials", "add", "door", "2", "--card", "a1b2c3d4", "--card-code",
                    interactive=True, input="482915\n")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == ["card security code: "]  # asked once, hidden
    code_file = tmp_path / "card-code"
    code_file.write_text("000000\n")
    dl20vc.fails(ErrorCode.WRONG_CARD_CODE, "credentials", "add", "door", "2", "--card",
                 "a1b2c3d5", "--card-code-file", str(code_file))
    code_file.write_text("482915\n")
    dl20vc.ok("credentials", "add", "door", "2", "--card", "a1b2c3d5", "--card-code-file",
              str(code_file))
    cards = dl20vc.json("credentials", "list", "door", "--kind", "card")
    assert [c["user_number"] for c in cards] == [2, 2]


def test_setup_code_and_qr_given_as_arguments_are_refused(cli: Cli, door: MemoryLock) -> None:
    err = cli.fails(ErrorCode.INVALID_ARGUMENT, "claim", "0BADC0DE", "--code",
                    door.setup_code, "--trust-fingerprint", _fp(door))
    assert door.setup_code not in err
    qr = QrPayload(lock_id=door.lock_id, setup_code=door.setup_code,
                   fingerprint=door.fingerprint).to_text()
    err = cli.fails(ErrorCode.INVALID_ARGUMENT, "claim", "0BADC0DE", "--qr", qr)
    assert door.setup_code not in err
    assert door.lock.claimed is False
    assert cli.backend.clients == []  # refused before looking for the lock


def test_claim_with_code_file_and_qr_prompt(cli: Cli, door: MemoryLock, tmp_path: Path) -> None:
    code_file = tmp_path / "code"
    code_file.write_text(door.setup_code + "\n")
    out = cli.json("claim", "0BADC0DE", "--code-file", str(code_file),
                   "--trust-fingerprint", " ".join(_fp(door)[i:i + 4] for i in range(0, 32, 4)))
    assert out["fingerprint"] == _fp(door)  # grouped input accepted, printed as the QR has it
    other = MemoryLock(lock_id=bytes.fromhex("0badc0df"), seed=9)
    cli.backend.locks.append(other)
    qr = QrPayload(lock_id=other.lock_id, setup_code=other.setup_code,
                   fingerprint=other.fingerprint).to_text()
    result = cli("claim", "0BADC0DF", "--qr", "--name", "back", interactive=True,
                 input=qr + "\n")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == ["QR text: "]
    assert Keystore(cli.home).get("0BADC0DF") is not None


def test_invite_as_argument_refused_prompted_and_from_file(owned: Cli, tmp_path: Path) -> None:
    owned.ok("users", "add", "door", "Carl")
    first = owned.json("key", "issue", "door", "--user", "2")
    guest = tmp_path / "guest"
    err = owned.fails(ErrorCode.INVALID_ARGUMENT, "key", "redeem", first["invite"],
                      home=guest)
    assert first["code"] not in err
    assert "`ble-lock key redeem` asks for it (paste it)" in err
    assert Keystore(guest).get("0BADC0DE") is None
    result = owned("key", "redeem", home=guest, interactive=True,
                   input=first["invite"] + "\n")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == ["invite: "]
    assert first["code"] not in result.output
    assert owned.json("unlock", "0BADC0DE", home=guest) == {"unlocked": True, "user": 2}
    second = owned.json("key", "issue", "door", "--user", "2")
    invite_file = tmp_path / "invite"
    invite_file.write_text(second["invite"] + "\n")
    other = tmp_path / "other-phone"
    owned.ok("key", "redeem", "--invite-file", str(invite_file), home=other)
    assert owned.json("unlock", "0BADC0DE", home=other) == {"unlocked": True, "user": 2}
    owned.fails(ErrorCode.INVALID_ARGUMENT, "key", "redeem", home=tmp_path / "third")


# ---------------------------------------------------------------- trust (item 5)


def test_claim_code_without_fingerprint_and_terminal_is_refused(cli: Cli,
                                                                door: MemoryLock) -> None:
    """Nothing reaches the lock: it stays factory-fresh for the next try."""
    err = cli.fails(ErrorCode.INVALID_ARGUMENT, "claim", "0BADC0DE", "--code", "-",
                    input=door.setup_code + "\n")
    assert "no terminal to confirm the key fingerprint of 0BADC0DE" in err
    assert "--trust-fingerprint FP" in err
    assert "--accept-new-fingerprint" in err
    assert cli.backend.clients == []
    assert door.lock.claimed is False
    assert Keystore(cli.home).locks() == []


def test_claim_code_confirmed_fingerprint_is_kept(cli: Cli, door: MemoryLock) -> None:
    result = cli("claim", "0BADC0DE", "--code", "--name", "door", interactive=True,
                 input=f"{door.setup_code}\ny\n")
    assert result.exit_code == 0, result.output
    err = result.stderr
    assert err.startswith("setup code: \nlock 0BADC0DE (0BADC0DE) presents the key "
                          f"fingerprint\n    {_fp(door)}\n")
    assert "the last field of its QR text" in err
    assert "Is it the same fingerprint? [y/N]" in err
    assert door.setup_code not in result.output
    record = Keystore(cli.home).get("0BADC0DE")
    assert record is not None
    assert (record.name, record.role, record.visitor_secret is not None) == ("door", "admin",
                                                                             True)
    assert result.stdout.splitlines()[1] == f"key fingerprint {_fp(door)}"
    assert cli.json("unlock", "door") == {"unlocked": True, "user": 1}


@pytest.mark.parametrize("answer", ["n\n", "\n", ""], ids=["no", "default-no", "eof"])
def test_claim_code_declined_fingerprint_saves_nothing_and_resets_the_lock(
        cli: Cli, door: MemoryLock, answer: str) -> None:
    """A "no" (or no answer) keeps nothing; the lock, which completed the pairing, is asked
    back to factory-fresh so it is not left owned by a key nobody keeps."""
    result = cli("claim", "0BADC0DE", "--code", "-", interactive=True,
                 input=f"{door.setup_code}\n{answer}")
    assert result.exit_code == int(ErrorCode.IDENTITY_MISMATCH), result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: key fingerprint of lock 0BADC0DE not confirmed: nothing "
                           "saved on this phone, and the device that answered was asked to "
                           "return to factory-fresh (IDENTITY_MISMATCH) - claim again")
    assert Keystore(cli.home).locks() == []
    assert door.lock.claimed is False
    assert "factory_fresh" in cli.ok("scan", "--for", "0.5")
    # and it can be claimed again (face-palm: after SET, R-APP-1), this time confirmed
    door.lock.enter_pairing_mode()
    again = cli("claim", "0BADC0DE", "--code", "-", interactive=True,
                input=f"{door.setup_code}\ny\n")
    assert again.exit_code == 0, again.output
    assert cli.json("unlock", "0BADC0DE") == {"unlocked": True, "user": 1}


def test_claim_accept_new_fingerprint_asks_nothing(cli: Cli, door: MemoryLock) -> None:
    out = cli.json("claim", "0BADC0DE", "--code", "-", "--accept-new-fingerprint",
                   input=door.setup_code + "\n")
    assert out["fingerprint"] == _fp(door)
    assert Keystore(cli.home).get("0BADC0DE") is not None


def test_info_shows_the_fingerprint_of_a_paired_lock(owned: Cli, door: MemoryLock) -> None:
    assert owned.json("info", "door")["fingerprint"] == _fp(door)
    lines = owned.ok("info", "door").splitlines()
    assert f"{'fingerprint':17} {_fp(door)}" in lines


def test_pending_keystore_keeps_records_in_memory_until_commit(tmp_path: Path) -> None:
    from ble_lock.central.keystore import LockRecord

    real = Keystore(tmp_path)
    real.put(LockRecord(lock_id="00000001", name="old", lock_public_key=b"\x01" * 32,
                        counter=5))
    staged = PendingKeystore(real)
    staged.put(LockRecord(lock_id="00000002", name="new", lock_public_key=b"\x02" * 32))
    assert staged.next_counter("00000002") == 1
    assert staged.raise_counter("00000002", 7) == 7
    assert staged.update("00000002", role="admin").counter == 7
    assert real.get("00000002") is None  # nothing written yet
    assert [r.name for r in staged.locks()] == ["new", "old"]
    assert staged.next_counter("00000001") == 6  # another lock: the real record
    assert real.get("00000001").counter >= 6  # type: ignore[union-attr]  # a block's top
    staged.commit()
    kept = real.get("00000002")
    assert kept is not None
    assert (kept.role, kept.counter) == ("admin", 7)
    staged.update("00000002", name="front")  # written through once committed
    assert real.get("00000002").name == "front"  # type: ignore[union-attr]
    declined = PendingKeystore(real)
    declined.put(LockRecord(lock_id="00000003", name="x", lock_public_key=b"\x03" * 32))
    declined.discard()
    assert declined.get("00000003") is None
    assert real.get("00000003") is None
    assert "00000003" not in repr(real)


# ---------------------------------------------------------------- sync (issue 11 item 9)


def test_sync_on_a_model_without_sync_unlock_names_lock_and_model(dl20vc: Cli) -> None:
    """R-SYN-*: sync unlock is a face-palm feature; a DL20VC says so, never "off"."""
    err = dl20vc.fails(ErrorCode.UNSUPPORTED_BY_PROFILE, "sync", "link", "door", "door")
    assert err.startswith("error: lock door (DL20VC) does not support sync unlock (R-SYN-*)")
    assert dl20vc.ok("sync", "status", "door").strip() == \
        "sync unlock not supported by this model (DL20VC)"
    assert dl20vc.json("sync", "status", "door") == {
        "lock_id": "D1200001", "model": "dl20vc", "supported": False, "sync_unlock": None,
        "window_s": None, "links": []}
