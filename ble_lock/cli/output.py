"""Output for people and for scripts: tables, ``--json``, QR codes in the terminal, and a
spinner on stderr (only on a terminal) while scanning, connecting and enrolling."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import itertools
import json
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import click

__all__ = ["FC", "Columns", "Spinner", "emit", "fmt_time", "json_option", "name_word",
           "progress", "qr_lines", "table", "to_json", "word"]

FC = TypeVar("FC", bound=Callable[..., Any])
_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def json_option(func: FC) -> FC:
    """``--json``: print one JSON document (or one per line with ``--follow``)."""
    return click.option("--json", "as_json", is_flag=True,
                        help="machine-readable JSON on stdout")(func)


def to_json(value: Any) -> Any:
    """Records as JSON: enums by name, bytes as upper-case hex; fields kept out of
    ``repr`` (secrets) are left out."""
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, bytes):
        return value.hex().upper()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name))
                for f in dataclasses.fields(value) if f.repr}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(v) for v in value]
    return value


def emit(as_json: bool, data: Any, human: Callable[[], None]) -> None:
    """Print ``data`` as JSON, or call ``human`` to print it for people."""
    if as_json:
        click.echo(json.dumps(to_json(data), indent=2, sort_keys=False))
    else:
        human()


def word(value: Any) -> str:
    """One value for people, in the words ``settings set`` takes back: on/off for a
    switch, ``none`` for nothing, enum names in lower case with hyphens (``zh-tw``),
    lists joined with commas. ``settings get``, ``panel status`` and tables share it."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, enum.Enum):
        return value.name.lower().replace("_", "-")
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(word(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k} {word(v)}" for k, v in value.items())
    return str(value)


def name_word(name: str) -> str:
    """An enum name as received in JSON (``FACTORY_FRESH``) in the same words."""
    return name.lower().replace("_", "-")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return word(value)


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str], *,
          empty: str = "(none)") -> None:
    """A plain aligned table on stdout."""
    cells = [[_cell(v) for v in row] for row in rows]
    if not cells:
        click.echo(empty)
        return
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    click.echo("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))
               .rstrip())
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


class Columns:
    """Fixed-width columns for rows printed one at a time (``events --follow``), where a
    :func:`table` cannot measure every row first. The header is printed once, before the
    first row; the last column takes the rest of the line."""

    def __init__(self, headers: Sequence[str], widths: Sequence[int]) -> None:
        if len(widths) != len(headers) - 1:
            raise ValueError("one width per column but the last")
        self.headers = [h.upper() for h in headers]
        self.widths = list(widths)
        self._started = False

    def line(self, row: Sequence[Any]) -> str:
        """One row as text (cells wider than their column push the rest right)."""
        cells = [_cell(v) for v in row]
        head = "  ".join(c.ljust(w) for c, w in zip(cells, self.widths, strict=False))
        return f"{head}  {cells[-1]}".rstrip()

    def header(self) -> str:
        return self.line(self.headers)

    def start(self) -> None:
        """Print the header, once."""
        if not self._started:
            click.echo(self.header())
            self._started = True

    def echo(self, row: Sequence[Any]) -> None:
        """Print ``row`` (and the header before the first)."""
        self.start()
        click.echo(self.line(row))

    def table(self, rows: Iterable[Sequence[Any]], *, empty: str = "(none)") -> None:
        """Every row of a finished listing, in the same columns."""
        any_row = False
        for row in rows:
            self.echo(row)
            any_row = True
        if not any_row:
            click.echo(empty)


def fmt_time(seconds: float | None) -> str:
    """Unix seconds as local ``YYYY-MM-DD HH:MM`` (``-`` for None)."""
    if seconds is None:
        return "-"
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def qr_lines(text: str) -> list[str]:
    """``text`` as a QR code in terminal characters (two modules per character)."""
    import io

    import segno

    out = io.StringIO()
    segno.make(text, error="m").terminal(out=out, compact=True, border=2)
    return out.getvalue().rstrip("\n").splitlines()


def _interactive() -> bool:
    return sys.stderr.isatty()


class Spinner:
    """The handle :func:`progress` yields: :meth:`echo` prints a line to stdout without
    leaving the spinner's text behind on a terminal (the spinner line is cleared first
    and redrawn on its next turn)."""

    def __init__(self, message: str, active: bool) -> None:
        self.message = message
        self.active = active

    def clear(self) -> None:
        if self.active:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()

    def echo(self, text: str) -> None:
        """Print ``text`` on its own line, above the spinner."""
        self.clear()
        click.echo(text)


@asynccontextmanager
async def progress(message: str) -> AsyncIterator[Spinner]:
    """A spinner with ``message`` on stderr while the block runs (terminals only)."""
    spinner = Spinner(message, _interactive())
    if not spinner.active:
        yield spinner
        return

    async def spin() -> None:
        for frame in itertools.cycle(_FRAMES):
            sys.stderr.write(f"\r\033[K{frame} {spinner.message}…")
            sys.stderr.flush()
            await asyncio.sleep(0.1)

    import asyncio  # here, not at the top: offline commands (`code one-time`) never load it

    task = asyncio.create_task(spin())
    try:
        yield spinner
    finally:
        task.cancel()
        spinner.clear()
