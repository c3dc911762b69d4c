"""Finding, pairing and opening: ``scan``, ``info``, ``claim``, ``phones``, ``unlock``,
``lock``."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Any

import click

from ble_lock.central.client import LockClient
from ble_lock.central.keystore import LockRecord, lock_key
from ble_lock.cli.app import App, command_runner, connected, paired, pass_app, record_of
from ble_lock.cli.errors import CliError
from ble_lock.cli.invites import InviteText, invite_json, show_invite
from ble_lock.cli.output import emit, json_option, name_word, progress, table, to_json, word
from ble_lock.cli.secret_input import Secret, read_secret
from ble_lock.cli.trust import (
    FingerprintCheck,
    fingerprint_text,
    parse_fingerprint,
    step_hook,
)
from ble_lock.core.errors import (
    ErrorCode,
    InvalidInputError,
    LockError,
    TransportError,
    error_for,
)
from ble_lock.core.hashing import normalize_code
from ble_lock.core.lock import SETUP_CODE_DIGITS
from ble_lock.wire import messages as m
from ble_lock.wire.link.gatt import StateFlags
from ble_lock.wire.security.crypto import fingerprint as crypto_fingerprint
from ble_lock.wire.security.pairing import QrPayload

__all__ = ["claim", "fetch_visitor_secret", "info", "lock", "phones", "scan", "unlock"]


def _flags(flags: StateFlags | None) -> str:
    if flags is None:
        return "-"
    return ",".join(f.name.lower() for f in StateFlags if f in flags and f.name) or "-"


@click.command()
@click.option("--for", "seconds", type=click.FloatRange(0.5, 120), default=4.0,
              show_default=True, help="seconds to listen")
@json_option
@pass_app
@command_runner
async def scan(app: App, seconds: float, as_json: bool) -> None:
    """List the locks nearby, strongest first."""
    async with progress("scanning"):
        adverts = await app.backend.scan(timeout=seconds, adapter=app.adapter)
    known = {r.lock_id: r.name for r in app.keystore().locks()}
    rows = [{"lock_id": a.lock_hex, "name": a.name, "address": a.address, "rssi": a.rssi,
             "flags": _flags(a.flags), "paired_as": known.get(a.lock_hex)} for a in adverts]
    emit(as_json, rows, lambda: table(
        [list(r.values()) for r in rows],
        ["lock id", "name", "address", "rssi", "flags", "paired as"],
        empty="no lock found (is one advertising nearby?)"))


@click.command()
@click.argument("lock_name", metavar="LOCK")
@json_option
@pass_app
@command_runner
async def info(app: App, lock_name: str, as_json: bool) -> None:
    """What a lock says about itself (more once paired)."""
    async with connected(app, lock_name) as client:
        assert client.info is not None
        out: dict[str, Any] = {"lock_id": client.info.lock_id.hex().upper(),
                               "address": client.address, "profile": client.info.profile,
                               "flags": _flags(client.info.flags),
                               "protocol_version": client.info.version}
        record = client.record
        if record is not None:
            system = await client.system_info()
            out.update(paired_as=record.name, user=record.user_no, role=record.role,
                       fingerprint=fingerprint_text(client.fingerprint),
                       system=to_json(system))

    def human() -> None:  # the CLI's words: `locked`, not LOCKED (output.word)
        for key, value in out.items():
            if key != "system":
                click.echo(f"{key:17} {word(value)}")
        system = out.get("system")
        if isinstance(system, dict):
            for key in ("model", "serial", "firmware_version", "battery_percent", "state",
                        "users"):
                value = system[key]
                click.echo(f"{key:17} {name_word(value) if key == 'state' else word(value)}")
            counts = ", ".join(f"{c['kind'].lower()} {c['count']}/{c['capacity']}"
                               for c in system["credentials"])
            click.echo(f"{'credentials':17} {counts}")

    emit(as_json, out, human)


async def fetch_visitor_secret(client: LockClient) -> bool:
    """Keep the visitor secret of an admin's lock (visitor codes are made offline)."""
    record = client.record
    if record is None or record.role != "admin":
        return False
    await client.visitor_secret()
    return True


def _paired_json(record: LockRecord) -> dict[str, Any]:
    return {"lock_id": record.lock_id, "name": record.name, "user": record.user_no,
            "role": record.role, "address": record.address}


SETUP_CODE = Secret(option="--code", what="setup code")
QR_TEXT = Secret(option="--qr", what="QR text")


