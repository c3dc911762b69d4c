"""Phones, Bluetooth keys, invites, setup secret, replay counters, idempotency
(R-APP-1, R-APP-3, R-CRD-1 Bluetooth key) and the store transaction per mutation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from core_env import ADMIN_KEY, START, Env

from ble_lock.core.clock import FakeRng
from ble_lock.core.errors import (
    ErrorCode,
    InvalidInputError,
    LockError,
    NotFoundError,
    PermissionDeniedError,
    StorageError,
)
from ble_lock.core.hashing import derive_code_secret, invite_context, setup_context
from ble_lock.core.lock import Lock, provision
from ble_lock.core.model import Actor, CredentialKind, EventKind, Note, Role
from ble_lock.core.profile import FACE_PALM
from ble_lock.core.store import MemoryStore

GUEST = b"\x61" * 32
OTHER = b"\x62" * 32


def test_r_app_1_setup_secret_and_pairing_mode(env: Env) -> None:
    """R-APP-1: the lock keeps only the setup code's derived secret; SET opens pairing
    mode for a while."""
    lock = env.lock
    expected = derive_code_secret(env.setup_code, setup_context(lock.lock_id))
    assert lock.setup_secret() == expected
    assert env.setup_code.encode() not in b"".join(
        v for v in (env.store.get_secret(n) for n in ("factory.setup_secret",)) if v)
    assert not lock.pairing_mode
    lock.press_set_button()
    assert lock.pairing_mode
    env.clock.advance(env.profile.pairing_mode_s)
    assert not lock.pairing_mode


def test_r_app_1_setup_code_is_bound_to_the_lock_id() -> None:
    """R-APP-1: the QR code carries the lock id and the setup code; the derived secret
    depends on both, so a code read off one lock is no use against another."""
    a, b = MemoryStore(), MemoryStore()
    fa = provision(a, FakeRng(1), lock_id=b"\x01\x02\x03\x04")
    fb = provision(b, FakeRng(1), lock_id=b"\x01\x02\x03\x05")
    assert fa.setup_code == fb.setup_code  # same RNG: same code, different locks
    assert fa.lock_id == b"\x01\x02\x03\x04"
    assert a.get_secret("factory.setup_secret") != b.get_secret("factory.setup_secret")
    with pytest.raises(InvalidInputError):
        provision(MemoryStore(), FakeRng(1), lock_id=b"\x01")


def test_r_app_3_invite_for_new_user_redeemed_once(env: Env) -> None:
    """R-APP-3: an admin issues an invite code; a phone redeems it once and unlocks."""
    lock = env.lock
    issued = lock.issue_invite(env.admin, name="guest", role=Role.NORMAL)
    assert issued.code not in repr(issued)
    assert lock.get_user(env.admin, issued.user_number).name == "guest"
    assert lock.invite_secret(issued.invite_id) == derive_code_secret(
        issued.code, invite_context(issued.invite_id))
    cred = lock.redeem_invite(issued.invite_id, GUEST)
    assert cred.kind is CredentialKind.BLUETOOTH_KEY
    assert cred.public_key == GUEST
    info = lock.find_phone(GUEST)
    assert info is not None
    assert (info.user_number, info.role, info.revoked) == (issued.user_number, Role.NORMAL, False)
    assert lock.unlock_bluetooth(Actor.phone(GUEST)).granted
    # issue 14: a redeemed invite names its cause (INVITE_USED), and its secret stays for
    # the PAKE until it expires, so only a holder of its code learns it is spent
    with pytest.raises(PermissionDeniedError) as again:
        lock.redeem_invite(issued.invite_id, OTHER)
    assert again.value.code is ErrorCode.INVITE_USED
    assert lock.invite_secret(issued.invite_id) == derive_code_secret(
        issued.code, invite_context(issued.invite_id))
    assert issued.invite_id not in [i.id for i in lock.list_invites(env.admin)]
    env.clock.advance(86_400.0)  # expired: forgotten, like a pending invite
    lock.list_invites(env.admin)
    with pytest.raises(NotFoundError):
        lock.invite_secret(issued.invite_id)


def test_r_app_3_invite_expiry_and_key_window(env: Env) -> None:
    lock = env.lock
    user = env.user()
    issued = lock.issue_invite(env.admin, user_number=user.number, expires_at=START + 60,
                               key_valid_from=START, key_valid_until=START + 3600)
    env.clock.advance(60)
    with pytest.raises(PermissionDeniedError) as expired:
        lock.redeem_invite(issued.invite_id, GUEST)
    assert expired.value.code is ErrorCode.KEY_EXPIRED
    fresh = lock.issue_invite(env.admin, user_number=user.number,
                              key_valid_until=START + 3600)
    lock.redeem_invite(fresh.invite_id, GUEST)
    guest = Actor.phone(GUEST)
    assert lock.unlock_bluetooth(guest).granted
    env.clock.advance(3600)
    assert lock.unlock_bluetooth(guest).reason is ErrorCode.KEY_EXPIRED
    info = lock.find_phone(GUEST)
    assert info is not None
    assert info.valid_until == START + 3600
    with pytest.raises(LockError):
        lock.issue_invite(env.admin, user_number=user.number, expires_at=START - 1)


def test_r_app_3_revoked_key_opens_nothing(env: Env) -> None:
    lock = env.lock
    admin2 = env.user(Role.ADMIN)
    phone = env.phone(admin2, GUEST)
    info = lock.find_phone(GUEST)
    assert info is not None
    revoked = lock.revoke_key(env.admin, info.credential_id)
    assert revoked.revoked
    assert lock.unlock_bluetooth(phone).reason is ErrorCode.KEY_REVOKED
    assert lock.lock_bluetooth(phone).reason is ErrorCode.KEY_REVOKED
    with pytest.raises(PermissionDeniedError) as denied:
        lock.add_user(phone, name="evil")
    assert denied.value.code is ErrorCode.KEY_REVOKED
    found = lock.find_phone(GUEST)
    assert found is not None
    assert found.revoked
    own = lock.find_phone(ADMIN_KEY)
    assert own is not None
    with pytest.raises(PermissionDeniedError) as self_revoke:
        lock.revoke_key(env.admin, own.credential_id)
    assert self_revoke.value.code is ErrorCode.SELF_DELETE
    assert [k.public_key for k in lock.list_keys(env.admin)] == [ADMIN_KEY, GUEST]


def test_invite_repeat_returns_same_code_and_cancel(env: Env) -> None:
    lock = env.lock
    first = lock.issue_invite(env.admin, name="g", request_id=b"inv-1")
    again = lock.issue_invite(env.admin, name="g", request_id=b"inv-1")
    assert again == first
    assert again.code == first.code
    assert len(lock.list_users(env.admin)) == 2  # one new user, not two
    assert [i.id for i in lock.list_invites(env.admin)] == [first.invite_id]
    lock.cancel_invite(env.admin, first.invite_id)
    assert lock.list_invites(env.admin) == []
    with pytest.raises(LockError) as gone:
        lock.issue_invite(env.admin, name="g", request_id=b"inv-1")
    assert gone.value.code is ErrorCode.CODE_ALREADY_USED


def test_phone_replay_counter(env: Env) -> None:
    """The 1-round-trip unlock's replay counter: accept n only if n > last, persisted."""
    lock = env.lock
    assert lock.phone_counter(ADMIN_KEY) == 0
    assert lock.accept_phone_counter(ADMIN_KEY, 5)
    assert not lock.accept_phone_counter(ADMIN_KEY, 5)
    assert not lock.accept_phone_counter(ADMIN_KEY, 4)
    assert lock.accept_phone_counter(ADMIN_KEY, 6)
    assert env.store.get_phone_counter(ADMIN_KEY) == 6
    assert lock.phone_counter(ADMIN_KEY) == 6
    assert not lock.accept_phone_counter(GUEST, 1)  # unknown phone


