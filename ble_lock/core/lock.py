"""The lock: one façade composing named services (see ``docs/core.md`` for the map).

``Lock`` builds one :class:`~ble_lock.core.management.Management` (the shared context:
store, profile, clock, rng, index, settings, transactions, events, authorization,
idempotency, failure accounting) and the services on it, each a plain class owning its
state and given what it needs in its constructor: ``users``, ``credentials``,
``enrolment``, ``keys`` (phones, invites, counters), ``links`` (sync links and
statements), ``unlock`` (the one decision, carried out), ``admin`` (settings, reset,
time, events), ``timers`` and ``panel``. The services are attributes; every method
below delegates to one of them.

Public API map (the protocol's lock-side service calls the management names, the
emulator's front panel the panel names):

* factory: :func:`provision` (serial, lock id, verification code, setup code: once),
  ``Lock(...)``
* claim / pairing: ``claim``, ``claim_at_panel``, ``claimed``, ``pairing_mode``,
  ``enter_pairing_mode``, ``setup_secret``, ``serial``, ``lock_id``, ``record_failed_attempt``,
  ``lockout_remaining``
* users: ``add_user``, ``update_user``, ``delete_user``, ``get_user``, ``list_users``, ``whoami``
* credentials: ``add_pin``, ``add_card`` (+ ``card_code_set``), ``add_remote_control``,
  ``begin_enrolment``, ``enrolment_status``, ``cancel_enrolment``, ``enrolling``,
  ``delete_credential``, ``delete_user_credentials``, ``clear_credentials``, ``list_credentials``
* phones: ``find_phone``, ``issue_invite``, ``invite_secret``, ``redeem_invite``,
  ``cancel_invite``, ``list_invites``, ``revoke_key``, ``list_keys``,
  ``accept_phone_counter``, ``phone_counter``
* unlock: ``unlock_bluetooth``, ``lock_bluetooth``, ``apply_sync_statement``
* lock: ``get_settings``, ``update_settings``, ``lift_lockout``, ``factory_reset``,
  ``set_time``, ``lock_time``, ``events``, ``read_events``, ``drain_notifications``,
  ``system_info``, ``visitor_secret``, ``rotate_visitor_secret``, ``link_lock``,
  ``unlink_lock``, ``list_links``, ``find_link``, ``confirm_left`` (R-SYN-1 pending links)
* state (emulator display): ``bolt``, ``locked``, ``door``, ``settings``, ``muted``,
  ``keypad_awake``, ``alarm_active``, ``battery_percent``, ``low_battery``, ``profile``
* panel: ``press_key``, ``enter_pin``, ``touch_keypad``, ``hold_zero``, ``tap_card``,
  ``present_biometric``, ``press_remote``, ``mechanical_key``, ``open_from_inside``,
  ``inside_button``, ``set_thumb_turn``, ``door_opened``, ``door_closed``, ``tamper``,
  ``set_battery``, ``press_set_button``, ``factory_reset_at_panel``, ``panel_admin_login``
  (PIN, card or fingerprint: R-USR-1)
* timers: ``tick``, ``next_deadline``

Management calls take an :class:`~ble_lock.core.model.Actor` (only an identity: the role
is looked up here on every call) and an optional ``request_id`` (a repeat returns the
first result). Bad input raises a :class:`~ble_lock.core.errors.LockError`; a denied
unlock is a :class:`~ble_lock.core.model.Decision`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from ble_lock.core.admin import LOCK_ID_SECRET, SERIAL_SECRET, VERIFICATION_SECRET, Admin
from ble_lock.core.clock import Clock, Rng
from ble_lock.core.credentials import FACTORY_KEY, Credentials
from ble_lock.core.enrolment import Enrolment
from ble_lock.core.errors import ErrorCode, InvalidInputError, StorageError
from ble_lock.core.hashing import derive_code_secret, setup_context
from ble_lock.core.invites import InviteBook
from ble_lock.core.keys import SETUP_SECRET, Keys
from ble_lock.core.links import DEFAULT_CONFIRM_S, Links
from ble_lock.core.management import Management
from ble_lock.core.model import (
    LOCK_ID_LEN,
    Actor,
    BoltState,
    CaptureResult,
    Credential,
    CredentialKind,
    Decision,
    DoorState,
    EnrolmentSession,
    Event,
    EventPage,
    FactoryData,
    Invite,
    IssuedInvite,
    PhoneInfo,
    Role,
    Settings,
    SyncLink,
    SystemInfo,
    User,
    WeekdaySchedule,
)
from ble_lock.core.panel import Panel
from ble_lock.core.profile import Profile
from ble_lock.core.rules.lockout import InputPath
from ble_lock.core.store import Store
from ble_lock.core.timers import Timers
from ble_lock.core.unlock import Unlock
from ble_lock.core.users import KEEP, Keep, Users

__all__ = ["SETUP_CODE_DIGITS", "Lock", "provision"]

SETUP_CODE_DIGITS = 10
_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def _digits(rng: Rng, n: int) -> str:
    return str(int.from_bytes(rng.token_bytes(16), "big") % 10**n).zfill(n)


def provision(store: Store, rng: Rng, *, serial: str | None = None,
              lock_id: bytes | None = None, firmware_version: str = "1.0.0") -> FactoryData:
    """Manufacture a lock into an empty store: serial, lock id, verification code, setup
    code (R-APP-1/8). Returns the setup code this once (for the label / QR); the store
    keeps only its derived secret, bound to the lock id. Raises if the store was
    provisioned already, or on a lock id that is not ``LOCK_ID_LEN`` bytes."""
    if store.get_secret(SERIAL_SECRET) is not None:
        raise StorageError("store already provisioned", code=ErrorCode.ALREADY_EXISTS)
    if lock_id is not None and len(lock_id) != LOCK_ID_LEN:
        raise InvalidInputError(f"a lock id is {LOCK_ID_LEN} bytes")
    lock_id = lock_id if lock_id is not None else rng.token_bytes(LOCK_ID_LEN)
    serial = serial or "BL" + _digits(rng, 10)
    verification = "".join(_LETTERS[b % len(_LETTERS)] for b in rng.token_bytes(6))
    setup_code = _digits(rng, SETUP_CODE_DIGITS)
    with store.transaction():
        store.put_secret(SERIAL_SECRET, serial.encode())
        store.put_secret(LOCK_ID_SECRET, lock_id)
        store.put_secret(VERIFICATION_SECRET, verification.encode())
        store.put_secret(FACTORY_KEY, rng.token_bytes(32))
        store.put_secret(SETUP_SECRET, derive_code_secret(setup_code, setup_context(lock_id)))
    return FactoryData(serial=serial, lock_id=lock_id, verification_code=verification,
                       setup_code=setup_code,
                       firmware_version=firmware_version)


class Lock:
    """A lock of one model profile on one store. Not thread-safe: one caller at a time
    (the emulator serializes panel and protocol calls on its event loop)."""

    def __init__(self, *, store: Store, profile: Profile, clock: Clock, rng: Rng) -> None:
        if store.get_secret(SERIAL_SECRET) is None:
            raise StorageError("store not provisioned (call provision first)",
                               code=ErrorCode.STORAGE_ERROR)
        self.context = ctx = Management(store=store, profile=profile, clock=clock, rng=rng)
        invites = InviteBook(ctx)
        self.credentials = Credentials(ctx)
        self.enrolment = Enrolment(ctx, self.credentials)
        self.users = Users(ctx, self.credentials, invites)
        self.keys = Keys(ctx, self.users, self.credentials, invites)
        self.links = Links(ctx)
        self.unlock = Unlock(ctx, self.links)
        self.admin = Admin(ctx, self.unlock, self.enrolment, invites, self.links)
        self.timers = Timers(ctx, self.unlock, self.enrolment, self.links)
        self.panel = Panel(ctx, unlock=self.unlock, enrolment=self.enrolment, keys=self.keys,
                           admin=self.admin, timers=self.timers)
        self.unlock.hold_open()  # R-MOD-4 survives a restart: passage mode holds the door open

    def __repr__(self) -> str:
        return (f"Lock(model={self.context.profile.name!r}, serial={self.serial!r}, "
                f"users={len(self.context.index.users)}, bolt={self.bolt.value})")

    @property
    def profile(self) -> Profile:
        """The model profile this lock runs."""
        return self.context.profile

    @property
    def locked(self) -> bool:
        """Whether the bolt is thrown."""
        return self.bolt is BoltState.LOCKED

    def request_scope(self, digest: bytes) -> AbstractContextManager[None]:
        """Bind the request ids of the management calls made inside to ``digest`` (see
        :meth:`Management.request_scope`)."""
        return self.context.request_scope(digest)

    # -- users (users.py)

    def claim_at_panel(self, pin: str, pin_confirm: str) -> User:
        """R-USR-2 at the keypad: on a factory-fresh lock, user 001 becomes admin with a
        6-10 digit PIN entered twice (face-palm: ✓ then the PIN; DL20VC: # then add PIN)."""
        return self.users.claim_at_panel(pin, pin_confirm)

    @property
    def claimed(self) -> bool:
        """False on a factory-fresh lock (no users)."""
        return self.users.claimed

    def add_user(self, actor: Actor, *, name: str = "", role: Role = Role.NORMAL,
                 valid_from: float | None = None, valid_until: float | None = None,
                 schedules: tuple[WeekdaySchedule, ...] = (),
                 request_id: bytes | None = None) -> User:
        """Add a user with the lowest free number (R-USR-3). Admin only (R-USR-1)."""
        return self.users.add_user(actor, name=name, role=role, valid_from=valid_from,
                                   valid_until=valid_until, schedules=schedules,
                                   request_id=request_id)

    def update_user(self, actor: Actor, number: int, *, name: str | Keep = KEEP,
                    role: Role | Keep = KEEP, valid_from: float | Keep | None = KEEP,
                    valid_until: float | Keep | None = KEEP,
                    schedules: tuple[WeekdaySchedule, ...] | Keep = KEEP,
                    request_id: bytes | None = None) -> User:
        """Change a user's name, role, validity window or schedules (R-USR-7). Admin only;
        the last admin cannot lose the admin role (R-USR-4) and nobody changes their own
        role (like R-USR-5: the logged-in admin cannot demote themself)."""
        return self.users.update_user(actor, number, name=name, role=role, valid_from=valid_from,
                                      valid_until=valid_until, schedules=schedules,
                                      request_id=request_id)

    def delete_user(self, actor: Actor, number: int, *,
                    request_id: bytes | None = None) -> None:
        """Deregister a user and all their credentials and invites. Admin only; not the
        last admin (R-USR-4) and not the logged-in actor themself (R-USR-5)."""
        self.users.delete_user(actor, number, request_id=request_id)

    def get_user(self, actor: Actor, number: int) -> User:
        """One user: admins see anyone, a user sees themself."""
        return self.users.get_user(actor, number)

    def list_users(self, actor: Actor) -> list[User]:
        """Every user by number. Admin only."""
        return self.users.list_users(actor)

    def whoami(self, actor: Actor) -> User:
        """The actor's own user after every check (role, validity, revocation)."""
        return self.users.whoami(actor)
    # -- credentials (credentials.py)

    def add_pin(self, actor: Actor, user_number: int, pin: str, *,
                pin_confirm: str | None = None, duress: bool = False,
                request_id: bytes | None = None) -> Credential:
        """Add a PIN (R-PIN-1/2, entered twice if ``pin_confirm`` is given); ``duress``
        makes it an anti-hijack PIN (R-CRD-6). Admin only."""
        return self.credentials.add_pin(actor, user_number, pin, pin_confirm=pin_confirm,
                                        duress=duress, request_id=request_id)

    def add_card(self, actor: Actor, user_number: int, card_uid: bytes, card_code: str, *,
                 card_code_confirm: str | None = None,
                 request_id: bytes | None = None) -> Credential:
        """Add a card (DL20VC). R-CRD-5: the first card sets the lock's 6-digit card
        security code (``card_code_confirm`` must repeat it); it cannot change afterwards
        and every later card needs it (``WRONG_CARD_CODE``). Admin only."""
        return self.credentials.add_card(actor, user_number, card_uid, card_code,
                                         card_code_confirm=card_code_confirm,
                                         request_id=request_id)

    @property
    def card_code_set(self) -> bool:
        """R-CRD-5: whether the card security code was set (first card enrolment)."""
        return self.credentials.card_code_set

    def add_remote_control(self, actor: Actor, user_number: int, remote_id: bytes, *,
                           request_id: bytes | None = None) -> Credential:
        """Pair a Bluetooth remote-control accessory to a user (R-CRD-1, R-APP-7)."""
        return self.credentials.add_remote_control(actor, user_number, remote_id,
                                                   request_id=request_id)

    def delete_credential(self, actor: Actor, credential_id: int, *,
                          request_id: bytes | None = None) -> None:
        """Delete one credential. Admin only; the actor's own phone key is spared."""
        self.credentials.delete_credential(actor, credential_id, request_id=request_id)

    def delete_user_credentials(self, actor: Actor, user_number: int, kind: CredentialKind,
                                *, duress_only: bool = False,
                                request_id: bytes | None = None) -> int:
        """R-CRD-7: delete all of one kind (or only its duress keys) of a user; the
        logged-in actor's own credentials are spared. Returns how many went."""
        return self.credentials.delete_user_credentials(actor, user_number, kind,
                                                        duress_only=duress_only,
                                                        request_id=request_id)

    def clear_credentials(self, actor: Actor, kind: CredentialKind, *,
                          request_id: bytes | None = None) -> int:
        """R-CRD-7: lock-wide "clear all PINs / cards / ..." sparing the logged-in
        user's own credentials. Returns how many went."""
        return self.credentials.clear_credentials(actor, kind, request_id=request_id)

    def list_credentials(self, actor: Actor, user_number: int | None = None) -> list[Credential]:
        """Credentials (digests redacted from repr) of one user or all; admins see all,
        a user sees their own."""
        return self.credentials.list_credentials(actor, user_number)
    # -- enrolment (enrolment.py)

    def begin_enrolment(self, actor: Actor, user_number: int, kind: CredentialKind, *,
                        duress: bool = False, request_id: bytes | None = None
                        ) -> EnrolmentSession:
        """Start capturing a fingerprint, face or palm for a user at the lock. Admin only.
        One session at a time (``ENROLMENT_OUT_OF_ORDER`` while one is capturing)."""
        return self.enrolment.begin_enrolment(actor, user_number, kind, duress=duress,
                                              request_id=request_id)

    def enrolment_status(self, actor: Actor, session_id: int) -> EnrolmentSession:
        """Progress of a session (captured / needed, next step, done, credential id)."""
        return self.enrolment.enrolment_status(actor, session_id)

    def cancel_enrolment(self, actor: Actor, session_id: int, *,
                         request_id: bytes | None = None) -> EnrolmentSession:
        """Abandon a session: nothing is stored (R-CRD-4)."""
        return self.enrolment.cancel_enrolment(actor, session_id, request_id=request_id)

    @property
    def enrolling(self) -> EnrolmentSession | None:
        """The session capturing right now, if any (the panel routes samples to it)."""
        return self.enrolment.enrolling
    # -- keys (keys.py)

    @property
    def pairing_mode(self) -> bool:
        """True while the SET button's pairing mode lasts (120 s, R-APP-1)."""
        return self.keys.pairing_mode

    def enter_pairing_mode(self) -> None:
        """Panel: SET held (face-palm shows the QR code). Ends after ``pairing_mode_s``."""
        self.keys.enter_pairing_mode()

    def claim(self, *, phone_key: bytes, name: str = "admin",
              request_id: bytes | None = None) -> User:
        """R-USR-2: make the phone with X25519 public key ``phone_key`` the first admin
        (user 1). Only on a factory-fresh lock; face-palm also needs pairing mode (R-APP-1).
        The protocol calls this after the setup-code PAKE succeeded."""
        return self.keys.claim(phone_key=phone_key, name=name, request_id=request_id)

    def setup_secret(self) -> bytes:
        """The derived secret of the setup code printed on the lock (for the PAKE)."""
        return self.keys.setup_secret()

    def record_failed_attempt(self, what: str = "pairing") -> float | None:
        """DESIGN "online guessing": a failed setup-code or invite attempt counts toward
        the pairing limiter (5 within 5 minutes refuse pairing for 3 minutes). It never
        locks out the keypad, sensors, cards or Bluetooth keys: strangers in radio range
        cannot shut the lock down (``lockout.py``). Returns the pairing lockout seconds
        now running, or None."""
        return self.keys.record_failed_attempt(what)

    def lockout_remaining(self, path: InputPath | None = None) -> float | None:
        """Seconds left in the lockout that refuses ``path`` now, or None. The default is
        the manual's "system" lockout (R-SEC-1: user-input paths, Bluetooth keys, sync);
        ``InputPath.PAIRING`` is the pairing limiter the protocol asks before a PAIR1."""
        return self.keys.lockout_remaining(path)

    def find_phone(self, public_key: bytes) -> PhoneInfo | None:
        """Who holds this phone key: user, role, validity, revoked? None if unknown."""
        return self.keys.find_phone(public_key)

    def list_keys(self, actor: Actor) -> list[Credential]:
        """Every Bluetooth key (phone). Admin only."""
        return self.keys.list_keys(actor)

    def revoke_key(self, actor: Actor, credential_id: int, *,
                   request_id: bytes | None = None) -> Credential:
        """Revoke a Bluetooth key: kept (so the protocol can say "revoked") but dead.
        Admin only; not the actor's own key."""
        return self.keys.revoke_key(actor, credential_id, request_id=request_id)

    def accept_phone_counter(self, public_key: bytes, counter: int) -> bool:
        """Atomically accept ``counter`` for this phone iff it is larger than the last
        accepted one (and the phone is known); persist it before returning True."""
        return self.keys.accept_phone_counter(public_key, counter)

    def refuse_revoked_phone(self, public_key: bytes, counter: int) -> bool:
        """A revoked phone proved its key in a handshake carrying ``counter``: log the
        refusal (R-APP-6: failures are in the event log) and return True. A stale
        counter (a replayed first message) or a key that is not revoked logs nothing, so
        the log cannot be filled with copies of one recorded attempt."""
        return self.keys.refuse_revoked_phone(public_key, counter)

    def phone_counter(self, public_key: bytes) -> int:
        """The last accepted counter of a phone (0 if none), for an authenticated resync."""
        return self.keys.phone_counter(public_key)

    def issue_invite(self, actor: Actor, *, user_number: int | None = None, name: str = "",
                     role: Role = Role.NORMAL, expires_at: float | None = None,
                     key_valid_from: float | None = None, key_valid_until: float | None = None,
                     request_id: bytes | None = None) -> IssuedInvite:
        """Invite a phone for an existing user, or (``user_number=None``) for a new user
        created now with ``name`` and ``role``. Returns the code once; the lock keeps
        only its derived secret. Default expiry: 24 h. Admin only."""
        return self.keys.issue_invite(actor, user_number=user_number, name=name, role=role,
                                      expires_at=expires_at, key_valid_from=key_valid_from,
                                      key_valid_until=key_valid_until, request_id=request_id)

    def invite_secret(self, invite_id: int) -> bytes:
        """The derived secret of a pending invite, for the protocol's PAKE."""
        return self.keys.invite_secret(invite_id)

    def redeem_invite(self, invite_id: int, phone_key: bytes, *, label: str = "",
                      request_id: bytes | None = None) -> Credential:
        """Bind ``phone_key`` to the invite's user, once (the protocol calls this after
        the invite PAKE succeeded). The key carries the invite's validity window."""
        return self.keys.redeem_invite(invite_id, phone_key, label=label, request_id=request_id)

    def cancel_invite(self, actor: Actor, invite_id: int, *,
                      request_id: bytes | None = None) -> None:
        """Withdraw a pending invite. Admin only."""
        self.keys.cancel_invite(actor, invite_id, request_id=request_id)

    def list_invites(self, actor: Actor) -> list[Invite]:
        """Pending invites (secrets redacted from repr). Admin only."""
        return self.keys.list_invites(actor)
    # -- links (links.py)

    def link_lock(self, actor: Actor, peer_lock_id: bytes, peer_public_key: bytes, *,
                  window_s: int | None = None, confirm_s: int = DEFAULT_CONFIRM_S,
                  request_id: bytes | None = None) -> SyncLink:
        """Record a linked lock (its id and static public key) and its open window
        (default: the ``sync_window_s`` setting). Admin only. R-SYN-1: pending until an
        admin credential at this door within ``confirm_s`` seconds (0: confirmed now by
        the admin's session). A link set again is replaced: with a countdown it needs a
        new confirmation at the door (and is gone if that does not come in time)."""
        return self.links.link_lock(actor, peer_lock_id, peer_public_key, window_s=window_s,
                                    confirm_s=confirm_s, request_id=request_id)

    def unlink_lock(self, actor: Actor, peer_lock_id: bytes, *,
                    request_id: bytes | None = None) -> None:
        """Remove a linked lock, pending or confirmed. Admin only."""
        self.links.unlink_lock(actor, peer_lock_id, request_id=request_id)

    def list_links(self, actor: Actor) -> list[SyncLink]:
        """Every link, pending (with its deadline) or confirmed; a countdown that
        ended is expired first, even if the host has not run ``tick`` yet. Admin only."""
        return self.links.list_links(actor)

    def find_link(self, peer_lock_id: bytes) -> SyncLink | None:
        """The link record, pending or not (the protocol checks ``pending``)."""
        return self.links.find_link(peer_lock_id)

    def confirm_left(self, link: SyncLink) -> float:
        """Seconds left of a pending link's countdown (0 for a confirmed one)."""
        return self.links.confirm_left(link)

    def accept_sync_statement(self, peer_lock_id: bytes, at_ms: int) -> bool:
        """R-SYN-2 replay state: atomically accept a verified statement's time ``at_ms``
        from the linked lock ``peer_lock_id`` iff it is later than the last accepted one;
        persisted (before returning True) so a restart does not forget it. A time outside
        the store's range is never accepted and never reaches the store."""
        return self.links.accept_statement(peer_lock_id, at_ms)
    # -- unlock (unlock.py)

    @property
    def low_battery(self) -> bool:
        """R-SEC-3: below the profile's threshold every operation warns."""
        return self.unlock.low_battery

    @property
    def bolt(self) -> BoltState:
        """See :meth:`Unlock.bolt`."""
        return self.unlock.bolt

    def unlock_bluetooth(self, actor: Actor) -> Decision:
        """Unlock for a paired phone (R-APP-3), decided like every path: lockout,
        revocation, key and user validity, schedule, privacy, anti-lock; a dual-auth
        user's phone is one key of two (R-USR-8, ``docs/core.md``)."""
        return self.unlock.unlock_bluetooth(actor)

    def lock_bluetooth(self, actor: Actor) -> Decision:
        """Lock for a paired phone whose key and user are valid now; in passage mode the
        lock ends passage mode (R-MOD-4)."""
        return self.unlock.lock_bluetooth(actor)

    def apply_sync_statement(self, peer_lock_id: bytes) -> Decision:
        """R-SYN-2/3: the protocol verified a fresh statement from a linked lock: decided
        like every path (lockout, privacy and anti-lock refuse it: nobody is identified
        at this door, R-MOD-1/2), then open for the link's window; if the door is not
        opened in time, relock (``tick``; not in passage mode, R-MOD-4)."""
        return self.unlock.apply_sync_statement(peer_lock_id)
    # -- admin (admin.py)

    def get_settings(self, actor: Actor) -> Settings:
        """The current settings. Admin only."""
        return self.admin.get_settings(actor)

    @property
    def settings(self) -> Settings:
        """The current settings (for the emulator's display; no authorization)."""
        return self.admin.settings

    def update_settings(self, actor: Actor, *, request_id: bytes | None = None,
                        **changes: Any) -> Settings:
        """Change settings by field name of :class:`Settings` (``time_offset`` is
        ``set_time``'s). A setting the profile lacks -> UNSUPPORTED_BY_PROFILE."""
        return self.admin.update_settings(actor, request_id=request_id, **changes)

    @property
    def muted(self) -> bool:
        """R-MOD-2 privacy mode and R-MOD-6 one-time mute silence the prompts."""
        return self.admin.muted

    def lift_lockout(self, actor: Actor, *, request_id: bytes | None = None) -> None:
        """End a running lockout and forget recent failures. Admin only."""
        self.admin.lift_lockout(actor, request_id=request_id)

    def factory_reset(self, actor: Actor) -> None:
        """Erase every user, credential and setting. Admin only. Not idempotent-recorded
        (the records are erased too); the event log and its sequence survive."""
        self.admin.factory_reset(actor)

    def set_time(self, actor: Actor, unix_time: float, *,
                 request_id: bytes | None = None) -> float:
        """Set the lock's wall clock to ``unix_time`` (stored as an offset from the
        injected clock; timers keep running on the injected clock). Admin only."""
        return self.admin.set_time(actor, unix_time, request_id=request_id)

    @property
    def lock_time(self) -> float:
        """The lock's wall clock (unix seconds)."""
        return self.admin.lock_time

    def events(self, actor: Actor, *, after: int = 0, limit: int = 100) -> EventPage:
        """Events with ``seq > after``, oldest first. Admin only."""
        return self.admin.events(actor, after=after, limit=limit)

    def read_events(self, *, after: int = 0, limit: int = 100) -> EventPage:
        """The log without authorization (emulator display, tests)."""
        return self.admin.read_events(after=after, limit=limit)

    def drain_notifications(self) -> list[Event]:
        """Events committed since the last drain (for pushes: alarms are those whose
        kind is in ``model.ALARM_KINDS``). Bounded: the oldest are dropped first."""
        return self.admin.drain_notifications()

    def system_info(self, actor: Actor) -> SystemInfo:
        """Serial, verification code, firmware version and status. Any valid user."""
        return self.admin.system_info(actor)

    @property
    def serial(self) -> str:
        """See :meth:`Admin.serial`."""
        return self.admin.serial

    @property
    def lock_id(self) -> bytes:
        """The lock's public id on the air (R-APP-1: in the QR code and the advertisement)."""
        return self.admin.lock_id

    def visitor_secret(self, actor: Actor) -> bytes:
        """R-APP-4: the secret admins' phones generate visitor codes from. Admin only."""
        return self.admin.visitor_secret(actor)

    def rotate_visitor_secret(self, actor: Actor, *, request_id: bytes | None = None) -> None:
        """R-APP-4: a new visitor secret revokes every outstanding visitor code (the only
        offline revocation, docs/visitor-codes.md); fetch it with ``visitor_secret``
        (not returned, so no idempotency record holds it). Admin only."""
        self.admin.rotate_visitor_secret(actor, request_id=request_id)
    # -- timers (timers.py)

    def next_deadline(self) -> float | None:
        """The earliest time (injected clock) at which ``tick`` has something to do."""
        return self.timers.next_deadline()

    def tick(self) -> None:
        """Run every timer that is due at the injected clock's now."""
        self.timers.tick()
    # -- panel (panel.py)

    @property
    def keypad_awake(self) -> bool:
        """See :meth:`Panel.keypad_awake`."""
        return self.panel.keypad_awake

    def touch_keypad(self) -> None:
        """Wake the keypad (R-MOD-5 / R-MOD-9 manual trigger); it sleeps after
        ``keypad_sleep_s`` without input (R-MOD-8)."""
        self.panel.touch_keypad()

    def press_key(self, key: str) -> Decision | None:
        """One key: a digit, confirm (``#``/``✓``) or cancel (``*``/``↶``). Confirm
        verifies the entry (R-PIN-3/4) and returns the decision; confirm on an empty
        entry while ✓ is lit locks the door (R-LCK-1)."""
        return self.panel.press_key(key)

    def enter_pin(self, entry: str) -> Decision:
        """Type ``entry`` and confirm (convenience for ``press_key``)."""
        return self.panel.enter_pin(entry)

    def hold_zero(self) -> None:
        """R-MOD-6 (face-palm): hold 0 for a one-time mute, until the keypad sleeps."""
        self.panel.hold_zero()

    def tap_card(self, card_uid: bytes) -> Decision:
        """A card at the reader (R-MOD-5: with active detection off the keypad must be
        awake, else the card is ignored with ``KEYPAD_ASLEEP``)."""
        return self.panel.tap_card(card_uid)

    def present_biometric(self, kind: CredentialKind, template: bytes, *,
                          step: str | None = None) -> Decision | CaptureResult:
        """A finger, face or palm at the sensor: a capture while an enrolment of that
        kind runs (R-CRD-4; ``step`` names the pose), a verification otherwise.
        R-MOD-9: with a manual trigger, face/palm need the keypad touched first."""
        return self.panel.present_biometric(kind, template, step=step)

    def press_remote(self, remote_id: bytes) -> Decision:
        """A paired Bluetooth remote-control accessory pressed (R-APP-7)."""
        return self.panel.press_remote(remote_id)

    def mechanical_key(self) -> Decision:
        """The mechanical key always opens (R-CRD-1, R-MOD-2); only an event in software."""
        return self.panel.mechanical_key()

    def open_from_inside(self) -> None:
        """The inside handle: unaffected by anti-lock (R-MOD-1); ✓ lights outside (R-LCK-1)."""
        self.panel.open_from_inside()

    def inside_button(self) -> None:
        """R-LCK-2: the electronic button on the back panel locks; in passage mode it
        ends passage mode too (R-MOD-4), so a restart does not open the door again."""
        self.panel.inside_button()

    def set_thumb_turn(self, locked: bool) -> None:
        """R-MOD-1: the inside thumb-turn; locking it throws the bolt (and ends passage
        mode, R-MOD-4, like every manual lock)."""
        self.panel.set_thumb_turn(locked)

    @property
    def door(self) -> DoorState:
        """See :meth:`Panel.door`."""
        return self.panel.door

    def door_opened(self) -> None:
        """Door sensor: open (pushed as an alarm, R-APP-6); ends a sync window (R-SYN-3)."""
        self.panel.door_opened()

    def door_closed(self) -> None:
        """Door sensor: closed; R-LCK-4 auto-lock with the 6068 body when enabled (on by
        default with that body), decided like every lock (R-MOD-4: not in passage mode)."""
        self.panel.door_closed()

    @property
    def alarm_active(self) -> bool:
        """R-SEC-2: the tamper alarm sounds for ``tamper_alarm_s`` (about 60 s)."""
        return self.panel.alarm_active

    def tamper(self) -> None:
        """Forced removal of the lock (R-SEC-2)."""
        self.panel.tamper()

    @property
    def battery_percent(self) -> int:
        """See :meth:`Panel.battery_percent`."""
        return self.panel.battery_percent

    def set_battery(self, percent: int) -> None:
        """Battery level; crossing below the threshold raises LOW_BATTERY (R-SEC-3)."""
        self.panel.set_battery(percent)

    def press_set_button(self) -> None:
        """R-APP-1: SET enters pairing mode (face-palm shows the QR code)."""
        self.panel.press_set_button()

    def factory_reset_at_panel(self) -> None:
        """R-SEC-5: SET held while the battery goes back in, then confirm."""
        self.panel.factory_reset_at_panel()

    def panel_admin_login(self, entry: str | None = None, *, card: bytes | None = None,
                          fingerprint: bytes | None = None) -> Actor | None:
        """SET + an admin's PIN, card or fingerprint enters the menu (R-USR-1; DL20VC:
        "使用主用户的指纹、密码或感应卡验证成功后，即可进入主菜单"). Exactly one of
        ``entry`` (keypad digits, R-PIN-3 applies), ``card`` (UID) or ``fingerprint``
        (template). The returned actor is the "logged-in user" of R-USR-5 / R-CRD-7;
        None when refused: locked out, nothing matched (a failure toward the lockout,
        R-SEC-1), not an admin, or outside the admin's validity (R-USR-7)."""
        return self.panel.panel_admin_login(entry, card=card, fingerprint=fingerprint)
