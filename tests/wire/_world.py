"""An in-memory world for application-level tests: a real core ``Lock`` on a
``MemoryStore`` with a fake clock, the real transport endpoint and service
(:class:`LockServer`), and phones speaking through real sessions. No BLE, no mocks.

Every frame in both directions is kept in ``transcript`` (to check that no secret
travels in clear).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ble_lock.central.app import (
    AppClient,
    AppEvent,
    LinkEvent,
    LockLink,
    Pushed,
    claim_pairing,
    invite_pairing,
)
from ble_lock.core.clock import FakeClock, FakeRng
from ble_lock.core.lock import Lock, provision
from ble_lock.core.model import FactoryData
from ble_lock.core.profile import FACE_PALM, Profile
from ble_lock.core.store import MemoryStore
from ble_lock.lockapp.service import LockServer
from ble_lock.testing import START
from ble_lock.wire import messages as m
from ble_lock.wire.endpoints.phone import PhonePairing
from ble_lock.wire.errors import RemoteProtocolError
from ble_lock.wire.security.crypto import DeterministicRng, KeyPair, fingerprint

B = TypeVar("B", bound=m.ResponseBody)

LOCK_ID = bytes.fromhex("10c4ed01")
SERIAL = "BL0000004711"


class Dropped(Exception):
    """The test cut the link before the lock's answer arrived."""


@dataclass(slots=True, kw_only=True)
class World:
    clock: FakeClock
    lock: Lock
    server: LockServer
    factory: FactoryData
    lock_key: KeyPair
    rng: DeterministicRng
    transcript: list[bytes] = field(default_factory=list)
    mtu: int = 23
    round_trips: int = 0
    """Flights of writes answered by a flight of notifications (as the Loopback counts)."""

    @property
    def now(self) -> float:
        return self.clock.now()

    def run(self, phones: Sequence[PhonePairing | LockLink], *, drop_down: bool = False
            ) -> dict[int, list[Any]]:
        """Move frames until nobody has anything to send; ``drop_down`` loses every
        notification of the lock (a link that dies before the answer)."""
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

    def panel(self) -> None:
        """After front-panel activity: let the server push what happened."""
        self.server.flush_pushes()


@dataclass(slots=True, kw_only=True)
class Phone:
    """A phone app: its key, the lock's key once paired, its counter and its client."""

    world: World
    key: KeyPair
    app: AppClient
    lock_public: bytes | None = None
    counter: int = 1
    pushed: list[m.EventBody] = field(default_factory=list)

    def claim(self) -> None:
        w = self.world
        p = claim_pairing(lock_id=LOCK_ID, setup_code=w.factory.setup_code,
                          phone=self.key, rng=w.rng, lock_fingerprint=fingerprint(
                              w.lock_key.public), mtu=w.mtu)
        self._pair(p)

    def redeem(self, invite: m.Invite) -> None:
        w = self.world
        p = invite_pairing(lock_id=LOCK_ID, invite_id=invite.invite_id, code=invite.code,
                           phone=self.key, rng=w.rng, lock_fingerprint=fingerprint(
                               w.lock_key.public), mtu=w.mtu)
        self._pair(p)

    def _pair(self, p: PhonePairing) -> None:
        p.start(self.world.now)
        self.world.run([p])
        assert p.lock_public == self.world.lock_key.public
        self.lock_public = p.lock_public

    def link(self) -> LockLink:
        assert self.lock_public is not None, "pair first"
        link = LockLink.open(app=self.app, lock_id=LOCK_ID, lock_public=self.lock_public,
                             phone=self.key, counter=self.counter, rng=self.world.rng,
                             fresh=self.world.server.endpoint.freshness(self.world.now)[0],
                             mtu=self.world.mtu)
        return link

    def _collect(self, events: list[LinkEvent], link: LockLink) -> None:
        self.counter = max(self.counter, link.next_counter)
        for e in events:
            if isinstance(e, Pushed):
                self.pushed.append(e.body)

    def _open(self, link: LockLink, body: m.RequestBody) -> bytes:
        """Start ``link`` with ``body``: in the first message (one round trip), or, for a
        request that carries a secret, inside the session once it is established."""
        if not body.SECRET:
            request_id = link.start(body, self.world.now)
            assert request_id is not None
            return request_id
        link.start(None, self.world.now)
        self._collect(self.world.run([link])[id(link)], link)
        return link.send(body)

    def call(self, body: m.RequestBody, expected: type[B]) -> B:
        """One request in a new session (one round trip unless it carries a secret)."""
        link = self.link()
        request_id = self._open(link, body)
        self._collect(self.world.run([link])[id(link)], link)
        link.close()
        self.world.run([link])
        return self.app.result(request_id, expected)

    def call_dropped(self, body: m.RequestBody) -> bytes:
        """Send ``body`` but lose the lock's answer; returns the request id."""
        link = self.link()
        request_id = self._open(link, body)
        self.world.run([link], drop_down=True)
        self.counter = max(self.counter, link.next_counter)
        return request_id

    def retry(self, request_id: bytes, expected: type[B]) -> B:
        """Send an unanswered request again, same id, in a new session."""
        link = self.link()
        link.start_retry(request_id, self.world.now)
        self._collect(self.world.run([link])[id(link)], link)
        return self.app.result(request_id, expected)

    def events_of(self, got: list[AppEvent]) -> list[AppEvent]:
        return got


def make_world(*, profile: Profile = FACE_PALM, mtu: int = 23, seed: int = 7) -> World:
    clock = FakeClock(START)
    store = MemoryStore()
    factory = provision(store, FakeRng(seed), serial=SERIAL, lock_id=LOCK_ID)
    lock = Lock(store=store, profile=profile, clock=clock, rng=FakeRng(seed + 1))
    rng = DeterministicRng(b"world" + bytes([seed]))
    lock_key = KeyPair.generate(rng)
    server = LockServer.create(lock, static_key=lock_key, rng=rng, mtu=mtu)
    return World(clock=clock, lock=lock, server=server, factory=factory, lock_key=lock_key,
                 rng=rng, mtu=mtu)


def new_phone(world: World, name: bytes) -> Phone:
    rng = DeterministicRng(b"phone " + name)
    return Phone(world=world, key=KeyPair.generate(rng), app=AppClient(rng=rng))


def claimed_world(*, profile: Profile = FACE_PALM, mtu: int = 23) -> tuple[World, Phone]:
    """A lock claimed by its owner's phone (user 1, admin)."""
    world = make_world(profile=profile, mtu=mtu)
    owner = new_phone(world, b"owner")
    world.lock.enter_pairing_mode()  # face-palm: SET held, QR shown (R-APP-1)
    owner.claim()
    return world, owner
