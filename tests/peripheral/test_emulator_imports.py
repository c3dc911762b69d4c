"""An emulator process imports nothing of the simulator (issue 15, emulator memory):
checked on real emulator processes over the simulator, standalone
(``python -m ble_lock.peripheral``) and forked by ``ble_lock.peripheral.forkserver``,
each serving a claim. The evidence is CPython's own ``-X importtime`` report (every
module the process imported, on its stderr; a forked child inherits the option). Nor
what it does not use: bleak's D-Bus library (``dbus_fast``), and without ``--vendor-key``
``cryptography``'s serialization and Ed25519 modules."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ble_lock.central.client import LockClient
from ble_lock.central.keystore import Keystore
from ble_lock.peripheral.panel_client import AsyncPanelClient
from ble_lock.sim.harness import ADAPTER_ENV, BleHarness
from ble_lock.sim.process import start_process
from ble_lock.testing import START
from ble_lock.testing.forkserver import ForkServer

pytestmark = pytest.mark.timeout(120)


def _imported(stderr: str) -> set[str]:
    """The modules named by ``-X importtime`` lines (``import time: us | us | name``)."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines()
            if line.startswith("import time:") and line.count("|") == 2}


async def _claim(ble: BleHarness, state: Path, lines: list[str], keystore: Keystore
                 ) -> None:
    panel = await AsyncPanelClient.connect(state)
    await panel.call("set_button")  # pairing mode, as at the lock's button
    await panel.close()
    qr = next(ln.split(" ", 1)[1] for ln in lines if ln.startswith("qr "))
    lock_id = bytes.fromhex(qr.split(":")[1])
    async with await LockClient.find(lock_id=lock_id, adapter=ble.central(host=2).adapter,
                                     keystore=keystore) as client:
        await client.claim_qr(qr)
        assert len(await client.events()) > 0


@pytest.mark.ble_sim(hosts=3)
async def test_emulator_processes_import_nothing_of_the_simulator(
        ble_sim: BleHarness, tmp_path: Path) -> None:
    keystore = Keystore(tmp_path / "admin")
    args = ["--profile", "face-palm", "--manual-clock", str(START)]
    standalone = await start_process(
        ble_sim.host(0), sys.executable, "-X", "importtime", "-m", "ble_lock.peripheral",
        "--state-dir", str(tmp_path / "lock0"), *args, name="lock0",
        env={ADAPTER_ENV: "hci0"})
    ble_sim.processes.append(standalone)
    await standalone.expect("ready", 60)
    await _claim(ble_sim, tmp_path / "lock0", standalone.lines, keystore)
    assert await standalone.stop() == 0
    alone = _imported(standalone.stderr)

    async with ForkServer(tmp_path / "logs", "-X", "importtime") as server:
        child = await server.start(["--state-dir", str(tmp_path / "lock1"), *args],
                                   env={**ble_sim.host(1).env(), ADAPTER_ENV: "hci0"},
                                   name="lock1")
        await child.expect("ready", 60)
        await ble_sim.host(1).adapter("hci0").wait_advertising(30)
        await _claim(ble_sim, tmp_path / "lock1", child.lines, keystore)
    forked = _imported(server.stderr_path.read_text()) | _imported(child.stderr)
    assert "stopped" in child.lines[-1]  # the server stopped it cleanly (SIGTERM)

    for modules in (alone, forked):
        assert {"ble_lock.peripheral.emulator", "ble_lock.lockapp.service",
                "bless"} <= modules  # the report is read right
        assert not {name for name in modules if name.startswith("ble_lock.sim")}
        # bless's dbus_next asks the bus its id: bleak's dbus_fast is not loaded (1.9 MB)
        assert {"dbus_next"} <= modules
        assert not {name for name in modules if name.startswith("dbus_fast")}
        # no --vendor-key: the image checks' key loading stays unimported (0.4 MB; EC is
        # loaded anyway, by cryptography's OpenSSL backend at the first X25519 key)
        assert {"ble_lock.dfu.image"} <= modules
        assert not {"cryptography.hazmat.primitives.serialization",
                    "cryptography.hazmat.primitives.asymmetric.ed25519"} & modules
