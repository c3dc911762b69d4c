"""Phones (``LockClient``) against an in-process :class:`MemoryLock`: the real core, the
real ``LockServer`` and the real client, only the radio is a list of callbacks."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from ble_lock.central.client import LockClient
from ble_lock.central.keystore import Keystore
from ble_lock.testing.memory_lock import MemoryLock
from ble_lock.wire.link.framing import START
from ble_lock.wire.link.transport_messages import HS1_OVERHEAD, MsgType


class Phones:
    """Makes phones with their own keystore under ``root``; closes them at the end."""

    def __init__(self, lock: MemoryLock, root: Path, stack: contextlib.AsyncExitStack) -> None:
        self.lock = lock
        self.root = root
        self._stack = stack
        self._phones = 0

    def _channels(self) -> Callable[[], int]:
        """Each phone its own band of channel ids, used in turn: phones sharing the lock's
        channel table never collide by chance, so a test's retry counts are deterministic
        (a collision, CLOSE(UNKNOWN_MESSAGE) and a retry, is tested on purpose elsewhere
        with an explicit ``pick_channel``)."""
        band = 1 + (self._phones * 40) % 240
        self._phones += 1
        return itertools.cycle(range(band, band + 40)).__next__

    async def new(self, name: str, *, mtu: int | None = None, timeout: float = 5.0,
                  pick_channel: Callable[[], int] | None = None) -> LockClient:
        client = LockClient(self.lock.connector(mtu=mtu), keystore=Keystore(self.root / name),
                            lock_id=self.lock.lock_id, timeout=timeout,
                            pick_channel=pick_channel or self._channels(), max_retries=3,
                            retry_delay=0.0)
        return await self._stack.enter_async_context(client)

    async def owner(self) -> LockClient:
        """A phone that claimed the lock (user 1, admin)."""
        owner = await self.new("owner")
        await owner.claim(self.lock.setup_code, lock_fingerprint=self.lock.fingerprint)
        return owner

    async def invited(self, admin: LockClient, name: str, user_number: int | None = None,
                      *, admin_role: bool = False) -> LockClient:
        """A phone that redeemed an invite from ``admin``."""
        if admin_role:
            invite = await admin.enrol_phone(user_number, name=name)
        else:
            invite = await admin.issue_key(user_number, name=name)
        phone = await self.new(name)
        await phone.redeem(invite.invite_id, invite.code, lock_fingerprint=admin.fingerprint)
        return phone


@contextlib.asynccontextmanager
async def phones_for(lock: MemoryLock, root: Path) -> AsyncIterator[Phones]:
    async with contextlib.AsyncExitStack() as stack:
        yield Phones(lock, root, stack)


def first_messages(frames: list[bytes]) -> dict[int, list[tuple[int, int]]]:
    """(message type, declared length) of every START frame, per channel."""
    out: dict[int, list[tuple[int, int]]] = {}
    for frame in frames:
        if len(frame) > 4 and frame[1] & START:
            out.setdefault(frame[0], []).append((frame[4], int.from_bytes(frame[2:4], "big")))
    return out


HS1 = int(MsgType.HS1)
HS1_EMPTY = HS1_OVERHEAD  # type, version, e, enc(s), enc(counter): no request inside
