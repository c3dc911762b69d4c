"""An in-memory lock and phones wired by a :class:`~ble_lock.testing.loopback.Loopback`,
for tests, benchmarks and examples (deterministic keys from a seed; never for real keys).
"""

from __future__ import annotations

from dataclasses import dataclass

from ble_lock.testing.loopback import App, Loopback
from ble_lock.wire.endpoints.directory import InMemoryDirectory, PeerDirectory
from ble_lock.wire.endpoints.lock import LockEndpoint
from ble_lock.wire.endpoints.phone import PhonePairing, PhoneSession
from ble_lock.wire.events import EndpointEvent, RequestReceived
from ble_lock.wire.security.crypto import DeterministicRng, KeyPair, fingerprint

__all__ = ["TEST_LOCK_ID", "TEST_SETUP_CODE", "Testbed", "echo_app", "make_testbed"]

TEST_LOCK_ID = bytes.fromhex("0badc0de")
TEST_SETUP_CODE = "4711-0815"


def echo_app(endpoint: LockEndpoint, event: EndpointEvent) -> None:
    """A stand-in application: answers every request with ``b"ok:" + request``."""
    if isinstance(event, RequestReceived):
        endpoint.respond(event.channel, b"ok:" + event.payload)


@dataclass(slots=True, kw_only=True)
class Testbed:
    __test__ = False  # not a pytest test class

    rng: DeterministicRng
    lock_key: KeyPair
    phone_key: KeyPair
    directory: PeerDirectory
    lock: LockEndpoint
    link: Loopback
    mtu: int

    def pairing(self, *, code: str = TEST_SETUP_CODE, code_ref: bytes = b"",
                phone: KeyPair | None = None, check_fp: bool = True,
                channel: int | None = None) -> PhonePairing:
        fp = fingerprint(self.lock_key.public) if check_fp else None
        return PhonePairing(lock_id=self.lock.lock_id, code=code, code_ref=code_ref,
                            phone=phone or self.phone_key, rng=self.rng, mtu=self.mtu,
                            expected_fingerprint=fp, channel=channel)

    def pair(self, *, phone: KeyPair | None = None, code: str = TEST_SETUP_CODE,
             code_ref: bytes = b"", now: float = 0.0) -> PhonePairing:
        """Pair a phone end to end (raises if pairing fails)."""
        p = self.pairing(code=code, code_ref=code_ref, phone=phone)
        p.start(now)
        self.link.run([p], now)
        if p.lock_public != self.lock_key.public:
            raise AssertionError("pairing did not complete")
        return p

    def session(self, *, counter: int, phone: KeyPair | None = None,
                channel: int | None = None, fresh: bytes | None = None,
                now: float = 0.0) -> PhoneSession:
        """A session; ``fresh`` defaults to the lock's value at ``now`` (what the phone
        would read from the fresh characteristic)."""
        if fresh is None:
            fresh = self.lock.freshness(now)[0]
        return PhoneSession(lock_id=self.lock.lock_id, lock_public=self.lock_key.public,
                            phone=phone or self.phone_key, counter=counter, rng=self.rng,
                            mtu=self.mtu, channel=channel, fresh=fresh)


def make_testbed(*, mtu: int = 23, seed: bytes = b"testbed", app: App | None = echo_app,
                 directory: PeerDirectory | None = None) -> Testbed:
    rng = DeterministicRng(seed)
    lock_key = KeyPair.generate(rng)
    phone_key = KeyPair.generate(rng)
    directory = directory or InMemoryDirectory(setup_code=TEST_SETUP_CODE)
    lock = LockEndpoint(lock_id=TEST_LOCK_ID, static_key=lock_key, directory=directory,
                        rng=rng, mtu=mtu)
    return Testbed(rng=rng, lock_key=lock_key, phone_key=phone_key, directory=directory,
                   lock=lock, link=Loopback(lock=lock, app=app), mtu=mtu)
