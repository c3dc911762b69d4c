"""``users`` (role, name, validity window, weekday schedule) and ``credentials`` (PIN,
card, fingerprint, face, palm; enrolment progress shown step by step)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from ble_lock.cli.app import App, command_runner, paired, parse_time, pass_app
from ble_lock.cli.errors import CliError
from ble_lock.cli.output import emit, fmt_time, json_option, progress, table, to_json
from ble_lock.cli.secret_input import Secret, read_secret
from ble_lock.core.errors import ErrorCode, StateError
from ble_lock.wire import messages as m

__all__ = ["credentials", "parse_time", "users"]

_ROLES = {"admin": m.Role.ADMIN, "normal": m.Role.NORMAL, "dual-auth": m.Role.DUAL_AUTH,
          "remote-only": m.Role.REMOTE_ONLY}  # R-APP-5: a gateway's user
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _validity(valid_from: str | None, valid_until: str | None) -> m.Validity | None:
    if valid_from is None and valid_until is None:
        return None
    start = parse_time(valid_from) if valid_from is not None else None
    end = parse_time(valid_until) if valid_until is not None else None
    if start is not None and end is not None and end <= start:
        raise CliError("--until must be after --from", code=ErrorCode.INVALID_SCHEDULE)
    return m.Validity(valid_from=start, valid_until=end)


def _minute(text: str) -> int:
    try:
        hours, minutes = text.split(":")
        value = int(hours) * 60 + int(minutes)
    except ValueError:
        value = -1
    if not 0 <= value <= 24 * 60:
        raise CliError(f"{text!r} is not a time of day (HH:MM)", code=ErrorCode.INVALID_SCHEDULE)
    return value


def parse_schedule(days: str, hours: str) -> m.Schedule:
    """``mon,tue,fri`` (or ``mon-fri``, ``all``) and ``08:00-18:00``."""
    mask = 0
    for part in days.lower().split(","):
        if part == "all":
            mask = 0x7F
        elif "-" in part:
            first, _, last = part.partition("-")
            if first not in _DAYS or last not in _DAYS:
                raise CliError(f"unknown day in {part!r}", code=ErrorCode.INVALID_SCHEDULE)
            for i in range(_DAYS.index(first), _DAYS.index(last) + 1):
                mask |= 1 << i
        elif part in _DAYS:
            mask |= 1 << _DAYS.index(part)
        else:
            raise CliError(f"unknown day {part!r} (sun mon tue wed thu fri sat)",
                           code=ErrorCode.INVALID_SCHEDULE)
    start, sep, end = hours.partition("-")
    if not sep:
        raise CliError("--hours is HH:MM-HH:MM", code=ErrorCode.INVALID_SCHEDULE)
    return m.Schedule(days_mask=mask, start_minute=_minute(start), end_minute=_minute(end))


def _days_text(mask: int) -> str:
    return ",".join(d for i, d in enumerate(_DAYS) if mask & (1 << i))


def _schedule_text(s: m.Schedule) -> str:
    return (f"{_days_text(s.days_mask)} {s.start_minute // 60:02}:{s.start_minute % 60:02}-"
            f"{s.end_minute // 60:02}:{s.end_minute % 60:02}")


def _user_row(u: m.UserInfo) -> list[Any]:
    window = ("always" if u.validity == m.ALWAYS else
              f"{fmt_time(u.validity.valid_from)} .. {fmt_time(u.validity.valid_until)}")
    return [u.user_number, u.name, u.role.name.lower().replace("_", "-"), window,
            "; ".join(_schedule_text(s) for s in u.schedules) or "-"]


_HEADERS = ["user", "name", "role", "valid", "schedule"]


def _show_user(as_json: bool, user: m.UserInfo, verb: str) -> None:
    emit(as_json, user, lambda: click.echo(
        f"{verb} user {user.user_number}: {user.name} ({user.role.name.lower()})"))


def _user_options(func: Any) -> Any:
    for option in reversed([
        click.option("--role", type=click.Choice(sorted(_ROLES)), help="role (default normal)"),
        click.option("--from", "valid_from", help="valid from (unix s or ISO time)"),
        click.option("--until", "valid_until", help="valid until (unix s or ISO time)"),
        click.option("--days", help="weekday schedule: mon,tue or mon-fri (with --hours)"),
        click.option("--hours", help="daily window of the schedule: HH:MM-HH:MM"),
    ]):
        func = option(func)
    return func


def _schedules(days: str | None, hours: str | None) -> tuple[m.Schedule, ...] | None:
    if days is None and hours is None:
        return None
    if days is None or hours is None:
        raise CliError("a schedule needs both --days and --hours", code=ErrorCode.INVALID_SCHEDULE)
    return (parse_schedule(days, hours),)


@click.group()
def users() -> None:
    """Users of a lock: list, add, update, remove."""


@users.command("list")
@click.argument("lock_name", metavar="LOCK")
@json_option
@pass_app
@command_runner
async def users_list(app: App, lock_name: str, as_json: bool) -> None:
    """Every user of the lock."""
    async with paired(app, lock_name) as client:
        found = await client.list_users()
    emit(as_json, found, lambda: table([_user_row(u) for u in found], _HEADERS))


@users.command("add")
@click.argument("lock_name", metavar="LOCK")
@click.argument("name")
@_user_options
@json_option
@pass_app
@command_runner
async def users_add(app: App, lock_name: str, name: str, role: str | None,
                    valid_from: str | None, valid_until: str | None, days: str | None,
                    hours: str | None, as_json: bool) -> None:
    """Add a user NAME (then give them credentials)."""
    validity = _validity(valid_from, valid_until) or m.ALWAYS
    schedules = _schedules(days, hours) or ()
    async with paired(app, lock_name) as client:
        user = await client.add_user(name, role=_ROLES[role or "normal"], validity=validity,
                                     schedules=schedules)
    _show_user(as_json, user, "added")


@users.command("update")
@click.argument("lock_name", metavar="LOCK")
@click.argument("user_number", type=int, metavar="USER")
@click.option("--name", help="new name")
@_user_options
@click.option("--always", is_flag=True, help="drop the validity window and schedule")
@json_option
@pass_app
@command_runner
async def users_update(app: App, lock_name: str, user_number: int, name: str | None,
                       role: str | None, valid_from: str | None, valid_until: str | None,
                       days: str | None, hours: str | None, always: bool,
                       as_json: bool) -> None:
    """Change a user's name, role, validity window or schedule."""
    validity = m.ALWAYS if always else _validity(valid_from, valid_until)
    schedules = () if always else _schedules(days, hours)
    async with paired(app, lock_name) as client:
        user = await client.update_user(user_number, name=name,
                                        role=_ROLES[role] if role else None,
                                        validity=validity, schedules=schedules)
    _show_user(as_json, user, "updated")


