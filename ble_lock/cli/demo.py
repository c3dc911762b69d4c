"""``ble-lock demo``: the whole story on the built-in simulator, with no set-up.

Two emulated locks, each in its own process on its own simulated host (A: the front door,
B: the gate), and the phones in this process on a third host, talking Bluetooth through the
unmodified bless and bleak. Built on the library: ``BleHarness`` (``ble_lock.sim``), the
emulator process (``ble_lock.peripheral.process``), ``AsyncPanelClient``, ``LockClient``,
``ble_lock.central.sync`` and ``ble_lock.central.visitor``. The locks' clocks are manual,
moved through their panels, so the three-minute lockout takes no time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ble_lock.central.client import LockClient
from ble_lock.central.keystore import Keystore
from ble_lock.central.sync import SyncRelay, describe_event, link_locks
from ble_lock.central.visitor import one_time_code
from ble_lock.core.errors import ErrorCode, InternalError, LockError
from ble_lock.peripheral.panel_client import AsyncPanelClient
from ble_lock.sim.harness import BleHarness
from ble_lock.wire import messages as m

__all__ = ["DemoLock", "run_demo"]

TARGET = "ble_lock.peripheral.process:main"
START = 1_767_258_000.0  # 2026-01-01 09:00 UTC on the locks' manual clocks
Say = Callable[[str], None]
SHOWN_EVENTS = 14  # the end of the front door's log: the story's last steps


@dataclass(slots=True, kw_only=True)
class DemoLock:
    name: str
    lock_id: bytes
    qr: str
    panel: AsyncPanelClient

    async def press(self, keys: str) -> dict[str, Any]:
        return await self.panel.call("keypad", keys=keys)

    async def bolt(self) -> str:
        return str((await self.panel.call("status"))["display"]["bolt"])


async def _start_lock(ble: BleHarness, state: Path, host: int, name: str) -> DemoLock:
    proc = await ble.start_peripheral(TARGET, "--state-dir", str(state), "--profile",
                                      "face-palm", "--manual-clock", str(START), "--name", name,
                                      host=host, ready="ready")
    fields = dict(item.split("=", 1) for item in proc.lines[-1].split()[1:])
    qr = next(line.split(" ", 1)[1] for line in proc.lines if line.startswith("qr "))
    panel = await AsyncPanelClient.connect(state)
    return DemoLock(name=name, lock_id=bytes.fromhex(fields["lock_id"]), qr=qr, panel=panel)


def _outcome(reply: dict[str, Any]) -> str:
    if reply.get("outcome") == "granted":
        extra = " (silent duress alarm)" if reply.get("duress") else ""
        who = (f"user {reply['user']}" if reply.get("user") is not None
               else str(reply.get("method", "?")).lower().replace("_", " "))
        return f"granted to {who}{extra}"
    retry = f", retry in {round(reply['retry_after'])} s" if reply.get("retry_after") else ""
    return f"denied ({reply.get('reason')}{retry})"


class Story:
    """The demo's steps; ``say`` prints the narrative."""

    def __init__(self, ble: BleHarness, work: Path, say: Say) -> None:
        self.ble = ble
        self.work = work
        self.say = say
        self.step = 0
        self.owner_keys = Keystore(work / "owner-phone")
        self.pushes: list[m.EventBody] = []

    def title(self, text: str) -> None:
        self.step += 1
        self.say(f"\n[{self.step}] {text}")

    def line(self, text: str) -> None:
        self.say(f"    {text}")

    async def phone(self, lock: DemoLock, keystore: Keystore, adapter: str) -> LockClient:
        central = self.ble.central(host=2, adapter=adapter)
        return await LockClient.find(lock_id=lock.lock_id, adapter=central.adapter,
                                     keystore=keystore, scan_timeout=10.0, timeout=10.0)

    async def advance(self, seconds: float, *locks: DemoLock) -> None:
        for lock in locks:
            await lock.panel.call("clock.advance", seconds=seconds)

    async def wait_push(self, kind: m.EventKind, timeout: float = 5.0) -> m.Alarm:
        async with asyncio.timeout(timeout):
            while True:
                for body in self.pushes:
                    if isinstance(body, m.Alarm) and body.record.kind is kind:
                        self.pushes.remove(body)
                        return body
                await asyncio.sleep(0.02)


