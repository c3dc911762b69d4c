"""A real lock inside this process, reachable by :class:`~ble_lock.central.client.LockClient`
without Bluetooth: for tests of the central, examples and tools that need no radio.

:class:`MemoryLock` is the real core (``ble_lock.core.Lock`` on a ``MemoryStore``, fake
clock) behind the real :class:`~ble_lock.lockapp.service.LockServer`;
:meth:`MemoryLock.connector` gives a connector whose links behave like GATT: each
phone write is one ATT operation, each frame the lock sends is one notification that
reaches *every* connected link (as with bless). A link can be dropped after a number of
ATT operations (:meth:`MemoryLink.drop_after`), like the simulator's fault.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ble_lock.central.transport import Connector, DisconnectCallback, GattLink, NotifyCallback
from ble_lock.core.clock import FakeClock, FakeRng
from ble_lock.core.errors import ErrorCode, TransportError
from ble_lock.core.lock import Lock, provision
from ble_lock.core.model import FactoryData
from ble_lock.core.profile import FACE_PALM, Profile
from ble_lock.core.store import MemoryStore
from ble_lock.lockapp.service import LockServer
from ble_lock.testing import START
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
        await asyncio.sleep(0)  # a write is I/O: let other tasks run
        if not self._up:
            raise TransportError("write on a dropped link", code=ErrorCode.DISCONNECTED)
        self._lock.trace.append(AttOp(link=self.number, op="write", size=len(frame)))
        self._lock.frames.append(frame)
        self._lock.server.receive_data(frame, self._lock.clock.now())
        self._count()
        self._lock.deliver()

    def notify(self, frame: bytes) -> None:
        if not self._up:
            return
        self._lock.trace.append(AttOp(link=self.number, op="notify", size=len(frame)))
        self._count()
        self._on_notify(frame)

    async def read_info(self) -> bytes:
        await asyncio.sleep(0)
        if not self._up:
            raise TransportError("read on a dropped link", code=ErrorCode.DISCONNECTED)
        self._lock.trace.append(AttOp(link=self.number, op="read", size=0))
        self._count()
        return self._lock.info().encode()

    async def read_fresh(self) -> bytes:
        await asyncio.sleep(0)
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
                 lock_id: bytes = bytes.fromhex("0badc0de"), pairing_mode: bool = True) -> None:
        self.clock = FakeClock(START)
        self.store = MemoryStore()
        self.factory: FactoryData = provision(self.store, FakeRng(seed), lock_id=lock_id)
        self.lock = Lock(store=self.store, profile=profile, clock=self.clock,
                         rng=FakeRng(seed + 1))
        rng = DeterministicRng(b"memory lock" + bytes([seed]))
        self.key = KeyPair.generate(rng)
        self.server = LockServer.create(self.lock, static_key=self.key, rng=rng, mtu=mtu)
        self.mtu = mtu
        self.address = "0B:AD:C0:DE:00:01"
        self.links: list[MemoryLink] = []
        self.trace: list[AttOp] = []
        self.frames: list[bytes] = []
        """Every frame phones wrote (to check what travels in HS1)."""
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
            await asyncio.sleep(0)
            link = MemoryLink(self, len(self.links), on_notify, on_disconnect,
                              mtu if mtu is not None else self.mtu)
            self.links.append(link)
            return link

        return connect

    def deliver(self) -> None:
        """Notify every connected link of what the lock has to send."""
        for frame in self.server.data_to_send():
            for link in list(self.links):
                link.notify(frame)

    def panel(self) -> None:
        """After front-panel activity: push what happened to the sessions."""
        self.server.flush_pushes()
        self.deliver()
