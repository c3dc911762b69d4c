"""A phone app in memory, frame by frame: the phone's sans-IO objects (pairing,
:class:`~ble_lock.central.app.LockLink`, :class:`~ble_lock.central.app.AppClient`) against
a :class:`~ble_lock.testing.memory_lock.MemoryLock`, moved by :meth:`MemoryLock.run`. No
BLE, no asyncio, no mocks: for tests of the lock's application at the wire level (round
trips, retries, replays, what travels in clear).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from ble_lock.central.app import (
    AppClient,
    LinkEvent,
    LockLink,
    Pushed,
    claim_pairing,
    invite_pairing,
)
from ble_lock.core.profile import FACE_PALM, Profile
from ble_lock.testing.memory_lock import MemoryLock
from ble_lock.wire import messages as m
from ble_lock.wire.endpoints.phone import PhonePairing
from ble_lock.wire.security.crypto import DeterministicRng, KeyPair, fingerprint

__all__ = ["LOCK_ID", "SERIAL", "Phone", "claimed_world", "make_world", "new_phone"]

B = TypeVar("B", bound=m.ResponseBody)

LOCK_ID = bytes.fromhex("10c4ed01")
SERIAL = "BL0000004711"


@dataclass(slots=True, kw_only=True)
class Phone:
    """A phone app: its key, the lock's key once paired, its counter and its client."""

    world: MemoryLock
    key: KeyPair
    app: AppClient
    lock_public: bytes | None = None
    counter: int = 1
    pushed: list[m.EventBody] = field(default_factory=list)

    def claim(self) -> None:
        w = self.world
        p = claim_pairing(lock_id=w.lock_id, setup_code=w.factory.setup_code,
                          phone=self.key, rng=w.rng, lock_fingerprint=fingerprint(
                              w.key.public), mtu=w.mtu)
        self._pair(p)

    def redeem(self, invite: m.Invite) -> None:
        w = self.world
        p = invite_pairing(lock_id=w.lock_id, invite_id=invite.invite_id, code=invite.code,
                           phone=self.key, rng=w.rng, lock_fingerprint=fingerprint(
                               w.key.public), mtu=w.mtu)
        self._pair(p)

    def _pair(self, p: PhonePairing) -> None:
        p.start(self.world.now)
        self.world.run([p])
        assert p.lock_public == self.world.key.public
        self.lock_public = p.lock_public

    def link(self) -> LockLink:
        assert self.lock_public is not None, "pair first"
        link = LockLink.open(app=self.app, lock_id=self.world.lock_id, lock_public=self.lock_public,
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


def make_world(*, profile: Profile = FACE_PALM, mtu: int = 23, seed: int = 7) -> MemoryLock:
    """A factory-fresh lock (``LOCK_ID``, not in pairing mode) for sans-IO phones."""
    return MemoryLock(profile=profile, mtu=mtu, seed=seed, lock_id=LOCK_ID, serial=SERIAL,
                      pairing_mode=False, key_seed=b"world" + bytes([seed]))


def new_phone(world: MemoryLock, name: bytes) -> Phone:
    """A phone app with its own deterministic key, not paired yet."""
    rng = DeterministicRng(b"phone " + name)
    return Phone(world=world, key=KeyPair.generate(rng), app=AppClient(rng=rng))


def claimed_world(*, profile: Profile = FACE_PALM, mtu: int = 23) -> tuple[MemoryLock, Phone]:
    """A lock claimed by its owner's phone (user 1, admin)."""
    world = make_world(profile=profile, mtu=mtu)
    owner = new_phone(world, b"owner")
    world.lock.enter_pairing_mode()  # face-palm: SET held, QR shown (R-APP-1)
    owner.claim()
    return world, owner
