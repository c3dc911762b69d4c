"""Sync unlock through the client (R-SYN-1..4): link two locks, unlock one, relay the
statement it pushes to the other, which opens; a replayed statement is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from ble_lock.central.client import LockClient
from ble_lock.central.keystore import Keystore
from ble_lock.core.errors import ErrorCode, LockError
from ble_lock.testing.memory_lock import MemoryLock
from ble_lock.wire import messages as m

pytestmark = pytest.mark.timeout(30)


async def test_link_unlock_relay_list_unlink(tmp_path: Path) -> None:
    front = MemoryLock(lock_id=bytes.fromhex("0000000a"), seed=1)
    back = MemoryLock(lock_id=bytes.fromhex("0000000b"), seed=2)
    ks = Keystore(tmp_path / "phone")  # one phone, two locks
    async with LockClient(front.connector(), keystore=ks, lock_id=front.lock_id) as a, \
            LockClient(back.connector(), keystore=ks, lock_id=back.lock_id) as b:
        await a.claim(front.setup_code, lock_fingerprint=front.fingerprint, name="front")
        await b.claim(back.setup_code, lock_fingerprint=back.fingerprint, name="back")
        assert [r.name for r in ks.locks()] == ["back", "front"]
        await a.sync_link(back.lock_id, back.key.public, 10)
        await b.sync_link(front.lock_id, front.key.public, 10)
        for client in (a, b):
            await client.set_settings(m.SettingsSet(sync_unlock=True))
        assert [link.peer_lock_id for link in await a.sync_links()] == [back.lock_id]

        statements: list[m.SyncStatement] = []
        a.on_event(lambda body: statements.append(body)
                   if isinstance(body, m.SyncStatement) else None)
        await a.listen()
        assert back.lock.locked
        await a.unlock()
        assert [s.target_lock_id for s in statements] == [back.lock_id]
        await b.relay_statement(statements[0])
        assert not back.lock.locked
        kinds = [r.kind for r in await b.events()]
        assert m.EventKind.SYNC_UNLOCK in kinds
        with pytest.raises(LockError) as replay:
            await b.relay_statement(statements[0])
        assert replay.value.code is ErrorCode.REPLAY

        await a.sync_unlink(back.lock_id)
        assert await a.sync_links() == []