def saved_as(record: LockRecord, name: str | None) -> str:
    """Which name the keystore keeps for the lock, said out loud when the user chose none."""
    if name:
        return f"saved as {record.name!r}"
    return (f"saved as {record.name!r} (no --name given: the default name; use it as LOCK, "
            "or claim/redeem with --name NAME to choose one)")


def check_setup_code(code: str) -> None:
    """Refuse a setup code of the wrong shape here, before any radio: a pairing with it
    would only cost a guess at the lock's limiter (the label's code is 10 digits)."""
    try:
        normal = normalize_code(code)
    except InvalidInputError:
        normal = ""
    if not (normal.isdigit() and len(normal) == SETUP_CODE_DIGITS):
        raise CliError(f"a setup code is {SETUP_CODE_DIGITS} digits (the setup-code line of "
                       f"the lock's label), not {len(code.strip())} characters",
                       hint="nothing was sent to the lock; check the label and try again")


@click.command()
@click.argument("lock_name", metavar="LOCK", required=False)
@SETUP_CODE.options("the setup code from the lock's label")
@click.option("--trust-fingerprint", "--fingerprint", "fingerprint", metavar="FP",
              help="with --code: the lock's key fingerprint from its label (32 hex digits, "
                   "the last field of the QR text); another key fails the pairing")
@click.option("--accept-new-fingerprint", is_flag=True,
              help="with --code: keep whatever key the lock presents, without asking "
                   "(scripts that cannot compare the fingerprint)")
@QR_TEXT.options("the text of the lock's QR code (lock id, code and fingerprint)")
@click.option("--name", help="a name for this lock in the keystore (then usable as LOCK)")
@json_option
@pass_app
@command_runner
async def claim(app: App, lock_name: str | None, code: str | None, code_file: Path | None,
                fingerprint: str | None, accept_new_fingerprint: bool, qr: str | None,
                qr_file: Path | None, name: str | None, as_json: bool) -> None:
    """Claim a factory-fresh lock: this phone becomes its first admin.

    With the setup code alone, the lock's key fingerprint is shown and must be confirmed
    before this phone keeps the key (or pass --trust-fingerprint / --accept-new-fingerprint).
    With --qr, LOCK may be left out: the QR text names the lock.
    Interrupted, it is safe to run again: it completes or starts over.
    """
    pinned = parse_fingerprint(fingerprint, "--trust-fingerprint") if fingerprint else None
    with_code = code is not None or code_file is not None
    if with_code == (qr is not None or qr_file is not None):
        raise CliError("give the setup code (--code) or the QR text (--qr)")
    if lock_name is None and with_code:
        raise click.UsageError("Missing argument 'LOCK' (only --qr names the lock itself)")
    if not with_code and (pinned is not None or accept_new_fingerprint):
        raise CliError("the QR text carries the fingerprint: --trust-fingerprint and "
                       "--accept-new-fingerprint go with --code")
    if pinned is not None and accept_new_fingerprint:
        raise CliError("give --trust-fingerprint or --accept-new-fingerprint, not both")
    ask = with_code and pinned is None and not accept_new_fingerprint
    if ask and not app.can_ask():  # refused before anything reaches the lock
        raise CliError(f"no terminal to confirm the key fingerprint of {lock_name}",
                       code=ErrorCode.INVALID_ARGUMENT,
                       hint="pass --trust-fingerprint FP (the last field of the QR text on "
                            "the lock's label) or --accept-new-fingerprint")
    setup_code = read_secret(app, SETUP_CODE, code, code_file)
    qr_text = read_secret(app, QR_TEXT, qr, qr_file)
    if setup_code is not None:
        check_setup_code(setup_code)
    if qr_text is not None and lock_name is None:
        lock_name = QrPayload.parse(qr_text).lock_id.hex().upper()
    assert lock_name is not None
    hook = step_hook()
    async with connected(app, lock_name) as client:
        if qr_text is not None:
            async with progress("pairing"):
                record = await client.claim_qr(qr_text, name=name, on_step=hook)
        else:
            assert setup_code is not None
            check = FingerprintCheck(lock_hex(client), lock_name) if ask else None
            try:
                # no spinner under the fingerprint question, which comes mid-pairing
                async with progress("pairing") if check is None else nullcontext():
                    record = await client.claim(setup_code, lock_fingerprint=pinned,
                                                name=name, check_key=check, on_step=hook)
            except LockError as exc:
                raise _pin_hint(exc, check) from None
        await fetch_visitor_secret(client)
    out = _paired_json(record) | {
        "fingerprint": fingerprint_text(crypto_fingerprint(record.lock_public_key))}
    emit(as_json, out, lambda: click.echo(
        f"claimed lock {record.lock_id} as user {record.user_no} ({record.role}); "
        f"{saved_as(record, name)}\nkey fingerprint {out['fingerprint']}"))


