"""The work of ``ble-lock firmware`` (``cli/firmware.py``): the lock's protocol for the
maintenance window, ``smpclient`` for SMP (R-APP-8, docs/firmware.md). Imported only when
a firmware command runs (smpclient, smp and pydantic cost half a second to import).

The lock's own protocol opens the maintenance window (admin only, logged); the firmware
itself goes over MCUmgr SMP with ``smpclient`` (its BLE transport, on bleak), as nRF Connect
Device Manager or ``mcumgr`` would send it: upload to the secondary slot, mark it for
test, reset, wait for the lock to come back with the new version, and with ``--confirm``
make it permanent. Without ``--confirm`` the next reset reverts to the previous image.

``--adapter``: smpclient's BLE transport (7.3) takes no adapter, no bleak client and no
device (it scans with ``BleakScanner`` and connects with its own ``BleakClient``), so SMP
goes through bleak's default adapter on BlueZ (the first powered one bleak finds: with
several adapters, any of them), whatever ``--adapter`` says; the lock's own protocol (the
window) does use ``--adapter``. When the two differ the commands say so on stderr
(docs/firmware.md, "Which adapter").
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import click
from bleak.exc import BleakError
from smp import error as smperr
from smp import image_management as smpimg
from smpclient import SMPClient
from smpclient.exceptions import SMPClientException, SMPUploadError
from smpclient.generics import success
from smpclient.requests.image_management import ImageStatesRead, ImageStatesWrite
from smpclient.requests.os_management import ResetWrite
from smpclient.transport import SMPTransportDisconnected
from smpclient.transport.ble import SMPBLETransport

from ble_lock.central.client import LockClient
from ble_lock.cli.app import App, paired
from ble_lock.cli.output import progress
from ble_lock.core.errors import (
    ErrorCode,
    InvalidInputError,
    LockError,
    PermissionDeniedError,
    TransportError,
    error_for,
)
from ble_lock.dfu.image import parse_image
from ble_lock.dfu.server import describe

__all__ = ["check_lock", "install"]

CHECK_WINDOW_S = 60
"""The maintenance window ``firmware check`` opens to read the slots (closed after)."""
UPLOAD_ATTEMPTS = 3
"""An upload whose link drops is resumed from the lock's offset this many times in all."""


def _smp_failure(what: str, rsp: Any) -> LockError:
    """An SMP error response as the project's typed error (exit code = its ErrorCode)."""
    if isinstance(rsp, smperr.ErrorV1):
        if rsp.rc == smperr.MGMT_ERR.EACCESSDENIED:
            return PermissionDeniedError(
                f"{what}: the lock refused ({rsp.rsn or 'access denied'})",
                code=ErrorCode.PERMISSION_DENIED)
        return InvalidInputError(f"{what}: {rsp.rsn or rsp.rc.name}")
    if isinstance(rsp, smpimg.ImageManagementErrorV2):
        return InvalidInputError(f"{what}: {describe(rsp.err.rc)} ({rsp.err.rc.name})")
    return error_for(ErrorCode.PROTOCOL_ERROR, f"{what}: unexpected answer {type(rsp).__name__}")


@asynccontextmanager
async def _smp(address: str | None, timeout: float) -> AsyncIterator[SMPClient]:
    if address is None:
        raise TransportError("the lock's Bluetooth address is unknown",
                             code=ErrorCode.LOCK_NOT_FOUND)
    client = SMPClient(SMPBLETransport(), address, timeout_s=timeout)
    try:
        async with progress(f"connecting to the SMP service of {address}"):
            await client.connect(timeout)
    except (SMPClientException, TimeoutError, OSError) as exc:
        raise TransportError(f"cannot reach the lock's SMP service: {exc}",
                             code=ErrorCode.CONNECTION_FAILED) from None
    try:
        yield client
    finally:
        with suppress(Exception):  # the lock may have reset and gone already
            await client.disconnect()


async def smp_adapter() -> str | None:
    """The adapter SMP goes through: bleak's default on BlueZ (the first powered one bleak
    finds); None where unknown (not Linux, no BlueZ, no powered adapter)."""
    if not sys.platform.startswith("linux"):
        return None
    from bleak.backends.bluezdbus.manager import get_global_bluez_manager

    try:
        manager = await get_global_bluez_manager()
        return manager.get_default_adapter().rsplit("/", 1)[-1]
    except (BleakError, OSError, EOFError):
        return None


async def _note_adapter(app: App) -> None:
    """Say on stderr when SMP will not use the adapter ``--adapter`` named."""
    if app.adapter is None:
        return
    used = await smp_adapter()
    if used is not None and used != app.adapter:
        click.echo(f"note: SMP goes through {used} (bleak's default adapter), not "
                   f"{app.adapter}: smpclient's BLE transport takes no adapter",
                   err=True)


