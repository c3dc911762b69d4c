"""CliRunner: events, settings, sync unlock (two in-memory locks)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ble_lock.cli import lockcfg
from ble_lock.cli.output import to_json
from ble_lock.core.errors import ErrorCode
from ble_lock.testing.memory_lock import MemoryLock
from tests.cli._memory import Cli, MemoryBackend


def test_events_table_json_since(owned: Cli, door: MemoryLock) -> None:
    """R-APP-6: the log through the command line, oldest first, with a cursor."""
    owned.ok("users", "add", "door", "Carl")
    owned.ok("unlock", "door")
    records = owned.json("events", "door")
    kinds = [r["kind"] for r in records]
    assert kinds.index("CLAIMED") < kinds.index("USER_ADDED") < kinds.index("UNLOCK")
    assert set(records[0]) == {"seq", "at_ms", "kind", "user_number", "method", "duress",
                               "reason", "credential_id", "detail"}
    last = records[-2]["seq"]
    assert [r["seq"] for r in owned.json("events", "door", "--since", str(last))] == [
        records[-1]["seq"]]
    table = owned.ok("events", "door")
    assert "unlock user 1 by bluetooth" in table
    assert "SEQ" in table


def test_settings_get_set(owned: Cli) -> None:
    current = owned.json("settings", "get", "door")
    assert current["privacy_mode"] is False
    assert "volume" in current
    changed = owned.json("settings", "set", "door", "privacy_mode=on", "volume=1",
                         "door-direction=left")
    assert (changed["privacy_mode"], changed["volume"], changed["door_direction"]) == (
        True, 1, "LEFT")
    assert "privacy_mode           on" in owned.ok("settings", "get", "door")


def test_settings_errors_are_usage_errors_before_any_radio(owned: Cli) -> None:
    """Issue 14 item 8: a mistyped NAME=VALUE is a usage error (exit 2), found before
    the lock is reached, with the closest name suggested (difflib) or the values listed."""
    sessions = len(owned.backend.clients)
    result = owned("settings", "set", "door", "privcy_mode=on")
    assert result.exit_code == 2, result.output
    assert "did you mean privacy_mode?" in result.stderr
    result = owned("settings", "set", "door", "colour=red")
    assert result.exit_code == 2
    assert "NAME one of" in result.stderr
    assert "did you mean" not in result.stderr
    result = owned("settings", "set", "door", "privacy_mode=maybe")
    assert (result.exit_code, "(on, off)" in result.stderr) == (2, True)
    result = owned("settings", "set", "door", "door_direction=up")
    assert (result.exit_code, "(left, right)" in result.stderr) == (2, True)
    assert owned("settings", "set", "door").exit_code == 2
    assert len(owned.backend.clients) == sessions  # no connection was made


def test_settings_get_speaks_the_words_set_takes(owned: Cli) -> None:
    """Issue 14 item 10: `settings get` prints on/off and lower-case names, never Python
    values, and every line it prints is accepted back by `settings set` unchanged."""
    owned.ok("settings", "set", "door", "door_direction=left")
    before = owned.json("settings", "get", "door")
    lines = [line.split() for line in owned.ok("settings", "get", "door").splitlines()]
    assert all(len(parts) == 2 for parts in lines), lines
    words = {value for _, value in lines}
    assert not words & {"True", "False", "None", "LEFT"}, words
    assert dict(lines)["door_direction"] == "left"
    assert dict(lines)["privacy_mode"] == "off"
    for name, value in lines:  # the model refuses some settings; the words all parse
        parsed_name, parsed = lockcfg.parse_setting(f"{name}={value}")
        assert (parsed_name, to_json(parsed)) == (name, before[name])
    owned.ok("settings", "set", "door", "privacy_mode=on", "door_direction=right")


@pytest.fixture
def gate() -> MemoryLock:
    lock = MemoryLock(lock_id=bytes.fromhex("6a7e0001"), seed=5)
    lock.address = "6A:7E:00:01:00:01"
    return lock


def _confirm_at(gate: MemoryLock, pin: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An admin types ``pin`` at the gate once the link's countdown runs (R-SYN-1)."""
    real = lockcfg.link_locks

    async def link(a: Any, b: Any, **kw: Any) -> Any:
        told = kw["on_countdown"]

        def countdown(seconds: float) -> None:
            told(seconds)

            def type_pin() -> None:
                gate.lock.enter_pin(pin)
                gate.panel()

            asyncio.get_running_loop().call_later(0.05, type_pin)

        kw["on_countdown"] = countdown
        kw["poll_s"] = 0.02
        return await real(a, b, **kw)

    monkeypatch.setattr(lockcfg, "link_locks", link)


