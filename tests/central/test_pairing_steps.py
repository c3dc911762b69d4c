"""Issue 14 item 1, in memory: a claim (R-USR-2) and an invite redemption (R-APP-3) are
atomic from the user's view. At every :class:`PairingStep` and for every way a run can
end there - Ctrl-C (the clean-up runs), a crash (only what is on disk survives, no CLOSE
reaches the lock), a dropped link - the phone holds the key, or the lock bound nothing
(the invite is unused), or the phone holds it as pending and the next command completes
the pairing. The same steps over the simulator, with real processes:
``tests/cli/test_atomic_pairing.py``.
"""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ble_lock.central.app import PairingStep, StepHook
from ble_lock.central.client import LockClient
from ble_lock.central.keystore import Keystore, LockRecord
from ble_lock.core.errors import IdentityMismatchError, LockError
from ble_lock.core.model import Actor
from ble_lock.testing.memory_lock import MemoryLink, MemoryLock
from ble_lock.wire.link.transport_messages import MsgType
from tests.central._phones import Phones, first_messages, phones_for

pytestmark = pytest.mark.timeout(60)

LOCK = "0BADC0DE"
FLOWS = ["claim", "invite"]
HANDSHAKE_TIMEOUT = 30.0  # the lock's Timeouts.handshake: a vanished phone's channel ends


class Interrupted(BaseException):
    """A Ctrl-C at a step: unwinds like KeyboardInterrupt (not an Exception)."""


@dataclass
class Flow:
    """One pairing to interrupt: a claim, or the redemption of a fresh invite."""

    lock: MemoryLock
    kind: str
    invite: Any = None

    async def run(self, client: LockClient, hook: StepHook | None = None) -> LockRecord:
        if self.kind == "claim":
            return await client.claim(self.lock.setup_code,
                                      lock_fingerprint=self.lock.fingerprint, on_step=hook)
        return await client.redeem(self.invite.invite_id, self.invite.code,
                                   lock_fingerprint=self.lock.fingerprint, on_step=hook)

    def unused(self) -> bool:
        """The lock bound nobody with this flow's code (factory-fresh, or invite pending)."""
        if self.kind == "claim":
            return not self.lock.lock.claimed
        # a redeemed invite is kept, spent, until it expires (INVITE_USED): pending only
        pending = self.lock.lock.list_invites(Actor.panel(1))  # user 1: the owner, an admin
        return self.invite.invite_id in [invite.id for invite in pending]


async def _flow(kind: str, lock: MemoryLock, phones: Phones) -> Flow:
    flow = Flow(lock=lock, kind=kind)
    if kind == "invite":
        owner = await phones.owner()
        flow.invite = await owner.issue_key(None, name="guest")
    return flow


def _phone_key(home: Path) -> bytes:
    identity = Keystore(home).identity()
    assert identity is not None
    return identity.public_key


def end_state(home: Path, flow: Flow) -> str:
    """One of the three allowed states, or an AssertionError naming the forbidden one:
    ``held`` (final record, the lock bound the key), ``untouched`` (no record, the lock
    bound nothing), ``pending`` (the phone holds the key; completed by the next command)."""
    record = Keystore(home).get(LOCK)
    bound = flow.lock.lock.find_phone(_phone_key(home)) is not None
    if record is None:
        assert not bound, "the lock bound a key that no phone holds (orphaned)"
        assert flow.unused(), "the code was spent and nobody holds a key"
        return "untouched"
    assert record.lock_public_key == flow.lock.key.public
    if not record.pending:
        assert bound, "a final record for a key the lock never bound"
        return "held"
    return "pending"


async def next_command_completes(phones: Phones, name: str, flow: Flow) -> None:
    """The next run (the same command again) ends paired; the lock bound the key once."""
    client = await phones.new(name)
    record = await flow.run(client)
    assert not record.pending
    assert record.user_no is not None
    assert await client.unlock() == record.user_no
    assert end_state(phones.root / name, flow) == "held"
    assert not flow.unused()


def _stop_at(step: PairingStep, action: Callable[[], Awaitable[None]] | None = None
             ) -> StepHook:
    async def hook(reached: PairingStep) -> None:
        if reached is step:
            if action is not None:
                await action()
            raise Interrupted(step.name)

    return hook


# what each step leaves when the run ends there: before PAIR3 nothing may be kept; from
# PAIR3 on the memory lock has read it (its frames are handled inside the write)
EXPECTED = {
    PairingStep.PAIR1_SENT: "untouched",
    PairingStep.KEY_RECEIVED: "untouched",
    PairingStep.KEY_SAVED: "untouched",
    PairingStep.PAIR3_SENT: "pending",
    PairingStep.PAIRED: "pending",
    PairingStep.CONFIRMED: "held",
}
CRASHED = EXPECTED | {PairingStep.KEY_SAVED: "pending"}  # written, never undone


