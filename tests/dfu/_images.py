"""MCUboot images for the DFU tests, signed by the reference tool: ``imgtool`` (PyPI), run
as its own command line (``python -m imgtool.main``), exactly as a vendor's build would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SLOT_SIZE = 0x100000


def imgtool(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "imgtool.main", *args], check=True,
                   capture_output=True)


def keygen(path: Path, kind: str = "ed25519") -> Path:
    """A vendor key (PEM private key) made by ``imgtool keygen``."""
    imgtool("keygen", "-k", str(path), "-t", kind)
    return path


def signed_image(tmp: Path, key: Path | None, version: str, *, body: int = 4000,
                 seed: int = 1) -> bytes:
    """A firmware body of ``body`` bytes (deterministic from ``seed``) signed by
    ``imgtool sign`` (unsigned when ``key`` is None: the hash TLV only)."""
    raw = tmp / f"app-{version}-{seed}.bin"
    raw.write_bytes(bytes((i * 31 + seed) & 0xFF for i in range(body)))
    out = tmp / f"app-{version}-{seed}.signed.bin"
    args = ["sign", "--header-size", "0x20", "--pad-header", "--version", version,
            "--slot-size", hex(SLOT_SIZE)]
    if key is not None:
        args += ["-k", str(key)]
    imgtool(*args, str(raw), str(out))
    return out.read_bytes()
