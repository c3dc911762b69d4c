"""Issue 5, the story, over the simulator: the emulator in its own process on host 0,
three phones (``LockClient`` over bleak) on three adapters of host 1. No mocks.

Claim a fresh lock -> enrol a second admin phone -> add a user with a PIN -> that PIN
(and a virtual PIN around it, R-PIN-3) opens at the front panel -> issue a Bluetooth
key -> a third phone redeems it and unlocks -> revoke -> that phone is denied -> the
event log shows all of it, in order, with the right users and methods.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ble_lock.core.errors import ErrorCode, LockError
from ble_lock.sim.harness import BleHarness
from ble_lock.testing.emulator import start_lock
from ble_lock.wire import messages as m
from tests.e2e._env import phone

pytestmark = pytest.mark.timeout(120)

K = m.EventKind


def _sub(records: list[m.EventRecord], wanted: list[tuple[m.EventKind, int | None,
                                                         m.UnlockMethod | None]]) -> None:
    """``wanted`` (kind, user, method) appears in ``records`` in this order."""
    it = iter((r.kind, r.user_number, r.method) for r in records)
    for item in wanted:
        assert any(got == item for got in it), f"{item} missing or out of order"


@pytest.mark.ble_sim(adapters=(1, 3))
async def test_story_claim_enrol_pin_key_revoke_events(ble_sim: BleHarness,
                                                       tmp_path: Path) -> None:
    """R-USR-2 (claim: user 1 admin), R-APP-3 (invites), R-PIN-3 (virtual PIN),
    key revocation, event log order."""
    lock = await start_lock(ble_sim, tmp_path / "lock")
    assert lock.qr is not None
    panel = await lock.panel()
    await panel.call("set_button")  # face-palm: claiming needs pairing mode (R-APP-1)
    async with await phone(ble_sim, lock, tmp_path / "owner", adapter="hci0") as owner:
        rec = await owner.claim_qr(lock.qr, name="front door")
        assert (rec.user_no, rec.role, rec.name) == (1, "admin", "front door")

        # a second admin phone
        invite = await owner.enrol_phone(name="Bea")
        async with await phone(ble_sim, lock, tmp_path / "bea", adapter="hci1") as bea:
            rec = await bea.redeem(invite.invite_id, invite.code,
                                   lock_fingerprint=owner.fingerprint)
            assert (rec.user_no, rec.role) == (invite.user_number, "admin")
            # ... which adds a user with a PIN
            carl = await bea.add_user("Carl")
            pin = await bea.add_pin(carl.user_number, "135790")
            assert (pin.kind, pin.user_number) == (m.CredentialKind.PIN, carl.user_number)

        # the PIN, and a virtual PIN around it, open at the front panel
        reply = await panel.call("keypad", keys="135790#")
        assert (reply["outcome"], reply["user"], reply["method"]) == (
            "granted", carl.user_number, "PIN")
        reply = await panel.call("keypad", keys="4213579088#")
        assert (reply["outcome"], reply["user"]) == ("granted", carl.user_number)

        # a Bluetooth key for Carl, redeemed by a third phone, which unlocks
        key = await owner.issue_key(carl.user_number)
        async with await phone(ble_sim, lock, tmp_path / "guest", adapter="hci2") as guest:
            rec = await guest.redeem(key.invite_id, key.code, lock_fingerprint=owner.fingerprint)
            assert (rec.user_no, rec.role) == (carl.user_number, "normal")
            assert await guest.unlock() == carl.user_number
            await guest.lock()
            await guest.end_session()  # the guest walks away; its next try is a new session

            # revoke it: that phone's next attempt is refused at the handshake, and logged
            keys = [k for k in await owner.list_keys() if k.user_number == carl.user_number]
            assert len(keys) == 1
            await owner.revoke_key(keys[0].credential_id)
            with pytest.raises(LockError) as denied:
                await guest.unlock()
            assert denied.value.code is ErrorCode.UNKNOWN_PEER
            assert guest.engine.retries == 0  # a denial is not retried

        records = await owner.events()
    seqs = [r.seq for r in records]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    bea_no = invite.user_number
    _sub(records, [
        (K.CLAIMED, 1, None),
        (K.USER_ADDED, bea_no, None),
        (K.KEY_ISSUED, bea_no, None),
        (K.CREDENTIAL_ADDED, bea_no, None),      # Bea's phone key
        (K.USER_ADDED, carl.user_number, None),
        (K.CREDENTIAL_ADDED, carl.user_number, None),  # the PIN
        (K.UNLOCK, carl.user_number, m.UnlockMethod.PIN),
        (K.UNLOCK, carl.user_number, m.UnlockMethod.PIN),
        (K.KEY_ISSUED, carl.user_number, None),
        (K.CREDENTIAL_ADDED, carl.user_number, None),  # the guest phone's key
        (K.UNLOCK, carl.user_number, m.UnlockMethod.BLUETOOTH),
        (K.LOCKED, carl.user_number, m.UnlockMethod.BLUETOOTH),
        (K.KEY_REVOKED, carl.user_number, None),
        (K.UNLOCK_FAILED, carl.user_number, m.UnlockMethod.BLUETOOTH),  # the denied phone
    ])
    carls = [r.detail for r in records
             if r.kind is K.CREDENTIAL_ADDED and r.user_number == carl.user_number]
    assert carls == ["PIN", "BLUETOOTH_KEY"]
    # nothing after the revocation opened the door
    revoked_at = max(i for i, r in enumerate(records) if r.kind is K.KEY_REVOKED)
    assert all(r.kind is not K.UNLOCK for r in records[revoked_at:])
    await panel.close()
