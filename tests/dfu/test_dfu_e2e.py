"""Firmware update over the air (R-APP-8, issue 17): the unmodified ``smpclient`` (its
BLE transport on bleak) against the emulator process over the BlueZ simulator, with
images signed by ``imgtool`` in the test; the maintenance window opened by the owner's
phone over the secure protocol (``LockClient``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import pytest
from bleak.exc import BleakError
from smp import error as smperr
from smp import image_management as smpimg
from smpclient import SMPClient
from smpclient.exceptions import SMPUploadError
from smpclient.generics import success
from smpclient.requests.image_management import ImageStatesRead, ImageStatesWrite
from smpclient.requests.os_management import EchoWrite, ResetWrite
from smpclient.transport import SMPTransportDisconnected
from smpclient.transport.ble import SMPBLETransport

from ble_lock.central.client import LockClient
from ble_lock.core.errors import PermissionDeniedError
from ble_lock.dfu.image import parse_image
from ble_lock.sim.airtime import LinkTiming
from ble_lock.sim.att import AttOp
from ble_lock.sim.harness import BleHarness
from ble_lock.testing.emulator import RunningLock, start_lock
from ble_lock.wire import messages as m
from tests.dfu._images import keygen, signed_image
from tests.e2e._env import phone

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]


async def _started(ble: BleHarness, tmp: Path) -> tuple[RunningLock, Path]:
    key = keygen(tmp / "vendor.pem")
    lock = await start_lock(ble, tmp / "lock", "--vendor-key", str(key))
    assert lock.qr is not None
    panel = await lock.panel()
    await panel.call("set_button")
    return lock, key


async def _address(ble: BleHarness, lock: RunningLock) -> str:
    device = await ble.central().find(name=lock.name, timeout=10.0)
    return str(device.address)


@asynccontextmanager
async def _smp(address: str) -> AsyncIterator[SMPClient]:
    client = SMPClient(SMPBLETransport(), address, timeout_s=10.0)
    await client.connect(20.0)
    try:
        yield client
    finally:
        with suppress(Exception):
            await client.disconnect()


async def _states(client: SMPClient) -> list[smpimg.ImageState]:
    rsp = await client.request(ImageStatesRead())
    assert success(rsp), rsp
    return rsp.images


async def _upload(client: SMPClient, image: bytes) -> list[int]:
    return [off async for off in client.upload(image)]


async def _upload_into(client: SMPClient, image: bytes, reached: list[int]) -> None:
    async for off in client.upload(image):
        reached.append(off)


async def _reset_and_wait(client: SMPClient, owner: LockClient, version: str) -> None:
    """OS reset; the lock drops the link, boots, and answers again with ``version``."""
    rsp = await client.request(ResetWrite())
    assert success(rsp), rsp
    # Polled: the reboot happens inside the emulator process (its log line goes to its
    # stderr), and the proof wanted is the lock answering over the link with the new
    # version; at most 100 tries.
    for _ in range(100):
        with suppress(Exception):
            if (await owner.system_info()).firmware_version == version:
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the lock did not come back with {version}")


async def test_upload_test_reset_confirm_and_everything_survives(
        ble_sim: BleHarness, tmp_path: Path) -> None:
    """R-APP-8: upload -> test -> reset -> the new version is reported -> confirm -> it
    stays; users and events intact; outside the window SMP is access-denied."""
    lock, key = await _started(ble_sim, tmp_path)
    image = signed_image(tmp_path, key, "2.1.0", body=6000)
    address = await _address(ble_sim, lock)
    async with await phone(ble_sim, lock, tmp_path / "owner") as owner:
        await owner.claim_qr(lock.qr or "")
        await owner.add_user("guest")
        users_before = [(u.user_number, u.name) for u in await owner.list_users()]
        assert (await owner.system_info()).firmware_version == "1.0.0"
        async with _smp(address) as client:
            denied = await client.request(EchoWrite(d="hello"))
            assert isinstance(denied, smperr.ErrorV1)
            assert denied.rc == smperr.MGMT_ERR.EACCESSDENIED
            await owner.open_maintenance_window(600)
            echo = await client.request(EchoWrite(d="hello"))
            assert success(echo)
            assert echo.r == "hello"
            offsets = await _upload(client, image)
            assert offsets[-1] == len(image)
            states = await _states(client)
            assert [(s.slot, s.version) for s in states] == [(0, "1.0.0"), (1, "2.1.0")]
            digest = parse_image(image).hash
            tested = await client.request(ImageStatesWrite(hash=digest))
            assert success(tested)
            assert tested.images[1].pending
            await _reset_and_wait(client, owner, "2.1.0")
        async with _smp(address) as client:
            # a reset closes the window: the admin opens it again to confirm
            closed = await client.request(ImageStatesRead())
            assert isinstance(closed, smperr.ErrorV1)
            assert closed.rc == smperr.MGMT_ERR.EACCESSDENIED
            await owner.open_maintenance_window(600)
            running = (await _states(client))[0]
            assert (running.version, running.active, running.confirmed) == ("2.1.0", True, False)
            confirmed = await client.request(ImageStatesWrite(confirm=True))
            assert success(confirmed)
            assert confirmed.images[0].confirmed
            await _reset_and_wait(client, owner, "2.1.0")
        assert [(u.user_number, u.name) for u in await owner.list_users()] == users_before
        kinds = [e.kind for e in await owner.events()]
        assert kinds.count(m.EventKind.MAINTENANCE_WINDOW) == 2
        assert m.EventKind.USER_ADDED in kinds


@pytest.mark.ble_sim(hosts=2, adapters=(1, 2))
async def test_a_reset_without_confirm_reverts_and_refusals_change_nothing(
        ble_sim: BleHarness, tmp_path: Path) -> None:
    """A normal user's phone cannot open the window (SMP stays access-denied); images not
    signed by the vendor key, corrupted or older are refused and change nothing; a test
    image that is not confirmed is reverted by the next reset."""
    lock, key = await _started(ble_sim, tmp_path)
    other = keygen(tmp_path / "other.pem")
    good = signed_image(tmp_path, key, "1.5.0", seed=2)
    wrong_signer = signed_image(tmp_path, other, "1.6.0", seed=3)
    corrupted = bytearray(signed_image(tmp_path, key, "1.7.0", seed=4))
    corrupted[300] ^= 0x55
    older = signed_image(tmp_path, key, "0.9.0", seed=5)
    address = await _address(ble_sim, lock)
    async with await phone(ble_sim, lock, tmp_path / "owner") as owner, \
            await phone(ble_sim, lock, tmp_path / "guest", adapter="hci1") as guest:
        await owner.claim_qr(lock.qr or "")
        carl = await owner.add_user("Carl")
        key = await owner.issue_key(carl.user_number)
        await guest.redeem(key.invite_id, key.code, lock_fingerprint=owner.fingerprint)
        with pytest.raises(PermissionDeniedError):
            await guest.open_maintenance_window(600)
        async with _smp(address) as client:
            denied = await client.request(ImageStatesRead())
            assert isinstance(denied, smperr.ErrorV1)
            assert denied.rc == smperr.MGMT_ERR.EACCESSDENIED
        await owner.open_maintenance_window(600)
        async with _smp(address) as client:
            for bad, code in ((wrong_signer, smpimg.IMG_MGMT_ERR.INVALID_TLV),
                              (bytes(corrupted), smpimg.IMG_MGMT_ERR.INVALID_HASH),
                              (older, smpimg.IMG_MGMT_ERR.CURRENT_VERSION_IS_NEWER)):
                with pytest.raises(SMPUploadError) as info:
                    await _upload(client, bad)
                err = info.value.args[0]
                assert isinstance(err, smpimg.ImageManagementErrorV2), err
                assert err.err.rc is code
                assert [s.slot for s in await _states(client)] == [0]  # nothing changed
            await _upload(client, good)
            assert success(await client.request(ImageStatesWrite(hash=parse_image(good).hash)))
            await _reset_and_wait(client, owner, "1.5.0")
        await owner.open_maintenance_window(600)
        async with _smp(address) as client:
            await _reset_and_wait(client, owner, "1.0.0")  # not confirmed: reverted
        await owner.open_maintenance_window(600)
        async with _smp(address) as client:
            states = await _states(client)
            assert [(s.slot, s.version, s.confirmed) for s in states] == [
                (0, "1.0.0", True), (1, "1.5.0", False)]


@pytest.mark.ble_sim(mtu=247)
@pytest.mark.parametrize("timing", [LinkTiming(), LinkTiming(interval_s=0.0075,
                                                             data_length=251)],
                         ids=["no-air-model", "connection-events-7.5ms"])
async def test_a_link_drop_mid_upload_resumes_from_the_offset(
        ble_sim: BleHarness, tmp_path: Path, timing: LinkTiming) -> None:
    """The simulator drops the link after a fixed number of ATT operations of the upload
    (deterministic); a new smpclient upload of the same image resumes where it was. With
    and without the connection-event time model (issue 15 item 1): the drop lands between
    PDUs of one event, writes without response already queued are lost with the link."""
    assert ble_sim.sim is not None
    ble_sim.sim.config.timing = timing
    lock, key = await _started(ble_sim, tmp_path)
    image = signed_image(tmp_path, key, "3.0.0", body=20000, seed=7)
    address = await _address(ble_sim, lock)
    async with await phone(ble_sim, lock, tmp_path / "owner") as owner:
        await owner.claim_qr(lock.qr or "")
        await owner.open_maintenance_window(600)
        async with _smp(address) as client:
            (link,) = ble_sim.sim.links()
            reached: list[int] = []
            link.drop_after(40)  # inside the upload: ~11 writes per 2475-byte request
            with pytest.raises((SMPTransportDisconnected, BleakError, TimeoutError)):
                await _upload_into(client, image, reached)
            assert reached
            assert reached[-1] < len(image)
            assert link.down_reason == "fault: dropped after ATT operations"
            # over the time model every PDU has its connection event
            assert all((r.event is not None) is timing.timed for r in link.trace)
            assert any(r.op is AttOp.WRITE_CMD for r in link.trace)
        async with _smp(address) as client:
            offsets = await _upload(client, image)
            assert offsets[0] >= reached[-1] > 0  # resumed, not restarted
            assert offsets[-1] == len(image)
            assert [s.version for s in await _states(client)] == ["1.0.0", "3.0.0"]


@pytest.mark.ble_sim(mtu=247)
async def test_the_command_lines_upload_resumes_after_a_link_drop(
        ble_sim: BleHarness, tmp_path: Path) -> None:
    """``ble-lock firmware upload``'s upload step (``firmware_ops._upload``) over the
    connection-event model: the simulator drops the link mid-upload (deterministic: after
    a fixed number of ATT operations); the command reconnects and resumes from the lock's
    offset, within ``UPLOAD_ATTEMPTS``, and the image lands in the secondary slot."""
    from ble_lock.cli.app import App
    from ble_lock.cli.firmware_ops import UPLOAD_ATTEMPTS
    from ble_lock.cli.firmware_ops import _upload as cli_upload

    assert ble_sim.sim is not None
    assert UPLOAD_ATTEMPTS >= 2
    ble_sim.sim.config.timing = LinkTiming(interval_s=0.0075, data_length=251)
    lock, key = await _started(ble_sim, tmp_path)
    image = signed_image(tmp_path, key, "3.0.0", body=20000, seed=7)
    address = await _address(ble_sim, lock)
    async with await phone(ble_sim, lock, tmp_path / "owner") as owner:
        await owner.claim_qr(lock.qr or "")
        await owner.open_maintenance_window(600)
        (link,) = ble_sim.sim.links()
        link.drop_after(40)  # inside the upload: ~11 writes per 2475-byte request
        await cli_upload(App(timeout=10.0), address, image, show=False)
        assert link.down_reason == "fault: dropped after ATT operations"
        assert sum(1 for r in link.trace if r.op is AttOp.WRITE_CMD) >= 11
        async with _smp(address) as client:
            states = await _states(client)
            assert [(s.slot, s.version) for s in states] == [(0, "1.0.0"), (1, "3.0.0")]
