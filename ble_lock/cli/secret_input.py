"""Secrets never come from the command line (issue 10 item 6): ``ps`` shows every
process's arguments to every user of the machine, and shell history keeps them.

Each secret (setup code, QR text, invite, PIN, card security code) has an option that
takes no value and asks for it hidden on a terminal (twice for a new PIN), ``-`` to read
one line of stdin, and a companion ``--…-file FILE`` to read the first line of a file.
A secret given as the option's value is **refused** before anything reaches a lock (the
value is never echoed): a warning would still leave it in ``ps`` and the history, and
scripts that worked with it would keep doing so. See docs/cli.md, "Secrets".
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import click

from ble_lock.cli.app import App
from ble_lock.cli.errors import CliError
from ble_lock.cli.output import FC
from ble_lock.core.errors import ErrorCode

__all__ = ["ASK", "STDIN", "Secret", "read_secret"]

#: the value of a secret option given alone (``--pin``): ask on the terminal
ASK = "\x00ask"
#: the value that reads the secret from stdin (``--pin -``)
STDIN = "-"


class Decorator(Protocol):
    """What ``click.option(...)`` returns: a decorator keeping the command's type."""

    def __call__(self, func: FC, /) -> FC: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Secret:
    """One kind of secret a command reads: its option, and how to ask for it."""

    option: str  # "--pin" (or an argument's name: "INVITE")
    what: str  # "PIN", as the prompt and errors name it
    confirm: bool = False  # a new secret: typed twice
    file: str | None = None  # the file option, default ``<option>-file``
    how: str | None = None  # the ways to give it, default from the option names

    @property
    def file_option(self) -> str:
        return self.file or f"{self.option}-file"

    @property
    def dest(self) -> str:
        return self.option.lstrip("-").replace("-", "_")

    def options(self, help_text: str) -> Decorator:
        """The two click options (``--x [-]`` and ``--x-file FILE``) as one decorator."""
        ask = "asks for it (hidden" + (", twice)" if self.confirm else ")")

        def decorate(func: FC) -> FC:
            func = click.option(
                self.file_option, f"{self.dest}_file",
                type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
                help=f"read the {self.what} from the first line of FILE")(func)
            return click.option(
                self.option, self.dest, is_flag=False, flag_value=ASK, default=None,
                metavar="[-]",
                help=f"{help_text}: alone {ask}; '-' reads it from stdin; never the "
                     f"{self.what} itself (ps and shell history show arguments)")(func)

        return decorate

    def usage(self) -> str:
        return self.how or (f"{self.option} alone asks for it, {self.option} - reads it "
                            f"from stdin, {self.file_option} FILE from a file")


def _first_line(text: str, source: str, secret: Secret) -> str:
    lines = text.splitlines()
    value = lines[0].strip() if lines else ""
    if not value:
        raise CliError(f"no {secret.what} in {source}")
    return value


def read_secret(app: App, secret: Secret, value: str | None, path: Path | None) -> str | None:
    """The secret from the prompt, stdin or a file; None if neither option was given.

    A value given on the command line is refused (``INVALID_ARGUMENT``) without being
    repeated in the error line."""
    if value is not None and path is not None:
        raise CliError(f"give {secret.option} or {secret.file_option}, not both")
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"cannot read {secret.file_option} {path}: "
                           f"{getattr(exc, 'strerror', None) or type(exc).__name__}") from None
        return _first_line(text, str(path), secret)
    if value is None:
        return None
    if value == STDIN:
        return _first_line(sys.stdin.readline(), "stdin", secret)
    if value == ASK:
        if not app.can_ask():
            raise CliError(f"no terminal to ask for the {secret.what}",
                           hint=f"use {secret.option} - (stdin) or {secret.file_option} FILE")
        typed: str = click.prompt(secret.what, hide_input=True,
                                  confirmation_prompt=secret.confirm, err=True)
        return _first_line(typed, "the answer", secret)
    raise CliError(f"{secret.option} may not be the {secret.what} itself on the command line "
                   "(other users see it in `ps`, the shell keeps it in its history)",
                   code=ErrorCode.INVALID_ARGUMENT, hint=secret.usage())
