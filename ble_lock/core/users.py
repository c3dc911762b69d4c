"""Users and roles (R-USR-1..8): claim, add, update, delete, list."""

from __future__ import annotations

from enum import Enum
from typing import Final

from ble_lock.core.credentials import Credentials
from ble_lock.core.errors import (
    CapacityError,
    ConflictError,
    ErrorCode,
    InvalidInputError,
    PermissionDeniedError,
    StateError,
)
from ble_lock.core.invites import InviteBook
from ble_lock.core.management import Management
from ble_lock.core.model import (
    MAX_NAME,
    MAX_SCHEDULES,
    Actor,
    ActorKind,
    ByUser,
    EventKind,
    Role,
    User,
    WeekdaySchedule,
)
from ble_lock.core.rules.pins import check_pin
from ble_lock.core.rules.schedule import check_schedule, check_window

__all__ = ["KEEP", "Keep", "Users", "check_name"]


class Keep(Enum):
    """Marker for "leave this field as it is" in :meth:`Users.update_user`."""

    KEEP = "keep"


KEEP: Final = Keep.KEEP


def check_name(name: str, what: str = "name") -> str:
    """A user name or key label: printable, at most ``MAX_NAME`` characters (never cut)."""
    if not isinstance(name, str) or len(name) > MAX_NAME or not name.isprintable():
        raise InvalidInputError(f"{what} must be printable and at most {MAX_NAME} characters")
    return name


