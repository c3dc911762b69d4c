"""The lock's story on real BlueZ (issue 12): two or three real LE adapters, the emulator
on the first, phones on the others. Skipped unless pytest runs with ``--ble-adapter``
(at least ``hci0 hci1``; a third adapter puts the second phone on its own radio, which
"two centrals connected" needs: one adapter keeps one link per remote device).

``scripts/test-real-bluez.sh`` runs it in a throw-away VM with virtual controllers
(docs/testing.md, "The real-BlueZ lane"). Each step prints ``PASS``/``FAIL`` with its
duration; the timeouts are generous because under software emulation (TCG) a Python
start alone takes about a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from ble_lock.central.client import LockClient
from ble_lock.central.discovery import LockAdvert, scan
from ble_lock.central.keystore import Keystore
from ble_lock.core.errors import TransportError
from ble_lock.peripheral.panel_client import AsyncPanelClient
from ble_lock.sim.harness import BleHarness
from ble_lock.sim.process import HostProcess
from ble_lock.testing.waiting import yield_to_loop

pytestmark = [pytest.mark.ble_adapter, pytest.mark.timeout(5400)]

TARGET = "ble_lock.peripheral.process:main"
START = 1_767_225_600.0  # the emulator's manual clock: 2026-01-01 00:00 UTC
SLOW = float(os.environ.get("BLE_REAL_TIMEOUT", "600"))  # process start, scans
OP = float(os.environ.get("BLE_REAL_OP_TIMEOUT", "120"))  # one request on the air
CONNECT = float(os.environ.get("BLE_REAL_CONNECT_TIMEOUT", "60"))  # one connection attempt

T = TypeVar("T")


class Steps:
    """Runs the story's steps in order, printing PASS/FAIL and the duration of each."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.report: list[str] = []

    async def run(self, name: str, body: Callable[[], Awaitable[T]]) -> T:
        start = time.monotonic()
        try:
            result = await body()
        except BaseException as exc:
            self._line(f"FAIL {name} ({time.monotonic() - start:.1f} s): "
                       f"{type(exc).__name__}: {exc}")
            raise
        self._line(f"PASS {name} ({time.monotonic() - start:.1f} s)")
        return result

    def skip(self, name: str, why: str) -> None:
        self._line(f"SKIP {name}: {why}")

    def _line(self, text: str) -> None:
        line = f"[{time.monotonic() - self.t0:7.1f} s] {text}"
        self.report.append(line)
        print(line, flush=True)


async def _start_lock(ble: BleHarness, state: Path) -> tuple[HostProcess, dict[str, str]]:
    proc = await ble.start_peripheral(TARGET, "--state-dir", str(state), "--profile",
                                      "face-palm", "--manual-clock", str(START), host=0,
                                      ready="ready ", timeout=SLOW)
    ready = next(line for line in proc.lines if line.startswith("ready "))
    fields = dict(item.split("=", 1) for item in ready.split()[1:])
    qr = next((line.split(" ", 1)[1] for line in proc.lines if line.startswith("qr ")), "")
    fields["qr"] = qr
    return proc, fields


async def _find(adapter: str, lock_id: bytes, home: Path) -> LockClient:
    return await LockClient.find(lock_id=lock_id, adapter=adapter, keystore=Keystore(home),
                                 scan_timeout=SLOW, timeout=OP)


@contextlib.asynccontextmanager
async def _panel(state: Path) -> AsyncIterator[AsyncPanelClient]:
    panel = await AsyncPanelClient.connect(state)
    try:
        yield panel
    finally:
        await panel.close()


async def claim_after_set(state: Path, owner: LockClient, qr: str) -> None:
    """SET at the lock's panel (pairing mode, R-APP-1), then claim with the QR text."""
    async with _panel(state) as panel:
        await panel.call("set_button")
    await asyncio.wait_for(owner.claim_qr(qr), OP)


async def _drop_link(adapter: str, address: str) -> None:
    """Disconnect like a radio would: ``Device1.Disconnect`` on the phone's adapter."""
    from dbus_fast import BusType, Message, MessageType
    from dbus_fast.aio import MessageBus

    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    try:
        path = f"/org/bluez/{adapter}/dev_{address.replace(':', '_')}"
        reply = await bus.call(Message(destination="org.bluez", path=path,
                                       interface="org.bluez.Device1", member="Disconnect"))
        assert reply is not None
        assert reply.message_type == MessageType.METHOD_RETURN, reply.body
    finally:
        bus.disconnect()