def test_phone_replay_counter_survives_deleting_and_re_enrolling_the_key(env: Env) -> None:
    """Issue 10 item 3: the counter belongs to the key. Deleting the Bluetooth key (or
    its user) and redeeming a new invite with the same key keeps the counter, so a
    first message recorded before the deletion (counter <= 9) stays refused."""
    lock = env.lock
    guest = env.user(name="guest")
    env.phone(guest, GUEST)
    assert lock.accept_phone_counter(GUEST, 9)
    info = lock.find_phone(GUEST)
    assert info is not None
    lock.delete_credential(env.admin, info.credential_id)
    assert lock.phone_counter(GUEST) == 9
    env.phone(guest, GUEST)  # the same phone, enrolled again
    assert not lock.accept_phone_counter(GUEST, 9)
    assert lock.accept_phone_counter(GUEST, 10)
    lock.delete_user(env.admin, guest.number)
    again = env.user(name="guest again")
    env.phone(again, GUEST)
    assert not lock.accept_phone_counter(GUEST, 10)


def test_phone_counter_out_of_the_stores_range_is_never_accepted(env: Env) -> None:
    """Issue 10 item 2: 64-bit counters from the wire are range-checked before the store
    (signed 64-bit): 2^63 and 2^64-1 are refused without an error; the top value works."""
    lock = env.lock
    for bad in (2**63, 2**64 - 1, 0, -5):
        assert not lock.accept_phone_counter(ADMIN_KEY, bad)
    assert lock.phone_counter(ADMIN_KEY) == 0
    assert lock.accept_phone_counter(ADMIN_KEY, 2**63 - 1)