@users.command("remove")
@click.argument("lock_name", metavar="LOCK")
@click.argument("user_number", type=int, metavar="USER")
@pass_app
@command_runner
async def users_remove(app: App, lock_name: str, user_number: int) -> None:
    """Remove a user and all their credentials."""
    async with paired(app, lock_name) as client:
        await client.delete_user(user_number)
    click.echo(f"removed user {user_number}")


# ---------------------------------------------------------------- credentials

_KINDS = {"pin": m.CredentialKind.PIN, "fingerprint": m.CredentialKind.FINGERPRINT,
          "card": m.CredentialKind.CARD, "face": m.CredentialKind.FACE,
          "palm": m.CredentialKind.PALM, "key": m.CredentialKind.BLUETOOTH_KEY,
          "remote": m.CredentialKind.REMOTE_CONTROL}


@click.group()
def credentials() -> None:
    """Credentials: PINs, cards, fingerprints, faces, palms."""


def _cred_row(c: m.CredentialInfo) -> list[Any]:
    return [c.credential_id, c.user_number, c.kind.name.lower(), c.duress, c.label, c.revoked]


@credentials.command("list")
@click.argument("lock_name", metavar="LOCK")
@click.option("--user", "user_number", type=int, help="only this user's")
@click.option("--kind", type=click.Choice(sorted(_KINDS)), help="only this kind")
@json_option
@pass_app
@command_runner
async def credentials_list(app: App, lock_name: str, user_number: int | None,
                           kind: str | None, as_json: bool) -> None:
    """Credentials of the lock (never their secrets)."""
    async with paired(app, lock_name) as client:
        found = await client.list_credentials(user_number=user_number,
                                              kind=_KINDS[kind] if kind else None)
    emit(as_json, found, lambda: table([_cred_row(c) for c in found],
                                       ["id", "user", "kind", "duress", "label", "revoked"]))


def _step_line(step: m.Enrolment) -> str:
    """Where the enrolment stands, counting captures from 1: the capture asked for next
    (``capture 1/5: straight``), then done or cancelled."""
    if step.state is m.EnrolmentState.DONE:
        return f"  done: credential {step.credential_id}"
    if step.state is m.EnrolmentState.CANCELLED:
        return "  cancelled"
    return f"  capture {step.captured + 1}/{step.captures_needed}: {step.next_step}"


