"""The phone's replay counters are reserved in blocks (issue 15 item 2).

No fsync on the phone per unlock: :meth:`Keystore.next_counter` persists the top of a
block of ``counter_block`` values before it hands out the first, and the rest from
memory. A crash at any step of a write, or between writes, skips numbers but never
reuses one (the lock refuses a counter it has seen: docs/protocol.md "Replay"). The
crash is injected at each named durability step (``Keystore(step=...)``), then the
phone "restarts" with a new keystore object on the same folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ble_lock.central.keystore import COUNTER_BLOCK, STEPS, Keystore, KeystoreError, LockRecord

LOCK = "L1"


class _Killed(BaseException):
    """The process dies here (nothing after it runs, no handler catches it)."""


def _paired(home: Path, **kw: object) -> Keystore:
    ks = Keystore(home, **kw)  # type: ignore[arg-type]
    ks.put(LockRecord(lock_id=LOCK, name="front door", lock_public_key=b"\x03" * 32))
    return ks


def test_one_write_per_block_no_fsync_per_unlock(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    ks = _paired(tmp_path, counter_block=16)
    syncs: list[int] = []
    real_fsync = os.fsync

    def counting(fd: int) -> None:
        syncs.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting)
    per_call = []
    for _ in range(40):
        before = len(syncs)
        ks.next_counter(LOCK)
        per_call.append(len(syncs) - before)
    # a write (file + folder: 2 fsyncs) at calls 1, 17 and 33; none in between
    assert [i for i, n in enumerate(per_call) if n] == [0, 16, 32]
    assert set(per_call) == {0, 2}


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("used_before", [0, 3, 7, 8])
def test_a_crash_at_any_step_skips_but_never_reuses(tmp_path: Path, step: str,
                                                    used_before: int) -> None:
    """Use some counters (a block of 8), crash while reserving or between reservations,
    restart: every later counter is above every counter handed out before."""
    crash = {"armed": False}

    def at(reached: str) -> None:
        if crash["armed"] and reached == step:
            raise _Killed(step)

    ks = _paired(tmp_path, counter_block=8, step=at)
    handed = [ks.next_counter(LOCK) for _ in range(used_before)]
    crash["armed"] = True
    try:  # the call that needs a write dies at ``step``; one that needs none returns
        while True:
            handed.append(ks.next_counter(LOCK))
    except _Killed:
        pass
    restarted = Keystore(tmp_path, counter_block=8)
    after = [restarted.next_counter(LOCK) for _ in range(20)]
    assert min(after) > max(handed, default=0)
    assert len(set(handed + after)) == len(handed + after)
    assert after == sorted(after)


def test_a_crash_between_writes_skips_the_rest_of_the_block(tmp_path: Path) -> None:
    ks = _paired(tmp_path)
    assert [ks.next_counter(LOCK) for _ in range(5)] == [1, 2, 3, 4, 5]
    # the process dies holding 6..COUNTER_BLOCK in memory: those are skipped
    assert Keystore(tmp_path).next_counter(LOCK) == COUNTER_BLOCK + 1


def test_re_pairing_drops_the_block_in_memory(tmp_path: Path) -> None:
    ks = _paired(tmp_path, counter_block=8)
    assert ks.next_counter(LOCK) == 1
    ks.put(LockRecord(lock_id=LOCK, name="front door", lock_public_key=b"\x04" * 32,
                      counter=100))
    assert ks.next_counter(LOCK) == 101
    assert ks.remove(LOCK)
    with pytest.raises(KeystoreError, match="no lock"):
        ks.next_counter(LOCK)