async def _claim(story: Story, lock: DemoLock, client: LockClient) -> None:
    await lock.panel.call("set_button")  # face-palm: SET puts it in pairing mode (R-APP-1)
    record = await client.claim_qr(lock.qr, name=lock.name)
    await client.visitor_secret()
    story.line(f"{lock.name}: SET pressed, QR scanned, claimed: this phone is user "
               f"{record.user_no} ({record.role})")


async def _pins(story: Story, a: DemoLock, owner: LockClient) -> int:
    story.title("Users and PINs at the keypad")
    carl = await owner.add_user("Carl")
    await owner.add_pin(carl.user_number, "135790")
    story.line(f"added user {carl.user_number} Carl with PIN 135790")
    story.line(f"keypad 135790#      -> {_outcome(await a.press('135790#'))}")
    story.line(f"keypad 4213579088#  -> {_outcome(await a.press('4213579088#'))}"
               "   (virtual PIN: the PIN hidden among other digits)")  # R-PIN-3
    await a.panel.call("inside_button")
    return carl.user_number


async def _duress_and_lockout(story: Story, a: DemoLock, b: DemoLock,
                              owner: LockClient) -> None:
    story.title("Duress PIN: it opens, and the owner's phone gets a silent alarm")
    dora = await owner.add_user("Dora")
    await owner.add_pin(dora.user_number, "246813", duress=True)
    owner.on_event(story.pushes.append)
    await owner.listen()
    story.line(f"keypad 246813#      -> {_outcome(await a.press('246813#'))}")
    alarm = await story.wait_push(m.EventKind.DURESS_ALARM)
    story.line(f"owner's phone: push {alarm.record.kind.name} for user "
               f"{alarm.record.user_number}")
    await a.panel.call("inside_button")

    story.title("Lockout: five wrong PINs lock the keypad for three minutes")
    for _ in range(5):
        reply = await a.press("975310#")
    story.line(f"5 x keypad 975310#  -> {_outcome(reply)}")
    await story.wait_push(m.EventKind.LOCKOUT)
    story.line("owner's phone: push LOCKOUT")
    story.line(f"keypad 135790#      -> {_outcome(await a.press('135790#'))}")
    await story.advance(181, a, b)
    story.line("(the locks' clocks move 181 s)")
    story.line(f"keypad 135790#      -> {_outcome(await a.press('135790#'))}")
    await a.panel.call("inside_button")


async def _bluetooth_key(story: Story, a: DemoLock, owner: LockClient, carl: int) -> None:
    story.title("A Bluetooth key for Carl's phone")
    invite = await owner.issue_key(carl)
    story.line(f"owner issues invite {invite.invite_id} for user {carl} (an invite number: "
               "the key it becomes gets its own)")
    async with await story.phone(a, Keystore(story.work / "carl-phone"), "hci1") as guest:
        record = await guest.redeem(invite.invite_id, invite.code,
                                    lock_fingerprint=owner.fingerprint)
        keys = [k for k in await owner.list_keys() if k.user_number == carl]
        key = keys[-1].credential_id
        story.line(f"Carl's phone redeems invite {invite.invite_id}: user {record.user_no} "
                   f"({record.role}), Bluetooth key {key} (key numbers count every "
                   "credential: PINs too)")
        story.line(f"Carl's phone: unlock -> opened for user {await guest.unlock()}")
        await guest.lock()
        await owner.revoke_key(key)
        story.line(f"owner revokes key {key} (`ble-lock key revoke front-door {key}`)")
        try:
            await guest.unlock()
            raise InternalError("a revoked key opened the door", code=ErrorCode.INTERNAL)
        except LockError as exc:
            if exc.code not in (ErrorCode.UNKNOWN_PEER, ErrorCode.KEY_REVOKED):
                raise
            story.line(f"Carl's phone: unlock -> refused ({exc.code.name})")


