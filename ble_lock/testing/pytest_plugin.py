"""pytest plugin (entry point ``pytest11``): hardware-free two-host BLE fixtures.

Fixtures (async, function scope; need pytest-asyncio):

- ``ble_sim``: a :class:`~ble_lock.sim.harness.BleHarness` on a fresh simulator (two hosts,
  one adapter each, unless ``@pytest.mark.ble_sim(hosts=..., adapters=...)`` says otherwise).
  ``ble_sim.sim`` gives the radio for faults and traces.
- ``ble_hosts``: the same harness, but on real adapters when pytest runs with
  ``--ble-adapter hci0 --ble-adapter hci1`` (host ``i`` = the ``i``-th adapter).
- ``ble_adapters``: the adapter names given with ``--ble-adapter``.

Tests marked ``ble_adapter`` need real radios: skipped unless ``--ble-adapter`` is given.

An ``async def`` test that asks for ``ble_sim`` or ``ble_hosts`` is marked
``@pytest.mark.asyncio`` by the plugin, so it runs in pytest-asyncio's default *strict* mode
too: a project needs no ``asyncio_mode = "auto"`` for it (README's example, run in a fresh
folder by tests/cli/test_readme.py).

The simulator (and with it ``dbus_fast``) is imported only when a fixture runs, so pytest
starts, and ``pytest tests/core`` runs, without the D-Bus libraries installed.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ble_lock.sim.harness import BleHarness

try:
    import pytest_asyncio

    _HAVE_ASYNCIO = True
except ImportError:  # pragma: no cover - the plugin must never break pytest start-up
    _HAVE_ASYNCIO = False


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ble-lock", "BLE simulator")
    group.addoption(
        "--ble-adapter",
        action="append",
        default=[],
        metavar="HCI",
        help="run real-radio tests on this adapter (give it twice: hci0, then hci1)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "ble_adapter: needs real Bluetooth adapters (opt-in with --ble-adapter)"
    )
    config.addinivalue_line(
        "markers", "ble_sim(hosts=2, adapters=1, mtu=517): simulator shape for ble_sim/ble_hosts"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--ble-adapter"):
        return
    skip = pytest.mark.skip(reason="needs real Bluetooth adapters: run with --ble-adapter HCI")
    for item in items:
        if "ble_adapter" in item.keywords:
            item.add_marker(skip)


_ASYNC_FIXTURES = frozenset({"ble_sim", "ble_hosts"})


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> None:
    """Mark an ``async def`` test using this plugin's fixtures ``asyncio`` before
    pytest-asyncio looks at it (in strict mode it runs marked coroutines only)."""
    if not _HAVE_ASYNCIO or not inspect.iscoroutinefunction(obj):
        return
    try:
        wanted = set(inspect.signature(obj).parameters)
    except (TypeError, ValueError):
        return
    marks = getattr(obj, "pytestmark", [])
    if wanted & _ASYNC_FIXTURES and not any(
            getattr(mark, "name", None) == "asyncio" for mark in marks):
        pytest.mark.asyncio(obj)


def _shape(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("ble_sim")
    kwargs = dict(marker.kwargs) if marker else {}
    return {
        "hosts": kwargs.get("hosts", 2),
        "adapters": kwargs.get("adapters", 1),
        "mtu": kwargs.get("mtu", 517),
    }


@pytest.fixture
def ble_adapters(request: pytest.FixtureRequest) -> list[str]:
    adapters: list[str] = request.config.getoption("--ble-adapter")
    if not adapters:
        pytest.skip("needs real Bluetooth adapters: run with --ble-adapter HCI")
    return adapters


if _HAVE_ASYNCIO:

    @pytest_asyncio.fixture
    async def ble_sim(request: pytest.FixtureRequest) -> AsyncIterator[BleHarness]:
        from ble_lock.sim.harness import BleHarness  # lazily: dbus_fast only when used

        harness = await BleHarness.simulated(**_shape(request))
        try:
            yield harness
        finally:
            await harness.close()

    @pytest_asyncio.fixture
    async def ble_hosts(request: pytest.FixtureRequest) -> AsyncIterator[BleHarness]:
        from ble_lock.sim.harness import BleHarness  # lazily: dbus_fast only when used

        adapters: list[str] = request.config.getoption("--ble-adapter")
        harness = (
            BleHarness.real(adapters) if adapters else await BleHarness.simulated(**_shape(request))
        )
        try:
            yield harness
        finally:
            await harness.close()
