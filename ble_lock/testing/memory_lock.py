"""A real lock inside this process, without Bluetooth: the one in-memory lock rig.

:class:`MemoryLock` is the real core (``ble_lock.core.Lock`` on a ``MemoryStore`` or any
store, fake clock) behind the real :class:`~ble_lock.lockapp.service.LockServer`. Phones
reach it two ways:

* asynchronously, as :class:`~ble_lock.central.client.LockClient` does:
  :meth:`MemoryLock.connector` gives a connector whose links behave like GATT: each
  phone write is one ATT operation, each frame the lock sends is one notification that
  reaches *every* connected link (as with bless). A link can be dropped after a number of
  ATT operations (:meth:`MemoryLink.drop_after`), like the simulator's fault;
* synchronously, frame by frame, with the phone's sans-IO objects
  (``ble_lock.testing.phone.Phone``): :meth:`MemoryLock.run` moves frames until nobody
  has anything to send and counts round trips.

Every frame in both directions is kept in ``transcript`` (to check that no secret travels
in clear).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ble_lock.central.app import LockLink
from ble_lock.central.transport import Connector, DisconnectCallback, GattLink, NotifyCallback
from ble_lock.core.clock import FakeClock, FakeRng
from ble_lock.core.errors import ErrorCode, TransportError
from ble_lock.core.lock import Lock, provision
from ble_lock.core.model import FactoryData
from ble_lock.core.profile import FACE_PALM, Profile
from ble_lock.core.store import MemoryStore, Store
from ble_lock.lockapp.service import LockServer
from ble_lock.testing import START
from ble_lock.testing.waiting import yield_to_loop
from ble_lock.wire.endpoints.phone import PhonePairing
from ble_lock.wire.errors import RemoteProtocolError
from ble_lock.wire.link.gatt import FreshValue, LockInfo, StateFlags
from ble_lock.wire.security.crypto import DeterministicRng, KeyPair, fingerprint

__all__ = ["AttOp", "MemoryLink", "MemoryLock"]



@dataclass(frozen=True, slots=True, kw_only=True)
class AttOp:
    """One ATT operation on a memory link: ``write`` (phone -> lock) or ``notify``."""

    link: int
    op: str
    size: int


class MemoryLink:
    """One phone's connection to a :class:`MemoryLock`."""

    def __init__(self, lock: MemoryLock, number: int, on_notify: NotifyCallback,
                 on_disconnect: DisconnectCallback, mtu: int) -> None:
        self._lock = lock
        self.number = number
        self._on_notify = on_notify
        self._on_disconnect = on_disconnect
        self._mtu = mtu
        self._up = True
        self._drop_in: int | None = None

    def __repr__(self) -> str:
        return f"MemoryLink({self.number}, up={self._up})"

    @property
    def mtu(self) -> int:
        return self._mtu

    @property
    def address(self) -> str:
        return self._lock.address

    @property
    def connected(self) -> bool:
        return self._up

    def drop_after(self, n: int) -> None:
        """Drop this link once ``n`` more ATT operations completed (0: now)."""
        self._drop_in = n
        if n == 0:
            self.drop()

    def drop(self) -> None:
        if self._up:
            self._up = False
            self._on_disconnect()

    def _count(self) -> None:
        if self._drop_in is not None:
            self._drop_in -= 1
            if self._drop_in <= 0:
                self._drop_in = None
                self.drop()

    async def write(self, frame: bytes) -> None:
        await yield_to_loop()  # a write is I/O: let other tasks run
        if not self._up:
            raise TransportError("write on a dropped link", code=ErrorCode.DISCONNECTED)
        self._lock.trace.append(AttOp(link=self.number, op="write", size=len(frame)))
        self._lock.frames.append(frame)
        self._lock.server.receive_data(frame, self._lock.clock.now())
        self._count()
        self._lock.deliver()
        self._lock.wrote()

    def notify(self, frame: bytes) -> None:
        if not self._up:
            return
        self._lock.trace.append(AttOp(link=self.number, op="notify", size=len(frame)))
        self._count()
        self._on_notify(frame)

    async def read_info(self) -> bytes:
        await yield_to_loop()
        if not self._up:
            raise TransportError("read on a dropped link", code=ErrorCode.DISCONNECTED)
        self._lock.trace.append(AttOp(link=self.number, op="read", size=0))
        self._count()
        return self._lock.info().encode()

    async def read_fresh(self) -> bytes:
        await yield_to_loop()
        if not self._up:
            raise TransportError("read on a dropped link", code=ErrorCode.DISCONNECTED)
        self._lock.trace.append(AttOp(link=self.number, op="read", size=0))
        self._count()
        return self._lock.fresh().encode()

    async def close(self) -> None:
        self._up = False


