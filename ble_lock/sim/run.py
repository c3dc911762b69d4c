"""Run a callable as a process on a simulated host: ``python -m ble_lock.sim.run TARGET [ARG...]``.

TARGET is ``package.module:function`` or ``path/to/file.py:function``; the function is called
with the remaining arguments as a list of strings if it takes a parameter, and awaited if it
is a coroutine function. SIGTERM/SIGINT cancel it, so its ``finally`` blocks run (a bless
server unregisters and stops advertising) and the process exits 0.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def load(target: str) -> Callable[..., Any]:
    module_name, sep, func_name = target.rpartition(":")
    if not sep or not module_name or not func_name:
        raise SystemExit(
            f"target must look like module:function or file.py:function, not {target!r}"
        )
    if module_name.endswith(".py"):
        path = Path(module_name).resolve()
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            raise SystemExit(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    func = getattr(module, func_name, None)
    if not callable(func):
        raise SystemExit(f"{target}: no callable {func_name!r}")
    return func  # type: ignore[no-any-return]  # checked callable just above


async def _run(func: Callable[..., Any], args: list[str]) -> None:
    call_args = [args] if inspect.signature(func).parameters else []
    if not inspect.iscoroutinefunction(func):
        await asyncio.to_thread(func, *call_args)
        return
    task = asyncio.ensure_future(func(*call_args))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        if not task.cancelled():
            raise


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    func = load(argv[0])
    asyncio.run(_run(func, argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
