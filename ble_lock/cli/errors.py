"""Expected failures: one line on stderr (what went wrong, what to do), exit status = the
:class:`~ble_lock.core.errors.ErrorCode`. Unexpected ones: one line, exit 99; ``-v``
adds the traceback."""

from __future__ import annotations

import logging
import re
import traceback

import click

from ble_lock.cli.signals import silence_closed_pipes
from ble_lock.core.errors import ErrorCode, InvalidInputError, LockError, TransportError

__all__ = ["HINTS", "CliError", "exit_for", "format_error", "from_foreign"]

_log = logging.getLogger("ble_lock.cli")

HINTS: dict[ErrorCode, str] = {
    ErrorCode.LOCK_NOT_FOUND: "is it powered, in range and advertising? `ble-lock scan` lists "
                              "the locks nearby",
    ErrorCode.CONNECTION_FAILED: "move closer and try again; `-v` shows the details",
    ErrorCode.DISCONNECTED: "the link dropped; try again",
    ErrorCode.TIMEOUT: "the lock did not answer in time; try again or raise --timeout",
    ErrorCode.BLUETOOTH_UNAVAILABLE: "start BlueZ (`sudo systemctl start bluetooth`), or try "
                                     "it without a radio: `ble-lock sim` prints what to export",
    ErrorCode.KEYSTORE_ERROR: "check the keystore folder (--home / $BLE_LOCK_HOME)",
    ErrorCode.NOT_PAIRED: "claim it (`ble-lock claim LOCK --code`: asks for the setup code) "
                          "or redeem a key (`ble-lock key redeem`: asks for the invite) first",
    ErrorCode.UNKNOWN_PEER: "the lock does not know this phone (removed or revoked?): pair "
                            "again with an invite",
    ErrorCode.NOT_IN_PAIRING_MODE: "press SET on the lock first (emulator: `ble-lock panel set`)",
    ErrorCode.ALREADY_CLAIMED: "the lock has an owner: ask an admin for an invite "
                               "(`ble-lock phones add`)",
    ErrorCode.CHANNEL_BUSY: "the lock is busy with another pairing or session (an unfinished "
                            "one frees itself within 30 s): wait and try again",
    ErrorCode.PAIRING_FAILED: "check the code (setup code from the label, or the invite)",
    ErrorCode.INVITE_USED: "this invite was redeemed already (each works once): ask an admin "
                           "for a new one (`ble-lock key issue`)",
    ErrorCode.IDENTITY_MISMATCH: "the lock's key does not match the fingerprint: wrong lock, "
                                 "or someone in the middle",
    ErrorCode.PERMISSION_DENIED: "this phone's role may not do that: ask an admin",
    ErrorCode.LOCKED_OUT: "too many wrong attempts: wait, or an admin lifts the lockout",
    ErrorCode.KEY_REVOKED: "this Bluetooth key was revoked: ask an admin for a new one",
    ErrorCode.KEY_EXPIRED: "this Bluetooth key has expired: ask an admin for a new one",
    ErrorCode.OUTSIDE_VALIDITY: "not allowed at this time (validity window or schedule)",
    ErrorCode.UNKNOWN_USER: "`ble-lock users list LOCK` shows the user numbers",
    ErrorCode.UNKNOWN_CREDENTIAL: "`ble-lock credentials list LOCK` shows the credential ids",
    ErrorCode.UNKNOWN_KEY: "`ble-lock key list LOCK` shows the keys",
    ErrorCode.WEAK_PIN: "choose a PIN that is not all one digit or a run",  # R-PIN-2
    ErrorCode.MALFORMED_PIN: "digits only, of the length the model takes",  # R-PIN-1
    ErrorCode.CAPACITY_FULL: "remove something first",
    ErrorCode.LAST_ADMIN: "add another admin first",
    ErrorCode.UNSUPPORTED_BY_PROFILE: "this lock model does not have that",
}


class CliError(InvalidInputError):
    """Bad input found by the command line itself (bad LOCK, bad schedule...).

    Other failures the CLI finds raise the class of their code (``TransportError`` for
    ``NOT_PAIRED``...); every :class:`LockError` takes a ``hint``.
    """


def from_foreign(exc: BaseException) -> LockError | None:
    """A bleak/D-Bus/OS failure as the transport error it stands for, else None."""
    name = type(exc).__name__
    if isinstance(exc, TimeoutError):
        return TransportError(f"timed out: {exc}" if str(exc) else "timed out",
                              code=ErrorCode.TIMEOUT)
    if name.startswith("Bleak") or "DBus" in name or isinstance(exc, ConnectionError):
        return TransportError(f"Bluetooth: {exc}", code=ErrorCode.CONNECTION_FAILED)
    if isinstance(exc, FileNotFoundError | PermissionError):
        return TransportError(str(exc), code=ErrorCode.CONNECTION_FAILED)
    return None


def _without_code(message: str, name: str) -> str:
    """``message`` without the code's name, which the line adds once in brackets
    ("pairing refused: NOT_IN_PAIRING_MODE" reads "pairing refused (NOT_IN_PAIRING_MODE)")."""
    text = re.sub(rf"\(?\b{re.escape(name)}\b\)?", "", message)
    text = re.sub(r"\s*([:;,]\s*)+$", "", text.strip())  # a separator left dangling
    text = re.sub(r"^[:;,\s]+", "", text)
    text = re.sub(r"\s*([:;,])(\s*[:;,])*", r"\1", text)
    return text or name.lower().replace("_", " ")


def format_error(exc: LockError) -> str:
    """``error: <what> (<CODE>) - <what to do>`` on one line, each part said once."""
    hint = exc.hint or HINTS.get(exc.code)
    line = f"error: {_without_code(exc.message, exc.code.name)} ({exc.code.name})"
    if hint:
        line += f" - {hint}"
    return " ".join(line.split())


def _say(text: str) -> None:
    """One line on stderr; nothing if stderr is a closed pipe (the status still tells)."""
    try:
        click.echo(text, err=True)
    except BrokenPipeError:
        silence_closed_pipes()


def exit_for(exc: BaseException, verbose: int) -> int:
    """Print the one line for ``exc`` and return the exit status."""
    lock_error = exc if isinstance(exc, LockError) else from_foreign(exc)
    if verbose:
        _say("".join(traceback.format_exception(exc)).rstrip())
    if lock_error is None:
        _say(f"error: unexpected {type(exc).__name__}: {exc} (INTERNAL) - run with -v "
             "for the traceback and report it")
        return int(ErrorCode.INTERNAL)
    _say(format_error(lock_error))
    return int(lock_error.code)
