"""Issue 11 over the simulator, by command line: ``ble-lock emulate`` processes on their
own hosts, every provisioning command a ``ble-lock`` process on another host, the front
panels driven with ``ble-lock panel``, the manual lock clocks moved with ``panel clock``.

* item 1 (R-USR-8 / R-MOD-3, DL20VC): a dual-auth user's phone alone does not open; it
  is one key of two with the PIN at the door, in either order, within the window;
* item 2 (R-MOD-2 with R-SYN-2, face-palm): privacy mode on lock B refuses the sync
  statement from A, after a normal user's PIN and after an admin's PIN at A;
* item 3 (R-MOD-4 with R-SYN-3): passage mode on B survives the end of B's sync window.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ble_lock.core.errors import ErrorCode
from ble_lock.sim.harness import BleHarness
from tests.cli._procs import emulate, ok, run, start

pytestmark = pytest.mark.timeout(240)


@pytest.mark.ble_sim(hosts=2, adapters=(1, 1))
async def test_r_usr_8_dual_auth_phone_is_one_key_of_two(ble_sim: BleHarness,
                                                         tmp_path: Path) -> None:
    """R-USR-8 / R-MOD-3 (DL20VC) by command line: `ble-lock unlock` by a dual-auth
    user's phone answers DUAL_AUTH_PENDING and the bolt stays locked; the user's PIN at
    the door within the window opens (by DUAL_AUTH); PIN first, then the phone, too."""
    lock_home, owner, guest = tmp_path / "lock", tmp_path / "owner", tmp_path / "guest"
    _, lock = await emulate(ble_sim, 0, lock_home, "front", "dl20vc")

    async def cli(home: Path, *args: str, input: str | None = None) -> tuple[int, str, str]:
        done = await run(ble_sim, 1, home, *args, input=input)
        return done.rc, done.out, done.err

    async def must(home: Path, *args: str, input: str | None = None) -> str:
        return await ok(ble_sim, 1, home, *args, input=input)

    async def panel(*args: str) -> str:
        return await must(lock_home, "panel", *args)

    async def pending_pin() -> str:
        """The first key of two at the keypad: the door stays locked, so `panel` exits
        with the refusal's code (DUAL_AUTH_PENDING), as `unlock` does (issue 14)."""
        rc, out, err = await cli(lock_home, "panel", "pin", "135790")
        assert rc == int(ErrorCode.DUAL_AUTH_PENDING), (out, err)
        return out

    async def bolt() -> str:
        return str(json.loads(await panel("--json", "status"))["display"]["bolt"])

    await must(owner, "claim", lock["name"], "--qr", "-", "--name", "door", input=lock["qr"])
    bob = json.loads(await must(owner, "users", "add", "door", "Bob", "--role", "dual-auth",
                              "--json"))["user_number"]
    await must(owner, "credentials", "add", "door", str(bob), "--pin", "-", input="135790\n")
    invite = json.loads(await must(owner, "key", "issue", "door", "--user", str(bob),
                                 "--json"))["invite"]
    await must(guest, "key", "redeem", "-", "--name", "office", input=invite + "\n")
    await must(owner, "settings", "set", "door", "dual_auth_mode=on")

    # the phone alone: one key of two, the door stays locked
    rc, _, err = await cli(guest, "unlock", "office")
    assert rc == int(ErrorCode.DUAL_AUTH_PENDING), err
    assert await bolt() == "locked"
    # the PIN at the door within the window completes the pair
    assert (await panel("pin", "135790")).strip() == f"opened (user {bob}) by DUAL_AUTH"
    await panel("button")
    # PIN first, then the phone
    assert "present the second credential" in await pending_pin()
    assert json.loads(await must(guest, "unlock", "office", "--json")) == {
        "unlocked": True, "user": bob}
    await panel("button")
    # the window ends: the phone after it is a first key again
    assert "present the second credential" in await pending_pin()
    await panel("clock", "11")
    rc, _, err = await cli(guest, "unlock", "office")
    assert rc == int(ErrorCode.DUAL_AUTH_PENDING), err
    assert await bolt() == "locked"


