"""A private dbus-daemon per simulated host, with a system-bus config and an allow-all policy.

bless and bleak connect to "the system bus" named by ``DBUS_SYSTEM_BUS_ADDRESS``; each
simulated host is one such bus, so the two libraries never see each other's objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from pathlib import Path

from ble_lock.sim.errors import SimError
from ble_lock.sim.process import start_child

_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow send_destination="*"/>
  </policy>
</busconfig>
"""

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


def dbus_daemon_path() -> str:
    """Where dbus-daemon is, or a clear error saying how to install it."""
    found = shutil.which("dbus-daemon") or (
        "/usr/bin/dbus-daemon" if Path("/usr/bin/dbus-daemon").exists() else None
    )
    if found is None:
        raise SimError(
            "dbus-daemon is missing: install it (Debian/Ubuntu: apt-get install dbus-daemon)"
        )
    return found


class BusDaemon:
    """One dbus-daemon process listening on a unix socket in its own temporary directory."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._transport: asyncio.SubprocessTransport | None = None
        self._address: str | None = None

    @property
    def address(self) -> str:
        """The bus address to export as ``DBUS_SYSTEM_BUS_ADDRESS``."""
        if self._address is None:
            raise SimError(f"bus {self.name} is not running")
        return self._address

    @property
    def socket_path(self) -> str:
        """The unix socket the daemon listens on (what its clients' sockets are connected to)."""
        if self._dir is None:
            raise SimError(f"bus {self.name} is not running")
        return str(Path(self._dir.name) / "bus")

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    async def start(self) -> str:
        if self._proc is not None:
            raise SimError(f"bus {self.name} already started")
        self._dir = tempfile.TemporaryDirectory(prefix=f"ble-sim-{self.name}-")
        root = Path(self._dir.name)
        config = root / "system.conf"
        config.write_text(_CONFIG.format(socket=root / "bus"))
        self._proc, self._transport = await start_child(
            dbus_daemon_path(),
            f"--config-file={config}",
            "--nofork",
            "--nopidfile",
            "--print-address=1",
        )
        assert self._proc.stdout is not None
        try:
            line = await asyncio.wait_for(self._proc.stdout.readline(), START_TIMEOUT_S)
        except TimeoutError:
            await self.stop()
            raise SimError(f"dbus-daemon for {self.name} did not start") from None
        if not line:
            err = b""
            if self._proc.stderr is not None:
                err = await self._proc.stderr.read()
            await self.stop()
            raise SimError(f"dbus-daemon for {self.name} failed: {err.decode(errors='replace')}")
        self._address = line.decode().strip()
        return self._address

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        transport, self._transport = self._transport, None
        self._address = None
        if proc is not None:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
            # Drain and close the pipes so no fd outlives the daemon.
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    with contextlib.suppress(Exception):
                        await stream.read()
            if transport is not None:
                transport.close()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
