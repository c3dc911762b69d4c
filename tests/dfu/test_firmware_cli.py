"""``ble-lock firmware check`` and ``ble-lock firmware upload --confirm`` as processes on
one simulated host, the emulator (``--vendor-key``) on another (R-APP-8, issue 17), over
the simulator's connection-event time model (issue 15 item 1: a 7.5 ms interval, as a phone
asks for during DFU; 251-byte LL PDUs)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from ble_lock.core.errors import ErrorCode
from ble_lock.sim.airtime import LinkTiming
from ble_lock.sim.harness import BleHarness
from ble_lock.testing.emulator import start_lock
from tests.cli._procs import Done, run
from tests.dfu._images import keygen, signed_image

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

DFU_TIMING = LinkTiming(interval_s=0.0075, data_length=251)
SEED = "7"


async def test_check_upload_confirm_by_command_line(ble_sim: BleHarness, tmp_path: Path
                                                    ) -> None:
    assert ble_sim.sim is not None
    ble_sim.sim.config.timing = DFU_TIMING
    key = keygen(tmp_path / "vendor.pem")
    lock = await start_lock(ble_sim, tmp_path / "lock", "--vendor-key", str(key))
    panel = await lock.panel()
    await panel.call("set_button")
    home = tmp_path / "owner"
    done = await run(ble_sim, 1, home, "claim", lock.name, "--qr", "-", "--name", "door",
                     input=(lock.qr or "") + "\n")
    assert done.rc == 0, done.err

    first = await run(ble_sim, 1, home, "firmware", "check", "door", "--json")
    check = first.json()
    assert check["firmware_version"] == "1.0.0"
    assert "SMP goes through" not in first.err  # hci0: the adapter SMP uses anyway
    assert [(s["slot"], s["version"], s["active"]) for s in check["slots"]] == [
        (0, "1.0.0", True)]

    not_an_image = tmp_path / "random.bin"
    not_an_image.write_bytes(b"\x00" * 100)
    refused = await run(ble_sim, 1, home, "firmware", "upload", "door", str(not_an_image))
    assert refused.rc == int(ErrorCode.INVALID_ARGUMENT), refused.err
    assert "not an MCUboot image" in refused.err

    other = signed_image(tmp_path, keygen(tmp_path / "other.pem"), "2.0.0", seed=3)
    (tmp_path / "other.bin").write_bytes(other)
    refused = await run(ble_sim, 1, home, "firmware", "upload", "door",
                        str(tmp_path / "other.bin"))
    assert refused.rc == int(ErrorCode.INVALID_ARGUMENT), refused.err
    assert "signature is not by the vendor key" in refused.err

    image = tmp_path / "app.bin"
    image.write_bytes(signed_image(tmp_path, key, "2.0.0", body=8000))
    out = (await run(ble_sim, 1, home, "firmware", "upload", "door", str(image),
                     "--confirm", "--json")).json()
    assert (out["from"], out["to"], out["confirmed"]) == ("1.0.0", "2.0.0", True)

    check = (await run(ble_sim, 1, home, "firmware", "check", "door", "--json")).json()
    assert check["firmware_version"] == "2.0.0"
    assert (check["slots"][0]["version"], check["slots"][0]["confirmed"]) == ("2.0.0", True)
    info = (await run(ble_sim, 1, home, "info", "door", "--json")).json()
    assert info["system"]["firmware_version"] == "2.0.0"


async def _run_seeded(ble: BleHarness, home: Path, adapter: str, *args: str) -> Done:
    """``ble-lock`` on host 1 with a fixed ``PYTHONHASHSEED``: bleak's default adapter is
    the first powered one of a *set* of object paths, so with two adapters which one it is
    depends on the process's hash seed."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ble_lock.cli", "--home", str(home), "--timeout", "10", *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**ble.host(1).env(), "BLE_ADAPTER": adapter, "PYTHONHASHSEED": SEED})
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return Done(proc.returncode, out.decode(), err.decode())


async def _smp_adapter_seeded(ble: BleHarness) -> str:
    """What ``smp_adapter()`` says on host 1 under the same hash seed."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import asyncio; from ble_lock.cli.firmware_ops import "
        "smp_adapter; print(asyncio.run(smp_adapter()))",
        stdout=asyncio.subprocess.PIPE, env={**ble.host(1).env(), "PYTHONHASHSEED": SEED})
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return out.decode().strip()


@pytest.mark.ble_sim(adapters=(1, 2))
async def test_firmware_says_when_smp_does_not_use_the_adapter(
        ble_sim: BleHarness, tmp_path: Path) -> None:
    """smpclient's BLE transport takes no adapter: SMP goes through bleak's default. When
    ``--adapter`` names the other one, the window still opens through it, the check works,
    and the command says on stderr which adapter SMP used; when it names bleak's default,
    nothing is said (docs/firmware.md, "Which adapter")."""
    used = await _smp_adapter_seeded(ble_sim)
    assert used in ("hci0", "hci1")
    other = "hci1" if used == "hci0" else "hci0"
    key = keygen(tmp_path / "vendor.pem")
    lock = await start_lock(ble_sim, tmp_path / "lock", "--vendor-key", str(key))
    panel = await lock.panel()
    await panel.call("set_button")
    home = tmp_path / "owner"
    done = await run(ble_sim, 1, home, "claim", lock.name, "--qr", "-", "--name", "door",
                     input=(lock.qr or "") + "\n", adapter=other)
    assert done.rc == 0, done.err
    check = await _run_seeded(ble_sim, home, other, "firmware", "check", "door", "--json")
    assert check.json()["firmware_version"] == "1.0.0"
    assert f"SMP goes through {used} (bleak's default adapter), not {other}" in check.err
    same = await _run_seeded(ble_sim, home, used, "firmware", "check", "door", "--json")
    assert same.json()["firmware_version"] == "1.0.0"
    assert "SMP goes through" not in same.err
