"""No silent trust on first use (issue 10 item 5).

A claim with the setup code alone (the DL20VC path: serial and code, no QR) learns the
lock's static key from the pairing itself. Before this phone keeps that key, the person
compares its fingerprint with the lock's label (the last field of the QR text,
``BLELOCK1:<lock id>:<code>:<fingerprint>``, 32 hex digits); scripts pin it
(``--trust-fingerprint``) or accept it explicitly (``--accept-new-fingerprint``).

The claim runs against a :class:`PendingKeystore`: the new lock record stays in memory until
it is confirmed, so a "no", a Ctrl-C or a crash at the question saves nothing. The lock,
though, completed the pairing and counts this phone as its admin; on "no" the phone asks it
to go back to factory-fresh (an admin's FACTORY_RESET), so a genuine lock is not left
owned by a key nobody keeps. If an impostor answered, that request went to the impostor.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import click

from ble_lock.central.client import LockClient
from ble_lock.central.keystore import Keystore, LockRecord
from ble_lock.cli.errors import CliError
from ble_lock.core.errors import ErrorCode, IdentityMismatchError, LockError
from ble_lock.wire.security.crypto import fingerprint

__all__ = ["PendingKeystore", "confirm_fingerprint", "fingerprint_text",
           "parse_fingerprint"]


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


class PendingKeystore(Keystore):
    """The phone's keystore, except that lock records written through it stay in memory
    until :meth:`commit` (then they, and every later change, go to the real keystore).

    The phone identity is the real one (the lock learns this phone's real key)."""

    def __init__(self, real: Keystore) -> None:
        super().__init__(real.home)
        self._real = real
        self._pending: dict[str, LockRecord] = {}
        self._committed = False

    def __repr__(self) -> str:
        return f"PendingKeystore({self._real!r}, pending={sorted(self._pending)})"

    def _held(self, lock_id: str) -> bool:
        return not self._committed and lock_id in self._pending

    def locks(self) -> list[LockRecord]:
        merged = {r.lock_id: r for r in self._real.locks()} | self._pending
        return sorted(merged.values(), key=lambda r: (r.name, r.lock_id))

    def get(self, lock_id: str) -> LockRecord | None:
        if self._held(lock_id):
            return self._pending[lock_id]
        return self._real.get(lock_id)

    def put(self, record: LockRecord) -> None:
        if self._committed:
            self._real.put(record)
        else:
            self._pending[record.lock_id] = record

    def update(self, lock_id: str, **changes: Any) -> LockRecord:
        if not self._held(lock_id):
            return self._real.update(lock_id, **changes)
        record = replace(self._pending[lock_id], **changes)
        self._pending[lock_id] = record
        return record

    def remove(self, lock_id: str) -> bool:
        if self._held(lock_id):
            del self._pending[lock_id]
            return True
        return self._real.remove(lock_id)

    def next_counter(self, lock_id: str) -> int:
        # Not persisted while pending: a record that is never committed is never used again.
        if not self._held(lock_id):
            return self._real.next_counter(lock_id)
        record = self._pending[lock_id]
        self._pending[lock_id] = replace(record, counter=record.counter + 1)
        return record.counter + 1

    def raise_counter(self, lock_id: str, at_least: int) -> int:
        if not self._held(lock_id):
            return self._real.raise_counter(lock_id, at_least)
        record = self._pending[lock_id]
        value = max(record.counter, at_least)
        self._pending[lock_id] = replace(record, counter=value)
        return value

    def commit(self) -> None:
        """Keep the pending records in the real keystore; write through from now on."""
        for record in self._pending.values():
            self._real.put(record)
        self._pending.clear()
        self._committed = True

    def discard(self) -> None:
        """Forget the pending records (nothing reaches the real keystore)."""
        self._pending.clear()


def _ask(question: str) -> bool:
    try:
        return click.confirm(question, default=False, err=True)
    except click.Abort:  # Ctrl-C or end of input: not a yes
        click.echo("", err=True)
        return False


async def confirm_fingerprint(client: LockClient, staged: PendingKeystore,
                              record: LockRecord, lock_name: str) -> None:
    """Show the key fingerprint of the lock just claimed and keep its record only on yes.

    On no: nothing is saved, the lock is asked to return to factory-fresh, and a
    :class:`IdentityMismatchError` (``IDENTITY_MISMATCH``) says which state it is in."""
    shown = fingerprint_text(fingerprint(record.lock_public_key))
    click.echo(f"lock {record.lock_id} ({lock_name}) presents the key fingerprint\n"
               f"    {shown}\n"
               "Compare it with the lock's label: the last field of its QR text "
               "(BLELOCK1:<lock id>:<code>:<fingerprint>).", err=True)
    if _ask("Is it the same fingerprint?"):
        staged.commit()
        return
    staged.discard()
    try:
        await client.factory_reset()
    except LockError:
        raise IdentityMismatchError(
            f"key fingerprint of lock {record.lock_id} not confirmed: nothing saved on this "
            "phone", code=ErrorCode.IDENTITY_MISMATCH,
            hint="the lock completed the pairing and may still count this phone as its "
                 "admin, and it did not take the request to reset: factory-reset it at the "
                 "door, then claim again") from None
    raise IdentityMismatchError(
        f"key fingerprint of lock {record.lock_id} not confirmed: nothing saved on this "
        "phone, and the device that answered was asked to return to factory-fresh",
        code=ErrorCode.IDENTITY_MISMATCH,
        hint="claim again and compare (after SET where the model asks for it; a reset lock "
             "may have a new key: see its label again); "
             "if `ble-lock scan` does not show it factory_fresh, another phone answered in "
             "its place and claimed it: factory-reset it at the door")
