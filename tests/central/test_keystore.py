"""The phone keystore: format, permissions, atomicity, counters never reused."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
import sys
from pathlib import Path

import pytest

from ble_lock.central.keystore import (
    COUNTER_BLOCK,
    ENV_HOME,
    Keystore,
    KeystoreError,
    LockRecord,
    PhoneIdentity,
    default_home,
)
from ble_lock.core.errors import ErrorCode

IDENT = PhoneIdentity(private_key=b"\x11" * 32, public_key=b"\x22" * 32)


def _record(lock_id: str = "L1", **kw: object) -> LockRecord:
    base: dict[str, object] = {
        "lock_id": lock_id,
        "name": "front door",
        "lock_public_key": b"\x33" * 32,
        "visitor_secret": b"\x44" * 32,
    }
    base.update(kw)
    return LockRecord(**base)  # type: ignore[arg-type]  # test helper: keys are the fields


def test_identity_created_once_and_file_is_private(tmp_path: Path) -> None:
    ks = Keystore(tmp_path)
    calls: list[int] = []

    def gen() -> PhoneIdentity:
        calls.append(1)
        return IDENT

    assert ks.identity() is None
    assert ks.ensure_identity(gen) == IDENT
    assert ks.ensure_identity(gen) == IDENT
    assert calls == [1]
    if sys.platform != "win32":
        assert stat.S_IMODE(ks.path.stat().st_mode) == 0o600
    data = json.loads(ks.path.read_text())
    assert data["format"] == "ble-lock-keystore"
    assert data["version"] == 1
    # no temporary files are left behind by the atomic writes
    assert sorted(p.name for p in tmp_path.iterdir()) == [".keystore.lock", "keystore.json"]


def test_an_existing_identity_is_read_not_rewritten(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A gateway opens one client per lock, each asks for the identity: only the first
    call writes the keystore (issue 15: a rewrite with two fsyncs per lock was most of
    the gateway's CPU per event). Counted: fsyncs and the keystore's inode."""
    ks = Keystore(tmp_path)
    ks.ensure_identity(lambda: IDENT)
    ks.put(_record("L1"))
    inode = ks.path.stat().st_ino
    fsyncs: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (fsyncs.append(fd), real_fsync(fd))[1])
    for _ in range(3):
        assert Keystore(tmp_path).ensure_identity(lambda: pytest.fail("regenerated")) == IDENT
    assert fsyncs == []
    assert ks.path.stat().st_ino == inode  # not replaced by a rename either


def test_records_round_trip_and_secrets_stay_out_of_repr(tmp_path: Path) -> None:
    ks = Keystore(tmp_path)
    rec = _record(address="AA:BB:CC:DD:EE:FF", user_no=1, role="admin", paired_at=5.0)
    ks.put(rec)
    assert ks.get("L1") == rec
    assert ks.locks() == [rec]
    assert "44" * 8 not in repr(rec)
    assert "11" * 8 not in repr(IDENT)
    assert ks.update("L1", name="back door").name == "back door"
    assert ks.remove("L1") is True
    assert ks.remove("L1") is False
    assert ks.get("L1") is None


def test_counter_is_persisted_before_use_and_resync_only_raises(tmp_path: Path) -> None:
    """Counters are reserved in blocks (issue 15): the stored counter is the top of the
    block, persisted before its first value is used; a resync raises it and drops the
    block held in memory."""
    ks = Keystore(tmp_path)
    ks.put(_record())
    assert [ks.next_counter("L1") for _ in range(3)] == [1, 2, 3]
    assert Keystore(tmp_path).get("L1").counter == COUNTER_BLOCK  # type: ignore[union-attr]
    assert ks.raise_counter("L1", 100) == 100
    assert ks.raise_counter("L1", 4) == 100
    assert ks.next_counter("L1") == 101


def test_a_block_of_one_persists_every_counter(tmp_path: Path) -> None:
    ks = Keystore(tmp_path, counter_block=1)
    ks.put(_record())
    assert [ks.next_counter("L1") for _ in range(3)] == [1, 2, 3]
    assert Keystore(tmp_path).get("L1").counter == 3  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="at least 1"):
        Keystore(tmp_path, counter_block=0)


def test_unknown_lock_is_a_typed_error(tmp_path: Path) -> None:
    ks = Keystore(tmp_path)
    with pytest.raises(KeystoreError) as err:
        ks.next_counter("nope")
    assert err.value.code is ErrorCode.NOT_PAIRED


def _bump(home: str, n: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    ks = Keystore(Path(home))
    out.put([ks.next_counter("L1") for _ in range(n)])


def test_two_processes_never_get_the_same_counter(tmp_path: Path) -> None:
    ks = Keystore(tmp_path)
    ks.put(_record())
    ctx = multiprocessing.get_context("spawn")
    q: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=_bump, args=(str(tmp_path), 40, q)) for _ in range(2)]
    for p in procs:
        p.start()
    got = q.get(timeout=60) + q.get(timeout=60)
    for p in procs:
        p.join(timeout=60)
    assert len(set(got)) == len(got) == 80  # disjoint blocks: never the same value
    assert ks.get("L1").counter == 2 * COUNTER_BLOCK  # type: ignore[union-attr]
    assert ks.next_counter("L1") == 2 * COUNTER_BLOCK + 1  # above both blocks


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_keystore_readable_by_others_is_refused(tmp_path: Path) -> None:
    ks = Keystore(tmp_path)
    ks.put(_record())
    os.chmod(ks.path, 0o644)
    with pytest.raises(KeystoreError, match="chmod 600"):
        ks.locks()


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        '{"format": "other"}',
        '{"format": "ble-lock-keystore", "version": 99, "locks": {}}',
        '{"format": "ble-lock-keystore", "version": 1, "locks": {"L": {"lock_id": "L"}}}',
    ],
)
def test_malformed_keystore_is_a_typed_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "keystore.json"
    path.write_text(content)
    os.chmod(path, 0o600)
    with pytest.raises(KeystoreError) as err:
        Keystore(tmp_path).locks()
    assert err.value.code is ErrorCode.KEYSTORE_ERROR


def test_home_override_by_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_HOME, str(tmp_path / "x"))
    assert default_home() == tmp_path / "x"
    monkeypatch.delenv(ENV_HOME)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    if sys.platform.startswith("linux"):
        assert default_home() == tmp_path / "ble-lock"