@pytest.mark.ble_sim(hosts=3, adapters=(1, 1, 2))
async def test_r_mod_2_r_mod_4_sync_statement_obeys_lock_b_modes(ble_sim: BleHarness,
                                                                tmp_path: Path) -> None:
    """R-MOD-2 with R-SYN-2: privacy mode on B refuses A's statements (a normal user's
    PIN at A, and an admin's: the statement names nobody; B's log shows the refusal).
    R-MOD-4 with R-SYN-3: with passage mode on B, B's sync window ends and B stays open,
    passage mode still on."""
    home_a, home_b, admin = tmp_path / "a", tmp_path / "b", tmp_path / "admin"
    _, lock_a = await emulate(ble_sim, 0, home_a, "front", "face-palm")
    _, lock_b = await emulate(ble_sim, 1, home_b, "gate", "face-palm")

    async def cli(*args: str, adapter: str = "hci0", input: str | None = None) -> str:
        return await ok(ble_sim, 2, admin, *args, adapter=adapter, input=input)

    async def panel(home: Path, *args: str) -> str:
        return await ok(ble_sim, 2, home, "panel", *args)

    async def bolt(home: Path) -> str:
        return str(json.loads(await panel(home, "--json", "status"))["display"]["bolt"])

    for home, lock, name in ((home_a, lock_a, "front"), (home_b, lock_b, "gate")):
        await panel(home, "set")
        await cli("claim", lock["name"], "--qr", "-", "--name", name, input=lock["qr"])
    carl = json.loads(await cli("users", "add", "front", "Carl", "--json"))["user_number"]
    await cli("credentials", "add", "front", str(carl), "--pin", "-",
              input="135790\n")
    await cli("credentials", "add", "front", "1", "--pin", "-",
              input="975310\n")  # the admin at A
    await cli("credentials", "add", "gate", "1", "--pin", "-",
              input="246801\n")  # the admin at B

    link = await start(ble_sim, 2, admin, "--timeout", "10", "sync", "link", "front", "gate",
                       "--window", "10")
    await link.expect("now unlock gate", 40)
    assert (await panel(home_b, "pin", "246801")).startswith("opened (user 1)")
    await link.expect("linked ", 30)
    await panel(home_b, "button")
    relay = await start(ble_sim, 2, admin, "sync", "relay", "front", "gate", adapter="hci1")
    await relay.expect("relaying", 40)
    b_id = lock_b["lock_id"]

    # R-MOD-2: privacy mode on B; Carl's PIN opens A, not B
    await cli("settings", "set", "gate", "privacy_mode=on")
    assert (await panel(home_a, "pin", "135790")).startswith(f"opened (user {carl})")
    await relay.expect(f"statement for {b_id}: PRIVACY_MODE", 30)
    assert await bolt(home_b) == "locked"
    # the admin's PIN at A: B still refuses (an admin opens B with their own credential);
    # both clocks move on first: a statement at the same instant is a replay
    await panel(home_a, "button")
    await panel(home_b, "clock", "1")
    await panel(home_a, "clock", "1")
    assert (await panel(home_a, "pin", "975310")).startswith("opened (user 1)")
    await relay.expect(f"statement for {b_id}: PRIVACY_MODE", 30)
    assert await bolt(home_b) == "locked"
    records = json.loads(await cli("events", "gate", "--json"))
    refused = [r for r in records if r["kind"] == "UNLOCK_FAILED" and r["method"] == "SYNC"]
    assert [r["reason"] for r in refused] == ["PRIVACY_MODE"] * 2  # by name (issue 14)

    # R-MOD-4 with R-SYN-3: passage mode on B, a statement, then B's window ends
    await cli("settings", "set", "gate", "privacy_mode=off", "passage_mode=on")
    assert await bolt(home_b) == "unlocked"
    await panel(home_a, "button")
    await panel(home_b, "clock", "1")
    await panel(home_a, "clock", "1")
    assert (await panel(home_a, "pin", "135790")).startswith(f"opened (user {carl})")
    await relay.expect(f"statement for {b_id}: opened", 30)
    await panel(home_b, "clock", "11")
    await panel(home_a, "clock", "11")
    assert await bolt(home_b) == "unlocked"
    settings = json.loads(await cli("settings", "get", "gate", "--json"))
    assert settings["passage_mode"] is True
    await relay.stop()
    kinds = [r["kind"] for r in json.loads(await cli("events", "gate", "--json"))]
    assert "SYNC_RELOCK" not in kinds
    assert kinds.count("SYNC_UNLOCK") == 1
