"""``ble-lock firmware check`` and ``ble-lock firmware upload --confirm`` as processes on
one simulated host, the emulator (``--vendor-key``) on another (R-APP-8, issue 17), over
the simulator's connection-event time model (issue 15 item 1: a 7.5 ms interval, as a phone
asks for during DFU; 251-byte LL PDUs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ble_lock.core.errors import ErrorCode
from ble_lock.sim.airtime import LinkTiming
from ble_lock.sim.harness import BleHarness
from ble_lock.testing.emulator import start_lock
from tests.cli._procs import run
from tests.dfu._images import keygen, signed_image

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

DFU_TIMING = LinkTiming(interval_s=0.0075, data_length=251)


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

    check = (await run(ble_sim, 1, home, "firmware", "check", "door", "--json")).json()
    assert check["firmware_version"] == "1.0.0"
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
