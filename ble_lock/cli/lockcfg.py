"""``events`` (with ``--follow``), ``settings get|set`` and ``sync link|unlink|status``."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import types
import typing
from typing import Any

import click

from ble_lock.central.client import LockClient
from ble_lock.cli.app import App, command_runner, paired, pass_app
from ble_lock.cli.errors import CliError
from ble_lock.cli.output import emit, json_option, table, to_json
from ble_lock.core.errors import ErrorCode
from ble_lock.protocol import messages as m

__all__ = ["events", "settings", "sync"]


def _event_row(r: m.EventRecord) -> list[Any]:
    import datetime as dt

    when = dt.datetime.fromtimestamp(r.at_ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    return [r.seq, when, r.kind.name.lower(), r.user_number,
            r.method.name.lower() if r.method else None, r.duress or None, r.detail or None]


_EVENT_HEADERS = ["seq", "time (utc)", "event", "user", "method", "duress", "detail"]


def _print_event(r: m.EventRecord, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(to_json(r)))
    else:
        click.echo("  ".join("-" if c is None else str(c) for c in _event_row(r)))


async def _follow(client: LockClient, after: int, as_json: bool) -> None:
    """Print new events as the lock pushes (one line each) until interrupted."""
    wake = asyncio.Event()
    client.on_event(lambda _body: wake.set())
    await client.listen()
    while True:
        async for record in client.iter_events(after):
            _print_event(record, as_json)
            after = record.seq
        wake.clear()
        try:
            await asyncio.wait_for(wake.wait(), 30.0)
        except TimeoutError:
            pass  # poll now and then too: a push may race with the page read


@click.command()
@click.argument("lock_name", metavar="LOCK")
@click.option("--since", type=click.IntRange(0), default=0, help="only events after seq N")
@click.option("--follow", "-f", is_flag=True, help="keep printing new events (Ctrl-C stops)")
@json_option
@pass_app
@command_runner
async def events(app: App, lock_name: str, since: int, follow: bool, as_json: bool) -> None:
    """The lock's event log, oldest first (JSON lines with --follow --json)."""
    async with paired(app, lock_name) as client:
        records = await client.events(since)
        if follow:
            for record in records:
                _print_event(record, as_json)
            await _follow(client, records[-1].seq if records else since, as_json)
            return
    emit(as_json, records, lambda: table([_event_row(r) for r in records], _EVENT_HEADERS,
                                         empty="no events"))


# ---------------------------------------------------------------- settings

_FIELDS = {f.name: f for f in dataclasses.fields(m.SettingsSet)}
_HINTS = typing.get_type_hints(m.SettingsSet)


def _base_type(name: str) -> Any:
    hint = _HINTS[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if isinstance(hint, types.UnionType) and args else hint


def parse_setting(item: str) -> tuple[str, Any]:
    """``name=value`` as the typed value of that SettingsSet field."""
    name, sep, raw = item.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or name not in _FIELDS:
        raise CliError(f"{item!r}: expected NAME=VALUE, NAME one of: {', '.join(_FIELDS)}")
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
        choices = (f" ({', '.join(e.name.lower() for e in kind)})"
                   if isinstance(kind, type) and issubclass(kind, enum.Enum) else "")
        raise CliError(f"bad value for {name}: {raw!r}{choices}") from None


@click.group()
def settings() -> None:
    """Modes and settings of a lock."""


def _show_settings(as_json: bool, current: m.LockSettings) -> None:
    data = to_json(current)
    emit(as_json, data, lambda: [click.echo(f"{k:22} {v}") for k, v in data.items()])


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
    changes = dict(parse_setting(item) for item in items)
    async with paired(app, lock_name) as client:
        current = await client.set_settings(m.SettingsSet(**changes))
    _show_settings(as_json, current)


# ---------------------------------------------------------------- sync unlock


@click.group()
def sync() -> None:
    """Sync unlock between two locks (R-SYN-*): link, unlink, status."""


async def _public_key(app: App, lock_name: str) -> tuple[bytes, bytes]:
    async with paired(app, lock_name) as client:
        record = client.record
        assert record is not None and client.lock_id is not None
        return client.lock_id, record.lock_public_key


@sync.command("link")
@click.argument("lock_a", metavar="LOCK_A")
@click.argument("lock_b", metavar="LOCK_B")
@click.option("--window", type=click.IntRange(1, 3600), default=30, show_default=True,
              help="seconds after an unlock of one in which the other opens")
@pass_app
@command_runner
async def sync_link(app: App, lock_a: str, lock_b: str, window: int) -> None:
    """Link two locks both ways: unlocking one from outside opens the other."""
    id_a, key_a = await _public_key(app, lock_a)
    id_b, key_b = await _public_key(app, lock_b)
    if id_a == id_b:
        raise CliError("a lock cannot be linked to itself")
    for name, peer_id, peer_key in ((lock_a, id_b, key_b), (lock_b, id_a, key_a)):
        async with paired(app, name) as client:
            await client.set_settings(m.SettingsSet(sync_unlock=True, sync_window_s=window))
            await client.sync_link(peer_id, peer_key, window)
    click.echo(f"linked {id_a.hex().upper()} <-> {id_b.hex().upper()} (window {window} s)")


@sync.command("unlink")
@click.argument("lock_a", metavar="LOCK_A")
@click.argument("lock_b", metavar="LOCK_B")
@pass_app
@command_runner
async def sync_unlink(app: App, lock_a: str, lock_b: str) -> None:
    """Remove the link between two locks, on both."""
    id_a, _ = await _public_key(app, lock_a)
    id_b, _ = await _public_key(app, lock_b)
    for name, peer in ((lock_a, id_b), (lock_b, id_a)):
        async with paired(app, name) as client:
            await client.sync_unlink(peer)
    click.echo(f"unlinked {id_a.hex().upper()} and {id_b.hex().upper()}")


@sync.command("status")
@click.argument("lock_name", metavar="LOCK")
@json_option
@pass_app
@command_runner
async def sync_status(app: App, lock_name: str, as_json: bool) -> None:
    """Whether sync unlock is on, and the linked locks."""
    async with paired(app, lock_name) as client:
        current = await client.settings()
        links = await client.sync_links()
    out = {"sync_unlock": current.sync_unlock, "window_s": current.sync_window_s,
           "links": [{"peer_lock_id": link.peer_lock_id.hex().upper(),
                      "window_s": link.window_s} for link in links]}

    def human() -> None:
        click.echo(f"sync unlock {'on' if current.sync_unlock else 'off'}, "
                   f"window {current.sync_window_s} s")
        table([[x["peer_lock_id"], x["window_s"]] for x in out["links"]],
              ["linked lock", "window s"], empty="no linked lock")

    emit(as_json, out, human)


_ = ErrorCode
