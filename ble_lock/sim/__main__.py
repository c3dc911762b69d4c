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

from ble_lock.sim.airtime import LinkTiming, Phy
from ble_lock.sim.radio import RadioConfig
from ble_lock.sim.simulator import Simulator


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ble_lock.sim", description=__doc__)
    p.add_argument("--hosts", type=int, default=2, help="simulated hosts (default 2)")
    p.add_argument("--adapters", type=int, default=1, help="adapters per host (default 1)")
    p.add_argument("--interval-ms", type=float, default=0.0,
                   help="connection interval (0: no air time model)")
    p.add_argument("--pdus-per-event", type=int, default=LinkTiming().pdus_per_event,
                   help="LL packets per connection event and direction")
    p.add_argument("--phy", choices=("1M", "2M"), default="1M", help="LE PHY")
    p.add_argument("--data-length", type=int, default=27,
                   help="LL payload octets per PDU (27; up to 251 with DLE)")
    p.add_argument("--adv-interval-ms", type=float, default=100.0, help="advertising interval")
    return p


async def _serve(args: argparse.Namespace) -> None:
    timing = LinkTiming(interval_s=args.interval_ms / 1000, pdus_per_event=args.pdus_per_event,
                        phy=Phy.LE_2M if args.phy == "2M" else Phy.LE_1M,
                        data_length=args.data_length)
    config = RadioConfig(timing=timing, adv_interval_s=args.adv_interval_ms / 1000)
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
