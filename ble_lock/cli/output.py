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

__all__ = ["FC", "emit", "fmt_time", "json_option", "progress", "qr_lines", "table",
           "to_json"]

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


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, enum.Enum):
        return value.name.lower()
    return str(value)


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


@asynccontextmanager
async def progress(message: str) -> AsyncIterator[None]:
    """A spinner with ``message`` on stderr while the block runs (terminals only)."""
    if not _interactive():
        yield
        return

    async def spin() -> None:
        for frame in itertools.cycle(_FRAMES):
            sys.stderr.write(f"\r{frame} {message}…")
            sys.stderr.flush()
            await asyncio.sleep(0.1)

    import asyncio  # here, not at the top: offline commands (`code one-time`) never load it

    task = asyncio.create_task(spin())
    try:
        yield
    finally:
        task.cancel()
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()
