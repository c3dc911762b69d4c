"""Instruction counts of code regions, under valgrind's callgrind, for a noisy machine.

A subject process runs under ``valgrind --tool=callgrind --collect-atstart=no``; it
enters :func:`collecting` around each measured piece of code (collection on, then off),
and :func:`dump` writes the counts of a region under its name and resets them
(callgrind's client requests, reached through a few lines of C compiled here with the
system's ``cc`` and valgrind's ``callgrind.h``). Instructions do not depend on the load
of the machine, so a ratio of two counts is stable where a ratio of two timings is not.

Outside valgrind the client requests are no-ops.
"""

from __future__ import annotations

import ctypes
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["available", "collecting", "count", "dump"]

_SOURCE = r"""
#include <valgrind/callgrind.h>
void cg_on(void) { CALLGRIND_TOGGLE_COLLECT; }
void cg_off(void) { CALLGRIND_TOGGLE_COLLECT; }
void cg_dump(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
"""
_LIB: ctypes.CDLL | None = None


def available() -> bool:
    """valgrind, a C compiler and callgrind.h are installed."""
    return (Path("/usr/include/valgrind/callgrind.h").exists()
            and subprocess.run(["sh", "-c", "command -v valgrind && command -v cc"],
                               capture_output=True, check=False).returncode == 0)


def _lib() -> ctypes.CDLL:
    global _LIB
    if _LIB is None:
        tmp = Path(tempfile.mkdtemp(prefix="cg-"))
        (tmp / "cg.c").write_text(_SOURCE)
        subprocess.run(["cc", "-O1", "-shared", "-fPIC", "-o", str(tmp / "cg.so"),
                        str(tmp / "cg.c")], check=True)
        _LIB = ctypes.CDLL(str(tmp / "cg.so"))
    return _LIB


@contextmanager
def collecting() -> Iterator[None]:
    """Count the instructions run inside (added to the current region)."""
    lib = _lib()
    lib.cg_on()
    try:
        yield
    finally:
        lib.cg_off()


def dump(name: str) -> None:
    """Close the current region: its counts are written under ``name`` and reset."""
    _lib().cg_dump(name.encode())


def count(argv: list[str], timeout: float = 1800) -> dict[str, int]:
    """Run ``python argv...`` under callgrind; instructions per dumped region name."""
    with tempfile.TemporaryDirectory(prefix="cg-out-") as out:
        cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no",
               f"--callgrind-out-file={out}/cg.out", sys.executable, *argv]
        subprocess.run(cmd, check=True, capture_output=True, timeout=timeout,
                       env={**os.environ, "PYTHONHASHSEED": "0"})
        totals: dict[str, int] = {}
        for path in sorted(Path(out).iterdir()):
            text = path.read_text(errors="replace")
            trigger = re.search(r"^desc: Trigger: Client Request: (\S+)", text, re.M)
            total = re.search(r"^(?:totals|summary): (\d+)", text, re.M)
            if trigger and total:
                totals[trigger.group(1)] = int(total.group(1))
        return totals