class MemoryLock:
    """A factory-fresh lock of ``profile`` (face-palm by default), in pairing mode."""

    def __init__(self, *, profile: Profile = FACE_PALM, mtu: int = 247, seed: int = 1,
                 lock_id: bytes = bytes.fromhex("0badc0de"), pairing_mode: bool = True,
                 serial: str | None = None, store: Store | None = None,
                 key_seed: bytes | None = None) -> None:
        """``seed`` makes the factory data and the lock's randomness; ``key_seed`` (by
        default from ``seed``) the lock's static key and the rng phones share with it."""
        self.clock = FakeClock(START)
        self.store = store if store is not None else MemoryStore()
        self.factory: FactoryData = provision(self.store, FakeRng(seed), serial=serial,
                                              lock_id=lock_id)
        self.lock = Lock(store=self.store, profile=profile, clock=self.clock,
                         rng=FakeRng(seed + 1))
        self.rng = DeterministicRng(key_seed or b"memory lock" + bytes([seed]))
        """Deterministic randomness (never for real keys), shared with sans-IO phones."""
        self.key = KeyPair.generate(self.rng)
        self.server = LockServer.create(self.lock, static_key=self.key, rng=self.rng, mtu=mtu)
        self.mtu = mtu
        self.address = "0B:AD:C0:DE:00:01"
        self.links: list[MemoryLink] = []
        self.trace: list[AttOp] = []
        self.frames: list[bytes] = []
        """Every frame phones wrote (to check what travels in HS1)."""
        self.transcript: list[bytes] = []
        """Every frame :meth:`run` moved, both directions."""
        self.round_trips = 0
        """Flights of writes answered by a flight of notifications, in :meth:`run` (as the
        wire's ``Loopback`` counts them)."""
        self._write_waiters: list[tuple[int, asyncio.Future[None]]] = []
        if pairing_mode:
            self.lock.enter_pairing_mode()

    def __repr__(self) -> str:
        return f"MemoryLock({self.lock_id.hex().upper()}, links={len(self.links)})"

    @property
    def lock_id(self) -> bytes:
        return self.factory.lock_id

    @property
    def setup_code(self) -> str:
        return self.factory.setup_code

    @property
    def fingerprint(self) -> bytes:
        return fingerprint(self.key.public)

    def info(self) -> LockInfo:
        flags = StateFlags(0)
        if not self.lock.claimed:
            flags |= StateFlags.FACTORY_FRESH
        else:
            flags |= StateFlags.PAIRED
        return LockInfo(lock_id=self.lock_id, flags=flags, profile=self.lock.profile.name)

    def fresh(self) -> FreshValue:
        """The fresh characteristic now (the endpoint's current freshness value)."""
        fresh, fresh_for = self.server.endpoint.freshness(self.clock.now())
        return FreshValue(fresh=fresh, fresh_for=fresh_for)

    def connector(self, *, mtu: int | None = None) -> Connector:
        async def connect(on_notify: NotifyCallback, on_disconnect: DisconnectCallback
                          ) -> GattLink:
            await yield_to_loop()
            link = MemoryLink(self, len(self.links), on_notify, on_disconnect,
                              mtu if mtu is not None else self.mtu)
            self.links.append(link)
            return link

        return connect

    async def writes(self, n: int) -> None:
        """Wait until phones wrote ``n`` more frames, each answered (its notifications
        delivered) before this returns: "the phone polled twice" without a clock."""
        if n <= 0:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._write_waiters.append((len(self.frames) + n, waiter))
        await waiter

    def wrote(self) -> None:
        """A phone's write was handled: wake who waits for that many writes."""
        left: list[tuple[int, asyncio.Future[None]]] = []
        for target, waiter in self._write_waiters:
            if waiter.done():
                continue
            if len(self.frames) >= target:
                waiter.set_result(None)
            else:
                left.append((target, waiter))
        self._write_waiters = left

    @property
    def now(self) -> float:
        return self.clock.now()

    def run(self, phones: Sequence[PhonePairing | LockLink], *, drop_down: bool = False
            ) -> dict[int, list[Any]]:
        """Move frames between sans-IO phones and the lock until nobody has anything to
        send; ``drop_down`` loses every notification of the lock (a link that dies before
        the answer). Returns each phone's events, by ``id(phone)``."""
        got: dict[int, list[Any]] = {id(p): [] for p in phones}
        while True:
            up = [f for p in phones for f in p.data_to_send()]
            for frame in up:
                self.transcript.append(frame)
                self.server.receive_data(frame, self.now)
            down = self.server.data_to_send()
            for frame in down:
                self.transcript.append(frame)
                if drop_down:
                    continue
                for p in phones:
                    try:
                        got[id(p)].extend(p.receive_data(frame, self.now))
                    except RemoteProtocolError:
                        # the phone aborted: its CLOSE still reaches the lock, as on air
                        for last in p.data_to_send():
                            self.transcript.append(last)
                            self.server.receive_data(last, self.now)
                        raise
            if up and down:
                self.round_trips += 1
            if not up and not down:
                return got

    def flush_pushes(self) -> None:
        """After front-panel activity, for sans-IO phones: queue the pushes of what
        happened; the next :meth:`run` delivers them (:meth:`panel` delivers at once)."""
        self.server.flush_pushes()

    def deliver(self) -> None:
        """Notify every connected link of what the lock has to send."""
        for frame in self.server.data_to_send():
            for link in list(self.links):
                link.notify(frame)

    def panel(self) -> None:
        """After front-panel activity: push what happened to the sessions."""
        self.server.flush_pushes()
        self.deliver()
