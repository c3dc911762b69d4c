"""The house rules of DESIGN.md: core and protocol do no I/O, sim is generic."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FORBIDDEN = ("asyncio", "bleak", "bless", "click", "dbus_fast", "dbus_next")


def _modules_after_import(package: str) -> set[str]:
    # A fresh interpreter: the test process itself has asyncio and friends loaded.
    code = (
        "import importlib, json, pkgutil, sys\n"
        f"pkg = importlib.import_module({package!r})\n"
        "for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(out))


@pytest.mark.parametrize("package", ["ble_lock.core", "ble_lock.protocol"])
def test_sans_io_packages_import_no_io_libraries(package: str) -> None:
    loaded = _modules_after_import(package)
    offending = sorted(
        name for name in loaded if name.split(".")[0] in FORBIDDEN
    )
    assert offending == [], f"{package} pulls in {offending}"


def test_sim_imports_nothing_else_from_ble_lock() -> None:
    loaded = _modules_after_import("ble_lock.sim")
    others = sorted(
        name
        for name in loaded
        if name.startswith("ble_lock.") and not name.startswith("ble_lock.sim")
    )
    assert others == [], f"ble_lock.sim imports {others}"


def test_core_does_not_import_upper_layers() -> None:
    loaded = _modules_after_import("ble_lock.core")
    upper = sorted(
        n
        for n in loaded
        if n.startswith(("ble_lock.protocol", "ble_lock.central", "ble_lock.peripheral",
                         "ble_lock.sim", "ble_lock.cli"))
    )
    assert upper == []
