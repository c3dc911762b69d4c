"""``LockClient``: the phone side of ble-lock over bleak (or any GATT link).

::

    ks = Keystore()                                     # the phone's keys, per-lock records
    async with await LockClient.find(lock_id=bytes.fromhex("0badc0de"), keystore=ks) as lock:
        await lock.claim_qr("BLELOCK1:0BADC0DE:47110815:547F...")   # first admin
        carl = await lock.add_user("Carl")
        await lock.add_pin(carl.user_number, "135790")     # sent inside the session only
        await lock.unlock()                                 # one round trip

Entering the context connects (``bleak_retry_connector.establish_connection``),
subscribes to the response characteristic and reads the info characteristic, which
confirms the lock id. Every protocol operation is one ``async`` method
(:class:`~ble_lock.central.operations.Operations`); a failure raises the typed
:class:`~ble_lock.core.errors.LockError` of its code, transport failures a
``TransportError`` (codes 80-89). Link drops and channel collisions are retried with
the same request id (:mod:`ble_lock.central.engine`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ble_lock.central.app import PairingStep, StepHook, claim_pairing, invite_pairing
from ble_lock.central.discovery import LockAdvert, find_lock
from ble_lock.central.engine import REQUEST_TIMEOUT, Engine, Listener, PairingInDoubt, lock_key
from ble_lock.central.enrolment import EnrolmentRun
from ble_lock.central.keystore import Keystore, LockRecord, PhoneIdentity
from ble_lock.central.linkkeeper import LinkListener
from ble_lock.central.operations import Operations
from ble_lock.central.transport import Connector, bleak_connector
from ble_lock.core.errors import ErrorCode, LockError, TransportError, error_for
from ble_lock.wire import messages as m
from ble_lock.wire.endpoints.phone import PhonePairing
from ble_lock.wire.errors import RemoteProtocolError, UnsupportedVersionError
from ble_lock.wire.link.gatt import LockInfo
from ble_lock.wire.link.transport_messages import PROTOCOL_VERSION
from ble_lock.wire.security.crypto import KeyPair, Rng, fingerprint, os_rng
from ble_lock.wire.security.pairing import QrPayload

if TYPE_CHECKING:
    from bleak.backends.device import BLEDevice


async def _step(hook: StepHook | None, step: PairingStep) -> None:
    if hook is not None:
        await hook(step)


class _NotTaken(Exception):
    """Internal: PAIR3 left, and a session with the new key was refused as unknown."""

    def __init__(self, error: LockError) -> None:
        super().__init__(error.message)
        self.error = error

__all__ = ["NOT_BOUND_CODES", "KeyCheck", "LockClient", "check_version", "load_identity"]

B = TypeVar("B", bound=m.ResponseBody)

KeyCheck = Callable[[bytes], Awaitable[None]]
"""A caller's look at the lock's static key between PAIR2 and PAIR3 (the CLI compares its
fingerprint with a person); raising refuses it: the lock binds nothing."""

NOT_BOUND_CODES = frozenset({ErrorCode.UNKNOWN_PEER, ErrorCode.HANDSHAKE_FAILED,
                             ErrorCode.DECRYPT_FAILED, ErrorCode.KEY_REVOKED})
"""How a session with a stored record ends when the lock does not hold that key (never
bound, factory reset - a new lock key -, revoked): the record cannot be completed."""


def load_identity(keystore: Keystore, rng: Rng = os_rng) -> KeyPair:
    """The phone's X25519 key pair from the keystore, created on first use."""

    def generate() -> PhoneIdentity:
        pair = KeyPair.generate(rng)
        return PhoneIdentity(private_key=pair.private_bytes(), public_key=pair.public)

    ident = keystore.ensure_identity(generate)
    return KeyPair.from_private_bytes(ident.private_key)


def check_version(advert: LockAdvert) -> None:
    """Refuse a lock that advertises another protocol version before anything is sent
    (it would not understand our HS1 or PAIR1): ``UnsupportedVersionError``."""
    if advert.version is not None and advert.version != PROTOCOL_VERSION:
        raise UnsupportedVersionError(
            f"lock {advert.lock_hex} advertises protocol version {advert.version}; "
            f"this phone speaks version {PROTOCOL_VERSION}: update the older side")


