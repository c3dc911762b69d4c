"""Issue 5: a link drop injected at each ATT operation of an add-user, in turn: after
reconnecting, the client retries with the same request id and there is exactly one new
user every time (docs/protocol.md, "Retry after a lost link").

MTU 23, so that the request and the answer span several frames (one ATT operation
each). Two shapes: the request riding in a new session's HS1 (the first request after
connecting), and the request as DATA inside an established session.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ble_lock.central.client import LockClient
from ble_lock.sim.att import AttOp
from ble_lock.sim.harness import BleHarness
from ble_lock.sim.link import Link
from ble_lock.testing.emulator import start_lock
from tests.e2e._env import phone

pytestmark = pytest.mark.timeout(240)

_DATA_OPS = (AttOp.WRITE_CMD, AttOp.WRITE_REQ, AttOp.HANDLE_VALUE_NTF)


def _link(ble: BleHarness) -> Link:
    assert ble.sim is not None
    (link,) = ble.sim.links()
    return link


async def _prepare(client: LockClient, shape: str) -> None:
    if shape == "hs1":
        await client.end_session()  # the add-user opens a new session
    else:
        await client.whoami()  # a session is established: the add-user is DATA


async def _ops_of_one_add_user(ble: BleHarness, client: LockClient, shape: str) -> int:
    await _prepare(client, shape)
    link = _link(ble)
    before = len(link.trace)
    await client.add_user("probe")
    ops = [r for r in link.trace[before:] if r.op in _DATA_OPS]
    assert all(r.op is not AttOp.WRITE_REQ for r in ops)  # writes without response
    return len(ops)


@pytest.mark.parametrize("shape", ["hs1", "data"])
@pytest.mark.ble_sim(mtu=23)
async def test_a_drop_at_every_att_operation_of_an_add_user_adds_exactly_one_user(
        ble_sim: BleHarness, tmp_path: Path, shape: str) -> None:
    assert ble_sim.sim is not None
    # a little air time per PDU, so that a drop lands between two notifications of one
    # answer (with none, the lock's fragments all arrive before the drop is processed)
    ble_sim.sim.config.att_latency_s = 0.003
    lock = await start_lock(ble_sim, tmp_path / "lock")
    assert lock.qr is not None
    panel = await lock.panel()
    await panel.call("set_button")
    async with await phone(ble_sim, lock, tmp_path / "owner") as owner:
        await owner.claim_qr(lock.qr)
        n = await _ops_of_one_add_user(ble_sim, owner, shape)
        assert n >= 4  # several frames each way at MTU 23
        recovered = 0
        for k in range(n):
            await _prepare(owner, shape)
            before = owner.engine.reconnects
            _link(ble_sim).drop_after(k)  # k operations complete, then the link drops
            user = await owner.add_user(f"user {k}")
            recovered += owner.engine.reconnects - before
            names = [u.name for u in await owner.list_users()]
            assert names.count(f"user {k}") == 1, (k, names)
            assert user.name == f"user {k}"
        assert recovered == n  # every drop hit the add-user and was recovered
        users = await owner.list_users()
        assert len(users) == 1 + 1 + n  # owner, probe, one per drop
        assert owner.engine.retries >= n
    await panel.close()
