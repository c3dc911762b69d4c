"""Bluetooth keys for guests (``key issue|redeem|list|revoke``) and visitor codes made
offline from the admin's visitor secret (``code one-time|periodic|secret``)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ble_lock.central.engine import lock_key
from ble_lock.central.keystore import Keystore
from ble_lock.central.visitor import one_time_code, periodic_code, stored_secret
from ble_lock.cli.app import (
    App,
    command_runner,
    connected,
    paired,
    pass_app,
    resolve_lock,
    run_sync,
)
from ble_lock.cli.door import fetch_visitor_secret, key_rows, lock_hex
from ble_lock.cli.errors import CliError
from ble_lock.cli.invites import InviteText, invite_json, show_invite
from ble_lock.cli.output import emit, fmt_time, json_option, progress, table
from ble_lock.cli.people import parse_time
from ble_lock.cli.secret_input import ASK, Secret, read_secret
from ble_lock.cli.trust import step_hook
from ble_lock.core.errors import ErrorCode, PermissionDeniedError, TransportError
from ble_lock.core.rules.visitor import parse_visitor_code
from ble_lock.wire import messages as m

__all__ = ["code", "key"]


@click.group()
def key() -> None:
    """Bluetooth keys for guests: issue (an invite), redeem, list, revoke."""


@key.command("issue")
@click.argument("lock_name", metavar="LOCK")
@click.option("--user", "user_number", type=int, help="a key for this existing user")
@click.option("--name", default="", help="or a key for a new user NAME")
@click.option("--expires", help="the invite expires (unix s or ISO time; default the lock's)")
@click.option("--from", "valid_from", help="the key is valid from (unix s or ISO time)")
@click.option("--until", "valid_until", help="the key is valid until (unix s or ISO time)")
@json_option
@pass_app
@command_runner
async def key_issue(app: App, lock_name: str, user_number: int | None, name: str,
                    expires: str | None, valid_from: str | None, valid_until: str | None,
                    as_json: bool) -> None:
    """Issue a Bluetooth key: prints the invite (text and QR) for the guest's phone."""
    if user_number is None and not name:
        raise CliError("give --user USER (an existing user) or --name NAME (a new one)")
    validity = m.Validity(valid_from=parse_time(valid_from) if valid_from else None,
                          valid_until=parse_time(valid_until) if valid_until else None)
    async with paired(app, lock_name) as client:
        invite = await client.issue_key(user_number, name=name,
                                        expires_at=parse_time(expires) if expires else None,
                                        validity=validity)
        text = InviteText(lock_id=bytes.fromhex(lock_hex(client)), invite_id=invite.invite_id,
                          code=invite.code, fingerprint=client.fingerprint)
    emit(as_json, invite_json(invite, text), lambda: show_invite(invite, text, "Bluetooth key"))


INVITE = Secret(option="INVITE", what="invite", file="--invite-file",
                how="`ble-lock key redeem` asks for it (paste it), `ble-lock key redeem -` "
                    "reads it from stdin, --invite-file FILE from a file")


