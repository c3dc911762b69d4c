"""Helpers for the lock core tests: a provisioned, claimed lock per profile, fake clock.

Imported by name (``tests/core`` is put on ``sys.path`` by its conftest: pytest runs in
importlib mode).
"""

from __future__ import annotations

from dataclasses import dataclass

from ble_lock.core.clock import FakeClock, FakeRng
from ble_lock.core.lock import Lock, provision
from ble_lock.core.model import Actor, CredentialKind, Decision, EventKind, Role, User
from ble_lock.core.profile import Profile
from ble_lock.core.store import MemoryStore
from ble_lock.testing import START

ADMIN_KEY = b"\xad" * 32


@dataclass
class Env:
    """A claimed lock (admin = user 1 on phone ADMIN_KEY) and its fake clock."""

    lock: Lock
    clock: FakeClock
    store: MemoryStore
    admin: Actor
    setup_code: str

    @property
    def profile(self) -> Profile:
        return self.lock.profile

    def user(self, role: Role = Role.NORMAL, name: str = "u", **kw: object) -> User:
        return self.lock.add_user(self.admin, name=name, role=role, **kw)

    def user_with_pin(self, pin: str, role: Role = Role.NORMAL, **kw: object) -> User:
        user = self.user(role, **kw)
        self.lock.add_pin(self.admin, user.number, pin)
        return user

    def phone(self, user: User, key: bytes) -> Actor:
        invite = self.lock.issue_invite(self.admin, user_number=user.number)
        self.lock.redeem_invite(invite.invite_id, key)
        return Actor.phone(key)

    def enrol(self, user: User, kind: CredentialKind, template: bytes, *,
              duress: bool = False) -> int:
        session = self.lock.begin_enrolment(self.admin, user.number, kind, duress=duress)
        result = None
        for step in self.profile.enrol_steps[kind]:
            result = self.lock.present_biometric(kind, template, step=step)
        assert result is not None
        assert result.done
        assert session.captures_needed == len(self.profile.enrol_steps[kind])
        cid = result.credential_id
        assert cid is not None
        return cid

    def kinds(self) -> list[EventKind]:
        return [e.kind for e in self.lock.read_events(limit=500).events]

    def fail_pin(self, times: int) -> Decision:
        decision = None
        for _ in range(times):
            decision = self.lock.enter_pin("000000")
        assert decision is not None
        return decision


def make_env(profile: Profile, *, claim: bool = True, seed: int = 1) -> Env:
    store = MemoryStore()
    rng = FakeRng(seed)
    clock = FakeClock(START)
    factory = provision(store, rng, serial="BL0000000042")
    lock = Lock(store=store, profile=profile, clock=clock, rng=rng)
    if claim:
        lock.press_set_button()
        lock.claim(phone_key=ADMIN_KEY, name="owner")
        lock.drain_notifications()
    return Env(lock=lock, clock=clock, store=store, admin=Actor.phone(ADMIN_KEY),
               setup_code=factory.setup_code)


