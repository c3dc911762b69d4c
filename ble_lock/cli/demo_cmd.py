"""``ble-lock demo`` (the story on the simulator) and ``ble-lock sim`` (simulated hosts
for manual tries)."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path

import click

from ble_lock.cli.app import App, command_runner, pass_app
from ble_lock.cli.demo import run_demo
from ble_lock.peripheral.process import install_stop_signals
from ble_lock.sim.simulator import Simulator

__all__ = ["demo", "sim"]


@click.command()
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path),
              help="keep the locks' and phones' state in this folder")
@pass_app
@command_runner
async def demo(app: App, keep: Path | None) -> None:
    """The whole story on the built-in simulator, in seconds, with no set-up."""
    click.echo("ble-lock demo: two locks and two phones on a simulated Bluetooth radio")
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        seconds = await run_demo(keep, click.echo)
    else:
        with tempfile.TemporaryDirectory(prefix="ble-lock-demo-") as work:
            seconds = await run_demo(Path(work), click.echo)
    click.echo(f"\ndemo complete in {seconds:.1f} s")


def host_home(base: Path, index: int) -> Path:
    """Host ``index``'s own home (keystore, emulator state): ``<base>/host-<index>``."""
    return base / f"host-{index}"


@click.command()
@click.option("--hosts", type=click.IntRange(1, 16), default=2, show_default=True)
@click.option("--adapters", type=click.IntRange(1, 8), default=1, show_default=True,
              help="adapters per host")
@click.option("--homes", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="keep each host's home (keystore, emulator state) in DIR/host-N "
                   "(default: a temporary folder, removed when sim stops)")
@pass_app
@command_runner
async def sim(app: App, hosts: int, adapters: int, homes: Path | None) -> None:
    """Start simulated Bluetooth hosts; prints the variables to export (Ctrl-C stops).

    Each host gets its own bus and its own home (BLE_LOCK_HOME), as two machines would:
    a second phone needs its own keystore.
    """
    with contextlib.ExitStack() as stack:
        base = homes if homes is not None else Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="ble-lock-sim-")))
        async with Simulator(hosts, adapters=adapters) as simulator:
            for index, host in enumerate(simulator.hosts):
                env = host.env()
                home = host_home(base, index)
                home.mkdir(parents=True, exist_ok=True)
                names = ", ".join(f"{a.hci} {a.address}" for a in host.adapters)
                click.echo(f"# host {index} ({names}): in its shell")
                click.echo(f"export DBUS_SYSTEM_BUS_ADDRESS='{env['DBUS_SYSTEM_BUS_ADDRESS']}'")
                click.echo(f"export PATH='{env['PATH']}'")
                click.echo(f"export BLE_LOCK_HOME='{home}'")
            stop = asyncio.Event()
            install_stop_signals(asyncio.get_running_loop(), stop.set)
            click.echo("# e.g. host 0: ble-lock emulate    host 1: ble-lock scan")
            click.echo("# running; Ctrl-C to stop")
            await stop.wait()
