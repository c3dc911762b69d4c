"""The gateway over in-memory locks (real core and protocol, no radio): streaming with
cursors, resume after a restart, link drops, sync relay; and its configuration file."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest

from ble_lock.central.client import LockClient
from ble_lock.central.keystore import Keystore
from ble_lock.central.transport import GattLink
from ble_lock.core.errors import (
    ErrorCode,
    InvalidInputError,
    LockError,
    StorageError,
    TransportError,
)
from ble_lock.core.profile import FACE_PALM
from ble_lock.gateway.config import GatewayConfig
from ble_lock.gateway.gateway import Gateway
from ble_lock.gateway.stream import CursorStore, EventSink
from ble_lock.gateway.trackers import StaticTracker
from ble_lock.testing.memory_lock import MemoryLock
from ble_lock.testing.waiting import eventually
from ble_lock.wire import messages as m
from tests.flows._memlocks import ADMIN_PIN, claim_all, config, memory_locks

pytestmark = pytest.mark.timeout(60)


def _lines(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _events(path: Path) -> list[tuple[object, object]]:
    return [(o["lock"], o["seq"]) for o in _lines(path) if o["type"] == "event"]


async def _log(mem: MemoryLock, keystore: Keystore) -> list[tuple[str, int]]:
    async with LockClient(mem.connector(), keystore=keystore, lock_id=mem.lock_id) as c:
        return [(mem.lock_id.hex().upper(), r.seq) for r in await c.events()]


class _Running:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.task = asyncio.create_task(gateway.run())

    async def stop(self) -> None:
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task


async def test_gateway_streams_every_event_once_and_resumes_after_restart(
        tmp_path: Path) -> None:
    locks = memory_locks(3)
    keystore = Keystore(tmp_path / "admin")
    await claim_all(locks, keystore)
    cfg = config(locks, tmp_path)
    out = tmp_path / "events.jsonl"
    tracker = StaticTracker({mem.lock_id: mem.connector() for mem in locks})
    run = _Running(Gateway(cfg, tracker=tracker, keystore=keystore))
    expected: list[tuple[str, int]] = []
    for mem in locks:
        expected += await _log(mem, keystore)
    await eventually(lambda: sorted(_events(out)) == sorted(expected), what="initial logs")
    # panel activity: a PIN (pushed, so streamed at once) and wrong PINs (not pushed:
    # streamed at the next poll)
    for mem in locks:
        mem.lock.enter_pin(ADMIN_PIN)
        mem.lock.enter_pin("999999")
        mem.panel()
    await eventually(lambda: len(_events(out)) == len(expected) + 6, what="panel events")
    await run.stop()
    streamed = _events(out)
    assert len(set(streamed)) == len(streamed)
    # restart: nothing is streamed twice; what was logged meanwhile is streamed
    for mem in locks:
        mem.lock.enter_pin("888888")
    run = _Running(Gateway(cfg, tracker=tracker, keystore=keystore))
    await eventually(lambda: len(_events(out)) == len(streamed) + 3, what="after restart")
    for mem in locks:  # one more poll of every lock (its answer handled): still no repeat
        await mem.writes(2)
    await run.stop()
    final = _events(out)
    assert len(set(final)) == len(final) == len(streamed) + 3
    full: list[tuple[str, int]] = []
    for mem in locks:
        full += await _log(mem, keystore)
    assert sorted(final) == sorted(full)
    objects = _lines(out)
    unlock = next(o for o in objects if o["type"] == "event" and o["kind"] == "UNLOCK")
    assert (unlock["method"], unlock["user"], unlock["text"]) == ("PIN", 1, "unlock user 1 by pin")
    assert ADMIN_PIN not in out.read_text()
    assert {o["state"] for o in objects if o["type"] == "status"} == {"connected"}


async def test_gateway_rides_out_link_drops(tmp_path: Path) -> None:
    locks = memory_locks(2)
    keystore = Keystore(tmp_path / "admin")
    await claim_all(locks, keystore)
    out = tmp_path / "events.jsonl"
    gw = Gateway(config(locks, tmp_path), keystore=keystore,
                 tracker=StaticTracker({mem.lock_id: mem.connector() for mem in locks}))
    run = _Running(gw)
    await eventually(lambda: all(gw.connected.values()), what="connected")
    for round_ in range(5):
        for mem in locks:
            for link in list(mem.links):
                if link.connected:
                    link.drop()
            mem.lock.enter_pin(ADMIN_PIN if round_ % 2 else "999999")
            mem.panel()
    expected: list[tuple[str, int]] = []
    for mem in locks:
        expected += await _log(mem, keystore)
    await eventually(lambda: sorted(_events(out)) == sorted(expected), what="all events")
    await run.stop()
    streamed = _events(out)
    assert len(set(streamed)) == len(streamed)
    states = [o["state"] for o in _lines(out) if o["type"] == "status"]
    assert "lost" in states
    assert states[-1] == "connected" or states.count("connected") >= 2


async def test_gateway_relays_sync_statements(tmp_path: Path) -> None:
    """R-SYN-2: a PIN at A, the gateway relays A's statement, B opens by sync."""
    lock_a, lock_b = memory_locks(2)
    keystore = Keystore(tmp_path / "admin")
    await claim_all([lock_a, lock_b], keystore, sync=True)
    for mem, peer in ((lock_a, lock_b), (lock_b, lock_a)):
        async with LockClient(mem.connector(), keystore=keystore, lock_id=mem.lock_id) as c:
            await c.sync_link(peer.lock_id, peer.key.public, 10)
    out = tmp_path / "events.jsonl"
    gw = Gateway(config([lock_a, lock_b], tmp_path), keystore=keystore,
                 tracker=StaticTracker({lock_a.lock_id: lock_a.connector(),
                                        lock_b.lock_id: lock_b.connector()}))
    run = _Running(gw)
    await eventually(lambda: all(gw.connected.values()), what="connected")
    assert lock_b.lock.locked
    lock_a.lock.enter_pin(ADMIN_PIN)
    lock_a.panel()
    await eventually(lambda: gw.relays_ok == 1, what="relayed")
    assert not lock_b.lock.locked
    await eventually(lambda: any(o.get("kind") == "SYNC_UNLOCK" for o in _lines(out)),
                     what="sync unlock streamed")
    await run.stop()
    sync = next(o for o in _lines(out) if o.get("kind") == "SYNC_UNLOCK")
    assert sync["text"] == "opened by sync from lock 0"
    relay = next(o for o in _lines(out) if o["type"] == "relay")
    assert relay == {"type": "relay", "from": lock_a.lock_id.hex().upper(),
                     "to": lock_b.lock_id.hex().upper(), "ok": True}


