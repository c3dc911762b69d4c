"""``ble-lock emulate`` (a lock on this machine's adapter) and ``ble-lock panel ...`` (its
front panel, through the emulator's control socket)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Any

import click

from ble_lock.cli.app import App, command_runner, pass_app
from ble_lock.cli.errors import CliError
from ble_lock.cli.output import emit, qr_lines
from ble_lock.core.errors import ErrorCode
from ble_lock.core.profile import PROFILES
from ble_lock.peripheral.client import AsyncPanelClient
from ble_lock.peripheral.clock import EmulatorClock, ManualClock, RealClock
from ble_lock.peripheral.emulator import Emulator, EmulatorConfig
from ble_lock.peripheral.state import PANEL_ADDR
from ble_lock.protocol.gatt import StateFlags

__all__ = ["emulate", "panel"]

_STATE_HELP = "the emulated lock's state folder (default: <home>/emulator)"


def _state_dir(app: App, state_dir: Path | None) -> Path:
    return state_dir if state_dir is not None else app.state_home() / "emulator"


def _print_label(emulator: Emulator) -> None:
    label = emulator.label
    if label is None or emulator.lock is None or emulator.lock.claimed:
        return
    click.echo(f"setup-code {label.setup_code}")
    click.echo(f"qr {label.qr}")
    for line in qr_lines(label.qr):
        click.echo(f"   {line}")
    if not emulator.flags() & StateFlags.PAIRING_MODE:
        click.echo(f"Press SET first (pairing mode): ble-lock panel --state-dir "
                   f"{emulator.config.state_dir} set")
    click.echo(f"Claim it from a phone: ble-lock claim {emulator.name} --qr '{label.qr}'")


async def _emulate(config: EmulatorConfig) -> None:
    emulator = Emulator(config)
    try:
        await emulator.start()
        lock, address, opened = emulator.lock, emulator.panel_address, emulator.opened
        assert lock is not None
        assert address is not None
        assert opened is not None
        _print_label(emulator)
        click.echo(f"ready lock_id={lock.lock_id.hex().upper()} name={emulator.name} "
                   f"profile={opened.profile} panel={address.text()}")
        click.echo(f"Front panel: ble-lock panel --state-dir {config.state_dir} pin 123456 "
                   "(Ctrl-C stops the lock)")
        await asyncio.Event().wait()
    finally:
        await emulator.stop()
        click.echo("stopped")


async def _until_signal(config: EmulatorConfig) -> None:
    task = asyncio.ensure_future(_emulate(config))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


@click.command()
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), help=_STATE_HELP)
@click.option("--name", help="advertised name (default BLELOCK-<lock id>)")
@click.option("--profile", type=click.Choice(sorted(PROFILES)),
              help="model of a new lock (default dl20vc)")
@click.option("--manual-clock", type=float, metavar="START",
              help="freeze the lock clock at START (unix s); `panel clock SECONDS` moves it")
@click.option("--panel-tcp", is_flag=True, help="serve the panel on loopback TCP")
@click.option("--adapter", help="Bluetooth adapter (default: the global --adapter / "
              "$BLE_ADAPTER, else the system's)")
@pass_app
@command_runner
async def emulate(app: App, state_dir: Path | None, name: str | None, profile: str | None,
                  manual_clock: float | None, panel_tcp: bool, adapter: str | None) -> None:
    """Run a lock on this machine's Bluetooth adapter until Ctrl-C.

    On the first start it prints the setup code and its QR code (the lock's label).
    """
    if name is not None and not 1 <= len(name.encode()) <= 29:
        raise CliError("--name must be 1 to 29 bytes (it goes in the scan response)")
    clock: EmulatorClock = ManualClock(manual_clock) if manual_clock is not None else RealClock()
    await _until_signal(EmulatorConfig(state_dir=_state_dir(app, state_dir), clock=clock,
                                       name=name, profile=profile,
                                       adapter=adapter or app.adapter,
                                       force_tcp_panel=panel_tcp))


# ---------------------------------------------------------------- the front panel


def _describe(reply: dict[str, Any]) -> str:
    """The lock's prompt, with how and why for a decision."""
    text = str(reply.get("prompt") or "ok")
    if reply.get("outcome") == "granted" and reply.get("method"):
        text += f" by {reply['method']}"
    elif reply.get("outcome") == "denied" and reply.get("reason"):
        text += f" [{reply['reason']}]"
    capture = reply.get("capture")
    if isinstance(capture, dict) and capture.get("done"):
        text += f" (credential {capture.get('credential')})"
    return text


def _show_display(reply: dict[str, Any]) -> None:
    display = reply.get("display") or {}
    for key, value in display.items():
        if key == "enrolling" and isinstance(value, dict):
            value = (f"{value['kind'].lower()} for user {value['user']}: "
                     f"{value['captured']}/{value['needed']}, {value['next_step']}")
        click.echo(f"  {key:13} {value}")


async def _panel_call(state_dir: Path, as_json: bool, op: str, *, full: bool = False,
                      **fields: Any) -> None:
    if not (state_dir / PANEL_ADDR).exists():
        raise CliError(f"no emulator is running in {state_dir}", code=ErrorCode.CONNECTION_FAILED,
                       hint="start one with `ble-lock emulate` (or pass --state-dir)")
    async with await AsyncPanelClient.connect(state_dir) as client:
        reply = await client.call(op, **fields)

    def human() -> None:
        if op == "label":
            for key in ("serial", "lock_id", "setup_code", "qr"):
                click.echo(f"{key:11} {reply[key]}")
            for line in qr_lines(str(reply["qr"])):
                click.echo(f"   {line}")
            return
        click.echo(_describe(reply))
        if full:
            _show_display(reply)

    emit(as_json, reply, human)


@click.group()
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), help=_STATE_HELP)
@click.option("--json", "as_json", is_flag=True, help="print the lock's reply as JSON")
@click.pass_context
def panel(ctx: click.Context, state_dir: Path | None, as_json: bool) -> None:
    """Drive a running emulator's front panel; prints what the lock says."""
    app = ctx.find_object(App) or App()
    ctx.obj = app
    ctx.meta["panel"] = (_state_dir(app, state_dir), as_json)