def test_idempotent_add_user(env: Env) -> None:
    """A request retried after a dropped link is applied once (per actor)."""
    lock = env.lock
    first = lock.add_user(env.admin, name="alice", request_id=b"req-1")
    again = lock.add_user(env.admin, name="alice", request_id=b"req-1")
    assert again == first
    assert len(lock.list_users(env.admin)) == 2
    second_admin = env.user(Role.ADMIN)
    other = env.phone(second_admin, OTHER)
    theirs = lock.add_user(other, name="bob", request_id=b"req-1")  # another actor
    assert theirs.number != first.number


def test_idempotency_records_are_bounded_per_actor(env_factory: Callable[..., Env]) -> None:
    env = env_factory(FACE_PALM)
    lock = env.lock
    keep = env.profile.idempotency_per_actor
    for i in range(keep + 1):
        lock.update_settings(env.admin, volume=i % 5, request_id=b"v%d" % i)
    assert env.store.get_applied(env.admin.identity(), b"v0") is None
    assert env.store.get_applied(env.admin.identity(), b"v%d" % keep) is not None


def test_failed_request_is_not_recorded(env: Env) -> None:
    lock = env.lock
    with pytest.raises(LockError):
        lock.add_pin(env.admin, 42, "135790", request_id=b"pin-1")
    user = env.user()
    assert user.number == 2
    with pytest.raises(LockError):
        lock.add_pin(env.admin, 42, "135790", request_id=b"pin-1")


class _FailingStore:
    """Wraps a store and fails ``put_applied`` once, as a crash before commit would."""

    def __init__(self, inner: MemoryStore) -> None:
        self._inner = inner
        self.fail = False

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def put_applied(self, *args: object, **kwargs: object) -> None:
        if self.fail:
            self.fail = False
            raise StorageError("disk full")
        self._inner.put_applied(*args, **kwargs)


def test_mutation_and_its_record_are_one_transaction(env: Env) -> None:
    """One store transaction per mutation: if recording the result fails, the user is
    not added either, in the store and in memory."""
    store = _FailingStore(env.store)
    lock = Lock(store=store, profile=env.profile, clock=env.clock, rng=FakeRng(9))
    store.fail = True
    with pytest.raises(StorageError):
        lock.add_user(env.admin, name="ghost", request_id=b"r")
    assert [u.number for u in env.store.load_users()] == [1]
    assert [u.number for u in lock.list_users(env.admin)] == [1]
    assert EventKind.USER_ADDED not in [e.kind for e in env.store.events_after(0, 500)]
    assert lock.drain_notifications() == []
    user = lock.add_user(env.admin, name="real", request_id=b"r")
    assert user.number == 2


def test_r_app_3_a_key_label_too_long_is_refused_not_cut(env: Env) -> None:
    """R-APP-3: a key label longer than MAX_NAME is refused with a typed error (it used
    to be cut silently); the invite stays pending and a valid label redeems it."""
    lock = env.lock
    issued = lock.issue_invite(env.admin, name="guest")
    with pytest.raises(InvalidInputError):
        lock.redeem_invite(issued.invite_id, GUEST, label="x" * 33)
    assert lock.find_phone(GUEST) is None
    cred = lock.redeem_invite(issued.invite_id, GUEST, label="y" * 32)
    assert cred.label == "y" * 32


def test_design_online_guessing_a_failure_label_too_long_is_refused(env: Env) -> None:
    """DESIGN "online guessing": what a failed pairing attempt was is logged as given;
    a label longer than MAX_NAME is refused (typed error), never cut, and counts nothing."""
    lock = env.lock
    before = lock.read_events(limit=500).events
    with pytest.raises(InvalidInputError):
        lock.record_failed_attempt("x" * 33)
    assert lock.read_events(limit=500).events == before
    lock.record_failed_attempt("setup code")
    assert lock.read_events(limit=500).events[-1].detail == Note(text="setup code")