async def _visitor(story: Story, a: DemoLock) -> None:
    story.title("A visitor code, made on the phone with no connection")
    now = float((await a.panel.call("status"))["lock_time"])
    code = one_time_code(story.owner_keys, a.lock_id, now=now, nonce=7)
    story.line(f"one-time code {code} (valid 6 hours, opens once)")
    story.line(f"keypad {code}#   -> {_outcome(await a.press(code + '#'))}")
    await a.panel.call("inside_button")
    story.line(f"keypad {code}#   -> {_outcome(await a.press(code + '#'))}")


async def _sync(story: Story, a: DemoLock, b: DemoLock, owner_a: LockClient,
                owner_b: LockClient) -> None:
    story.title("Sync unlock: opening the front door also opens the gate")
    await owner_b.add_pin(1, "246801")
    linking = asyncio.create_task(link_locks(owner_a, owner_b, window_s=10, countdown_s=20,
                                             poll_s=0.05, on_countdown=lambda s: None))
    await asyncio.sleep(0.3)
    reply = await b.press("246801#")
    story.line(f"link {a.name} -> {b.name}; admin PIN at {b.name} confirms: {_outcome(reply)}")
    result = await asyncio.wait_for(linking, 20)
    story.line(f"linked both ways, window {result.window_s} s")
    await b.panel.call("inside_button")
    relay = SyncRelay({a.lock_id: owner_a, b.lock_id: owner_b})
    await relay.start()
    story.line(f"{b.name} bolt: {await b.bolt()}")
    story.line(f"{a.name} keypad 135790# -> {_outcome(await a.press('135790#'))}")
    async with asyncio.timeout(10):
        while not relay.results:
            await asyncio.sleep(0.02)
    story.line(f"the phone relays {a.name}'s statement; {b.name} bolt: {await b.bolt()}")
    await relay.stop()


async def _events(story: Story, owner: LockClient, names: dict[str, str]) -> None:
    story.title("The front door's event log")
    records = await owner.events()
    shown = records[-SHOWN_EVENTS:]
    if len(shown) < len(records):  # say why the log starts at #21, not #1
        story.line(f"(the last {len(shown)} of {len(records)} events: #{shown[0].seq} on; "
                   "`ble-lock events front-door` lists them all)")
    for record in shown:
        story.line(f"#{record.seq:<3} {describe_event(record, names)}")


async def story_run(ble: BleHarness, work: Path, say: Say) -> None:
    story = Story(ble, work, say)
    story.title("Two emulated locks on a simulated radio")
    a = await _start_lock(ble, work / "front-door", 0, "front-door")
    b = await _start_lock(ble, work / "gate", 1, "gate")
    story.line(f"front-door: lock {a.lock_id.hex().upper()}, gate: lock "
               f"{b.lock_id.hex().upper()} (face + palm model)")
    owner_a = await story.phone(a, story.owner_keys, "hci0")
    owner_b = await story.phone(b, story.owner_keys, "hci0")
    async with owner_a, owner_b:
        story.title("The owner's phone claims both locks (setup code from the QR label)")
        await _claim(story, a, owner_a)
        await _claim(story, b, owner_b)
        carl = await _pins(story, a, owner_a)
        await _duress_and_lockout(story, a, b, owner_a)
        await _bluetooth_key(story, a, owner_a, carl)
        await _visitor(story, a)
        await _sync(story, a, b, owner_a, owner_b)
        names = {a.lock_id.hex().upper(): a.name, b.lock_id.hex().upper(): b.name}
        await _events(story, owner_a, names)
    for lock in (a, b):
        await lock.panel.close()


async def run_demo(work: Path, say: Say) -> float:
    """The demo in ``work`` (a fresh folder); returns its wall time in seconds."""
    began = time.monotonic()
    ble = await BleHarness.simulated(hosts=3, adapters=(1, 1, 2))
    try:
        await story_run(ble, work, say)
    finally:
        await ble.close()
    return time.monotonic() - began