def _op(op: str, **fields: Any) -> None:
    """Run one panel op for the current command (state dir and --json from the group)."""
    state_dir, as_json = click.get_current_context().meta["panel"]
    command_runner(_panel_call)(state_dir, as_json, op, **fields)


@panel.command("status")
def panel_status() -> None:
    """The lock's display: bolt, door, lockout, enrolment, flags."""
    _op("status", full=True)


@panel.command("label")
def panel_label() -> None:
    """The printed label: serial, lock id, setup code and QR code."""
    _op("label")


@panel.command("pin")
@click.argument("digits")
def panel_pin(digits: str) -> None:
    """Type DIGITS at the keypad, then # (confirm)."""
    _op("keypad", keys=digits if digits.endswith(("#", "*")) else digits + "#")


@panel.command("keys")
@click.argument("keys")
def panel_keys(keys: str) -> None:
    """Press KEYS as they are (digits, # confirm, * cancel)."""
    _op("keypad", keys=keys)


def _biometric(kind: str) -> click.Command:
    @click.argument("template_id", metavar="ID")
    def present(template_id: str) -> None:
        _op("biometric", kind=kind, template=template_id.encode().hex())

    present.__doc__ = (f"Present {kind} ID (any text names it: the same ID matches); "
                       "a capture while an enrolment of that kind runs.")
    return click.command(kind if kind != "fingerprint" else "finger")(present)


for _kind in ("fingerprint", "face", "palm"):
    panel.add_command(_biometric(_kind))


@panel.command("card")
@click.argument("uid")
def panel_card(uid: str) -> None:
    """Tap the card with UID (hex)."""
    _op("card", uid=uid)


@panel.command("key")
def panel_key() -> None:
    """Turn the mechanical key."""
    _op("mechanical_key")


@panel.command("door")
@click.argument("state", type=click.Choice(["open", "closed"]))
def panel_door(state: str) -> None:
    """The door sensor: open or closed."""
    _op("door", state=state)


@panel.command("button")
def panel_button() -> None:
    """The inside lock button."""
    _op("inside_button")


@panel.command("handle")
def panel_handle() -> None:
    """Open from inside with the handle."""
    _op("inside_handle")


@panel.command("touch")
def panel_touch() -> None:
    """Wake the keypad."""
    _op("touch")


@panel.command("tamper")
def panel_tamper() -> None:
    """Forced removal: the tamper alarm."""
    _op("tamper")


@panel.command("battery")
@click.argument("percent", type=click.IntRange(0, 100))
def panel_battery(percent: int) -> None:
    """Set the battery level to PERCENT."""
    _op("battery", percent=percent)


@panel.command("set")
def panel_set() -> None:
    """Press SET: pairing mode."""
    _op("set_button")


@panel.command("claim")
@click.argument("pin")
def panel_claim(pin: str) -> None:
    """First admin at the keypad of a fresh lock, with PIN (typed twice)."""
    _op("claim", pin=pin, confirm=pin)


@panel.command("reset")
def panel_reset() -> None:
    """Factory reset at the lock."""
    _op("factory_reset")


@panel.command("clock")
@click.argument("seconds", type=click.FloatRange(0, 315_360_000))
def panel_clock(seconds: float) -> None:
    """Move a manual lock clock forward by SECONDS."""
    _op("clock.advance", seconds=seconds)
