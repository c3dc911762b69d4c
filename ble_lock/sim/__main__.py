"""``python -m ble_lock.sim --hosts 2``: run the simulator until Ctrl-C.

Prints, per host, the line to paste into the shell of a process that should live on that
host (its system bus, and a ``bluetoothctl`` shim for bleak's version probe).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from ble_lock.sim.radio import RadioConfig
from ble_lock.sim.simulator import Simulator


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ble_lock.sim", description=__doc__)
    p.add_argument("--hosts", type=int, default=2, help="simulated hosts (default 2)")
    p.add_argument("--adapters", type=int, default=1, help="adapters per host (default 1)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="air time per ATT PDU")
    p.add_argument("--adv-interval-ms", type=float, default=100.0, help="advertising interval")
    return p


async def _serve(args: argparse.Namespace) -> None:
    config = RadioConfig(
        att_latency_s=args.latency_ms / 1000, adv_interval_s=args.adv_interval_ms / 1000
    )
    async with Simulator(args.hosts, adapters=args.adapters, config=config) as sim:
        for host in sim.hosts:
            adapters = ", ".join(f"{a.hci} {a.address}" for a in host.adapters)
            env = host.env()
            print(f"# {host.name}: {adapters}")
            print(f"export DBUS_SYSTEM_BUS_ADDRESS='{env['DBUS_SYSTEM_BUS_ADDRESS']}'")
            print(f"export PATH='{env['PATH']}'")
        print("# running; Ctrl-C to stop", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
