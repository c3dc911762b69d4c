"""No silent trust on first use (issue 10 item 5), and pairings that survive interruption
(issue 14 item 1).

A claim with the setup code alone (the DL20VC path: serial and code, no QR) learns the
lock's static key from the pairing itself. Before this phone keeps that key, the person
compares its fingerprint with the lock's label (the last field of the QR text,
``BLELOCK1:<lock id>:<code>:<fingerprint>``, 32 hex digits); scripts pin it
(``--trust-fingerprint``) or accept it explicitly (``--accept-new-fingerprint``).

The question is asked between PAIR2 and PAIR3 (:class:`FingerprintCheck`, the client's
``check_key``): the lock's key is known and confirmed by the setup code, but the lock has
bound nothing yet - it does so when it reads PAIR3. A "no" (or Ctrl-C, or end of input)
sends a CLOSE instead: nothing is saved on this phone and the lock stays factory-fresh
(the abandoned attempt counts as one failed pairing, R-SEC-1's pairing limiter). A "yes"
lets the client write the pending record (fsync) and only then send PAIR3: the two-phase
pairing of ``docs/protocol.md`` ("Interrupted pairing"). While the person compares, the
lock waits at most its handshake timeout (30 s); a slower answer ends in ``TIMEOUT`` with
the confirmed fingerprint to pin on the next run.
"""

from __future__ import annotations

import click

from ble_lock.central.app import StepHook
from ble_lock.cli.errors import CliError
from ble_lock.core.errors import ErrorCode, IdentityMismatchError
from ble_lock.wire.security.crypto import fingerprint

__all__ = ["FingerprintCheck", "fingerprint_text", "parse_fingerprint", "step_hook"]


def fingerprint_text(fp: bytes) -> str:
    """A key fingerprint as the lock's label and QR text print it: 32 upper-case hex
    digits."""
    return fp.hex().upper()


def parse_fingerprint(text: str, option: str) -> bytes:
    """32 hex digits; spaces, ``:`` and ``-`` between them are allowed."""
    cleaned = "".join(c for c in text if c not in " :-")
    try:
        fp = bytes.fromhex(cleaned)
    except ValueError:
        fp = b""
    if len(fp) != 16:
        raise CliError(f"{option} is the 32 hex digits of the lock's key fingerprint (the "
                       "last field of its QR text)")
    return fp


def _ask(question: str) -> bool:
    try:
        return click.confirm(question, default=False, err=True)
    except click.Abort:  # Ctrl-C or end of input: not a yes
        click.echo("", err=True)
        return False


class FingerprintCheck:
    """The client's ``check_key`` for a claim with the setup code alone: show the lock's
    key fingerprint and go on only on yes; on no, :class:`IdentityMismatchError`
    (``IDENTITY_MISMATCH``) before anything is kept or bound. A pairing retried after a
    dropped link presents the same key again: asked once."""

    def __init__(self, lock_hex: str, lock_name: str) -> None:
        self._lock_hex, self._lock_name = lock_hex, lock_name
        self._confirmed: set[bytes] = set()

    def __repr__(self) -> str:
        return f"FingerprintCheck({self._lock_hex!r}, confirmed={len(self._confirmed)})"

    @property
    def confirmed(self) -> list[str]:
        """The fingerprints the person confirmed (to pin on the next run)."""
        return sorted(fingerprint_text(fingerprint(key)) for key in self._confirmed)

    async def __call__(self, lock_public: bytes) -> None:
        if lock_public in self._confirmed:
            return
        shown = fingerprint_text(fingerprint(lock_public))
        click.echo(f"lock {self._lock_hex} ({self._lock_name}) presents the key "
                   f"fingerprint\n    {shown}\n"
                   "Compare it with the lock's label: the last field of its QR text "
                   "(BLELOCK1:<lock id>:<code>:<fingerprint>).", err=True)
        if _ask("Is it the same fingerprint?"):
            self._confirmed.add(lock_public)
            return
        raise IdentityMismatchError(
            f"key fingerprint of lock {self._lock_hex} not confirmed: nothing saved on this "
            "phone, and the lock did not take the pairing",
            code=ErrorCode.IDENTITY_MISMATCH,
            hint="claim again and compare (after SET where the model asks for it); if the "
                 "fingerprints differ, something else answered in the lock's place")


def step_hook() -> StepHook | None:
    """Where tests pause a claim or redemption (``BLE_LOCK_PAUSE_AT``): see
    :mod:`ble_lock.testing.steps`. None unless that variable is set."""
    from ble_lock.testing.steps import pause_hook_from_env  # only claim/redeem pay for it

    return pause_hook_from_env()