@pytest.mark.usefixtures("slow_radio")
async def test_lock_story_on_real_bluez(ble_hosts: BleHarness, ble_adapters: list[str],
                                        tmp_path: Path) -> None:
    """advertise, scan, connect, claim, unlock, reconnect after a disconnect (issue 12),
    a second phone through an invite, notifications with two centrals connected, a link
    drop mid-request, an emulator restart."""
    assert ble_hosts.sim is None, "real adapters only"
    phone_a = ble_adapters[1]
    phone_b = ble_adapters[2] if len(ble_adapters) > 2 else ble_adapters[1]
    state = tmp_path / "lock"
    steps = Steps()
    stack = contextlib.AsyncExitStack()
    async with stack:
        proc, fields = await steps.run("advertise (emulator started, advertising)",
                                       lambda: _start_lock(ble_hosts, state))
        lock_id = bytes.fromhex(fields["lock_id"])

        async def scanned() -> LockAdvert:
            found = [a for a in await scan(timeout=SLOW, adapter=phone_a, stop_after=1)
                     if a.lock_id == lock_id]
            assert found, "the lock was not seen"
            assert found[0].connectable
            return found[0]

        advert = await steps.run("scan", scanned)
        address = advert.address

        owner = await steps.run("connect", lambda: _connect(stack, phone_a, lock_id,
                                                            tmp_path / "owner"))

        await steps.run("claim", lambda: claim_after_set(state, owner, fields["qr"]))
        await steps.run("unlock", lambda: asyncio.wait_for(owner.unlock(), OP))

        async def reconnect() -> LockClient:
            await owner.close()  # the phone leaves: the lock must stay connectable
            return await _connect(stack, phone_a, lock_id, tmp_path / "owner")

        owner = await steps.run("reconnect after a disconnect", reconnect)
        await steps.run("unlock after reconnecting",
                        lambda: asyncio.wait_for(owner.unlock(), OP))

        async def second_phone() -> LockClient:
            invite = await asyncio.wait_for(owner.enrol_phone(name="second"), OP)
            if phone_b == phone_a:
                await owner.close()  # one adapter: one link to the lock at a time
            guest = await _connect(stack, phone_b, lock_id, tmp_path / "guest")
            await asyncio.wait_for(guest.redeem(invite.invite_id, invite.code,
                                                lock_fingerprint=owner.fingerprint), OP)
            await asyncio.wait_for(guest.unlock(), OP)
            return guest

        guest = await steps.run("second phone through an invite", second_phone)

        if phone_b == phone_a:
            steps.skip("notifications with two centrals connected",
                       "one phone adapter: give a third --ble-adapter")
        else:
            async def both() -> None:
                # bless notifies every subscribed central: each phone gets the other's
                # frames too and must keep to its own channel
                await owner.end_session()
                await guest.end_session()
                users = await asyncio.wait_for(
                    asyncio.gather(owner.unlock(), guest.unlock()), OP)
                assert len(set(users)) == 2, users

            await steps.run("notifications with two centrals connected", both)

        async def drop_mid_request() -> None:
            before = len(await asyncio.wait_for(guest.list_users(), OP))
            task = asyncio.create_task(guest.add_user("dropped"))
            await yield_to_loop()  # the request is on its way
            await _drop_link(phone_b, address)
            await asyncio.wait_for(task, OP)
            users = await asyncio.wait_for(guest.list_users(), OP)
            assert len(users) == before + 1, users
            assert [u.name for u in users].count("dropped") == 1

        await steps.run("link drop mid-request", drop_mid_request)

        async def restart() -> None:
            await proc.stop(timeout=SLOW)
            await _start_lock(ble_hosts, state)
            await asyncio.wait_for(guest.unlock(), SLOW)  # the phone reconnects by itself

        await steps.run("emulator restart", restart)
    print("\n".join(["", "real-BlueZ story:", *steps.report]), flush=True)


async def _connect(stack: contextlib.AsyncExitStack, adapter: str, lock_id: bytes,
                   home: Path, attempts: int = 3) -> LockClient:
    """Find and connect, with a fresh client up to ``attempts`` times: under emulation
    bluetoothd sometimes drops ServicesResolved right after resolving, and bleak's client
    then refuses every further attempt ("Client is already connected")."""
    for attempt in range(1, attempts + 1):
        client = await _find(adapter, lock_id, home)
        try:
            await asyncio.wait_for(client.connect(), OP)
        except TransportError as exc:
            await client.close()
            if attempt == attempts:
                raise
            print(f"           (connect attempt {attempt} failed: {exc}; again)", flush=True)
            continue
        stack.push_async_callback(client.close)
        return client
    raise AssertionError("unreachable")