@pytest.mark.parametrize("step", list(PairingStep), ids=lambda s: s.name.lower())
@pytest.mark.parametrize("kind", FLOWS)
async def test_ctrl_c_at_each_step(tmp_path: Path, kind: str, step: PairingStep) -> None:
    """Ctrl-C: the clean-up undoes a pending record whose PAIR3 never left."""
    lock = MemoryLock()
    async with phones_for(lock, tmp_path) as phones:
        flow = await _flow(kind, lock, phones)
        client = await phones.new("phone")
        with pytest.raises(Interrupted):
            await flow.run(client, _stop_at(step))
        await client.close()  # as the command line's `connected` does
        assert end_state(tmp_path / "phone", flow) == EXPECTED[step]
        await next_command_completes(phones, "phone", flow)


@pytest.mark.parametrize("step", list(PairingStep), ids=lambda s: s.name.lower())
@pytest.mark.parametrize("kind", FLOWS)
async def test_crash_at_each_step(tmp_path: Path, kind: str, step: PairingStep) -> None:
    """SIGKILL: what was on disk at that step is all that survives; the lock hears
    nothing more (its pairing channel ends at its handshake timeout)."""
    lock = MemoryLock()
    snapshot = tmp_path / "disk"
    async with phones_for(lock, tmp_path) as phones:
        flow = await _flow(kind, lock, phones)
        client = await phones.new("phone")

        async def crash() -> None:
            shutil.copytree(tmp_path / "phone", snapshot)
            link = client.engine.link
            assert isinstance(link, MemoryLink)
            link.drop()  # no CLOSE, no clean-up frame reaches the lock

        with pytest.raises(Interrupted):
            await flow.run(client, _stop_at(step, crash))
        await client.close()
        shutil.rmtree(tmp_path / "phone")
        snapshot.rename(tmp_path / "phone")  # the process died: its disk as it was
        lock.clock.advance(HANDSHAKE_TIMEOUT)
        lock.server.handle_timer(lock.now)
        assert end_state(tmp_path / "phone", flow) == CRASHED[step]
        await next_command_completes(phones, "phone", flow)


@pytest.mark.parametrize("step", list(PairingStep), ids=lambda s: s.name.lower())
@pytest.mark.parametrize("kind", FLOWS)
async def test_link_lost_at_each_step_the_same_run_completes(
        tmp_path: Path, kind: str, step: PairingStep) -> None:
    """A dropped link: before PAIR3 the pairing starts over on a new link, after it a
    session with the new key settles it; either way this very run ends paired."""
    lock = MemoryLock()
    async with phones_for(lock, tmp_path) as phones:
        flow = await _flow(kind, lock, phones)
        client = await phones.new("phone")

        dropped: list[PairingStep] = []

        async def drop(reached: PairingStep) -> None:
            if reached is step and not dropped:  # once: a retry reaches the step again
                dropped.append(reached)
                link = client.engine.link
                assert isinstance(link, MemoryLink)
                link.drop()

        record = await flow.run(client, drop)
        assert dropped == [step]
        assert (record.pending, record.user_no) == (False, 2 if kind == "invite" else 1)
        assert end_state(tmp_path / "phone", flow) == "held"
        assert await client.unlock() == record.user_no
        assert client.engine.reconnects == 1


@pytest.mark.parametrize("kind", FLOWS)
async def test_a_drop_at_every_att_operation_and_the_same_run_ends_paired(
        tmp_path: Path, kind: str) -> None:
    """The link dropped after each ATT operation of a whole pairing in turn: PAIR4 lost
    (the lock bound the phone, its answer never came) is settled by a session with the
    new key; PAIR3 lost (the lock says it does not know the key) pairs once more."""
    probe = MemoryLock()
    async with phones_for(probe, tmp_path / "probe") as phones:
        flow = await _flow(kind, probe, phones)
        client = await phones.new("phone")
        link = client.engine.link
        assert isinstance(link, MemoryLink)
        before = len(probe.trace)
        await flow.run(client)
        ops = sum(1 for op in probe.trace[before:] if op.link == link.number)
    assert ops >= 6  # PAIR1, PAIR2, PAIR3, PAIR4, a session's HS1 and HS2 at least
    for k in range(ops):
        lock = MemoryLock()
        async with phones_for(lock, tmp_path / str(k)) as phones:
            flow = await _flow(kind, lock, phones)
            client = await phones.new("phone")
            link = client.engine.link
            assert isinstance(link, MemoryLink)
            link.drop_after(k)
            record = await flow.run(client)  # before PAIR3: again; after: settled
            assert not record.pending
            assert end_state(tmp_path / str(k) / "phone", flow) == "held", k
            assert client.engine.reconnects == 1