def _pin_hint(exc: LockError, check: FingerprintCheck | None) -> LockError:
    """A claim that failed after the person confirmed the fingerprint (the lock stopped
    waiting while they compared, the link dropped): the next run need not ask again."""
    if check is None or not check.confirmed or exc.code is ErrorCode.IDENTITY_MISMATCH:
        return exc
    return error_for(exc.code, exc.message, hint=(
        f"claim again; the fingerprint you confirmed can be pinned: --trust-fingerprint "
        f"{check.confirmed[-1]}"))


@click.command()
@click.argument("lock_name", metavar="LOCK")
@json_option
@pass_app
@command_runner
async def unlock(app: App, lock_name: str, as_json: bool) -> None:
    """Open the door (one round trip)."""
    async with paired(app, lock_name) as client:
        user = await client.unlock()
    emit(as_json, {"unlocked": True, "user": user},
         lambda: click.echo(f"unlocked (user {user})"))


@click.command()
@click.argument("lock_name", metavar="LOCK")
@json_option
@pass_app
@command_runner
async def lock(app: App, lock_name: str, as_json: bool) -> None:
    """Throw the bolt."""
    async with paired(app, lock_name) as client:
        await client.lock()
    emit(as_json, {"locked": True}, lambda: click.echo("locked"))


# ---------------------------------------------------------------- admin phones


@click.group()
def phones() -> None:
    # R-APP-3: the app issues Bluetooth keys; admins' phones are keys of admin users
    """Admin phones of a lock: invite one more, list, remove."""


@phones.command("add")
@click.argument("lock_name", metavar="LOCK")
@click.option("--name", default="", help="a new admin's name")
@click.option("--user", "user_number", type=int,
              help="an existing admin's second phone instead of a new admin")
@json_option
@pass_app
@command_runner
async def phones_add(app: App, lock_name: str, name: str, user_number: int | None,
                     as_json: bool) -> None:
    """Invite one more admin phone; the other phone runs `ble-lock key redeem INVITE`."""
    async with paired(app, lock_name) as client:
        invite = await client.enrol_phone(user_number, name=name)
        text = InviteText(lock_id=_id(client), invite_id=invite.invite_id, code=invite.code,
                          fingerprint=client.fingerprint)
    emit(as_json, invite_json(invite, text),
         lambda: show_invite(invite, text, "admin phone", lock_name))


def _id(client: LockClient) -> bytes:
    if client.lock_id is None:
        raise TransportError("not connected", code=ErrorCode.DISCONNECTED)
    return client.lock_id


def key_rows(keys: list[m.CredentialInfo], users: dict[int, m.UserInfo]
             ) -> list[dict[str, Any]]:
    rows = []
    for k in keys:
        user = users.get(k.user_number)
        rows.append({"credential_id": k.credential_id, "user": k.user_number,
                     "name": user.name if user else None,
                     "role": user.role.name.lower() if user else None,
                     "label": k.label, "revoked": k.revoked,
                     "valid_from": k.validity.valid_from, "valid_until": k.validity.valid_until})
    return rows


@phones.command("list")
@click.argument("lock_name", metavar="LOCK")
@json_option
@pass_app
@command_runner
async def phones_list(app: App, lock_name: str, as_json: bool) -> None:
    """The admins' phones (Bluetooth keys of admin users)."""
    async with paired(app, lock_name) as client:
        users = {u.user_number: u for u in await client.list_users()}
        me = record_of(client, lock_name).user_no
        keys = [k for k in await client.list_keys()
                if (u := users.get(k.user_number)) is not None and u.role is m.Role.ADMIN]
    rows = key_rows(keys, users)
    for row in rows:
        row["this_phone_user"] = row["user"] == me
    emit(as_json, rows, lambda: table(
        [[r["credential_id"], r["user"], r["name"], r["label"], r["revoked"],
          r["this_phone_user"]] for r in rows],
        ["credential", "user", "name", "label", "revoked", "mine"]))


@phones.command("remove")
@click.argument("lock_name", metavar="LOCK")
@click.argument("credential_id", type=int)
@pass_app
@command_runner
async def phones_remove(app: App, lock_name: str, credential_id: int) -> None:
    """Remove an admin phone (its key's CREDENTIAL_ID, from `phones list`)."""
    async with paired(app, lock_name) as client:
        await client.revoke_key(credential_id)
    click.echo(f"phone key {credential_id} removed")


def lock_hex(client: LockClient) -> str:
    return lock_key(_id(client))
