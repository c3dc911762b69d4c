"""The gateway as a process: ``python -m ble_lock.gateway.process --config FILE``
(the CLI's ``ble-lock gateway`` runs the same :func:`main`). Also a target for the
simulator harness (``ble.spawn("ble_lock.gateway.process:main", "--config", f)``).

Prints ``ready locks=N`` once it runs; the event stream goes where the configuration
says (stdout by default, then the ``ready`` line goes to stderr). Stops on SIGINT /
SIGTERM (the task is cancelled: links closed, the stream flushed, cursors already
saved).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from ble_lock.gateway.config import GatewayConfig
from ble_lock.gateway.gateway import Gateway

__all__ = ["main"]


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="ble-lock gateway", description=__doc__)
    parser.add_argument("--config", required=True, help="the gateway's TOML or JSON file")
    args = parser.parse_args(argv)
    config = GatewayConfig.load(args.config)
    gateway = Gateway.from_config(config)
    banner = sys.stderr if config.output == "-" else sys.stdout
    print(f"ready locks={len(config.locks)}", file=banner, flush=True)
    await gateway.run()


if __name__ == "__main__":  # pragma: no cover - the process entry
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the way to stop it
        asyncio.run(main(sys.argv[1:]))