PIN = Secret(option="--pin", what="PIN", confirm=True)
CARD_CODE = Secret(option="--card-code", what="card security code")


@credentials.command("add")
@click.argument("lock_name", metavar="LOCK")
@click.argument("user_number", type=int, metavar="USER")
@PIN.options("a new PIN (sent inside the encrypted session only)")
@click.option("--card", "card_uid", help="a card's UID (hex); with --card-code")
@CARD_CODE.options("the lock's 6-digit card security code")
@click.option("--finger", "kind", flag_value="fingerprint", help="enrol a fingerprint")
@click.option("--face", "kind", flag_value="face", help="enrol a face")
@click.option("--palm", "kind", flag_value="palm", help="enrol a palm vein")
@click.option("--duress", is_flag=True, help="a duress credential (opens, raises an alarm)")
@click.option("--enrol-timeout", type=click.FloatRange(1, 600), default=120.0,
              show_default=True, help="seconds to wait for the captures at the lock")
@json_option
@pass_app
@command_runner
async def credentials_add(app: App, lock_name: str, user_number: int, pin: str | None,
                          pin_file: Path | None, card_uid: str | None, card_code: str | None,
                          card_code_file: Path | None, kind: str | None, duress: bool,
                          enrol_timeout: float, as_json: bool) -> None:
    """Give USER a PIN, a card, or enrol a fingerprint, face or palm at the lock.

    The PIN and the card security code are asked for (hidden), read from stdin ('-') or
    from a file (--pin-file, --card-code-file); never given as arguments.
    """
    given_pin = pin is not None or pin_file is not None
    given_code = card_code is not None or card_code_file is not None
    chosen = [x for x in (given_pin or None, card_uid, kind) if x is not None]
    if len(chosen) != 1:
        raise CliError("give exactly one of --pin, --card, --finger, --face, --palm")
    if given_code and card_uid is None:
        raise CliError("--card-code goes with --card UID")
    if card_uid is not None:
        if not given_code:
            raise CliError("--card needs --card-code (the lock's card security code)")
        try:
            uid = bytes.fromhex(card_uid)
        except ValueError:
            raise CliError("--card is the card's UID in hex") from None
    pin = read_secret(app, PIN, pin, pin_file)
    card_code = read_secret(app, CARD_CODE, card_code, card_code_file)
    if pin is not None and not (pin.isascii() and pin.isdigit()):
        raise CliError("a PIN is digits only", code=ErrorCode.MALFORMED_PIN)
    async with paired(app, lock_name) as client:
        if pin is not None:
            cred = await client.add_pin(user_number, pin, duress=duress)
        elif card_uid is not None:
            assert card_code is not None
            cred = await client.add_card(user_number, uid, card_code)
        else:
            assert kind is not None
            steps: list[m.Enrolment] = []
            async with client.enrol(user_number, _KINDS[kind], duress=duress) as run:
                if not as_json:
                    click.echo(f"enrolling a {kind} for user {user_number}: present it at "
                               "the lock")
                    assert run.state is not None
                    click.echo(_step_line(run.state))
                async with (asyncio.timeout(enrol_timeout),
                            progress("waiting for the lock") as spinner):
                    async for step in run:
                        steps.append(step)
                        if not as_json:
                            spinner.echo(_step_line(step))  # clears the spinner's line
            final = run.state
            if final is None or final.credential_id is None:
                raise StateError("the enrolment did not finish", code=ErrorCode.NO_ENROLMENT)
            cred = next(c for c in await client.list_credentials(user_number=user_number)
                        if c.credential_id == final.credential_id)
            if as_json:
                emit(True, {"credential": to_json(cred), "steps": to_json(steps)}, print)
                return
    emit(as_json, cred, lambda: click.echo(
        f"added {cred.kind.name.lower()} credential {cred.credential_id} for user "
        f"{cred.user_number}" + (" (duress)" if cred.duress else "")))


@credentials.command("remove")
@click.argument("lock_name", metavar="LOCK")
@click.argument("credential_id", type=int)
@pass_app
@command_runner
async def credentials_remove(app: App, lock_name: str, credential_id: int) -> None:
    """Remove one credential (its id from `credentials list`)."""
    async with paired(app, lock_name) as client:
        await client.delete_credential(credential_id)
    click.echo(f"removed credential {credential_id}")