@pytest.mark.parametrize("kind", FLOWS)
async def test_the_phone_keeps_the_key_before_the_lock_binds_it(
        tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Write-ahead: when the lock binds the phone (it read PAIR3), the phone's keystore
    on disk already holds the lock's key as a pending record."""
    lock = MemoryLock()
    seen: list[LockRecord | None] = []
    async with phones_for(lock, tmp_path) as phones:
        flow = await _flow(kind, lock, phones)
        name = "claim" if kind == "claim" else "redeem_invite"
        real = getattr(lock.lock, name)

        def binding(*args: Any, **kwargs: Any) -> Any:
            seen.append(Keystore(tmp_path / "phone").get(LOCK))
            return real(*args, **kwargs)

        monkeypatch.setattr(lock.lock, name, binding)
        client = await phones.new("phone")
        record = await flow.run(client)
    (pending,) = seen
    assert pending is not None
    assert pending.pending
    assert pending.lock_public_key == lock.key.public
    assert not record.pending


async def test_a_refused_key_keeps_nothing_and_the_lock_binds_nothing(
        tmp_path: Path) -> None:
    """``check_key`` (the command line's fingerprint question) saying no: a CLOSE goes
    instead of PAIR3 (no remote factory reset needed), nothing is saved."""
    lock = MemoryLock()
    async with phones_for(lock, tmp_path) as phones:
        client = await phones.new("phone")
        steps: list[PairingStep] = []

        async def record(step: PairingStep) -> None:
            steps.append(step)

        async def refuse(lock_public: bytes) -> None:
            assert lock_public == lock.key.public
            raise IdentityMismatchError("not the label's fingerprint")

        with pytest.raises(IdentityMismatchError, match="label"):
            await client.claim(lock.setup_code, check_key=refuse, on_step=record)
        assert steps == [PairingStep.PAIR1_SENT, PairingStep.KEY_RECEIVED]
        assert Keystore(tmp_path / "phone").get(LOCK) is None
        assert not lock.lock.claimed
        # the lock's pairing slot was freed by the CLOSE: a new claim goes through at once
        record_ = await client.claim(lock.setup_code, lock_fingerprint=lock.fingerprint)
        assert (record_.user_no, record_.pending) == (1, False)


async def test_steps_come_in_order_and_a_rerun_on_a_paired_lock_pairs_nothing(
        tmp_path: Path) -> None:
    lock = MemoryLock()
    async with phones_for(lock, tmp_path) as phones:
        client = await phones.new("phone")
        steps: list[PairingStep] = []

        async def record(step: PairingStep) -> None:
            steps.append(step)

        await client.claim(lock.setup_code, lock_fingerprint=lock.fingerprint,
                           on_step=record)
        assert steps == list(PairingStep)
        await client.end_session()  # as a new run would
        frames = len(lock.frames)
        steps.clear()
        again = await client.claim(lock.setup_code, on_step=record)
        assert (again.user_no, again.role) == (1, "admin")
        assert steps == [PairingStep.CONFIRMED]  # one session, no pairing
        sent = [t for msgs in first_messages(lock.frames[frames:]).values() for t, _ in msgs]
        assert int(MsgType.PAIR1) not in sent
        assert int(MsgType.HS1) in sent


async def test_a_pending_record_of_a_pairing_the_lock_never_took_is_replaced(
        tmp_path: Path) -> None:
    """A pending record whose PAIR3 may never have arrived (the lock says it does not
    know the key): the next claim pairs afresh and replaces it."""
    lock = MemoryLock()
    home = tmp_path / "phone"
    async with phones_for(lock, tmp_path) as phones:
        client = await phones.new("phone")
        Keystore(home).put(LockRecord(lock_id=LOCK, name="door", pending=True,
                                      lock_public_key=lock.key.public, counter=3))
        with pytest.raises(LockError) as refused:
            await client.unlock()
        assert refused.value.code.name == "UNKNOWN_PEER"
        assert Keystore(home).get(LOCK) is not None  # an unauthenticated "no" deletes nothing
        record = await client.claim(lock.setup_code, lock_fingerprint=lock.fingerprint)
        assert (record.name, record.pending, record.user_no) == ("door", False, 1)
        assert record.counter >= 3  # never lowered


async def test_a_stale_record_of_a_reset_lock_does_not_stop_a_new_claim(
        tmp_path: Path) -> None:
    """A final record from before a factory reset (the lock has another key now): the
    session with it fails the handshake, and the claim pairs afresh."""
    lock = MemoryLock()
    home = tmp_path / "phone"
    async with phones_for(lock, tmp_path) as phones:
        client = await phones.new("phone")
        Keystore(home).put(LockRecord(lock_id=LOCK, name="door", user_no=1, role="admin",
                                      lock_public_key=b"\x09" * 32, counter=2))
        record = await client.claim(lock.setup_code, lock_fingerprint=lock.fingerprint)
        assert (record.lock_public_key, record.pending, record.user_no) == (
            lock.key.public, False, 1)
        assert await client.unlock() == 1
