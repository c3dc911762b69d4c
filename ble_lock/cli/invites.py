"""The text of an invite, to hand to the phone that redeems it (also as a QR code):
``BLEKEY1:<lock id>:<invite id>:<code>:<lock fingerprint>``."""

from __future__ import annotations

from dataclasses import dataclass, field

import click

from ble_lock.cli.errors import CliError
from ble_lock.cli.output import fmt_time, qr_lines
from ble_lock.core.errors import InvalidInputError
from ble_lock.core.hashing import normalize_code
from ble_lock.wire import messages as m

__all__ = ["InviteText", "show_invite"]

PREFIX = "BLEKEY1"


@dataclass(frozen=True, slots=True, kw_only=True)
class InviteText:
    lock_id: bytes
    invite_id: int
    code: str = field(repr=False)
    fingerprint: bytes

    def text(self) -> str:
        return ":".join((PREFIX, self.lock_id.hex().upper(), str(self.invite_id), self.code,
                         self.fingerprint.hex().upper()))

    @classmethod
    def parse(cls, text: str) -> InviteText:
        parts = text.strip().split(":")
        try:
            if len(parts) != 5 or parts[0].upper() != PREFIX:
                raise ValueError(PREFIX)
            lock_id, fp = bytes.fromhex(parts[1]), bytes.fromhex(parts[4])
            if len(lock_id) != 4 or len(fp) != 16:
                raise ValueError("length")
            invite = cls(lock_id=lock_id, invite_id=int(parts[2]), code=parts[3],
                         fingerprint=fp)
        except ValueError:
            raise CliError(f"not an invite: expected {PREFIX}:<lock id>:<invite id>:<code>:"
                           "<fingerprint> as printed by `ble-lock key issue`") from None
        try:
            normalize_code(invite.code)  # a code of the wrong shape costs no guess at the lock
        except InvalidInputError:
            raise CliError("the invite's code is not a code (4-32 letters or digits): "
                           "copy the whole invite again") from None
        return invite


def invite_json(invite: m.Invite, text: InviteText) -> dict[str, object]:
    return {"invite_id": invite.invite_id, "user_number": invite.user_number,
            "code": invite.code, "expires_at": invite.expires_at,
            "lock_id": text.lock_id.hex().upper(), "fingerprint": text.fingerprint.hex().upper(),
            "invite": text.text()}


def show_invite(invite: m.Invite, text: InviteText, what: str, lock_name: str) -> None:
    """The invite for people: its number is an *invite* number (``key revoke --invite``
    withdraws it); the key made when it is redeemed gets its own number (``key list``)."""
    click.echo(f"{what} for user {invite.user_number}: invite {invite.invite_id}, "
               f"code {invite.code}, expires {fmt_time(invite.expires_at)}")
    click.echo(f"(invite {invite.invite_id} is not a key number: once redeemed, the key gets "
               f"its own number in `ble-lock key list {lock_name}`; to withdraw the invite "
               f"before then: ble-lock key revoke {lock_name} --invite {invite.invite_id})")
    click.echo(f"invite {text.text()}")
    for line in qr_lines(text.text()):
        click.echo(f"   {line}")
    click.echo("On the other phone: ble-lock key redeem, and paste the invite when asked "
               "(or save it to a file: --invite-file FILE; not as an argument)")