def test_config_toml_and_json(tmp_path: Path) -> None:
    toml = tmp_path / "gw.toml"
    toml.write_text('state = "state.json"\noutput = "out/events.jsonl"\nadapter = "hci1"\n'
                    'poll_interval_s = 5\n[[lock]]\nid = "0badc0de"\nname = "front"\n'
                    '[[lock]]\nid = "01020304"\n')
    cfg = GatewayConfig.load(toml)
    assert cfg.state == tmp_path / "state.json"
    assert cfg.output == str(tmp_path / "out" / "events.jsonl")
    assert (cfg.adapter, cfg.poll_interval_s, cfg.relay) == ("hci1", 5.0, True)
    assert cfg.names() == {"0BADC0DE": "front", "01020304": "BLELOCK-01020304"}
    js = tmp_path / "gw.json"
    js.write_text(json.dumps({"state": "/tmp/s.json", "lock": [{"id": "0badc0de"}]}))
    assert GatewayConfig.load(js).output == "-"


@pytest.mark.parametrize(("text", "needle"), [
    ('state = "s"\n', "lock"),
    ('[[lock]]\nid = "0badc0de"\n', "state"),
    ('state = "s"\nfoo = 1\n[[lock]]\nid = "0badc0de"\n', "unknown"),
    ('state = "s"\n[[lock]]\nid = "zz"\n', "hex"),
    ('state = "s"\n[[lock]]\nid = "0badc0de"\n[[lock]]\nid = "0BADC0DE"\n', "twice"),
    ('state = "s"\npoll_interval_s = -1\n[[lock]]\nid = "0badc0de"\n', "seconds"),
    ('state = "s"\nrelay = "yes"\n[[lock]]\nid = "0badc0de"\n', "true or false"),
    ('state = "s"\n[[lock]]\nid = "0badc0de"\nkey = "x"\n', "optionally"),
    ("state = \n", "not valid"),
])
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "gw.toml"
    path.write_text(text)
    with pytest.raises(InvalidInputError) as bad:
        GatewayConfig.load(path)
    assert needle in bad.value.message
    assert bad.value.code is ErrorCode.INVALID_ARGUMENT


