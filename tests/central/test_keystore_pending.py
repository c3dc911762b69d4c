"""The keystore's pending records (issue 14 item 1, docs/keystore.md "Pending pairings"):
written before PAIR3, confirmed by the first session, undone only while PAIR3 never
left - each change guarded by the lock key it is about."""

from __future__ import annotations

import json
from pathlib import Path

from ble_lock.central.keystore import Keystore, LockRecord

LOCK = "0BADC0DE"
KEY = b"\x11" * 32
NEWER = b"\x22" * 32


def _pending(key: bytes = KEY, counter: int = 0) -> LockRecord:
    return LockRecord(lock_id=LOCK, name="door", lock_public_key=key, counter=counter,
                      pending=True)


def test_pending_is_on_disk_and_old_files_read_as_final(tmp_path: Path) -> None:
    ks = Keystore(tmp_path)
    ks.put(_pending())
    raw = json.loads((tmp_path / "keystore.json").read_text())
    assert raw["locks"][LOCK]["pending"] is True
    assert Keystore(tmp_path).get(LOCK) == _pending()
    del raw["locks"][LOCK]["pending"]  # written before pending records existed
    (tmp_path / "keystore.json").write_text(json.dumps(raw))
    record = ks.get(LOCK)
    assert record is not None
    assert record.pending is False


def test_confirm_makes_final_only_the_pending_record_of_that_key(tmp_path: Path) -> None:
    ks = Keystore(tmp_path)
    ks.put(_pending())
    assert ks.confirm_pending(LOCK, NEWER) is False  # a record replaced meanwhile
    assert ks.get(LOCK) == _pending()
    assert ks.confirm_pending(LOCK, KEY) is True
    record = ks.get(LOCK)
    assert record is not None
    assert record.pending is False
    assert ks.confirm_pending(LOCK, KEY) is False  # already final
    assert ks.confirm_pending("00000001", KEY) is False  # no such lock


def test_discard_removes_or_restores_and_never_lowers_the_counter(tmp_path: Path) -> None:
    ks = Keystore(tmp_path)
    ks.put(_pending())
    assert ks.discard_pending(LOCK, NEWER) is False
    assert ks.discard_pending(LOCK, KEY) is True
    assert ks.get(LOCK) is None
    old = LockRecord(lock_id=LOCK, name="front", lock_public_key=NEWER, user_no=1,
                     role="admin", counter=4)
    ks.put(_pending(counter=4))
    assert ks.next_counter(LOCK) == 5  # a session with the pending record used 5
    assert ks.discard_pending(LOCK, KEY, restore=old) is True
    restored = ks.get(LOCK)
    assert restored is not None
    # the stored counter is the top of the block reserved for 5 (counters are reserved in
    # blocks): never below 5, so 5 is never sent again
    assert (restored.name, restored.pending) == ("front", False)
    assert restored.counter >= 5
    assert ks.discard_pending(LOCK, NEWER) is False  # final records are never discarded
    assert ks.get(LOCK) == restored
    assert Keystore(tmp_path).next_counter(LOCK) > 5  # a new process: never 5 again