class LockClient(Operations):
    """One lock, one phone. Use as ``async with``; reconnects by itself after a drop.

    ``timeout``: seconds the lock has to answer (pairing, handshake, each request), run
    on the phone objects' own timers; ``clock``: their monotonic ``now``."""

    def __init__(self, connector: Connector, *, keystore: Keystore | None = None,
                 lock_id: bytes | None = None, rng: Rng = os_rng,
                 timeout: float = REQUEST_TIMEOUT, max_retries: int = 3,
                 pick_channel: Callable[[], int] | None = None,
                 address: str | None = None, retry_delay: float = 0.02,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.keystore = keystore if keystore is not None else Keystore()
        self.expected_lock_id = lock_id
        self.address = address
        self.engine = Engine(connector=connector, keystore=self.keystore,
                             phone=load_identity(self.keystore, rng), rng=rng,
                             timeout=timeout, max_retries=max_retries,
                             pick_channel=pick_channel, retry_delay=retry_delay,
                             clock=clock)
        self.info: LockInfo | None = None

    def __repr__(self) -> str:
        lock = None if self.lock_id is None else lock_key(self.lock_id)
        return f"LockClient(lock={lock}, address={self.address!r})"

    # ------------------------------------------------------------------ construction

    @classmethod
    def for_device(cls, device: BLEDevice, *, adapter: str | None = None,
                   lock_id: bytes | None = None, keystore: Keystore | None = None,
                   timeout: float = REQUEST_TIMEOUT, max_retries: int = 3) -> LockClient:
        """A client for a device found by a scan (``adapter``: BlueZ ``hciN``)."""
        return cls(bleak_connector(device, adapter=adapter), lock_id=lock_id,
                   address=device.address, keystore=keystore, timeout=timeout,
                   max_retries=max_retries)

    @classmethod
    async def find(cls, *, address: str | None = None, name: str | None = None,
                   lock_id: bytes | None = None, adapter: str | None = None,
                   scan_timeout: float = 10.0, keystore: Keystore | None = None,
                   timeout: float = REQUEST_TIMEOUT, max_retries: int = 3) -> LockClient:
        """Scan for the lock (by address, name or lock id) and return a client for it;
        the lock id is confirmed by the info characteristic on connect."""
        record = None if lock_id is None or keystore is None else keystore.get(
            lock_key(lock_id))
        device, advert = await find_lock(address=address, name=name, lock_id=lock_id,
                                         adapter=adapter, timeout=scan_timeout,
                                         known_address=record.address if record else None)
        check_version(advert)
        return cls.for_device(device, adapter=adapter, lock_id=advert.lock_id,
                              keystore=keystore, timeout=timeout, max_retries=max_retries)

    # ------------------------------------------------------------------ connection

    async def __aenter__(self) -> LockClient:
        await self.connect()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def connect(self) -> LockInfo:
        """Connect, subscribe, read and check the info characteristic (also again after
        the lock went away: :meth:`on_link_lost`)."""
        link = await self.engine.connect()
        self.address = link.address
        try:
            info = LockInfo.decode(await link.read_info())
        except UnsupportedVersionError:  # a ble-lock, of another protocol version
            await self.engine.aclose()
            raise
        except RemoteProtocolError as exc:  # not our info layout
            await self.engine.aclose()
            raise TransportError(f"{link.address} is not a ble-lock: {exc}",
                                 code=ErrorCode.LOCK_NOT_FOUND) from exc
        if self.expected_lock_id is not None and info.lock_id != self.expected_lock_id:
            await self.engine.aclose()
            raise TransportError(
                f"{link.address} is lock {lock_key(info.lock_id)}, not "
                f"{lock_key(self.expected_lock_id)}", code=ErrorCode.LOCK_NOT_FOUND)
        self.info = info
        self.engine.lock_id = info.lock_id
        return info

    async def close(self) -> None:
        """End the session (a CLOSE to the lock) and disconnect."""
        await self.engine.aclose()

    async def end_session(self) -> None:
        """End the session but keep the link; the next request opens a new session."""
        await self.engine.end_session()

    @property
    def lock_id(self) -> bytes | None:
        return self.engine.lock_id

    @property
    def record(self) -> LockRecord | None:
        """What the keystore holds about this lock (None: not paired)."""
        return None if self.lock_id is None else self.keystore.get(lock_key(self.lock_id))

    @property
    def fingerprint(self) -> bytes:
        """The lock's key fingerprint, to pass along with an invite code."""
        record = self.record
        if record is None:
            raise TransportError("not paired with this lock", code=ErrorCode.NOT_PAIRED)
        return fingerprint(record.lock_public_key)

    def _lock_id(self) -> bytes:
        if self.lock_id is None:
            raise TransportError("connect first", code=ErrorCode.DISCONNECTED)
        return self.lock_id

    async def _call(self, body: m.RequestBody, expected: type[B]) -> B:
        return await self.engine.call(body, expected)

    # ------------------------------------------------------------------ pairing

    async def claim(self, setup_code: str, *, lock_fingerprint: bytes | None = None,
                    name: str | None = None, check_key: KeyCheck | None = None,
                    on_step: StepHook | None = None) -> LockRecord:
        """Claim a factory-fresh lock with its setup code: this phone becomes user 1,
        admin (R-USR-2). With ``lock_fingerprint`` (from the QR) a man in the middle
        fails the pairing with ``IDENTITY_MISMATCH``; ``check_key`` sees the lock's key
        before anything is kept. Two-phase and resumable: see :meth:`finish_pairing`."""
        lock_id = self._lock_id()
        engine = self.engine
        return await self._pair(lambda mtu: claim_pairing(
            lock_id=lock_id, setup_code=setup_code, phone=engine.phone, rng=engine.rng,
            lock_fingerprint=lock_fingerprint, mtu=mtu, timeout=engine.timeout, hold=True),
            name=name, check_key=check_key, on_step=on_step)

    async def claim_qr(self, qr_text: str, *, name: str | None = None,
                       on_step: StepHook | None = None) -> LockRecord:
        """Claim with the text of the lock's QR code (lock id, setup code, fingerprint)."""
        qr = QrPayload.parse(qr_text)
        if qr.lock_id != self._lock_id():
            raise TransportError(f"the QR code is for lock {lock_key(qr.lock_id)}, not "
                                 f"{lock_key(self._lock_id())}", code=ErrorCode.LOCK_NOT_FOUND)
        return await self.claim(qr.setup_code, lock_fingerprint=qr.fingerprint, name=name,
                                on_step=on_step)

    async def redeem(self, invite_id: int, code: str, *, lock_fingerprint: bytes | None = None,
                     name: str | None = None, on_step: StepHook | None = None) -> LockRecord:
        """Redeem an invite (a Bluetooth key, or one more phone of an admin, R-APP-3).
        Two-phase and resumable like :meth:`claim`."""
        lock_id = self._lock_id()
        engine = self.engine
        return await self._pair(lambda mtu: invite_pairing(
            lock_id=lock_id, invite_id=invite_id, code=code, phone=engine.phone, rng=engine.rng,
            lock_fingerprint=lock_fingerprint, mtu=mtu, timeout=engine.timeout, hold=True),
            name=name, check_key=None, on_step=on_step)

    async def finish_pairing(self, *, name: str | None = None,
                             on_step: StepHook | None = None) -> LockRecord:
        """Complete what the keystore holds for this lock: one session with its key (the
        lock answering it is the key confirmation: the engine marks a pending record
        final), then the user number and role are written.

        A claim or redemption interrupted after PAIR3 left ends here on the next run, and
        any command does it (``docs/protocol.md``, "Interrupted pairing"). A lock that
        does not hold the key ends the session with one of :data:`NOT_BOUND_CODES`."""
        key = lock_key(self._lock_id())
        me = await self.whoami()
        await _step(on_step, PairingStep.CONFIRMED)
        changes: dict[str, Any] = {"user_no": me.user_number, "role": me.role.name.lower(),
                                   "pending": False}
        if name:
            changes["name"] = name
        return self.keystore.update(key, **changes)

    async def _pair(self, make: Callable[[int], PhonePairing], *, name: str | None,
                    check_key: KeyCheck | None, on_step: StepHook | None) -> LockRecord:
        """The two-phase pairing (``docs/protocol.md``, "Interrupted pairing"):

        0. a record for this lock already (an interrupted run, or paired before): a
           session with it first; if the lock answers, this phone is paired - done;
        1. PAIR1, PAIR2: the lock's key, confirmed by the code (``check_key``);
        2. the pending record is written (fsync) *before* PAIR3, the message whose
           reading makes the lock bind this phone (write-ahead);
        3. PAIR3, PAIR4; then a session with the new key confirms it (final record).

        Interrupted before PAIR3 left, the pending record is undone (the lock bound
        nothing); after, it is kept, and :meth:`finish_pairing` completes it. PAIR3 sent
        but the lock then says it does not hold the key (PAIR3 lost with the link): one
        more pairing, at once."""
        key = lock_key(self._lock_id())
        if self.keystore.get(key) is not None:
            done = await self._already_paired(name, on_step)
            if done is not None:
                return done
        try:
            return await self._pair_once(make, key, name, check_key, on_step)
        except _NotTaken:
            # The "no" is unauthenticated (a CLOSE): it costs one more attempt, never the
            # record, which stays until a new pairing replaces it.
            pass
        try:
            return await self._pair_once(make, key, name, check_key, on_step)
        except _NotTaken as again:
            raise again.error from None

    async def _pair_once(self, make: Callable[[int], PhonePairing], key: str,
                         name: str | None, check_key: KeyCheck | None,
                         on_step: StepHook | None) -> LockRecord:
        before = self.keystore.get(key)
        saved: LockRecord | None = None

        async def keep(lock_public: bytes) -> None:
            nonlocal saved
            await _step(on_step, PairingStep.KEY_RECEIVED)
            if check_key is not None:
                await check_key(lock_public)
            record = LockRecord(
                lock_id=key, name=name or (before.name if before else f"BLELOCK-{key}"),
                lock_public_key=lock_public, address=self.address,
                counter=before.counter if before is not None else 0,
                paired_at=time.time(), pending=True)
            self.keystore.put(record)  # durable (fsync) before PAIR3 goes
            saved = record
            await _step(on_step, PairingStep.KEY_SAVED)

        try:
            await self.engine.pair(make, on_key=keep, on_step=on_step)
        except PairingInDoubt as doubt:
            return await self._settle(doubt.error, name, on_step)
        except BaseException:
            if saved is not None and not self.engine.pair3_sent:
                self.keystore.discard_pending(key, saved.lock_public_key, restore=before)
            raise
        return await self.finish_pairing(name=name, on_step=on_step)

    async def _already_paired(self, name: str | None,
                              on_step: StepHook | None) -> LockRecord | None:
        """A session with the record in hand: the lock answers (paired: the record,
        completed) or does not hold the key (None: pair)."""
        try:
            return await self.finish_pairing(name=name, on_step=on_step)
        except LockError as exc:
            if exc.code in NOT_BOUND_CODES:
                return None
            raise

    async def _settle(self, error: LockError, name: str | None,
                      on_step: StepHook | None) -> LockRecord:
        """PAIR3 left and PAIR4 did not verify (``error``): a session with the new key
        says whether the lock bound this phone."""
        try:
            return await self.finish_pairing(name=name, on_step=on_step)
        except LockError as exc:
            if exc.code in NOT_BOUND_CODES:
                raise _NotTaken(error_for(error.code, f"{error.message} (the lock did not "
                                          "take the pairing)", hint=error.hint)) from None
            raise error_for(exc.code, exc.message, hint=(
                "this phone keeps the pairing as pending: the next command with this lock "
                "completes it")) from None


    # ------------------------------------------------------------------ pushes

    def on_event(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every pushed event (state changes, alarms, enrolment
        steps, sync statements); returns a function that stops it. Pushes flow while a
        session is open: see :meth:`listen`."""
        return self.engine.add_listener(listener)

    def on_link_lost(self, listener: LinkListener) -> Callable[[], None]:
        """Call ``listener`` with the ``LinkLostError`` each time the lock goes away (its
        link lost and not made again within seconds); until :meth:`connect` is called
        again, requests fail at once with that error. Returns a function that stops it."""
        return self.engine.add_link_listener(listener)

    async def listen(self) -> None:
        """Open a session (if none) so that the lock's pushes reach this phone; it is
        reopened when the lock closes it while listeners remain."""
        await self.engine.open_session()

    async def pushed(self) -> AsyncIterator[m.EventBody]:
        """Pushed events as an async iterator (opens a session); stop by breaking out."""
        queue: asyncio.Queue[m.EventBody] = asyncio.Queue()
        remove = self.on_event(queue.put_nowait)
        try:
            await self.listen()
            while True:
                yield await queue.get()
        finally:
            remove()

    # ------------------------------------------------------------------ enrolment

    def enrol(self, user_number: int, kind: m.CredentialKind, *, duress: bool = False
              ) -> EnrolmentRun:
        """Drive an enrolment at the lock (fingerprint, face, palm, card):
        ``async with lock.enrol(3, FINGERPRINT) as run: async for step in run: ...``;
        leaving the block before it is done cancels it (nothing stored, R-CRD-4)."""
        return EnrolmentRun(self, user_number, kind, duress=duress)

    async def visitor_secret(self) -> bytes:
        """The lock's visitor-code secret (admin only); kept in the keystore."""
        secret = (await self._call(m.VisitorSecretGet(), m.VisitorSecret)).secret
        self.keystore.update(lock_key(self._lock_id()), visitor_secret=secret)
        return secret
