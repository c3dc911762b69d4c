"""Issue 14, item 3: one emulated lock per adapter (docs/peripheral.md, "One adapter per
lock"). A second emulator on an adapter that already serves a lock is refused with one
line and the exit status ``ADAPTER_IN_USE`` (87), before it registers anything: the first
lock keeps its advertisement and its GATT database (one lock service, its own id). Another
host's adapter takes a second lock; a killed emulator's claim goes with its process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ble_lock.central.client import LockClient
from ble_lock.central.keystore import Keystore
from ble_lock.central.transport import BleakLink
from ble_lock.core.errors import ErrorCode, TransportError
from ble_lock.peripheral.adapter_claim import AdapterClaim
from ble_lock.sim.harness import BleHarness
from ble_lock.testing import START
from ble_lock.testing.emulator import TARGET, start_lock
from ble_lock.wire.link.gatt import SERVICE_UUID
from tests.cli import _procs

pytestmark = pytest.mark.timeout(180)


def test_an_adapter_claim_is_one_per_bus_and_adapter_until_released(tmp_path: Path) -> None:
    first = AdapterClaim("bus-a", "hci0", directory=tmp_path)
    first.take(state_dir=tmp_path / "front")
    first.describe("0BADC0DE")
    with pytest.raises(TransportError) as err:
        AdapterClaim("bus-a", "hci0", directory=tmp_path).take(state_dir=tmp_path / "back")
    assert err.value.code is ErrorCode.ADAPTER_IN_USE
    assert err.value.message.startswith("adapter hci0 already serves lock 0BADC0DE (")
    assert str(tmp_path / "front") in err.value.message
    others = [AdapterClaim("bus-a", "hci1", directory=tmp_path),  # another adapter
              AdapterClaim("bus-b", "hci0", directory=tmp_path)]  # another host's bus
    for other in others:
        other.take(state_dir=tmp_path / "other")
        assert other.held
        other.release()
    first.release()
    again = AdapterClaim("bus-a", "hci0", directory=tmp_path)
    again.take(state_dir=tmp_path / "back")  # free once released
    assert again.held
    again.release()


async def _lock_services(ble: BleHarness, lock_id: bytes, home: Path) -> tuple[bytes, int]:
    """Connect from host 2: the lock id the info characteristic gives, and how many lock
    services the adapter's GATT database holds."""
    central = ble.central(host=2)
    client = await LockClient.find(lock_id=lock_id, adapter=central.adapter,
                                   keystore=Keystore(home), scan_timeout=10.0)
    async with client:
        link = client.engine.link
        assert isinstance(link, BleakLink)
        services = [s for s in link.client.services if s.uuid.lower() == SERVICE_UUID]
        assert client.info is not None
        return client.info.lock_id, len(services)


@pytest.mark.ble_sim(hosts=3)
async def test_a_second_emulator_on_the_same_adapter_is_refused_in_one_line(
        ble_sim: BleHarness, tmp_path: Path) -> None:
    first = await start_lock(ble_sim, tmp_path / "first")

    # the emulator process: one line on stderr, its own exit status, nothing on the air
    second = await ble_sim.spawn(TARGET, "--state-dir", str(tmp_path / "second"),
                                 "--manual-clock", str(START), host=0)
    assert await asyncio.wait_for(second.proc.wait(), 60) == ErrorCode.ADAPTER_IN_USE
    await second.stop()
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert lines[0].startswith("error [ADAPTER_IN_USE]: adapter hci0 already serves lock "
                               f"{first.ready['lock_id']}")
    assert str(tmp_path / "first") in lines[0]

    # the command line: the same refusal, in the CLI's one-line form
    done = await _procs.run(ble_sim, 0, tmp_path / "home", "emulate", "--state-dir",
                            str(tmp_path / "third"), "--manual-clock", str(START))
    assert done.rc == ErrorCode.ADAPTER_IN_USE, done.err
    (line,) = done.err.strip().splitlines()
    assert line.startswith(f"error: adapter hci0 already serves lock {first.ready['lock_id']}")
    assert "(ADAPTER_IN_USE) - stop that emulator" in line

    # the first lock is untouched: alone in its adapter's GATT database
    lock_id, services = await _lock_services(ble_sim, first.lock_id, tmp_path / "phone")
    assert (lock_id, services) == (first.lock_id, 1)

    # another host's adapter serves a second lock
    other = await start_lock(ble_sim, tmp_path / "second", host=1)
    assert other.lock_id != first.lock_id


@pytest.mark.ble_sim(hosts=2)
async def test_a_killed_emulator_leaves_the_adapter_free(ble_sim: BleHarness,
                                                         tmp_path: Path) -> None:
    first = await start_lock(ble_sim, tmp_path / "first")
    first.proc.proc.kill()  # SIGKILL: no shutdown code runs; the kernel drops the flock
    assert await first.proc.proc.wait() == -9
    replacement = await start_lock(ble_sim, tmp_path / "second")
    assert replacement.lock_id != first.lock_id