def test_cursor_store_is_atomic_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    store = CursorStore(path)
    assert store.get("0BADC0DE") == 0
    store.set("0BADC0DE", 7)
    assert CursorStore(path).get("0BADC0DE") == 7
    assert not path.with_name("c.json.tmp").exists()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    path.write_text('{"version": 1, "cursors": {"X": -1}}')
    with pytest.raises(StorageError) as bad:
        CursorStore(path)
    assert bad.value.code is ErrorCode.STORAGE_CORRUPT


def test_event_sink_writes_json_lines(tmp_path: Path) -> None:
    sink = EventSink(str(tmp_path / "o.jsonl"))
    sink.write([{"a": 1}, {"b": 2}])
    sink.write([])
    sink.close()
    assert (tmp_path / "o.jsonl").read_text() == '{"a":1}\n{"b":2}\n'
    assert sink.lines == 2


async def test_relay_for_an_unknown_lock_is_ignored(tmp_path: Path) -> None:
    (mem,) = memory_locks(1)
    keystore = Keystore(tmp_path / "admin")
    gw = Gateway(config([mem], tmp_path), keystore=keystore,
                 tracker=StaticTracker({mem.lock_id: mem.connector()}))
    gw.relay(m.SyncStatement(issuer_lock_id=b"\x01", target_lock_id=b"\x09" * 4,
                             at_ms=0, nonce=b"\x00" * 16, proof=b"\x00" * 32))
    assert (gw.relays_ok, gw.relays_failed) == (0, 0)
    with pytest.raises(LockError):
        await gw._followers[mem.lock_id].relay(  # not paired: a typed error, no crash
            m.SyncStatement(issuer_lock_id=b"\x01", target_lock_id=mem.lock_id, at_ms=0,
                            nonce=b"\x00" * 16, proof=b"\x00" * 32))


async def test_a_log_that_rotated_past_the_cursor_is_reported_as_a_gap(tmp_path: Path) -> None:
    (mem,) = [MemoryLock(profile=replace(FACE_PALM, event_log_size=20),
                         lock_id=bytes.fromhex("a0000001"), seed=3)]
    keystore = Keystore(tmp_path / "admin")
    await claim_all([mem], keystore)
    cfg = config([mem], tmp_path)
    out = tmp_path / "events.jsonl"
    tracker = StaticTracker({mem.lock_id: mem.connector()})
    run = _Running(Gateway(cfg, tracker=tracker, keystore=keystore))
    first = await _log(mem, keystore)
    await eventually(lambda: len(_events(out)) == len(first), what="first events")
    await run.stop()
    for k in range(40):  # the gateway is away: 40 events, the log keeps 20
        if k % 2 == 0:
            mem.lock.door_opened()
        else:
            mem.lock.door_closed()
    run = _Running(Gateway(cfg, tracker=tracker, keystore=keystore))
    await eventually(lambda: len(_events(out)) == len(first) + 20, what="the last 20")
    await run.stop()
    gaps = [o for o in _lines(out) if o["type"] == "status" and o["state"] == "gap"]
    assert [g["missed"] for g in gaps] == [20]
    seqs = [seq for _, seq in _events(out)]
    assert seqs == [*range(1, len(first) + 1), *range(len(first) + 21, len(first) + 41)]


