"""The house rules of DESIGN.md ("Layers (the house)", docs/architecture.md): imports point
down, core and wire do no I/O, sim is generic, lockapp and central never meet."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import ble_lock

FORBIDDEN = ("asyncio", "bleak", "bless", "click", "dbus_fast", "dbus_next")
ROOT = Path(ble_lock.__file__).parent

# What wire may take from core: the shared vocabulary (error codes, the data model).
WIRE_MAY_IMPORT_FROM_CORE = {
    "ble_lock.core.errors",
    "ble_lock.core.model",
    # Code-secret derivation (normalize, derive, contexts): a leaf of core that imports only
    # core.errors; pairing must derive what the core stores. Kept here, named, until the core
    # restructure files it under errors/model (see docs/architecture.md).
    "ble_lock.core.hashing",
    # The one Clock/Rng protocol (docs/architecture.md, "Time and randomness"): a leaf that
    # imports nothing of ble_lock (test_core_clock_is_a_leaf).
    "ble_lock.core.clock",
}

# Rank of each package: a package imports only packages of a lower rank (and itself).
# lockapp and central (the phone's app client side) share a rank: neither imports the other.
RANK = {
    "core": 0,
    "wire": 1,
    "lockapp": 2,
    "central": 2,
    "dfu": 2,  # firmware update (SMP server, slots, images): sans-IO over core
    "peripheral": 3,
    "gateway": 3,
    "testing": 4,
    "cli": 5,
}


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


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _static_imports(path: Path) -> set[str]:
    """The ble_lock modules one source file imports (absolute and relative, any nesting)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("ble_lock"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            if not base.startswith("ble_lock"):
                continue
            for alias in node.names:  # `from pkg import module` names a module
                sub = ROOT.parent / Path(*f"{base}.{alias.name}".split("."))
                is_module = sub.with_suffix(".py").exists() or (sub / "__init__.py").exists()
                found.add(f"{base}.{alias.name}" if is_module else base)
    return found


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _static_imports(p) for p in ROOT.rglob("*.py")}


def _layer(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


@pytest.mark.parametrize("package", ["ble_lock.core", "ble_lock.wire", "ble_lock.dfu"])
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
    upper = sorted(n for n in loaded if _layer(n) in RANK and RANK[_layer(n)] > 0)
    upper += sorted(n for n in loaded if _layer(n) == "sim")
    assert upper == []


def test_wire_imports_nothing_of_ble_lock_above_core_errors_and_model() -> None:
    offending = sorted(
        f"{module} -> {target}"
        for module, targets in _graph().items()
        if _layer(module) == "wire"
        for target in targets
        if _layer(target) != "wire" and target not in WIRE_MAY_IMPORT_FROM_CORE
    )
    assert offending == []


def test_core_clock_is_a_leaf() -> None:
    """wire may import core.clock only because it imports nothing else of ble_lock."""
    targets = _graph()["ble_lock.core.clock"]
    assert sorted(t for t in targets if t.startswith("ble_lock")) == []


def test_lockapp_and_central_never_import_each_other() -> None:
    offending = sorted(
        f"{module} -> {target}"
        for module, targets in _graph().items()
        for target in targets
        if {_layer(module), _layer(target)} == {"lockapp", "central"}
    )
    assert offending == []


def test_imports_point_down() -> None:
    """Every package imports only itself and lower ranks; sim is outside the ranks."""
    offending = sorted(
        f"{module} -> {target}"
        for module, targets in _graph().items()
        for target in targets
        if _layer(module) in RANK
        and _layer(target) in RANK
        and _layer(target) != _layer(module)
        and RANK[_layer(target)] >= RANK[_layer(module)]
    )
    assert offending == []


def test_sim_statically_imports_nothing_else_from_ble_lock() -> None:
    offending = sorted(
        f"{module} -> {target}"
        for module, targets in _graph().items()
        if _layer(module) == "sim"
        for target in targets
        if _layer(target) != "sim"
    )
    assert offending == []


def _closure(start: str) -> set[str]:
    graph = _graph()
    seen: set[str] = set()
    todo = [start]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(graph.get(module, set()))
    return seen


def test_the_phone_app_client_reaches_no_lock_through_its_own_imports() -> None:
    reached = _closure("ble_lock.central.app")
    assert "ble_lock.core.lock" not in reached
    assert not any(_layer(m) == "lockapp" for m in reached)


def test_importing_the_phone_app_client_loads_no_core_lock() -> None:
    code = (
        "import sys, ble_lock.central.app\n"
        "print('ble_lock.core.lock' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert out.strip() == "False"


def test_the_pytest_plugin_starts_without_the_dbus_libraries() -> None:
    """``pytest tests/core`` must run where dbus_fast is not installed: the plugin (loaded
    by every pytest run through its entry point) imports the simulator only in fixtures."""
    code = (
        "import importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('dbus_fast', 'dbus_next'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import ble_lock.testing.pytest_plugin\n"
        "print(sorted(m for m in sys.modules if m.startswith('ble_lock.sim')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert out.strip() == "[]"