async def _states(smp: SMPClient) -> list[smpimg.ImageState]:
    rsp = await smp.request(ImageStatesRead())
    if not success(rsp):
        raise _smp_failure("reading the slots", rsp)
    return list(rsp.images)


def _slot_json(state: smpimg.ImageState) -> dict[str, Any]:
    return {"slot": state.slot, "version": state.version,
            "hash": state.hash.hex() if state.hash else None,
            "active": bool(state.active), "confirmed": bool(state.confirmed),
            "pending": bool(state.pending), "permanent": bool(state.permanent)}


async def _upload(app: App, address: str | None, image: bytes, show: bool) -> None:
    """Upload with a progress bar; a dropped link is resumed (the lock keeps the offset)."""
    bar = (click.progressbar(length=len(image), label="uploading", file=sys.stderr)
           if show else None)
    done = 0
    try:
        for attempt in range(1, UPLOAD_ATTEMPTS + 1):
            try:
                async with _smp(address, app.timeout) as smp:
                    async for offset in smp.upload(image):
                        if bar is not None:
                            bar.update(offset - done)
                        done = offset
                return
            except SMPUploadError as exc:
                raise _smp_failure("upload refused", exc.args[0] if exc.args else None
                                   ) from None
            # a drop also shows as bleak's D-Bus error when a write reaches a GATT object
            # BlueZ already removed with the link (UnknownMethod WriteValue)
            except (SMPTransportDisconnected, BleakError, TimeoutError, TransportError,
                    OSError):
                if attempt == UPLOAD_ATTEMPTS:
                    raise TransportError(f"the link dropped at byte {done} of {len(image)}",
                                         code=ErrorCode.DISCONNECTED) from None
    finally:
        if bar is not None:
            bar.render_finish()


async def _wait_for(client: LockClient, version: str, timeout: float) -> str:
    """After a reset: until the lock answers again; the version it runs."""
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        try:
            seen = (await client.system_info()).firmware_version
        except LockError:
            await asyncio.sleep(0.2)  # rebooting: not answering yet
            continue
        if seen == version:
            return seen
        await asyncio.sleep(0.2)
    raise TransportError(f"the lock did not come back with {version} (it runs {seen or '?'})",
                         code=ErrorCode.TIMEOUT)


async def check_lock(app: App, lock_name: str) -> dict[str, Any]:
    """The running version (SYSTEM_INFO) and the slots (SMP image state, inside a short
    maintenance window that is closed again)."""
    async with paired(app, lock_name) as client:
        system = await client.system_info()
        await client.open_maintenance_window(CHECK_WINDOW_S)
        await _note_adapter(app)
        try:
            async with _smp(client.address, app.timeout) as smp:
                states = await _states(smp)
        finally:
            await client.open_maintenance_window(0)
    return {"firmware_version": system.firmware_version,
            "slots": [_slot_json(s) for s in states]}


async def install(app: App, lock_name: str, image: Path, *, confirm: bool, window_s: int,
                  show: bool) -> dict[str, Any]:
    """Open the window, upload ``image``, mark it for test, reset, wait for the lock to
    run it, confirm it (``confirm``), close the window. Returns what happened."""
    data = image.read_bytes()
    parsed = parse_image(data)  # not an MCUboot image: refused before anything is sent
    target = str(parsed.version)
    started = time.monotonic()
    async with paired(app, lock_name) as client:
        before = (await client.system_info()).firmware_version
        await client.open_maintenance_window(window_s)
        await _note_adapter(app)
        await _upload(app, client.address, data, show=show)
        async with _smp(client.address, app.timeout) as smp:
            rsp = await smp.request(ImageStatesWrite(hash=parsed.hash))
            if not success(rsp):
                raise _smp_failure("marking the image for test", rsp)
            with suppress(SMPTransportDisconnected, TimeoutError):
                reset = await smp.request(ResetWrite())
                if not success(reset):
                    raise _smp_failure("reset", reset)
        async with progress("waiting for the lock to restart"):
            running = await _wait_for(client, target, app.timeout * 3)
        if confirm:
            await client.open_maintenance_window(window_s)  # a reset closed it
            async with _smp(client.address, app.timeout) as smp:
                rsp = await smp.request(ImageStatesWrite(confirm=True))
                if not success(rsp):
                    raise _smp_failure("confirming the image", rsp)
                if not rsp.images or not rsp.images[0].confirmed:
                    raise error_for(ErrorCode.PROTOCOL_ERROR,
                                    "the lock answered the confirm but did not confirm")
        await client.open_maintenance_window(0)
    return {"from": before, "to": running, "bytes": len(data), "confirmed": confirm,
            "seconds": round(time.monotonic() - started, 2)}
