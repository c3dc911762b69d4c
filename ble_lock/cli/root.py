"""The ``ble-lock`` group: global options, and the subcommands loaded lazily.

Every subcommand lives in its own module and is imported only when it runs (or its own
``--help`` is asked for): ``ble-lock --help`` imports click and this module, ``ble-lock code
one-time`` the keystore and the visitor-code rules, never bleak, bless, construct or the
simulator (tests/cli/test_entry.py counts the modules; ``bench/cli.py`` times it). The
top-level help lists each command's short help from :data:`COMMANDS`, declared here beside
the module that holds the command (a test checks it against the command's docstring).

Interrupts and pipes: a Ctrl-C inside a command ends it with exit status 130 (its
``finally`` blocks run: the client closes, a claim finishes or rolls back), and output to a
closed pipe (``ble-lock events door | head -2``) ends it quietly with 141 (128 + SIGPIPE, as
a shell reports a process killed by SIGPIPE); see :func:`ble_lock.cli.entry` for a Ctrl-C
during start-up.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ble_lock import __version__
from ble_lock.cli.signals import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, silence_closed_pipes

__all__ = ["COMMANDS", "LazyCommand", "LazyGroup", "main"]


@dataclass(frozen=True, slots=True)
class LazyCommand:
    """Where a subcommand lives (``"module:attribute"``) and its one-line help."""

    target: str
    short_help: str

    def load(self) -> click.Command:
        """Import the module and return the command."""
        module_name, _, attribute = self.target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.target} is not a click command")
        return command


#: name -> where it lives and its short help (the first sentence of its docstring).
COMMANDS: Mapping[str, LazyCommand] = {
    "emulate": LazyCommand("ble_lock.cli.emulate:emulate",
                           "Run a lock on this machine's Bluetooth adapter until Ctrl-C."),
    "panel": LazyCommand("ble_lock.cli.emulate:panel",
                         "Drive a running emulator's front panel; prints what the lock says."),
    "scan": LazyCommand("ble_lock.cli.door:scan", "List the locks nearby, strongest first."),
    "info": LazyCommand("ble_lock.cli.door:info",
                        "What a lock says about itself (more once paired)."),
    "claim": LazyCommand("ble_lock.cli.door:claim",
                         "Claim a factory-fresh lock: this phone becomes its first admin."),
    "phones": LazyCommand("ble_lock.cli.door:phones",
                          "Admin phones of a lock: invite one more, list, remove."),
    "unlock": LazyCommand("ble_lock.cli.door:unlock", "Open the door (one round trip)."),
    "lock": LazyCommand("ble_lock.cli.door:lock", "Throw the bolt."),
    "users": LazyCommand("ble_lock.cli.people:users",
                         "Users of a lock: list, add, update, remove."),
    "credentials": LazyCommand("ble_lock.cli.people:credentials",
                               "Credentials: PINs, cards, fingerprints, faces, palms."),
    "key": LazyCommand("ble_lock.cli.keys:key",
                       "Bluetooth keys for guests: issue (an invite), redeem, list, revoke."),
    "code": LazyCommand("ble_lock.cli.codes:code",
                        "Visitor passwords, made offline: one-time or periodic."),
    "sync": LazyCommand("ble_lock.cli.lockcfg:sync",
                        "Sync unlock between two locks: link, unlink, status, relay."),
    "events": LazyCommand("ble_lock.cli.lockcfg:events",
                          "The lock's event log, oldest first (JSON lines with --follow "
                          "--json)."),
    "settings": LazyCommand("ble_lock.cli.lockcfg:settings", "Modes and settings of a lock."),
    "gateway": LazyCommand("ble_lock.cli.gateway_cmd:gateway",
                           "Follow the configured locks: events as JSON lines, sync statements "
                           "relayed."),
    "sim": LazyCommand("ble_lock.cli.demo_cmd:sim",
                       "Start simulated Bluetooth hosts; prints the variables to export "
                       "(Ctrl-C stops)."),
    "demo": LazyCommand("ble_lock.cli.demo_cmd:demo",
                        "The whole story on the built-in simulator, in seconds, with no "
                        "set-up."),
    "firmware": LazyCommand("ble_lock.cli.firmware:firmware",
                            "Check and install lock firmware over Bluetooth (MCUmgr SMP, "
                            "signed MCUboot images)."),
}


@contextmanager
def _quiet_ends() -> Iterator[None]:
    """Ctrl-C: exit 130; a closed stdout/stderr pipe: exit 141; neither prints anything."""
    try:
        yield
    except KeyboardInterrupt:
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
    except BrokenPipeError:
        silence_closed_pipes()
        raise click.exceptions.Exit(EXIT_BROKEN_PIPE) from None


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use (:class:`LazyCommand`)."""

    def __init__(self, *args: Any, lazy: Mapping[str, LazyCommand], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.add_command(self.lazy[cmd_name].load(), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help`` from the declared short helps (imports nothing)."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name not in self.commands and name in self.lazy:
                # shortened as click shortens a command's own help (public API only)
                text = click.Command(name, help=self.lazy[name].short_help
                                     ).get_short_help_str(limit)
            else:
                command = self.get_command(ctx, name)
                if command is None or command.hidden:
                    continue
                text = command.get_short_help_str(limit)
            rows.append((name, text))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        with _quiet_ends():  # `ble-lock --help | head -1`
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with _quiet_ends():
            return super().invoke(ctx)


@click.group(cls=LazyGroup, lazy=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ble-lock")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path),
              envvar="BLE_LOCK_HOME", show_envvar=True,
              help="folder of the keystore and emulator state (default: the platform's "
                   "user data folder)")
@click.option("--timeout", type=click.FloatRange(0.5, 600), default=10.0, show_default=True,
              help="seconds to find a lock and for each answer")
@click.option("--adapter", envvar="BLE_ADAPTER", help="Bluetooth adapter (hciN on Linux)")
@click.option("-v", "--verbose", count=True, help="log to stderr (-vv: debug)")
@click.pass_context
def main(ctx: click.Context, home: Path | None, timeout: float, adapter: str | None,
         verbose: int) -> None:
    """Provision, emulate and test Bluetooth Low Energy smart locks.

    LOCK is a Bluetooth address, a lock id (8 hex digits), the name given when pairing,
    or an advertised name. Failures print one line and exit with the error's code.
    """
    from ble_lock.cli.app import App, setup_logging

    app = ctx.ensure_object(App)
    if home is not None:
        app.home = home
    app.timeout = timeout
    app.adapter = adapter or None
    app.verbose = verbose
    setup_logging(verbose)
