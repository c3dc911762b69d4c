"""Issue 14 item 1 over the simulator, with real processes: ``ble-lock claim`` (R-USR-2,
R-APP-1) and ``ble-lock key redeem`` (R-APP-3) interrupted at every step of the exchange
by every kind of interruption end in one of three states, and the next command works:

* ``held``: the phone holds the key (a final record) and the lock bound it;
* ``untouched``: no record, and the lock bound nothing (still unclaimed, invite unused);
* ``pending``: the phone holds the key as pending; the next command completes the
  pairing (or, when the lock never read PAIR3, a re-run pairs afresh).

The interruption lands deterministically: the command runs with ``BLE_LOCK_PAUSE_AT``
(``ble_lock.testing.steps``), stops at that :class:`PairingStep` and says so on stderr;
then the test sends SIGINT or SIGKILL, or drops the link in the simulator, or kills and
restarts the lock's process, and resumes the command with SIGUSR1. The lock's manual
clock is only moved on purpose (a killed phone's pairing channel ends at the lock's
handshake timeout). One simulator and one emulator per flow (class).

The same steps in memory, with a disk snapshot for crashes:
``tests/central/test_pairing_steps.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio

from ble_lock.central.app import PairingStep
from ble_lock.central.client import LockClient
from ble_lock.central.keystore import Keystore
from ble_lock.cli.invites import InviteText
from ble_lock.core.errors import ErrorCode
from ble_lock.peripheral.panel_client import AsyncPanelClient
from ble_lock.sim.harness import BleHarness
from ble_lock.testing.emulator import RunningLock, start_lock
from ble_lock.testing.steps import ENV_PAUSE, PAUSED
from tests.cli._procs import Done, run

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

STEPS = list(PairingStep)
KINDS = ["sigint", "sigkill", "link_loss", "lock_restart"]
HANDSHAKE_TIMEOUT = 31.0  # past the lock's Timeouts.handshake (30 s)

HELD, UNTOUCHED, PENDING = "held", "untouched", "pending"
BEFORE_PAIR3 = (PairingStep.PAIR1_SENT, PairingStep.KEY_RECEIVED, PairingStep.KEY_SAVED)


def expected(flow: str, kind: str, step: PairingStep) -> set[str]:
    """Where a run interrupted at ``step`` by ``kind`` may end.

    Killed or Ctrl-C: nothing kept before PAIR3 (a crash after the write leaves the
    pending record), the pending record from PAIR3 on, final once a session answered.
    Link lost: the same run ends paired (before PAIR3 it pairs again, after it a session
    settles it, and a PAIR3 lost with the link pairs once more). Lock restarted: the same,
    except that the restarted lock has left pairing mode (R-APP-1), so a claim that must
    pair again is refused (before PAIR3: nothing kept; PAIR3 lost: the pending record,
    which a later claim replaces)."""
    if kind in ("sigint", "sigkill"):
        if step in BEFORE_PAIR3:
            crashed_with_record = kind == "sigkill" and step is PairingStep.KEY_SAVED
            return {PENDING} if crashed_with_record else {UNTOUCHED}
        return {HELD} if step is PairingStep.CONFIRMED else {PENDING}
    if kind == "lock_restart" and flow == "claim":
        if step in BEFORE_PAIR3:
            return {UNTOUCHED}
        if step is PairingStep.PAIR3_SENT:
            return {HELD, PENDING}  # whether the lock read PAIR3 before it died
    return {HELD}


@dataclass
class Rig:
    """The simulator (host 0: the lock; host 1: phones), the emulator and its panel."""

    ble: BleHarness
    root: Path
    lock: RunningLock
    panel: AsyncPanelClient
    owner: LockClient | None = None
    homes: int = field(default=0)

    def home(self) -> Path:
        self.homes += 1
        return self.root / f"phone{self.homes}"

    @property
    def lock_hex(self) -> str:
        return self.lock.ready["lock_id"]

    async def qr(self) -> str:
        label = await self.panel.call("label")
        return str(label["qr"])

    async def restart(self) -> None:
        """Power cut: SIGKILL, the lock's links drop, the process starts again."""
        await self.panel.close()
        self.lock.proc.proc.kill()
        await self.lock.proc.proc.wait()
        assert self.ble.sim is not None
        self.ble.sim.drop_links(self.ble.host(0), self.ble.host(1))
        self.lock = await start_lock(self.ble, self.lock.state)
        self.panel = await self.lock.panel()


