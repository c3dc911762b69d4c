"""``events`` (with ``--follow``), ``settings get|set`` and ``sync link|unlink|status``."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import difflib
import enum
import json
import logging
import types
import typing
from typing import Any

import click

from ble_lock.central.client import LockClient
from ble_lock.central.linkkeeper import LinkLostError
from ble_lock.central.sync import (
    COUNTDOWN_RANGE_S,
    DEFAULT_COUNTDOWN_S,
    DEFAULT_WINDOW_S,
    SyncRelay,
    describe_event,
    link_locks,
    sync_status,
    unlink_locks,
)
from ble_lock.cli.app import App, command_runner, paired, pass_app, resolve_lock
from ble_lock.cli.errors import CliError
from ble_lock.cli.output import Columns, emit, json_option, table, to_json, word
from ble_lock.core.errors import ErrorCode, StateError, TransportError, code_of
from ble_lock.core.profile import PROFILES, Feature
from ble_lock.wire import messages as m

__all__ = ["events", "settings", "sync"]


def _event_row(r: m.EventRecord) -> list[Any]:
    import datetime as dt

    when = dt.datetime.fromtimestamp(r.at_ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    what = describe_event(r) + (" (duress)" if r.duress else "")
    return [r.seq, when, what]


def _event_columns() -> Columns:
    """The one column layout of ``events`` and ``events --follow`` (header once)."""
    return Columns(["seq", "time (utc)", "event"], [6, 19])


def event_json(r: m.EventRecord) -> dict[str, Any]:
    """An event as JSON: enums by name, ``reason`` too (the ErrorCode's name; a number
    this version does not know stays a number)."""
    data: dict[str, Any] = to_json(r)
    if r.reason is not None:
        known = code_of(r.reason)
        data["reason"] = known.name if known is not None else r.reason
    return data


def _print_event(r: m.EventRecord, as_json: bool, columns: Columns) -> None:
    if as_json:
        click.echo(json.dumps(event_json(r)))
    else:
        columns.echo(_event_row(r))


_AWAY = frozenset({ErrorCode.DISCONNECTED, ErrorCode.TIMEOUT, ErrorCode.CONNECTION_FAILED,
                   ErrorCode.LOCK_NOT_FOUND})
"""Failures that mean "the lock went away" to ``events --follow``: it waits for the lock."""


_RETRY_PAUSE_S = 1.0
_log = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True)
class _Cursor:
    """The seq of the last event printed: nothing at or below it is printed again."""

    seq: int


async def _follow(app: App, lock_name: str, cursor: _Cursor, as_json: bool,
                  columns: Columns) -> None:
    """Print the log after the cursor, then each event as the lock logs it, until
    interrupted. A lock that goes away (switched off, out of range, its emulator stopped
    or restarted) is waited for and followed again, like ``tail -F``: one note on stderr
    each way, and no event printed twice (the cursor is the last seq printed)."""
    connected_once = False
    while True:
        try:
            async with paired(app, lock_name) as client:
                if connected_once:
                    click.echo("reconnected", err=True)
                connected_once = True
                await _stream(client, cursor, as_json, columns)
        except TransportError as exc:
            if not connected_once or exc.code not in _AWAY:
                raise
            _log.info("events --follow: %s", exc.message)  # -v tells why
            if exc.code in (ErrorCode.DISCONNECTED, ErrorCode.TIMEOUT):  # not a failed retry
                click.echo("lock went away, reconnecting…", err=True)
            else:  # found but not connected: not at once again (a scan paces the others)
                await asyncio.sleep(_RETRY_PAUSE_S)


async def _stream(client: LockClient, cursor: _Cursor, as_json: bool,
                  columns: Columns) -> None:
    """Follow one connection: returns never, raises ``LinkLostError`` when the lock goes."""
    wake = asyncio.Event()
    lost: list[LinkLostError] = []

    def on_lost(error: LinkLostError) -> None:
        lost.append(error)
        wake.set()

    client.on_event(lambda _body: wake.set())
    client.on_link_lost(on_lost)
    await client.listen()
    while True:
        async for record in client.iter_events(cursor.seq):
            _print_event(record, as_json, columns)
            cursor.seq = record.seq
        if lost:
            raise lost[0]
        wake.clear()
        # poll now and then too: a push may race with the page read
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), 30.0)
        if lost:
            raise lost[0]


@click.command()
@click.argument("lock_name", metavar="LOCK")
@click.option("--since", type=click.IntRange(0), default=0, help="only events after seq N")
@click.option("--follow", "-f", is_flag=True, help="keep printing new events (Ctrl-C stops)")
@json_option
@pass_app
@command_runner
async def events(app: App, lock_name: str, since: int, follow: bool, as_json: bool) -> None:
    """The lock's event log, oldest first (JSON lines with --follow --json).

    With --follow it waits for a lock that goes away and follows it again (notes on
    stderr), printing every event once."""
    if follow:
        columns = _event_columns()
        if not as_json:
            columns.start()  # the header now, even before the first event
        await _follow(app, lock_name, _Cursor(since), as_json, columns)
        return
    async with paired(app, lock_name) as client:
        records = await client.events(since)
    emit(as_json, [event_json(r) for r in records],
         lambda: _event_columns().table([_event_row(r) for r in records], empty="no events"))


# ---------------------------------------------------------------- settings

_FIELDS = {f.name: f for f in dataclasses.fields(m.SettingsSet)}
_HINTS = typing.get_type_hints(m.SettingsSet)


def _base_type(name: str) -> Any:
    hint = _HINTS[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if typing.get_origin(hint) in (typing.Union, types.UnionType) and args else hint


def _usage(message: str) -> click.BadParameter:
    """A NAME=VALUE mistake: a usage error (exit 2), found before any radio."""
    return click.BadParameter(message, ctx=click.get_current_context(silent=True),
                              param_hint="'NAME=VALUE'")


def _did_you_mean(word_: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word_, choices, n=1, cutoff=0.6)
    return f"did you mean {close[0]}? " if close else ""


def parse_setting(item: str) -> tuple[str, Any]:
    """``name=value`` as the typed value of that SettingsSet field; a mistake is a usage
    error (exit 2) that suggests the closest name or lists the values."""
    name, sep, raw = item.partition("=")
    name = name.strip().replace("-", "_")
    if not sep:
        raise _usage(f"{item!r} is not NAME=VALUE ({_did_you_mean(name, list(_FIELDS))}"
                     f"NAME one of: {', '.join(_FIELDS)})")
    if name not in _FIELDS:
        raise _usage(f"no setting {name!r}: {_did_you_mean(name, list(_FIELDS))}"
                     f"(NAME one of: {', '.join(_FIELDS)})")
    kind = _base_type(name)
    raw = raw.strip()
    try:
        if kind is bool:
            if raw.lower() not in ("on", "off", "true", "false", "1", "0", "yes", "no"):
                raise ValueError(raw)
            return name, raw.lower() in ("on", "true", "1", "yes")
        if kind is int:
            return name, int(raw)
        if isinstance(kind, type) and issubclass(kind, enum.Enum):
            return name, kind[raw.upper().replace("-", "_")]
        return name, raw
    except (ValueError, KeyError):
        if kind is bool:
            choices = " (on, off)"
        elif isinstance(kind, type) and issubclass(kind, enum.Enum):
            choices = f" ({', '.join(word(e) for e in kind)})"
        else:
            choices = " (a whole number)" if kind is int else ""
        raise _usage(f"bad value for {name}: {raw!r}{choices}") from None


@click.group()
def settings() -> None:
    """Modes and settings of a lock."""


def _show_settings(as_json: bool, current: m.LockSettings) -> None:
    data = to_json(current)

    def human() -> None:  # the words `settings set` takes: on/off, left, zh-tw
        for f in dataclasses.fields(current):
            click.echo(f"{f.name:22} {word(getattr(current, f.name))}")

    emit(as_json, data, human)


@settings.command("get")
@click.argument("lock_name", metavar="LOCK")
@json_option
@pass_app
@command_runner
async def settings_get(app: App, lock_name: str, as_json: bool) -> None:
    """Every setting."""
    async with paired(app, lock_name) as client:
        current = await client.settings()
    _show_settings(as_json, current)


@settings.command("set")
@click.argument("lock_name", metavar="LOCK")
@click.argument("items", nargs=-1, required=True, metavar="NAME=VALUE...")
@json_option
@pass_app
@command_runner
async def settings_set(app: App, lock_name: str, items: tuple[str, ...], as_json: bool) -> None:
    """Change settings: `privacy_mode=on volume=2 lockout_enabled=off` (admins)."""
    changes = dict(parse_setting(item) for item in items)  # before any radio
    async with paired(app, lock_name) as client:
        current = await client.set_settings(m.SettingsSet(**changes))
    _show_settings(as_json, current)


# ---------------------------------------------------------------- sync unlock


@click.group()
def sync() -> None:
    # R-SYN-1..4
    """Sync unlock between two locks: link, unlink, status, relay."""


def _model(client: LockClient) -> str:
    return client.info.profile if client.info is not None else "?"


def _has_sync(client: LockClient) -> bool:
    """Whether the lock's model has sync unlock (R-SYN-*); a model this CLI does not know
    (a custom profile) is left to the lock to refuse."""
    profile = PROFILES.get(_model(client))
    return profile is None or profile.has(Feature.SYNC_UNLOCK)


def _require_sync(client: LockClient, lock_name: str) -> None:
    if not _has_sync(client):
        raise StateError(f"lock {lock_name} ({_model(client).upper()}) does not support sync "
                       "unlock", code=ErrorCode.UNSUPPORTED_BY_PROFILE,
                       hint="sync unlock links two locks of a model that has it (face-palm)")


@sync.command("link")
@click.argument("lock_a", metavar="LOCK_A")
@click.argument("lock_b", metavar="LOCK_B")
@click.option("--window", type=click.IntRange(1, 3600), default=DEFAULT_WINDOW_S,
              show_default=True, help="seconds after an unlock of one in which the other opens")
@click.option("--countdown", type=click.IntRange(*COUNTDOWN_RANGE_S),
              default=int(DEFAULT_COUNTDOWN_S), show_default=True,
              help="seconds to confirm at door B (the lock accepts 10-300)")
@pass_app
@command_runner
async def sync_link(app: App, lock_a: str, lock_b: str, window: int, countdown: int) -> None:
    # R-SYN-1 (link, confirmed at door B within a countdown), R-SYN-2
    """Link two locks: an outside unlock of either opens the other.

    Confirm at door B: unlock it with an admin credential (PIN, fingerprint, card, face,
    palm) before the countdown ends.
    """
    ks = app.keystore()
    async with paired(app, lock_a, keystore=ks) as a, paired(app, lock_b, keystore=ks) as b:
        _require_sync(a, lock_a)
        _require_sync(b, lock_b)
        result = await link_locks(a, b, window_s=window, countdown_s=countdown, on_countdown=(
            lambda s: click.echo(f"now unlock {lock_b} at the door with an admin credential "
                                 f"(PIN, fingerprint, card, face or palm) within {s:g} s")))
    click.echo(f"linked {result.lock_a.hex().upper()} <-> {result.lock_b.hex().upper()} "
               f"(window {result.window_s} s, confirmed by user {result.confirmed_by})")


@sync.command("unlink")
@click.argument("lock_a", metavar="LOCK_A")
@click.argument("lock_b", metavar="LOCK_B")
@click.option("--one-side", is_flag=True,
              help="only on LOCK_A (LOCK_B out of reach: its lock id or keystore name); "
                   "either side alone stops both directions")
@pass_app
@command_runner
async def sync_unlink(app: App, lock_a: str, lock_b: str, one_side: bool) -> None:
    """Remove the link between two locks, on both (or --one-side)."""
    ks = app.keystore()
    if one_side:
        peer = resolve_lock(lock_b, ks).lock_id
        if peer is None:
            raise CliError(f"--one-side needs LOCK_B as a lock id or a keystore name, not "
                           f"{lock_b!r}")
        async with paired(app, lock_a, keystore=ks) as a:
            removed = await unlink_locks(a, peer_lock_id=peer)
    else:
        async with paired(app, lock_a, keystore=ks) as a, \
                paired(app, lock_b, keystore=ks) as b:
            removed = await unlink_locks(a, b)
    click.echo(f"unlinked {lock_a} and {lock_b} ({removed} side(s) removed a link)")


@sync.command("status")
@click.argument("lock_name", metavar="LOCK")
@json_option
@pass_app
@command_runner
async def sync_status_cmd(app: App, lock_name: str, as_json: bool) -> None:
    """Whether sync unlock is on, its window, and the linked locks."""
    async with paired(app, lock_name) as client:
        model = _model(client)
        if not _has_sync(client):
            assert client.lock_id is not None
            out: dict[str, Any] = {
                "lock_id": client.lock_id.hex().upper(), "model": model, "supported": False,
                "sync_unlock": None, "window_s": None, "links": []}
            emit(as_json, out, lambda: click.echo(
                f"sync unlock not supported by this model ({model.upper()})"))
            return
        status = await sync_status(client)
    links = [{"peer_lock_id": link.peer_lock_id.hex().upper(), "window_s": link.window_s}
             for link in status.links]
    out = {"lock_id": status.lock_id.hex().upper(), "model": model, "supported": True,
           "sync_unlock": status.enabled, "window_s": status.window_s, "links": links}

    def human() -> None:
        click.echo(f"sync unlock {'on' if status.enabled else 'off'}, "
                   f"window {status.window_s} s")
        table([[x["peer_lock_id"], x["window_s"]] for x in links],
              ["linked lock", "window s"], empty="no linked lock")

    emit(as_json, out, human)


@sync.command("relay")
@click.argument("locks", nargs=-1, required=True, metavar="LOCK...")
@pass_app
@command_runner
async def sync_relay(app: App, locks: tuple[str, ...]) -> None:
    """Stay connected to LOCKs and relay their sync statements (Ctrl-C stops)."""
    ks = app.keystore()
    async with contextlib.AsyncExitStack() as stack:
        clients = {}
        for name in locks:
            client = await stack.enter_async_context(paired(app, name, keystore=ks))
            assert client.lock_id is not None
            clients[client.lock_id] = client
        relay = SyncRelay(clients)
        await relay.start()
        click.echo(f"relaying sync statements between {len(clients)} locks (Ctrl-C stops)")
        seen = 0
        try:
            while True:
                await asyncio.sleep(0.2)
                for target, outcome in relay.results[seen:]:
                    click.echo(f"statement for {target.hex().upper()}: "
                               f"{'opened' if outcome is None else outcome.name}")
                seen = len(relay.results)
        finally:
            await relay.stop()
