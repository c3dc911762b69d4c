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

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from ble_lock.core.admin import LOCK_ID_SECRET, SERIAL_SECRET, VERIFICATION_SECRET, Admin
from ble_lock.core.clock import Clock, Rng
from ble_lock.core.credentials import FACTORY_KEY, Credentials
from ble_lock.core.enrolment import Enrolment
from ble_lock.core.errors import ConflictError, ErrorCode, InvalidInputError, StorageError
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
    FactoryData,
    Invite,
    IssuedInvite,
    LockEvent,
    LockEventPage,
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
        raise ConflictError("store already provisioned", code=ErrorCode.ALREADY_EXISTS)
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

    def request_scope(self, digest: bytes | Callable[[], bytes]
                      ) -> AbstractContextManager[None]:
        """Bind the request ids of the management calls made inside to ``digest`` (see
        :meth:`Management.request_scope`)."""
        return self.context.request_scope(digest)

    # -- users (users.py)

    def claim_at_panel(self, pin: str, pin_confirm: str) -> User:
        """See :meth:`~ble_lock.core.users.Users.claim_at_panel`."""
        return self.users.claim_at_panel(pin, pin_confirm)

    @property
    def claimed(self) -> bool:
        """False on a factory-fresh lock (no users) (:meth:`~ble_lock.core.users.Users.claimed`)."""
        return self.users.claimed

    def add_user(self, actor: Actor, *, name: str = "", role: Role = Role.NORMAL,
                 valid_from: float | None = None, valid_until: float | None = None,
                 schedules: tuple[WeekdaySchedule, ...] = (),
                 request_id: bytes | None = None) -> User:
        """Add a user with the lowest free number (R-USR-3)
        (:meth:`~ble_lock.core.users.Users.add_user`)."""
        return self.users.add_user(actor, name=name, role=role, valid_from=valid_from,
                                   valid_until=valid_until, schedules=schedules,
                                   request_id=request_id)

    def update_user(self, actor: Actor, number: int, *, name: str | Keep = KEEP,
                    role: Role | Keep = KEEP, valid_from: float | Keep | None = KEEP,
                    valid_until: float | Keep | None = KEEP,
                    schedules: tuple[WeekdaySchedule, ...] | Keep = KEEP,
                    request_id: bytes | None = None) -> User:
        """See :meth:`~ble_lock.core.users.Users.update_user`."""
        return self.users.update_user(actor, number, name=name, role=role, valid_from=valid_from,
                                      valid_until=valid_until, schedules=schedules,
                                      request_id=request_id)

    def delete_user(self, actor: Actor, number: int, *,
                    request_id: bytes | None = None) -> None:
        """Deregister a user and all their credentials and invites
        (:meth:`~ble_lock.core.users.Users.delete_user`)."""
        self.users.delete_user(actor, number, request_id=request_id)

    def get_user(self, actor: Actor, number: int) -> User:
        """One user: admins see anyone, a user sees themself
        (:meth:`~ble_lock.core.users.Users.get_user`)."""
        return self.users.get_user(actor, number)

    def list_users(self, actor: Actor) -> list[User]:
        """Every user by number (:meth:`~ble_lock.core.users.Users.list_users`)."""
        return self.users.list_users(actor)

    def whoami(self, actor: Actor) -> User:
        """See :meth:`~ble_lock.core.users.Users.whoami`."""
        return self.users.whoami(actor)
    # -- credentials (credentials.py)

    def add_pin(self, actor: Actor, user_number: int, pin: str, *,
                pin_confirm: str | None = None, duress: bool = False,
                request_id: bytes | None = None) -> Credential:
        """See :meth:`~ble_lock.core.credentials.Credentials.add_pin`."""
        return self.credentials.add_pin(actor, user_number, pin, pin_confirm=pin_confirm,
                                        duress=duress, request_id=request_id)

    def add_card(self, actor: Actor, user_number: int, card_uid: bytes, card_code: str, *,
                 card_code_confirm: str | None = None,
                 request_id: bytes | None = None) -> Credential:
        """Add a card (DL20VC) (:meth:`~ble_lock.core.credentials.Credentials.add_card`)."""
        return self.credentials.add_card(actor, user_number, card_uid, card_code,
                                         card_code_confirm=card_code_confirm,
                                         request_id=request_id)

    @property
    def card_code_set(self) -> bool:
        """See :meth:`~ble_lock.core.credentials.Credentials.card_code_set`."""
        return self.credentials.card_code_set

    def add_remote_control(self, actor: Actor, user_number: int, remote_id: bytes, *,
                           request_id: bytes | None = None) -> Credential:
        """See :meth:`~ble_lock.core.credentials.Credentials.add_remote_control`."""
        return self.credentials.add_remote_control(actor, user_number, remote_id,
                                                   request_id=request_id)

    def delete_credential(self, actor: Actor, credential_id: int, *,
                          request_id: bytes | None = None) -> None:
        """Delete one credential
        (:meth:`~ble_lock.core.credentials.Credentials.delete_credential`)."""
        self.credentials.delete_credential(actor, credential_id, request_id=request_id)

    def delete_user_credentials(self, actor: Actor, user_number: int, kind: CredentialKind,
                                *, duress_only: bool = False,
                                request_id: bytes | None = None) -> int:
        """See :meth:`~ble_lock.core.credentials.Credentials.delete_user_credentials`."""
        return self.credentials.delete_user_credentials(actor, user_number, kind,
                                                        duress_only=duress_only,
                                                        request_id=request_id)

    def clear_credentials(self, actor: Actor, kind: CredentialKind, *,
                          request_id: bytes | None = None) -> int:
        """See :meth:`~ble_lock.core.credentials.Credentials.clear_credentials`."""
        return self.credentials.clear_credentials(actor, kind, request_id=request_id)

    def list_credentials(self, actor: Actor, user_number: int | None = None) -> list[Credential]:
        """See :meth:`~ble_lock.core.credentials.Credentials.list_credentials`."""
        return self.credentials.list_credentials(actor, user_number)
    # -- enrolment (enrolment.py)

    def begin_enrolment(self, actor: Actor, user_number: int, kind: CredentialKind, *,
                        duress: bool = False, request_id: bytes | None = None
                        ) -> EnrolmentSession:
        """See :meth:`~ble_lock.core.enrolment.Enrolment.begin_enrolment`."""
        return self.enrolment.begin_enrolment(actor, user_number, kind, duress=duress,
                                              request_id=request_id)

    def enrolment_status(self, actor: Actor, session_id: int) -> EnrolmentSession:
        """See :meth:`~ble_lock.core.enrolment.Enrolment.enrolment_status`."""
        return self.enrolment.enrolment_status(actor, session_id)

    def cancel_enrolment(self, actor: Actor, session_id: int, *,
                         request_id: bytes | None = None) -> EnrolmentSession:
        """Abandon a session: nothing is stored (R-CRD-4)
        (:meth:`~ble_lock.core.enrolment.Enrolment.cancel_enrolment`)."""
        return self.enrolment.cancel_enrolment(actor, session_id, request_id=request_id)

    @property
    def enrolling(self) -> EnrolmentSession | None:
        """See :meth:`~ble_lock.core.enrolment.Enrolment.enrolling`."""
        return self.enrolment.enrolling
    # -- keys (keys.py)

    @property
    def pairing_mode(self) -> bool:
        """See :meth:`~ble_lock.core.keys.Keys.pairing_mode`."""
        return self.keys.pairing_mode

    def pairing_mode_left(self) -> float | None:
        """See :meth:`~ble_lock.core.keys.Keys.pairing_mode_left`."""
        return self.keys.pairing_mode_left()

    def enter_pairing_mode(self) -> None:
        """Panel: SET held (face-palm shows the QR code)
        (:meth:`~ble_lock.core.keys.Keys.enter_pairing_mode`)."""
        self.keys.enter_pairing_mode()

    def claim(self, *, phone_key: bytes, name: str = "admin",
              request_id: bytes | None = None) -> User:
        """See :meth:`~ble_lock.core.keys.Keys.claim`."""
        return self.keys.claim(phone_key=phone_key, name=name, request_id=request_id)

    def setup_secret(self) -> bytes:
        """See :meth:`~ble_lock.core.keys.Keys.setup_secret`."""
        return self.keys.setup_secret()

    def record_failed_attempt(self, what: str = "pairing") -> float | None:
        """See :meth:`~ble_lock.core.keys.Keys.record_failed_attempt`."""
        return self.keys.record_failed_attempt(what)

    def lockout_remaining(self, path: InputPath | None = None) -> float | None:
        """See :meth:`~ble_lock.core.keys.Keys.lockout_remaining`."""
        return self.keys.lockout_remaining(path)

    def find_phone(self, public_key: bytes) -> PhoneInfo | None:
        """See :meth:`~ble_lock.core.keys.Keys.find_phone`."""
        return self.keys.find_phone(public_key)

    def list_keys(self, actor: Actor) -> list[Credential]:
        """Every Bluetooth key (phone) (:meth:`~ble_lock.core.keys.Keys.list_keys`)."""
        return self.keys.list_keys(actor)

    def revoke_key(self, actor: Actor, credential_id: int, *,
                   request_id: bytes | None = None) -> Credential:
        """See :meth:`~ble_lock.core.keys.Keys.revoke_key`."""
        return self.keys.revoke_key(actor, credential_id, request_id=request_id)

    def accept_phone_counter(self, public_key: bytes, counter: int) -> bool:
        """See :meth:`~ble_lock.core.keys.Keys.accept_phone_counter`."""
        return self.keys.accept_phone_counter(public_key, counter)

    def refuse_revoked_phone(self, public_key: bytes, counter: int) -> bool:
        """See :meth:`~ble_lock.core.keys.Keys.refuse_revoked_phone`."""
        return self.keys.refuse_revoked_phone(public_key, counter)

    def phone_counter(self, public_key: bytes) -> int:
        """See :meth:`~ble_lock.core.keys.Keys.phone_counter`."""
        return self.keys.phone_counter(public_key)

    def issue_invite(self, actor: Actor, *, user_number: int | None = None, name: str = "",
                     role: Role = Role.NORMAL, expires_at: float | None = None,
                     key_valid_from: float | None = None, key_valid_until: float | None = None,
                     request_id: bytes | None = None) -> IssuedInvite:
        """See :meth:`~ble_lock.core.keys.Keys.issue_invite`."""
        return self.keys.issue_invite(actor, user_number=user_number, name=name, role=role,
                                      expires_at=expires_at, key_valid_from=key_valid_from,
                                      key_valid_until=key_valid_until, request_id=request_id)

    def invite_secret(self, invite_id: int) -> bytes:
        """See :meth:`~ble_lock.core.keys.Keys.invite_secret`."""
        return self.keys.invite_secret(invite_id)

    def redeem_invite(self, invite_id: int, phone_key: bytes, *, label: str = "",
                      request_id: bytes | None = None) -> Credential:
        """See :meth:`~ble_lock.core.keys.Keys.redeem_invite`."""
        return self.keys.redeem_invite(invite_id, phone_key, label=label, request_id=request_id)

    def cancel_invite(self, actor: Actor, invite_id: int, *,
                      request_id: bytes | None = None) -> None:
        """Withdraw a pending invite (:meth:`~ble_lock.core.keys.Keys.cancel_invite`)."""
        self.keys.cancel_invite(actor, invite_id, request_id=request_id)

    def list_invites(self, actor: Actor) -> list[Invite]:
        """Pending invites (secrets redacted from repr)
        (:meth:`~ble_lock.core.keys.Keys.list_invites`)."""
        return self.keys.list_invites(actor)
    # -- links (links.py)

    def link_lock(self, actor: Actor, peer_lock_id: bytes, peer_public_key: bytes, *,
                  window_s: int | None = None, confirm_s: int = DEFAULT_CONFIRM_S,
                  request_id: bytes | None = None) -> SyncLink:
        """See :meth:`~ble_lock.core.links.Links.link_lock`."""
        return self.links.link_lock(actor, peer_lock_id, peer_public_key, window_s=window_s,
                                    confirm_s=confirm_s, request_id=request_id)

    def unlink_lock(self, actor: Actor, peer_lock_id: bytes, *,
                    request_id: bytes | None = None) -> None:
        """Remove a linked lock, pending or confirmed
        (:meth:`~ble_lock.core.links.Links.unlink_lock`)."""
        self.links.unlink_lock(actor, peer_lock_id, request_id=request_id)

    def list_links(self, actor: Actor) -> list[SyncLink]:
        """See :meth:`~ble_lock.core.links.Links.list_links`."""
        return self.links.list_links(actor)

    def find_link(self, peer_lock_id: bytes) -> SyncLink | None:
        """See :meth:`~ble_lock.core.links.Links.find_link`."""
        return self.links.find_link(peer_lock_id)

    def confirm_left(self, link: SyncLink) -> float:
        """See :meth:`~ble_lock.core.links.Links.confirm_left`."""
        return self.links.confirm_left(link)

    def accept_sync_statement(self, peer_lock_id: bytes, at_ms: int) -> bool:
        """See :meth:`~ble_lock.core.links.Links.accept_statement`."""
        return self.links.accept_statement(peer_lock_id, at_ms)
    # -- unlock (unlock.py)

    @property
    def low_battery(self) -> bool:
        """R-SEC-3: below the profile's threshold every operation warns
        (:meth:`~ble_lock.core.unlock.Unlock.low_battery`)."""
        return self.unlock.low_battery

    @property
    def bolt(self) -> BoltState:
        """See :meth:`~ble_lock.core.unlock.Unlock.bolt`."""
        return self.unlock.bolt

    def unlock_bluetooth(self, actor: Actor) -> Decision:
        """See :meth:`~ble_lock.core.unlock.Unlock.unlock_bluetooth`."""
        return self.unlock.unlock_bluetooth(actor)

    def lock_bluetooth(self, actor: Actor) -> Decision:
        """See :meth:`~ble_lock.core.unlock.Unlock.lock_bluetooth`."""
        return self.unlock.lock_bluetooth(actor)

    def apply_sync_statement(self, peer_lock_id: bytes) -> Decision:
        """See :meth:`~ble_lock.core.unlock.Unlock.apply_sync_statement`."""
        return self.unlock.apply_sync_statement(peer_lock_id)
    # -- admin (admin.py)

    def get_settings(self, actor: Actor) -> Settings:
        """The current settings (:meth:`~ble_lock.core.admin.Admin.get_settings`)."""
        return self.admin.get_settings(actor)

    @property
    def settings(self) -> Settings:
        """See :meth:`~ble_lock.core.admin.Admin.settings`."""
        return self.admin.settings

    def update_settings(self, actor: Actor, *, request_id: bytes | None = None,
                        **changes: Any) -> Settings:
        """See :meth:`~ble_lock.core.admin.Admin.update_settings`."""
        return self.admin.update_settings(actor, request_id=request_id, **changes)

    @property
    def muted(self) -> bool:
        """See :meth:`~ble_lock.core.admin.Admin.muted`."""
        return self.admin.muted

    def lift_lockout(self, actor: Actor, *, request_id: bytes | None = None) -> None:
        """End a running lockout and forget recent failures
        (:meth:`~ble_lock.core.admin.Admin.lift_lockout`)."""
        self.admin.lift_lockout(actor, request_id=request_id)

    def open_maintenance_window(self, actor: Actor, duration_s: int, *,
                                request_id: bytes | None = None) -> float:
        """Let firmware management in for a while; admin only, logged (R-APP-8;
        :meth:`~ble_lock.core.admin.Admin.open_maintenance_window`)."""
        return self.admin.open_maintenance_window(actor, duration_s, request_id=request_id)

    @property
    def maintenance_open(self) -> bool:
        """See :meth:`~ble_lock.core.admin.Admin.maintenance_open`."""
        return self.admin.maintenance_open

    def factory_reset(self, actor: Actor) -> None:
        """Erase every user, credential and setting
        (:meth:`~ble_lock.core.admin.Admin.factory_reset`)."""
        self.admin.factory_reset(actor)

    def set_time(self, actor: Actor, unix_time: float, *,
                 request_id: bytes | None = None) -> float:
        """See :meth:`~ble_lock.core.admin.Admin.set_time`."""
        return self.admin.set_time(actor, unix_time, request_id=request_id)

    @property
    def lock_time(self) -> float:
        """The lock's wall clock (unix seconds) (:meth:`~ble_lock.core.admin.Admin.lock_time`)."""
        return self.admin.lock_time

    def events(self, actor: Actor, *, after: int = 0, limit: int = 100) -> LockEventPage:
        """Events with ``seq > after``, oldest first (:meth:`~ble_lock.core.admin.Admin.events`)."""
        return self.admin.events(actor, after=after, limit=limit)

    def read_events(self, *, after: int = 0, limit: int = 100) -> LockEventPage:
        """The log without authorization (emulator display, tests)
        (:meth:`~ble_lock.core.admin.Admin.read_events`)."""
        return self.admin.read_events(after=after, limit=limit)

    def drain_notifications(self) -> list[LockEvent]:
        """See :meth:`~ble_lock.core.admin.Admin.drain_notifications`."""
        return self.admin.drain_notifications()

    def system_info(self, actor: Actor) -> SystemInfo:
        """Serial, verification code, firmware version and status
        (:meth:`~ble_lock.core.admin.Admin.system_info`)."""
        return self.admin.system_info(actor)

    @property
    def serial(self) -> str:
        """See :meth:`~ble_lock.core.admin.Admin.serial`."""
        return self.admin.serial

    @property
    def lock_id(self) -> bytes:
        """See :meth:`~ble_lock.core.admin.Admin.lock_id`."""
        return self.admin.lock_id

    def visitor_secret(self, actor: Actor) -> bytes:
        """See :meth:`~ble_lock.core.admin.Admin.visitor_secret`."""
        return self.admin.visitor_secret(actor)

    def rotate_visitor_secret(self, actor: Actor, *, request_id: bytes | None = None) -> None:
        """See :meth:`~ble_lock.core.admin.Admin.rotate_visitor_secret`."""
        self.admin.rotate_visitor_secret(actor, request_id=request_id)
    # -- timers (timers.py)

    def next_deadline(self) -> float | None:
        """See :meth:`~ble_lock.core.timers.Timers.next_deadline`."""
        return self.timers.next_deadline()

    def tick(self) -> None:
        """Run every timer that is due at the injected clock's now
        (:meth:`~ble_lock.core.timers.Timers.tick`)."""
        self.timers.tick()
    # -- panel (panel.py)

    @property
    def keypad_awake(self) -> bool:
        """See :meth:`~ble_lock.core.panel.Panel.keypad_awake`."""
        return self.panel.keypad_awake

    def touch_keypad(self) -> None:
        """See :meth:`~ble_lock.core.panel.Panel.touch_keypad`."""
        self.panel.touch_keypad()

    def press_key(self, key: str) -> Decision | None:
        """See :meth:`~ble_lock.core.panel.Panel.press_key`."""
        return self.panel.press_key(key)

    def enter_pin(self, entry: str) -> Decision:
        """Type ``entry`` and confirm (convenience for ``press_key``)
        (:meth:`~ble_lock.core.panel.Panel.enter_pin`)."""
        return self.panel.enter_pin(entry)

    def hold_zero(self) -> None:
        """See :meth:`~ble_lock.core.panel.Panel.hold_zero`."""
        self.panel.hold_zero()

    def tap_card(self, card_uid: bytes) -> Decision:
        """See :meth:`~ble_lock.core.panel.Panel.tap_card`."""
        return self.panel.tap_card(card_uid)

    def present_biometric(self, kind: CredentialKind, template: bytes, *,
                          step: str | None = None) -> Decision | CaptureResult:
        """See :meth:`~ble_lock.core.panel.Panel.present_biometric`."""
        return self.panel.present_biometric(kind, template, step=step)

    def press_remote(self, remote_id: bytes) -> Decision:
        """See :meth:`~ble_lock.core.panel.Panel.press_remote`."""
        return self.panel.press_remote(remote_id)

    def mechanical_key(self) -> Decision:
        """See :meth:`~ble_lock.core.panel.Panel.mechanical_key`."""
        return self.panel.mechanical_key()

    def open_from_inside(self) -> None:
        """See :meth:`~ble_lock.core.panel.Panel.open_from_inside`."""
        self.panel.open_from_inside()

    def inside_button(self) -> None:
        """See :meth:`~ble_lock.core.panel.Panel.inside_button`."""
        self.panel.inside_button()

    def set_thumb_turn(self, locked: bool) -> None:
        """See :meth:`~ble_lock.core.panel.Panel.set_thumb_turn`."""
        self.panel.set_thumb_turn(locked)

    @property
    def door(self) -> DoorState:
        """See :meth:`~ble_lock.core.panel.Panel.door`."""
        return self.panel.door

    def door_opened(self) -> None:
        """See :meth:`~ble_lock.core.panel.Panel.door_opened`."""
        self.panel.door_opened()

    def door_closed(self) -> None:
        """See :meth:`~ble_lock.core.panel.Panel.door_closed`."""
        self.panel.door_closed()

    @property
    def alarm_active(self) -> bool:
        """See :meth:`~ble_lock.core.panel.Panel.alarm_active`."""
        return self.panel.alarm_active

    def tamper(self) -> None:
        """Forced removal of the lock (R-SEC-2) (:meth:`~ble_lock.core.panel.Panel.tamper`)."""
        self.panel.tamper()

    @property
    def battery_percent(self) -> int:
        """See :meth:`~ble_lock.core.panel.Panel.battery_percent`."""
        return self.panel.battery_percent

    def set_battery(self, percent: int) -> None:
        """See :meth:`~ble_lock.core.panel.Panel.set_battery`."""
        self.panel.set_battery(percent)

    def press_set_button(self) -> None:
        """See :meth:`~ble_lock.core.panel.Panel.press_set_button`."""
        self.panel.press_set_button()

    def factory_reset_at_panel(self) -> None:
        """See :meth:`~ble_lock.core.panel.Panel.factory_reset_at_panel`."""
        self.panel.factory_reset_at_panel()

    def panel_admin_login(self, entry: str | None = None, *, card: bytes | None = None,
                          fingerprint: bytes | None = None) -> Actor | None:
        """See :meth:`~ble_lock.core.panel.Panel.panel_admin_login`."""
        return self.panel.panel_admin_login(entry, card=card, fingerprint=fingerprint)