@key.command("redeem")
@click.argument("invite_arg", metavar="[-]", required=False)
@click.option("--invite-file", type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE", help="read the invite from the first line of FILE")
@click.option("--lock", "lock_name", help="LOCK, if not found by its lock id")
@click.option("--name", help="a name for this lock in the keystore")
@json_option
@pass_app
@command_runner
async def key_redeem(app: App, invite_arg: str | None, invite_file: Path | None,
                     lock_name: str | None, name: str | None, as_json: bool) -> None:
    """Redeem an invite (a Bluetooth key or an admin phone) on this phone.

    The invite (BLEKEY1:...) holds a secret code: it is asked for (hidden), read from
    stdin with '-', or from --invite-file; never given as an argument. Interrupted, it is
    safe to run again: it completes or starts over.
    """
    asked = ASK if invite_arg is None and invite_file is None else invite_arg
    invite_text = read_secret(app, INVITE, asked, invite_file)
    assert invite_text is not None
    invite = InviteText.parse(invite_text)
    async with (connected(app, lock_name or invite.lock_id.hex().upper()) as client,
                progress("pairing")):
        record = await client.redeem(invite.invite_id, invite.code,
                                     lock_fingerprint=invite.fingerprint, name=name,
                                     on_step=step_hook())
        await fetch_visitor_secret(client)
    out = {"lock_id": record.lock_id, "name": record.name, "user": record.user_no,
           "role": record.role}
    emit(as_json, out, lambda: click.echo(
        f"paired with lock {record.lock_id} as user {record.user_no} ({record.role}); "
        f"saved as {record.name!r}"))


@key.command("list")
@click.argument("lock_name", metavar="LOCK")
@json_option
@pass_app
@command_runner
async def key_list(app: App, lock_name: str, as_json: bool) -> None:
    """Bluetooth keys and pending invites."""
    async with paired(app, lock_name) as client:
        users = {u.user_number: u for u in await client.list_users()}
        keys = await client.list_keys()
        invites = await client.list_invites()
    rows = key_rows(keys, users)

    def human() -> None:
        table([[r["credential_id"], r["user"], r["name"], r["role"], r["revoked"],
                fmt_time(r["valid_until"])] for r in rows],
              ["key", "user", "name", "role", "revoked", "until"], empty="no keys")
        if invites:
            click.echo("pending invites:")
            table([[i.invite_id, i.user_number, fmt_time(i.expires_at)] for i in invites],
                  ["invite", "user", "expires"])

    emit(as_json, {"keys": rows, "invites": invites}, human)


@key.command("revoke")
@click.argument("lock_name", metavar="LOCK")
@click.argument("credential_id", type=int, metavar="KEY")
@pass_app
@command_runner
async def key_revoke(app: App, lock_name: str, credential_id: int) -> None:
    """Revoke a Bluetooth key (KEY: its id from `key list`); that phone is denied."""
    async with paired(app, lock_name) as client:
        await client.revoke_key(credential_id)
    click.echo(f"key {credential_id} revoked")


# ---------------------------------------------------------------- visitor codes


def _offline_lock(keystore: Keystore, lock_name: str) -> bytes:
    """The lock id of LOCK from the keystore alone (visitor codes need no connection)."""
    target = resolve_lock(lock_name, keystore)
    if target.lock_id is not None:
        return target.lock_id
    for record in keystore.locks():
        if lock_name in (record.name, f"BLELOCK-{record.lock_id}", record.address):
            return bytes.fromhex(record.lock_id)
    raise TransportError(f"this phone is not paired with {lock_name}", code=ErrorCode.NOT_PAIRED)


def _secret(keystore: Keystore, lock_name: str) -> tuple[str, bytes]:
    lock_id = _offline_lock(keystore, lock_name)
    record = keystore.get(lock_key(lock_id))
    if record is None:
        raise TransportError(f"this phone is not paired with lock {lock_key(lock_id)}",
                       code=ErrorCode.NOT_PAIRED)
    if record.visitor_secret is None:
        raise PermissionDeniedError(f"no visitor secret for lock {record.lock_id}",
                       code=ErrorCode.PERMISSION_DENIED,
                       hint="admins fetch it with `ble-lock code fetch-secret LOCK` (online, once)")
    return record.lock_id, stored_secret(keystore, lock_id)


@click.group()
def code() -> None:
    """Visitor passwords, made offline (R-APP-4): one-time or periodic."""


def _show_code(as_json: bool, lock_id: str, digits: str, secret: bytes) -> None:
    grant = parse_visitor_code(secret, digits)
    assert grant is not None
    out = {"lock_id": lock_id, "code": digits, "kind": grant.kind.name.lower().replace("_", "-"),
           "valid_from": grant.valid_from, "valid_until": grant.valid_until}
    emit(as_json, out, lambda: click.echo(
        f"{out['kind']} visitor code {digits} for lock {lock_id}: valid "
        f"{fmt_time(grant.valid_from)} .. {fmt_time(grant.valid_until)}; type it and #"))


@code.command("one-time")
@click.argument("lock_name", metavar="LOCK")
@click.option("--at", "at", help="issue time (unix s or ISO; default now: use the lock's time)")
@click.option("--nonce", type=click.IntRange(0, 31), help="0..31 (default random)")
@json_option
@pass_app
def code_one_time(app: App, lock_name: str, at: str | None, nonce: int | None,
                  as_json: bool) -> None:
    """A code that opens once within 6 hours."""
    def make() -> None:
        lock_id, secret = _secret(app.keystore(), lock_name)
        now = parse_time(at) if at is not None else time.time()
        digits = one_time_code(app.keystore(), bytes.fromhex(lock_id), now=now, nonce=nonce)
        _show_code(as_json, lock_id, digits, secret)

    run_sync(app, make)


@code.command("periodic")
@click.argument("lock_name", metavar="LOCK")
@click.option("--from", "valid_from", required=True, help="start (unix s or ISO time)")
@click.option("--until", "valid_until", required=True, help="end (unix s or ISO time)")
@json_option
@pass_app
def code_periodic(app: App, lock_name: str, valid_from: str, valid_until: str,
                  as_json: bool) -> None:
    """A reusable code for a window (1 hour up to 863 days)."""
    def make() -> None:
        lock_id, secret = _secret(app.keystore(), lock_name)
        digits = periodic_code(app.keystore(), bytes.fromhex(lock_id),
                               valid_from=parse_time(valid_from),
                               valid_until=parse_time(valid_until))
        _show_code(as_json, lock_id, digits, secret)

    run_sync(app, make)


@code.command("fetch-secret")
@click.argument("lock_name", metavar="LOCK")
@pass_app
@command_runner
async def code_secret(app: App, lock_name: str) -> None:
    """Fetch (again) the lock's visitor secret into the keystore (admins; online)."""
    async with paired(app, lock_name) as client:
        await client.visitor_secret()
    click.echo("visitor secret stored; codes can now be made offline")
