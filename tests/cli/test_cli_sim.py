"""The stories of issues 5 and 6 through the command line only, over the simulator:
``ble-lock emulate`` in its own process on one host, every provisioning command a
``ble-lock`` process on another host (its own system bus), keystores in folders per phone.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ble_lock.core.errors import ErrorCode
from ble_lock.sim.att import AttOp
from ble_lock.sim.harness import BleHarness
from ble_lock.testing.waiting import eventually
from tests.cli._procs import emulate, run, start

pytestmark = pytest.mark.timeout(240)


def _sub(kinds: list[str], wanted: list[str]) -> None:
    it = iter(kinds)
    for item in wanted:
        assert any(k == item for k in it), f"{item} missing or out of order in {kinds}"


@pytest.mark.ble_sim(hosts=2, adapters=(1, 2))
async def test_story_claim_admin_pin_key_revoke_duress_lockout_events(
        ble_sim: BleHarness, tmp_path: Path) -> None:
    """Issue 5 by command line: claim (R-USR-2), second admin phone (R-APP-3), user + PIN
    and virtual PIN at the panel (R-PIN-3), Bluetooth key redeemed, used, revoked; duress
    alarm seen by `events --follow` (R-CRD-6), lockout (R-SEC-1), the event log."""
    lock_home, owner, bea, guest = (tmp_path / n for n in ("lock", "owner", "bea", "guest"))
    emu, lock = await emulate(ble_sim, 0, lock_home, "front")
    assert lock["qr"].startswith(f"BLELOCK1:{lock['lock_id']}:")
    assert any("█" in line for line in emu.lines)  # the QR code, drawn in the terminal
    assert any(line.startswith("Press SET first") for line in emu.lines)  # face-palm

    async def cli(home: Path, *args: str, input: str | None = None) -> tuple[int, str, str]:
        done = await run(ble_sim, 1, home, *args, input=input)
        return done.rc, done.out, done.err

    async def panel(*args: str, refused: ErrorCode | None = None) -> str:
        rc, out, err = await cli(lock_home, "panel", *args)
        assert rc == (0 if refused is None else int(refused)), err  # refusals: their code
        return out

    scan = json.loads((await cli(owner, "scan", "--for", "2", "--json"))[1])
    assert [(s["lock_id"], s["name"]) for s in scan] == [(lock["lock_id"], "front")]
    assert "PAIRED" not in scan[0]["flags"].upper()
    qr = lock["qr"] + "\n"
    rc, _, err = await cli(owner, "claim", "front", "--qr", lock["qr"])
    assert rc == int(ErrorCode.INVALID_ARGUMENT), err  # a secret in argv: refused
    assert lock["qr"] not in err
    rc, _, err = await cli(owner, "claim", "front", "--qr", "-", input=qr)
    assert rc == int(ErrorCode.NOT_IN_PAIRING_MODE), err  # face-palm: SET first (R-APP-1)
    assert "ble-lock panel set" in err
    await panel("set")
    rc, out, err = await cli(owner, "claim", "front", "--qr", "-", "--name", "door", input=qr)
    assert (rc, out.splitlines()[0]) == (0, f"claimed lock {lock['lock_id']} as user 1 "
                                            "(admin); saved as 'door'"), err

    rc, out, err = await cli(owner, "phones", "add", "door", "--name", "Bea", "--json")
    invite = json.loads(out)
    rc, out, err = await cli(bea, "key", "redeem", "-", "--json", input=invite["invite"])
    assert (rc, json.loads(out)["role"]) == (0, "admin"), err
    rc, out, err = await cli(bea, "users", "add", lock["lock_id"], "Carl", "--json")
    carl = json.loads(out)["user_number"]
    rc, out, err = await cli(bea, "credentials", "add", lock["lock_id"], str(carl),
                             "--pin", "-", input="135790\n")
    assert rc == 0, err
    assert (await panel("pin", "135790")).strip() == f"opened (user {carl}) by PIN"
    await panel("button")
    assert (await panel("pin", "4213579088")).startswith(f"opened (user {carl})")
    await panel("button")

    rc, out, err = await cli(owner, "key", "issue", "door", "--user", str(carl), "--json")
    key = json.loads(out)
    invite_file = tmp_path / "invite.txt"
    invite_file.write_text(key["invite"] + "\n")
    rc, out, err = await cli(guest, "key", "redeem", "--invite-file", str(invite_file),
                             "--name", "office")
    assert rc == 0, err
    assert json.loads((await cli(guest, "unlock", "office", "--json"))[1]) == {
        "unlocked": True, "user": carl}
    assert (await cli(guest, "lock", "office"))[0] == 0
    keys = json.loads((await cli(owner, "key", "list", "door", "--json"))[1])["keys"]
    (carls,) = [k for k in keys if k["user"] == carl]
    assert (await cli(owner, "key", "revoke", "door", str(carls["credential_id"])))[0] == 0
    rc, out, err = await cli(guest, "unlock", "office")
    assert rc in (int(ErrorCode.UNKNOWN_PEER), int(ErrorCode.KEY_REVOKED)), err
    assert err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1

    # a duress PIN; the owner's `events --follow` shows the alarm as it happens
    rc, out, err = await cli(owner, "users", "add", "door", "Dora", "--json")
    dora = json.loads(out)["user_number"]
    assert (await cli(owner, "credentials", "add", "door", str(dora), "--pin", "-",
                      "--duress", input="246813\n"))[0] == 0
    seq = json.loads((await cli(owner, "events", "door", "--json"))[1])[-1]["seq"]
    follow = await start(ble_sim, 1, owner, "events", "door", "--since", str(seq), "--follow",
                         "--json", adapter="hci1")
    sim = ble_sim.sim
    assert sim is not None
    follower = ble_sim.address(1, "hci1")
    # its session is open once the lock answered on its link (counted PDUs, not slept)
    await eventually(lambda: any(
        link.central.address == follower and AttOp.HANDLE_VALUE_NTF in [r.op for r in link.trace]
        for link in sim.links()), what="events --follow has a session", timeout=30)
    assert "(duress)" not in await panel("pin", "246813")  # looks like any opening
    line = await follow.expect("DURESS_ALARM", 30)
    assert json.loads(line)["user_number"] == dora
    await follow.stop()

    for _ in range(5):  # the fifth wrong PIN is still NO_MATCH; it starts the lockout
        out = await panel("pin", "975310", refused=ErrorCode.NO_MATCH)
    assert "try again in 180 s" in out
    assert "[LOCKED_OUT]" in await panel("pin", "135790", refused=ErrorCode.LOCKED_OUT)
    await panel("clock", "181")
    assert (await panel("pin", "135790")).startswith(f"opened (user {carl})")

    records = json.loads((await cli(owner, "events", "door", "--json"))[1])
    _sub([r["kind"] for r in records], [
        "CLAIMED", "USER_ADDED", "KEY_ISSUED", "CREDENTIAL_ADDED", "USER_ADDED",
        "CREDENTIAL_ADDED", "UNLOCK", "UNLOCK", "KEY_ISSUED", "CREDENTIAL_ADDED", "UNLOCK",
        "LOCKED", "KEY_REVOKED", "USER_ADDED", "CREDENTIAL_ADDED", "DURESS_ALARM",
        "UNLOCK_FAILED", "LOCKOUT", "UNLOCK"])
    table = (await cli(owner, "events", "door"))[1]
    assert f"unlock user {carl} by bluetooth" in table
    assert (await emu.stop()) == 0
    assert emu.lines[-1] == "stopped"


@pytest.mark.ble_sim(hosts=3, adapters=(1, 1, 2))
async def test_sync_enrol_visitor_by_command_line(ble_sim: BleHarness, tmp_path: Path) -> None:
    """Issue 6 by command line: enrolment progress step by step (R-CRD-4), a visitor code
    made offline (R-APP-4), sync link confirmed at door B (R-SYN-1), the relay opens B
    when A opens (R-SYN-2), status and unlink."""
    home_a, home_b, admin = tmp_path / "a", tmp_path / "b", tmp_path / "admin"
    _, lock_a = await emulate(ble_sim, 0, home_a, "front")
    _, lock_b = await emulate(ble_sim, 1, home_b, "gate")

    async def cli(*args: str, adapter: str = "hci0", input: str | None = None) -> str:
        done = await run(ble_sim, 2, admin, *args, adapter=adapter, input=input)
        assert done.rc == 0, (args, done.err)
        return done.out

    async def panel(home: Path, *args: str) -> str:
        done = await run(ble_sim, 2, home, "panel", *args)
        assert done.rc == 0, done.err
        return done.out

    # the setup code alone (the DL20VC way): no terminal to confirm the key's fingerprint,
    # so a script pins it (from the label) or accepts it explicitly (issue 10 item 5)
    code_file = tmp_path / "front.code"
    code_file.write_text(lock_a["setup_code"] + "\n")
    refused = await run(ble_sim, 2, admin, "claim", "front", "--code-file", str(code_file))
    assert refused.rc == int(ErrorCode.INVALID_ARGUMENT), refused.err
    assert "--trust-fingerprint" in refused.err
    await panel(home_a, "set")
    claimed = await cli("claim", lock_a["name"], "--code-file", str(code_file),
                        "--trust-fingerprint", lock_a["qr"].split(":")[3], "--name", "front")
    assert claimed.splitlines()[1] == f"key fingerprint {lock_a['qr'].split(':')[3]}"
    await panel(home_b, "set")
    await cli("claim", lock_b["name"], "--code", "-", "--accept-new-fingerprint", "--name",
              "gate", input=lock_b["setup_code"] + "\n")
    info = json.loads(await cli("info", "gate", "--json"))
    assert info["fingerprint"] == lock_b["qr"].split(":")[3]

    # a palm enrolled from the phone, captured at the lock, progress line by line
    carl = json.loads(await cli("users", "add", "front", "Carl", "--json"))["user_number"]
    enrol = await start(ble_sim, 2, admin, "--timeout", "10", "credentials", "add", "front",
                        str(carl), "--palm")
    await enrol.expect("capture 1/", 30)
    while True:
        out = await panel(home_a, "palm", "carl-left")
        if "credential" in out:
            break
    assert (await enrol.proc.wait()) == 0
    rest = (await enrol.proc.stdout.read()).decode() if enrol.proc.stdout else ""
    lines = enrol.lines + rest.splitlines()
    captures = [ln.strip() for ln in lines if ln.strip().startswith("capture ")]
    assert len(captures) >= 2
    assert any(ln.strip().startswith("done: credential") for ln in lines)
    assert (await panel(home_a, "palm", "carl-left")).startswith(f"opened (user {carl})")
    await panel(home_a, "button")

    # a visitor code made offline, typed at the keypad
    status = json.loads(await panel(home_a, "--json", "status"))
    code = json.loads(await cli("code", "one-time", "front", "--at",
                                str(int(status["lock_time"])), "--json"))["code"]
    assert (await panel(home_a, "pin", code)).startswith("opened")
    await panel(home_a, "button")

    # sync unlock: link (confirmed by the admin's PIN at the gate), relay, open
    pin_file = tmp_path / "pin"
    pin_file.write_text("246801\n")
    await cli("credentials", "add", "gate", "1", "--pin-file", str(pin_file))
    await cli("credentials", "add", "front", str(carl), "--pin", "-", input="135790\n")
    link = await start(ble_sim, 2, admin, "--timeout", "10", "sync", "link", "front", "gate",
                       "--window", "10")
    await link.expect("now unlock gate", 40)
    assert (await panel(home_b, "pin", "246801")).startswith("opened (user 1)")
    await link.expect("linked ", 30)
    await panel(home_b, "button")
    status = json.loads(await cli("sync", "status", "gate", "--json"))
    assert status["links"] == [{"peer_lock_id": lock_a["lock_id"], "window_s": 10}]
    relay = await start(ble_sim, 2, admin, "sync", "relay", "front", "gate", adapter="hci1")
    await relay.expect("relaying", 40)
    gate = json.loads(await panel(home_b, "--json", "status"))
    assert gate["display"]["bolt"] == "locked"
    assert (await panel(home_a, "pin", "135790")).startswith(f"opened (user {carl})")
    await relay.expect(f"statement for {lock_b['lock_id']}: opened", 30)
    gate = json.loads(await panel(home_b, "--json", "status"))
    assert gate["display"]["bolt"] == "unlocked"
    await relay.stop()
    events = await cli("events", "gate")
    assert "opened by sync from" in events
    assert "unlinked front and gate" in await cli("sync", "unlink", "front", "gate")
    assert json.loads(await cli("sync", "status", "front", "--json"))["links"] == []



@pytest.mark.ble_sim(hosts=2, adapters=(1, 2))
async def test_gateway_by_command_line(ble_sim: BleHarness, tmp_path: Path) -> None:
    """`ble-lock gateway` streams a lock's events as JSON lines (docs/flows.md)."""
    lock_home, admin = tmp_path / "lock", tmp_path / "admin"
    _, lock = await emulate(ble_sim, 0, lock_home, "front")
    assert (await run(ble_sim, 1, lock_home, "panel", "set")).rc == 0
    claimed = await run(ble_sim, 1, admin, "claim", "front", "--qr", "-", "--name", "door",
                        input=lock["qr"])
    assert claimed.rc == 0, claimed.err
    out = tmp_path / "events.jsonl"
    config = tmp_path / "gateway.toml"
    config.write_text(f'state = "cursors.json"\noutput = "events.jsonl"\npoll_interval_s = 0.5\n'
                      f'[[lock]]\nid = "{lock["lock_id"]}"\nname = "front door"\n')
    gw = await start(ble_sim, 1, admin, "gateway", "--config", str(config), adapter="hci1")
    await gw.expect("ready locks=1", 30)
    assert (await run(ble_sim, 1, lock_home, "panel", "claim", "135790")).rc != 0  # claimed
    assert (await run(ble_sim, 1, lock_home, "panel", "key")).rc == 0  # mechanical key

    def kinds() -> list[str]:
        if not out.exists():
            return []
        lines = [json.loads(line) for line in out.read_text().splitlines()]
        return [str(o.get("kind")) for o in lines if o.get("type") == "event"]

    await eventually(lambda: "UNLOCK" in kinds(), what="the gateway streamed the UNLOCK",
                     timeout=30)
    assert "CLAIMED" in kinds()
    assert await gw.stop() == 0
