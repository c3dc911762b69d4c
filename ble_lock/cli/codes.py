"""Visitor codes made offline from the admin's visitor secret (``code one-time|periodic``)
and fetching that secret again (``code fetch-secret``, online).

Making a code needs no Bluetooth: this module imports the keystore and the visitor-code
rules only (tests/cli/test_entry.py checks that ``code one-time`` loads no bleak, bless,
construct or simulator)."""

from __future__ import annotations

import time

import click

from ble_lock.central.keystore import Keystore, lock_key
from ble_lock.central.visitor import one_time_code, periodic_code, stored_secret
from ble_lock.cli.app import (
    App,
    command_runner,
    paired,
    parse_time,
    pass_app,
    resolve_lock,
    run_sync,
)
from ble_lock.cli.output import emit, fmt_time, json_option
from ble_lock.core.errors import ErrorCode, PermissionDeniedError, TransportError
from ble_lock.core.rules.visitor import parse_visitor_code

__all__ = ["code"]


def _offline_lock(keystore: Keystore, lock_name: str) -> bytes:
    """The lock id of LOCK from the keystore alone (visitor codes need no connection)."""
    target = resolve_lock(lock_name, keystore, paired_only=True)
    if target.lock_id is not None:
        return target.lock_id
    for record in keystore.locks():
        if record.address is not None and record.address.upper() == target.address:
            return bytes.fromhex(record.lock_id)
    raise TransportError(f"this phone is not paired with {lock_name}", code=ErrorCode.NOT_PAIRED)


def _secret(keystore: Keystore, lock_name: str) -> tuple[str, bytes]:
    lock_id = _offline_lock(keystore, lock_name)
    record = keystore.get(lock_key(lock_id))
    if record is None:
        raise TransportError(f"this phone is not paired with lock {lock_key(lock_id)}",
                             code=ErrorCode.NOT_PAIRED)
    if record.visitor_secret is None:
        raise PermissionDeniedError(
            f"no visitor secret for lock {record.lock_id}", code=ErrorCode.PERMISSION_DENIED,
            hint="admins fetch it with `ble-lock code fetch-secret LOCK` (online, once)")
    return record.lock_id, stored_secret(keystore, lock_id)
@click.group()
def code() -> None:
    # R-APP-4: one-time or periodic visitor passwords, made while the lock is offline
    """Visitor passwords, made offline: one-time or periodic."""


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
