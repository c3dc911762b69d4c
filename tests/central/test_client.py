"""LockClient against a real lock in this process (MemoryLock): pairing, every family of
operations, typed errors, secrets only inside sessions, one round trip per unlock."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from ble_lock.central.client import LockClient, check_version
from ble_lock.central.discovery import LockAdvert
from ble_lock.central.keystore import Keystore
from ble_lock.core.errors import (
    ErrorCode,
    LockError,
    NotFoundError,
    PermissionDeniedError,
    TransportError,
)
from ble_lock.core.profile import DL20VC
from ble_lock.testing.memory_lock import MemoryLock
from ble_lock.testing.waiting import yield_to_loop
from ble_lock.wire import messages as m
from ble_lock.wire.errors import UnsupportedVersionError
from ble_lock.wire.link.transport_messages import PROTOCOL_VERSION
from tests.central._phones import HS1, HS1_EMPTY, first_messages, phones_for

pytestmark = pytest.mark.timeout(30)


async def test_claim_writes_the_keystore_record(tmp_path: Path) -> None:
    """R-USR-2: the claiming phone is user 1, admin; the record is what later sessions use."""
    lock = MemoryLock()
    async with phones_for(lock, tmp_path) as phones:
        owner = await phones.owner()
        rec = Keystore(tmp_path / "owner").get("0BADC0DE")
        assert rec is not None
        assert (rec.user_no, rec.role, rec.address) == (1, "admin", lock.address)
        assert rec.lock_public_key == lock.key.public
        assert owner.fingerprint == lock.fingerprint
        # every session's counter was reserved in the keystore before its HS1 went out
        # (in blocks: the stored counter is the top of the block reserved, issue 15)
        used = lock.lock.phone_counter(owner.engine.phone.public)
        assert used == owner.engine.sessions_opened >= 1
        assert rec.counter >= used
        assert owner.info is not None
        assert owner.info.lock_id == lock.lock_id


async def test_wrong_fingerprint_and_wrong_code_fail_typed(tmp_path: Path) -> None:
    lock = MemoryLock()
    async with phones_for(lock, tmp_path) as phones:
        phone = await phones.new("p")
        with pytest.raises(LockError) as mitm:
            await phone.claim(lock.setup_code, lock_fingerprint=bytes(16))
        assert mitm.value.code is ErrorCode.IDENTITY_MISMATCH
        with pytest.raises(LockError) as wrong:
            await phone.claim("00000000")
        assert wrong.value.code is ErrorCode.PAIRING_FAILED
        assert phone.record is None
        with pytest.raises(TransportError) as unpaired:
            await phone.unlock()
        assert unpaired.value.code is ErrorCode.NOT_PAIRED


async def test_connecting_to_the_wrong_lock_is_refused(tmp_path: Path) -> None:
    lock = MemoryLock()
    client = LockClient(lock.connector(), keystore=Keystore(tmp_path), lock_id=bytes(4))
    with pytest.raises(TransportError) as info:
        await client.connect()
    assert info.value.code is ErrorCode.LOCK_NOT_FOUND


async def test_qr_for_another_lock_is_refused(tmp_path: Path) -> None:
    lock = MemoryLock()
    async with phones_for(lock, tmp_path) as phones:
        phone = await phones.new("p")
        with pytest.raises(TransportError) as info:
            await phone.claim_qr("BLELOCK1:00000001:47110815:" + "00" * 16)
        assert info.value.code is ErrorCode.LOCK_NOT_FOUND


async def test_users_credentials_keys_settings_events(tmp_path: Path) -> None:
    lock = MemoryLock(profile=DL20VC)
    async with phones_for(lock, tmp_path) as phones:
        owner = await phones.owner()
        carl = await owner.add_user("Carl")
        assert (await owner.get_user(carl.user_number)).name == "Carl"
        carl = await owner.update_user(carl.user_number, name="Carl B")
        assert carl.name == "Carl B"
        assert [u.name for u in await owner.list_users()][-1] == "Carl B"
        pin = await owner.add_pin(carl.user_number, "135790")
        card = await owner.add_card(carl.user_number, b"\xca\xfe\xf0\x0d", "864209")
        assert {c.credential_id for c in await owner.list_credentials(
            user_number=carl.user_number)} == {pin.credential_id, card.credential_id}
        assert lock.lock.enter_pin("135790").granted
        await owner.delete_credential(card.credential_id)
        assert await owner.delete_credentials(carl.user_number, m.CredentialKind.PIN) == 1
        assert await owner.list_credentials(user_number=carl.user_number) == []
        settings = await owner.set_settings(m.SettingsSet(volume=2))
        assert settings.volume == 2
        assert (await owner.settings()).volume == 2
        info = await owner.system_info()
        assert info.claimed
        await owner.set_time(1_767_225_600_000)
        invite = await owner.issue_key(name="Dora")
        assert [i.invite_id for i in await owner.list_invites()] == [invite.invite_id]
        await owner.cancel_invite(invite.invite_id)
        assert await owner.list_invites() == []
        await owner.delete_user(carl.user_number)
        with pytest.raises(NotFoundError) as gone:
            await owner.get_user(carl.user_number)
        assert gone.value.code is ErrorCode.UNKNOWN_USER
        # more events than one page: iterated in order, page by page
        records = await owner.events()
        assert len(records) > m.MAX_EVENTS_PER_PAGE
        assert [r.seq for r in records] == sorted({r.seq for r in records})
        tail = await owner.events(after=records[-3].seq)
        assert tail == records[-2:]


async def test_denials_are_typed_errors_with_the_code(tmp_path: Path) -> None:
    """A normal user's key: management is refused inside the lock (PERMISSION_DENIED);
    privacy mode refuses its unlock (PRIVACY_MODE, R-MOD-2)."""
    lock = MemoryLock()
    async with phones_for(lock, tmp_path) as phones:
        owner = await phones.owner()
        carl = await owner.add_user("Carl")
        guest = await phones.invited(owner, "guest", carl.user_number)
        with pytest.raises(PermissionDeniedError) as refused:
            await guest.add_user("Mallory")
        assert refused.value.code is ErrorCode.PERMISSION_DENIED
        await owner.set_settings(m.SettingsSet(privacy_mode=True))
        with pytest.raises(PermissionDeniedError) as privacy:
            await guest.unlock()
        assert privacy.value.code is ErrorCode.PRIVACY_MODE
        assert guest.engine.retries == 0


async def test_revoked_key_is_refused_and_not_retried(tmp_path: Path) -> None:
    lock = MemoryLock()
    async with phones_for(lock, tmp_path) as phones:
        owner = await phones.owner()
        carl = await owner.add_user("Carl")
        guest = await phones.invited(owner, "guest", carl.user_number)
        assert await guest.unlock() == carl.user_number
        (key,) = [k for k in await owner.list_keys() if k.user_number == carl.user_number]
        await owner.revoke_key(key.credential_id)
        with pytest.raises(LockError) as denied:
            await guest.unlock()
        assert denied.value.code in (ErrorCode.KEY_REVOKED, ErrorCode.UNKNOWN_PEER)
        with pytest.raises(LockError) as again:
            await guest.unlock()  # a new session: the lock does not know the key any more
        assert again.value.code is ErrorCode.UNKNOWN_PEER
        assert guest.engine.retries == 0


async def test_unlock_is_one_write_and_one_notification(tmp_path: Path) -> None:
    """The unlock rides in HS1; HS2 carries the answer (DESIGN performance anchor)."""
    lock = MemoryLock(mtu=247)
    async with phones_for(lock, tmp_path) as phones:
        owner = await phones.owner()
        await owner.end_session()
        before = len(lock.trace)
        assert await owner.unlock() == 1
        ops = [op.op for op in lock.trace[before:] if op.link == lock.links[-1].number]
        assert ops[:2] == ["write", "notify"]
        assert ops.count("write") == 1


async def test_secrets_never_ride_in_the_first_message(tmp_path: Path) -> None:
    """docs/protocol.md: HS1 has no forward secrecy, so a PIN goes as DATA in the session;
    a request without secrets opens the session itself (0-RTT)."""
    lock = MemoryLock(mtu=247)
    async with phones_for(lock, tmp_path) as phones:
        owner = await phones.owner()
        carl = await owner.add_user("Carl")
        await owner.end_session()
        lock.frames.clear()
        await owner.add_pin(carl.user_number, "135790")
        hs1 = [length for msgs in first_messages(lock.frames).values()
               for kind, length in msgs if kind == HS1]
        assert hs1 == [HS1_EMPTY]
        await owner.end_session()
        lock.frames.clear()
        await owner.add_user("Dora")
        hs1 = [length for msgs in first_messages(lock.frames).values()
               for kind, length in msgs if kind == HS1]
        assert len(hs1) == 1
        assert hs1[0] > HS1_EMPTY


async def test_pushes_reach_a_listening_admin(tmp_path: Path) -> None:
    """R-APP-6: a keypad unlock is pushed to the sessions that are open."""
    lock = MemoryLock()
    async with phones_for(lock, tmp_path) as phones:
        owner = await phones.owner()
        carl = await owner.add_user("Carl")
        await owner.add_pin(carl.user_number, "135790")
        got: list[m.EventBody] = []
        stop = owner.on_event(got.append)
        await owner.listen()
        assert lock.lock.enter_pin("135790").granted
        lock.panel()
        changed = [b for b in got if isinstance(b, m.StateChanged)]
        assert changed
        assert (changed[-1].state, changed[-1].user_number, changed[-1].method) == (
            m.LockState.UNLOCKED, carl.user_number, m.UnlockMethod.PIN)
        stop()
        got.clear()
        lock.lock.enter_pin("135790")
        lock.panel()
        assert got == []


async def test_an_enrolment_is_driven_from_the_phone(tmp_path: Path) -> None:
    """R-CRD-4: captures at the lock, steps pushed to the phone, DONE with the credential."""
    lock = MemoryLock()
    async with phones_for(lock, tmp_path) as phones:
        owner = await phones.owner()
        carl = await owner.add_user("Carl")
        finger = b"\x42" * 32
        steps: list[m.Enrolment] = []
        async with owner.enrol(carl.user_number, m.CredentialKind.FINGERPRINT) as run:
            run.on_step = steps.append
            assert run.state is not None
            needed = run.state.captures_needed
            for _ in range(needed):
                lock.lock.present_biometric(m.CredentialKind.FINGERPRINT, finger)
                lock.panel()
                await run.next_step()
        assert run.finished
        assert [s.captured for s in steps] == list(range(1, needed + 1))
        assert steps[-1].state is m.EnrolmentState.DONE
        assert run.credential_id is not None
        assert lock.lock.present_biometric(m.CredentialKind.FINGERPRINT, finger).granted


async def test_leaving_an_enrolment_early_cancels_it(tmp_path: Path) -> None:
    lock = MemoryLock()
    async with phones_for(lock, tmp_path) as phones:
        owner = await phones.owner()
        carl = await owner.add_user("Carl")
        async with owner.enrol(carl.user_number, m.CredentialKind.FINGERPRINT) as run:
            lock.lock.present_biometric(m.CredentialKind.FINGERPRINT, b"\x42" * 32)
            lock.panel()
            step = await run.next_step()
            assert step.captured == 1
        assert run.state is not None
        assert run.state.state is m.EnrolmentState.CANCELLED
        assert await owner.list_credentials(kind=m.CredentialKind.FINGERPRINT) == []


async def test_visitor_secret_is_kept_in_the_keystore_and_out_of_reprs(tmp_path: Path) -> None:
    lock = MemoryLock()
    async with phones_for(lock, tmp_path) as phones:
        owner = await phones.owner()
        secret = await owner.visitor_secret()
        rec = owner.record
        assert rec is not None
        assert rec.visitor_secret == secret
        invite = await owner.issue_key(name="Dora")
        for text in (repr(owner), repr(owner.engine), repr(rec), repr(invite)):
            assert secret.hex() not in text
            assert invite.code not in text



async def test_a_listening_phone_gets_a_new_session_when_the_lock_times_one_out(
        tmp_path: Path) -> None:
    """The lock closes a session idle for 120 s (SESSION_TIMEOUT); a phone with listeners
    opens another one by itself and keeps hearing pushes."""
    lock = MemoryLock()
    async with phones_for(lock, tmp_path) as phones:
        owner = await phones.owner()
        carl = await owner.add_user("Carl")
        await owner.add_pin(carl.user_number, "135790")
        got: list[m.EventBody] = []
        owner.on_event(got.append)
        await owner.listen()
        opened = owner.engine.sessions_opened
        lock.clock.advance(121)  # the lock's link clock is the fake clock here
        lock.server.handle_timer(lock.clock.now())
        lock.deliver()  # CLOSE(SESSION_TIMEOUT) reaches the phone
        await asyncio.gather(*owner.engine._tasks)  # the reopening runs in the background
        assert owner.engine.sessions_opened == opened + 1
        assert lock.lock.enter_pin("135790").granted
        lock.panel()
        assert any(isinstance(b, m.StateChanged) for b in got)


async def test_pushed_events_as_an_async_iterator(tmp_path: Path) -> None:
    lock = MemoryLock()
    async with phones_for(lock, tmp_path) as phones:
        owner = await phones.owner()
        carl = await owner.add_user("Carl")
        await owner.add_pin(carl.user_number, "135790", duress=True)
        await owner.listen()
        stream = owner.pushed()
        first = asyncio.ensure_future(anext(stream))
        await yield_to_loop()  # the iterator registers its listener before it waits
        assert lock.lock.enter_pin("135790").granted
        lock.panel()
        got = [await first, await anext(stream)]  # the unlock, then the silent alarm
        await stream.aclose()
        assert owner.engine._listeners == []
        alarms = [b for b in got if isinstance(b, m.Alarm)]
        assert [a.record.kind for a in alarms] == [m.EventKind.DURESS_ALARM]
        assert any(isinstance(b, m.StateChanged) for b in got)


class _NotALock:
    """A GATT link whose info characteristic holds something else."""

    mtu = 247
    address = "11:22:33:44:55:66"
    connected = True

    async def write(self, frame: bytes) -> None:
        raise AssertionError("nothing is written to a device that is not a lock")

    async def read_info(self) -> bytes:
        return b"\x01\x02 some other device"

    async def read_fresh(self) -> bytes:
        raise AssertionError("nothing is read after the info value")

    async def close(self) -> None:
        self.connected = False


async def test_a_device_that_is_not_a_lock_is_refused(tmp_path: Path) -> None:
    async def connect(on_notify: object, on_disconnect: object) -> _NotALock:
        return _NotALock()

    client = LockClient(connect, keystore=Keystore(tmp_path))
    with pytest.raises(TransportError) as info:
        await client.connect()
    assert info.value.code is ErrorCode.LOCK_NOT_FOUND


class _V1Lock(_NotALock):
    """A lock of protocol version 1: its info value has version byte 1."""

    async def read_info(self) -> bytes:
        return b"BL\x01\x0b\xad\xc0\xde\x04\x08\x00\x04DL30"


async def test_a_version_1_lock_is_refused_with_a_clear_error_before_anything_is_sent(
        tmp_path: Path) -> None:
    """Issue 10: never a hang. The info value names version 1: UNSUPPORTED_VERSION at
    once, nothing written (``_NotALock.write`` would fail the test)."""
    async def connect(on_notify: object, on_disconnect: object) -> _V1Lock:
        return _V1Lock()

    client = LockClient(connect, keystore=Keystore(tmp_path))
    with pytest.raises(UnsupportedVersionError, match="version 1") as refused:
        await client.connect()
    assert refused.value.code is ErrorCode.UNSUPPORTED_VERSION


def test_a_version_1_advertisement_is_refused_before_connecting() -> None:
    v1 = LockAdvert(lock_id=bytes.fromhex("0badc0de"), address="AA:BB:CC:DD:EE:FF",
                    version=1)
    with pytest.raises(UnsupportedVersionError, match="advertises protocol version 1"):
        check_version(v1)
    check_version(dataclasses.replace(v1, version=PROTOCOL_VERSION))
    check_version(dataclasses.replace(v1, version=None))  # name only (macOS): info decides
