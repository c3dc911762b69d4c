"""The lock: one façade over users, credentials, phones, modes, panel and timers.

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

from ble_lock.core.admin import LOCK_ID_SECRET, SERIAL_SECRET, VERIFICATION_SECRET
from ble_lock.core.clock import Clock, Rng
from ble_lock.core.credentials import FACTORY_KEY
from ble_lock.core.errors import ErrorCode, InvalidInputError, StorageError
from ble_lock.core.hashing import derive_code_secret, setup_context
from ble_lock.core.model import LOCK_ID_LEN, BoltState, FactoryData
from ble_lock.core.panel import PanelMixin
from ble_lock.core.phones import SETUP_SECRET
from ble_lock.core.profile import Profile
from ble_lock.core.store import Store

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


class Lock(PanelMixin):
    """A lock of one model profile on one store. Not thread-safe: one caller at a time
    (the emulator serializes panel and protocol calls on its event loop)."""

    def __init__(self, *, store: Store, profile: Profile, clock: Clock, rng: Rng) -> None:
        if store.get_secret(SERIAL_SECRET) is None:
            raise StorageError("store not provisioned (call provision first)",
                               code=ErrorCode.STORAGE_ERROR)
        super().__init__(store=store, profile=profile, clock=clock, rng=rng)
        self._hold_open()  # R-MOD-4 survives a restart: passage mode holds the door open

    def __repr__(self) -> str:
        return (f"Lock(model={self._profile.name!r}, serial={self.serial!r}, "
                f"users={len(self._index.users)}, bolt={self._bolt.value})")

    @property
    def profile(self) -> Profile:
        return self._profile

    @property
    def locked(self) -> bool:
        return self._bolt is BoltState.LOCKED

