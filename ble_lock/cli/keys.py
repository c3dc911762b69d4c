"""Bluetooth keys for guests (``key issue|redeem|list|revoke``); visitor codes are in
:mod:`ble_lock.cli.codes`."""

from __future__ import annotations

from pathlib import Path

import click

from ble_lock.cli.app import (
    App,
    command_runner,
    connected,
    paired,
    pass_app,
)
from ble_lock.cli.door import fetch_visitor_secret, key_rows, lock_hex, saved_as
from ble_lock.cli.errors import CliError
from ble_lock.cli.invites import InviteText, invite_json, show_invite
from ble_lock.cli.output import emit, fmt_time, json_option, progress, table
from ble_lock.cli.people import parse_time
from ble_lock.cli.secret_input import ASK, Secret, read_secret
from ble_lock.cli.trust import step_hook
from ble_lock.wire import messages as m

__all__ = ["key"]


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
    emit(as_json, invite_json(invite, text),
         lambda: show_invite(invite, text, "Bluetooth key", lock_name))


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
        f"{saved_as(record, name)}"))


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
@click.argument("credential_id", type=int, metavar="[KEY]", required=False)
@click.option("--invite", "invite_id", type=int, metavar="N",
              help="withdraw pending invite N instead (the number `key issue` printed)")
@pass_app
@command_runner
async def key_revoke(app: App, lock_name: str, credential_id: int | None,
                     invite_id: int | None) -> None:
    """Revoke a Bluetooth key (KEY: the key number from `key list`); that phone is denied.

    An invite not yet redeemed has an invite number, not a key number: withdraw it with
    --invite N.
    """
    if (credential_id is None) == (invite_id is None):
        raise click.UsageError("give KEY (a key number from `key list`) or --invite N "
                               "(an invite number from `key issue`)")
    async with paired(app, lock_name) as client:
        if invite_id is not None:
            await client.cancel_invite(invite_id)
        else:
            assert credential_id is not None
            await client.revoke_key(credential_id)
    click.echo(f"invite {invite_id} withdrawn" if invite_id is not None
               else f"key {credential_id} revoked")