def test_sync_link_status_unlink(owned: Cli, gate: MemoryLock,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """R-SYN-1: link confirmed at door B; status on both; unlink on both."""
    assert isinstance(owned.backend, MemoryBackend)
    owned.backend.locks.append(gate)
    owned.ok("claim", "6A7E0001", "--code", "-", "--accept-new-fingerprint", "--name", "gate",
             input=gate.setup_code + "\n")
    owned.ok("credentials", "add", "gate", "1", "--pin", "-", input="246801\n")
    _confirm_at(gate, "246801", monkeypatch)
    out = owned.ok("sync", "link", "door", "gate", "--window", "12").splitlines()
    assert out[0].startswith("now unlock gate at the door with an admin credential")
    assert out[-1] == "linked 0BADC0DE <-> 6A7E0001 (window 12 s, confirmed by user 1)"
    status = owned.json("sync", "status", "door")
    assert status == {"lock_id": "0BADC0DE", "model": "face-palm", "supported": True,
                      "sync_unlock": True, "window_s": 12,
                      "links": [{"peer_lock_id": "6A7E0001", "window_s": 12}]}
    assert "6A7E0001" in owned.ok("sync", "status", "door")
    assert owned.json("sync", "status", "gate")["links"][0]["peer_lock_id"] == "0BADC0DE"
    out = owned.ok("sync", "unlink", "door", "gate", "--one-side")
    assert out.strip() == "unlinked door and gate (1 side(s) removed a link)"
    assert owned.json("sync", "status", "door")["links"] == []
    assert owned.json("sync", "status", "gate")["links"] != []  # B's side untouched
    out = owned.ok("sync", "unlink", "door", "gate")
    assert out.strip() == "unlinked door and gate (1 side(s) removed a link)"
    assert "no linked lock" in owned.ok("sync", "status", "gate")
    owned.fails(ErrorCode.INVALID_ARGUMENT, "sync", "unlink", "door", "BLELOCK-X",
                "--one-side")


def test_sync_errors(owned: Cli, gate: MemoryLock) -> None:
    assert isinstance(owned.backend, MemoryBackend)
    owned.backend.locks.append(gate)
    owned.fails(ErrorCode.NOT_PAIRED, "sync", "link", "door", "6A7E0001")
    owned.fails(ErrorCode.INVALID_ARGUMENT, "sync", "link", "door", "door")
    assert owned("sync", "link", "door", "gate", "--countdown", "1").exit_code == 2
    # the lock accepts 10-300 s (R-SYN-1 countdown)
    assert owned("sync", "link", "door", "gate", "--countdown", "301").exit_code == 2


def test_home_from_environment(cli: Cli, door: MemoryLock, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """--home is optional: $BLE_LOCK_HOME names the keystore folder."""
    from click.testing import CliRunner

    from ble_lock.cli import main
    from ble_lock.cli.app import App

    home = tmp_path / "env-home"
    monkeypatch.setenv("BLE_LOCK_HOME", str(home))
    result = CliRunner().invoke(main, ["claim", "0BADC0DE", "--code", "-",
                                       "--accept-new-fingerprint"],
                                obj=App(backend=cli.backend), input=door.setup_code + "\n")
    assert result.exit_code == 0, result.output
    assert (home / "keystore.json").exists()


def test_gateway_config_errors(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "gw.toml"
    bad.write_text('state = "c.json"\ncolour = "red"\n[[lock]]\nid = "0BADC0DE"\n')
    err = cli.fails(ErrorCode.INVALID_ARGUMENT, "gateway", "--config", str(bad))
    assert "unknown configuration keys" in err
    err = cli.fails(ErrorCode.INVALID_ARGUMENT, "gateway", "--config", str(tmp_path / "none"))
    assert "cannot read" in err
    assert cli("gateway").exit_code == 2
    good = tmp_path / "ok.toml"
    good.write_text('state = "c.json"\n[[lock]]\nid = "0BADC0DE"\n')
    err = cli.fails(ErrorCode.INVALID_ARGUMENT, "gateway", "--config", str(good),
                    "--mqtt", "http://broker")  # issue 16: a bad broker URL, typed
    assert "MQTT URL" in err


def test_sync_relay_needs_paired_locks(owned: Cli, gate: MemoryLock) -> None:
    assert isinstance(owned.backend, MemoryBackend)
    owned.backend.locks.append(gate)
    owned.fails(ErrorCode.NOT_PAIRED, "sync", "relay", "door", "6A7E0001")
    assert owned("sync", "relay").exit_code == 2