async def test_relay_off_in_the_config_relays_nothing(tmp_path: Path) -> None:
    lock_a, lock_b = memory_locks(2)
    keystore = Keystore(tmp_path / "admin")
    await claim_all([lock_a, lock_b], keystore, sync=True)
    for mem, peer in ((lock_a, lock_b), (lock_b, lock_a)):
        async with LockClient(mem.connector(), keystore=keystore, lock_id=mem.lock_id) as c:
            await c.sync_link(peer.lock_id, peer.key.public, 10)
    out = tmp_path / "events.jsonl"
    gw = Gateway(config([lock_a, lock_b], tmp_path, relay=False), keystore=keystore,
                 tracker=StaticTracker({lock_a.lock_id: lock_a.connector(),
                                        lock_b.lock_id: lock_b.connector()}))
    run = _Running(gw)
    await eventually(lambda: all(gw.connected.values()), what="connected")
    lock_a.lock.enter_pin(ADMIN_PIN)
    lock_a.panel()
    await eventually(lambda: any(o.get("kind") == "SYNC_TRIGGER" for o in _lines(out)),
                     what="A's trigger streamed")
    await run.stop()
    assert (gw.relays_ok, gw.relays_failed) == (0, 0)
    assert lock_b.lock.locked


async def test_gateway_process_refuses_a_bad_config(tmp_path: Path) -> None:
    from ble_lock.gateway.process import main

    path = tmp_path / "gw.toml"
    path.write_text('state = "s.json"\n')
    with pytest.raises(InvalidInputError):
        await main(["--config", str(path)])


async def test_a_lock_the_gateway_is_not_paired_with_is_reported_once(tmp_path: Path) -> None:
    (mem,) = memory_locks(1)  # never claimed: the keystore has no key for it
    out = tmp_path / "events.jsonl"
    gw = Gateway(config([mem], tmp_path), keystore=Keystore(tmp_path / "admin"),
                 tracker=StaticTracker({mem.lock_id: mem.connector()}))
    run = _Running(gw)
    follower = gw._followers[mem.lock_id]
    await eventually(lambda: follower.failures >= 3, what="retried with backoff")
    await run.stop()
    states = [(o["state"], o["error"]) for o in _lines(out) if o["type"] == "status"]
    assert states == [("unreachable", "NOT_PAIRED")]
    assert _events(out) == []


async def test_reconnection_backoff_doubles_up_to_its_cap_on_the_injected_sleep(
        tmp_path: Path) -> None:
    """Issue 14 item 2: a lock that cannot be reached is retried with capped exponential
    backoff (jittered to 50-100 % of the step); the waits go through the gateway's
    ``sleep``, so no time passes here."""
    (mem,) = memory_locks(1)
    keystore = Keystore(tmp_path / "admin")
    await claim_all([mem], keystore)
    delays: list[float] = []
    enough = asyncio.Event()

    async def sleep(seconds: float) -> None:
        delays.append(seconds)
        if len(delays) >= 7:
            enough.set()
            await asyncio.Event().wait()  # the last wait never ends

    async def unreachable(*_: object) -> GattLink:
        raise TransportError("nobody there", code=ErrorCode.CONNECTION_FAILED)

    cfg = replace(config([mem], tmp_path), backoff_min_s=1.0, backoff_max_s=8.0)
    gw = Gateway(cfg, keystore=keystore, tracker=StaticTracker({mem.lock_id: unreachable}),
                 sleep=sleep)
    run = _Running(gw)
    await enough.wait()
    await run.stop()
    steps = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]
    assert all(0.5 * step <= d <= step for d, step in zip(delays, steps, strict=True)), delays
    assert gw.attempts[mem.lock_id] == len(delays)  # one attempt per wait
    states = [(o["state"], o["error"]) for o in _lines(tmp_path / "events.jsonl")
              if o["type"] == "status"]
    assert states == [("unreachable", "CONNECTION_FAILED")]  # said once, not per retry