@pytest_asyncio.fixture(scope="class", loop_scope="class")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    root = tmp_path_factory.mktemp("atomic")
    ble = await BleHarness.simulated(hosts=2, adapters=(1, 2))
    try:
        lock = await start_lock(ble, root / "lock")
        rig = Rig(ble=ble, root=root, lock=lock, panel=await lock.panel())
        yield rig
        if rig.owner is not None:
            await rig.owner.close()
        await rig.panel.close()
    finally:
        await ble.close()


async def interrupted(rig: Rig, home: Path, args: list[str], secret: str,
                      step: PairingStep, kind: str) -> Done:
    """Run ``ble-lock ARGS`` (the secret on stdin), interrupt it at ``step``."""
    env = {**rig.ble.host(1).env(), "BLE_ADAPTER": "hci0", "PYTHONUNBUFFERED": "1",
           ENV_PAUSE: step.name}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ble_lock.cli", "--home", str(home), "--timeout", "10", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env)
    assert proc.stdin is not None
    assert proc.stderr is not None
    try:
        proc.stdin.write(secret.encode() + b"\n")
        await proc.stdin.drain()
        proc.stdin.close()
        seen: list[str] = []
        while True:
            line = (await asyncio.wait_for(proc.stderr.readline(), 60)).decode()
            assert line, f"ended before {step.name}: {''.join(seen)}"
            seen.append(line)
            if line.startswith(PAUSED):
                assert line.split()[-1] == step.name
                break
        await interrupt(rig, proc, kind)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        if kind in ("sigint", "sigkill"):
            # the phone went away mid-exchange; its CLOSE, if any, may be lost with the
            # link: the lock ends the channel at its handshake timeout
            await rig.panel.advance(HANDSHAKE_TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return Done(proc.returncode, out.decode(), "".join(seen) + err.decode())


async def interrupt(rig: Rig, proc: asyncio.subprocess.Process, kind: str) -> None:
    if kind == "sigint":
        proc.send_signal(signal.SIGINT)
        return
    if kind == "sigkill":
        proc.kill()
        return
    if kind == "link_loss":
        assert rig.ble.sim is not None
        assert rig.ble.sim.drop_links(rig.ble.host(0), rig.ble.host(1)) >= 1
    else:
        await rig.restart()
    proc.send_signal(signal.SIGUSR1)  # resume


def end_state(home: Path, rig: Rig) -> str:
    """What the phone holds; whether the lock agrees is what the next command shows."""
    record = Keystore(home).get(rig.lock_hex)
    if record is None:
        return UNTOUCHED
    return PENDING if record.pending else HELD


def check_rc(done: Done, kind: str, state: str) -> None:
    if kind == "sigkill":
        assert done.rc == -signal.SIGKILL
    elif kind == "sigint":
        assert done.rc != 0, done.err
        assert "Traceback" not in done.err
    elif state == HELD:
        assert done.rc == 0, done.err  # the same run recovered by itself
    else:
        assert done.rc != 0, done.err
        assert len(done.err.strip().splitlines()[-1:]) == 1  # one line, no traceback
        assert "Traceback" not in done.err


async def unlock(rig: Rig, home: Path) -> Done:
    return await run(rig.ble, 1, home, "unlock", rig.lock_hex, "--json")


class TestClaim:
    """``ble-lock claim LOCK --qr -`` on a factory-fresh lock in pairing mode."""

    pytestmark = pytest.mark.asyncio(loop_scope="class")

    @staticmethod
    async def fresh(rig: Rig) -> str:
        """Factory reset (R-SEC-5: a new key, lockouts lifted), SET (R-APP-1): the QR."""
        await rig.panel.call("factory_reset")
        await rig.panel.call("set_button")
        rig.owner = None  # its lock is gone
        return await rig.qr()

    @pytest.mark.parametrize("step", STEPS, ids=lambda s: s.name.lower())
    @pytest.mark.parametrize("kind", KINDS)
    async def test_interrupted_claim_ends_allowed_and_the_next_command_works(
            self, rig: Rig, kind: str, step: PairingStep) -> None:
        qr = await self.fresh(rig)
        home = rig.home()
        args = ["claim", rig.lock_hex, "--qr", "-", "--name", "door", "--json"]
        done = await interrupted(rig, home, args, qr, step, kind)
        state = end_state(home, rig)
        assert state in expected("claim", kind, step), (state, done.rc, done.err)
        check_rc(done, kind, state)

        again = await unlock(rig, home) if state != UNTOUCHED else None
        if again is None or again.rc == int(ErrorCode.NOT_PAIRED):
            # the lock never read PAIR3 (only where it may not have): claim again
            assert again is None or step in (PairingStep.KEY_SAVED, PairingStep.PAIR3_SENT)
            await rig.panel.call("set_button")  # a restarted lock left pairing mode
            again = await run(rig.ble, 1, home, *args, input=await rig.qr() + "\n")
            assert again.rc == 0, again.err
            assert (again.json()["user"], again.json()["role"]) == (1, "admin")
        else:
            assert again.rc == 0, again.err
            assert again.json() == {"unlocked": True, "user": 1}
        record = Keystore(home).get(rig.lock_hex)
        assert record is not None
        assert (record.pending, record.user_no, record.role, record.name) == (
            False, 1, "admin", "door")


class TestRedeem:
    """``ble-lock key redeem -`` of an invite issued by the owner (a phone in the test)."""

    pytestmark = pytest.mark.asyncio(loop_scope="class")

    @staticmethod
    async def owner(rig: Rig) -> LockClient:
        """The lock's owner on the other adapter of host 1, claimed once."""
        if rig.owner is None:
            await rig.panel.call("factory_reset")
            await rig.panel.call("set_button")
            central = rig.ble.central(host=1, adapter="hci1")
            owner = await LockClient.find(
                lock_id=rig.lock.lock_id, adapter=central.adapter,
                keystore=Keystore(rig.root / "owner"), scan_timeout=10.0, timeout=10.0)
            await owner.connect()
            await owner.claim_qr(await rig.qr())
            rig.owner = owner
        return rig.owner

    @pytest.mark.parametrize("step", STEPS, ids=lambda s: s.name.lower())
    @pytest.mark.parametrize("kind", KINDS)
    async def test_interrupted_redemption_ends_allowed_and_the_next_command_works(
            self, rig: Rig, kind: str, step: PairingStep) -> None:
        owner = await self.owner(rig)
        await owner.lift_lockout()  # abandoned attempts count (R-SEC-1 pairing limiter)
        invite = await owner.issue_key(None, name=f"guest {rig.homes + 1}")
        text = InviteText(lock_id=rig.lock.lock_id, invite_id=invite.invite_id,
                          code=invite.code, fingerprint=owner.fingerprint).text()
        await owner.end_session()  # none left idle while the lock's clock is moved
        home = rig.home()
        args = ["key", "redeem", "-", "--name", "door", "--json"]
        done = await interrupted(rig, home, args, text, step, kind)
        state = end_state(home, rig)
        assert state in expected("invite", kind, step), (state, done.rc, done.err)
        check_rc(done, kind, state)

        again = await unlock(rig, home) if state != UNTOUCHED else None
        if again is None or again.rc == int(ErrorCode.NOT_PAIRED):
            assert again is None or step in (PairingStep.KEY_SAVED, PairingStep.PAIR3_SENT)
            pending = {i.invite_id for i in await owner.list_invites()}
            assert invite.invite_id in pending  # unused: nobody holds its key
            again = await run(rig.ble, 1, home, *args, input=text + "\n")
            assert again.rc == 0, again.err
            assert again.json()["user"] == invite.user_number
        else:
            assert again.rc == 0, again.err
            assert again.json() == {"unlocked": True, "user": invite.user_number}
        assert invite.invite_id not in {i.invite_id for i in await owner.list_invites()}
        record = Keystore(home).get(rig.lock_hex)
        assert record is not None
        assert (record.pending, record.user_no) == (False, invite.user_number)
        with contextlib.suppress(Exception):
            await owner.delete_user(invite.user_number)  # keep the lock's user table small
        await owner.end_session()