class Users:
    """R-USR-*: the management API for users (their credentials: ``credentials``)."""

    def __init__(self, ctx: Management, credentials: Credentials,
                 invites: InviteBook) -> None:
        self._ctx = ctx
        self._credentials = credentials
        self._invites = invites

    # -- R-USR-2: the first admin on a factory-fresh lock

    @property
    def claimed(self) -> bool:
        """False on a factory-fresh lock (no users)."""
        return bool(self._ctx.index.users)

    def check_claimable(self) -> None:
        if self._ctx.index.users:
            raise ConflictError("lock already claimed", code=ErrorCode.ALREADY_CLAIMED)

    def claim_at_panel(self, pin: str, pin_confirm: str) -> User:
        """R-USR-2 at the keypad: on a factory-fresh lock, user 001 becomes admin with a
        6-10 digit PIN entered twice (face-palm: ✓ then the PIN; DL20VC: # then add PIN)."""
        check_pin(pin, self._ctx.profile, confirm=pin_confirm)
        with self._ctx.tx():
            self.check_claimable()
            user = self.create(name="admin", role=Role.ADMIN)
            self._credentials.store_pin(user.number, pin, duress=False)
            self._ctx.emit(EventKind.CLAIMED, user_number=user.number)
        return user

    # -- management API

    def add_user(self, actor: Actor, *, name: str = "", role: Role = Role.NORMAL,
                 valid_from: float | None = None, valid_until: float | None = None,
                 schedules: tuple[WeekdaySchedule, ...] = (),
                 request_id: bytes | None = None) -> User:
        """Add a user with the lowest free number (R-USR-3). Admin only (R-USR-1)."""
        self._ctx.authorize(actor)
        self.check_fields(name, role, valid_from, valid_until, schedules)

        def apply() -> User:
            user = self.create(name=name, role=role, valid_from=valid_from,
                                     valid_until=valid_until, schedules=schedules)
            self._ctx.emit(EventKind.USER_ADDED, user_number=user.number,
                       detail=ByUser(number=self._actor_number(actor)))
            return user

        return self._ctx.mutate(actor, request_id, apply)

    def update_user(self, actor: Actor, number: int, *, name: str | Keep = KEEP,
                    role: Role | Keep = KEEP, valid_from: float | Keep | None = KEEP,
                    valid_until: float | Keep | None = KEEP,
                    schedules: tuple[WeekdaySchedule, ...] | Keep = KEEP,
                    request_id: bytes | None = None) -> User:
        """Change a user's name, role, validity window or schedules (R-USR-7). Admin only;
        the last admin cannot lose the admin role (R-USR-4) and nobody changes their own
        role (like R-USR-5: the logged-in admin cannot demote themself)."""
        me = self._ctx.authorize(actor)
        old = self._ctx.user(number)
        new = User(
            number=number,
            name=old.name if isinstance(name, Keep) else name,
            role=old.role if isinstance(role, Keep) else role,
            valid_from=old.valid_from if isinstance(valid_from, Keep) else valid_from,
            valid_until=old.valid_until if isinstance(valid_until, Keep) else valid_until,
            schedules=old.schedules if isinstance(schedules, Keep) else tuple(schedules),
            created_at=old.created_at,
        )
        self.check_fields(new.name, new.role, new.valid_from, new.valid_until,
                                new.schedules)

        def apply() -> User:
            current = self._ctx.user(number)
            if current.role is Role.ADMIN:
                self._check_not_last_admin(number, new)  # R-USR-4 first, then R-USR-5
            if number == me.number and new.role is not current.role:
                raise PermissionDeniedError("cannot change your own role",
                                            code=ErrorCode.SELF_DELETE)
            self._ctx.store.put_user(new)
            self._ctx.index.put_user(new)
            self._ctx.emit(EventKind.USER_UPDATED, user_number=number,
                       detail=ByUser(number=self._actor_number(actor)))
            return new

        return self._ctx.mutate(actor, request_id, apply)

    def delete_user(self, actor: Actor, number: int, *,
                    request_id: bytes | None = None) -> None:
        """Deregister a user and all their credentials and invites. Admin only; not the
        last admin (R-USR-4) and not the logged-in actor themself (R-USR-5)."""
        me = self._ctx.authorize(actor)

        def apply() -> None:
            self._ctx.user(number)
            self._check_not_last_admin(number)  # R-USR-4 first, then R-USR-5
            if number == me.number:
                raise PermissionDeniedError("cannot delete yourself", code=ErrorCode.SELF_DELETE)
            self._remove_user(number)
            self._ctx.emit(EventKind.USER_DELETED, user_number=number,
                       detail=ByUser(number=me.number))

        self._ctx.mutate(actor, request_id, apply)

    def get_user(self, actor: Actor, number: int) -> User:
        """One user: admins see anyone, a user sees themself."""
        me = self._ctx.authorize(actor, admin=False)
        if me.role is not Role.ADMIN and me.number != number:
            raise PermissionDeniedError("admin only", code=ErrorCode.PERMISSION_DENIED)
        return self._ctx.user(number)

    def list_users(self, actor: Actor) -> list[User]:
        """Every user by number. Admin only."""
        self._ctx.authorize(actor)
        return [self._ctx.index.users[n] for n in sorted(self._ctx.index.users)]

    def whoami(self, actor: Actor) -> User:
        """The actor's own user after every check (role, validity, revocation)."""
        return self._ctx.authorize(actor, admin=False)

    # -- helpers

    def _actor_number(self, actor: Actor) -> int | None:
        if actor.kind is ActorKind.PANEL:
            return actor.user_number
        cred_id = self._ctx.index.phones.get(actor.phone_key or b"")
        return None if cred_id is None else self._ctx.index.credentials[cred_id].user_number

    def check_fields(self, name: str, role: Role, valid_from: float | None,
                           valid_until: float | None,
                           schedules: tuple[WeekdaySchedule, ...]) -> None:
        check_name(name)
        if role not in self._ctx.profile.roles:
            raise StateError(f"role {role.name} not supported by {self._ctx.profile.name}",
                             code=ErrorCode.UNSUPPORTED_BY_PROFILE)
        check_window(valid_from, valid_until)
        if len(schedules) > MAX_SCHEDULES:
            raise InvalidInputError(f"at most {MAX_SCHEDULES} schedules",
                                    code=ErrorCode.INVALID_SCHEDULE)
        for schedule in schedules:
            check_schedule(schedule)

    def create(self, *, name: str, role: Role, valid_from: float | None = None,
                     valid_until: float | None = None,
                     schedules: tuple[WeekdaySchedule, ...] = ()) -> User:
        if len(self._ctx.index.users) >= self._ctx.profile.max_users:
            raise CapacityError("user capacity full", code=ErrorCode.CAPACITY_FULL)
        number = self._ctx.index.lowest_free_number()  # R-USR-3, O(log N)
        user = User(number=number, name=name, role=role, valid_from=valid_from,
                    valid_until=valid_until, schedules=tuple(schedules),
                    created_at=self._ctx.wall())
        self._ctx.store.put_user(user)
        self._ctx.index.put_user(user)
        return user

    def _check_not_last_admin(self, number: int, after: User | None = None) -> None:
        """R-USR-4: the last admin cannot go (deleted: ``after`` None, or demoted), and
        there is always an admin who can manage the lock: a change that would leave no
        admin whose validity never ends (no end, no week-day schedule, started) is
        refused with ``LAST_ADMIN`` too, so nobody is shut out until a factory reset."""
        if self._ctx.index.admins() == [number] and (after is None or after.role is not Role.ADMIN):
            raise PermissionDeniedError("the last admin cannot go", code=ErrorCode.LAST_ADMIN)
        now = self._ctx.wall()
        users = dict(self._ctx.index.users)
        if after is None:
            users.pop(number, None)
        else:
            users[number] = after
        before = any(_manages_always(u, now) for u in self._ctx.index.users.values())
        if before and not any(_manages_always(u, now) for u in users.values()):
            raise PermissionDeniedError("the last admin whose validity never ends cannot be "
                                        "limited", code=ErrorCode.LAST_ADMIN)

    def _remove_user(self, number: int) -> None:
        for cred in self._ctx.index.of_user(number):
            self._credentials.drop(cred)
        self._invites.delete_of_user(number)
        self._ctx.store.delete_user(number)
        self._ctx.index.remove_user(number)


def _manages_always(user: User, now: float) -> bool:
    """R-USR-4: an admin who can manage the lock now and at any time after."""
    return (user.role is Role.ADMIN and user.valid_until is None and not user.schedules
            and (user.valid_from is None or user.valid_from <= now))
