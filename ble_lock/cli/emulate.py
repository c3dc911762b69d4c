"""``ble-lock emulate`` (a lock on this machine's adapter) and ``ble-lock panel ...`` (its
front panel, through the emulator's control socket)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import click

from ble_lock.cli.app import App, command_runner, pass_app
from ble_lock.cli.errors import CliError
from ble_lock.cli.output import emit, json_option, name_word, qr_lines, word
from ble_lock.core.errors import ErrorCode, TransportError
from ble_lock.core.profile import PROFILES
from ble_lock.peripheral.clock import EmulatorClock, ManualClock, RealClock
from ble_lock.peripheral.emulator import Emulator, EmulatorConfig
from ble_lock.peripheral.panel_client import AsyncPanelClient
from ble_lock.peripheral.process import install_stop_signals, load_vendor_key
from ble_lock.peripheral.state import PANEL_ADDR
from ble_lock.wire.link.gatt import StateFlags

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
    click.echo(f"Claim it from a phone: ble-lock claim {emulator.name} --qr (paste the qr "
               "text above when asked)")


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
    install_stop_signals(asyncio.get_running_loop(), task.cancel)
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
@click.option("--vendor-key", type=click.Path(dir_okay=False, path_type=Path), metavar="PEM",
              help="key firmware images must be signed by (Ed25519 or ECDSA P-256 PEM, e.g. "
              "from `imgtool keygen`; docs/firmware.md); without it no firmware update "
              "(no SMP service)")
@pass_app
@command_runner
async def emulate(app: App, state_dir: Path | None, name: str | None, profile: str | None,
                  manual_clock: float | None, panel_tcp: bool, adapter: str | None,
                  vendor_key: Path | None) -> None:
    """Run a lock on this machine's Bluetooth adapter until Ctrl-C.

    On the first start it prints the setup code and its QR code (the lock's label).
    """
    if name is not None and not 1 <= len(name.encode()) <= 29:
        raise CliError("--name must be 1 to 29 bytes (it goes in the scan response)")
    clock: EmulatorClock = ManualClock(manual_clock) if manual_clock is not None else RealClock()
    await _until_signal(EmulatorConfig(state_dir=_state_dir(app, state_dir), clock=clock,
                                       name=name, profile=profile,
                                       adapter=adapter or app.adapter,
                                       force_tcp_panel=panel_tcp,
                                       vendor_key=load_vendor_key(vendor_key)))


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


def _json_word(value: Any) -> str:
    """A display value from the panel's JSON in the CLI's words (:func:`word`): on/off,
    none, enum names in lower case (``FACTORY_FRESH`` -> ``factory-fresh``)."""
    if isinstance(value, str) and value.isupper():
        return name_word(value)
    if isinstance(value, list):
        return ",".join(_json_word(v) for v in value) or "none"
    return word(value)


def _show_display(reply: dict[str, Any]) -> None:
    display = reply.get("display") or {}
    for key, value in display.items():
        if key == "enrolling" and isinstance(value, dict):
            text = (f"{name_word(value['kind'])} for user {value['user']}: "
                    f"{value['captured']}/{value['needed']} captured, next {value['next_step']}")
        else:
            text = _json_word(value)
        click.echo(f"  {key:13} {text}")


def _refusal(reply: dict[str, Any]) -> ErrorCode | None:
    """The code of a decision the lock refused (a wrong PIN, a lockout...), else None."""
    if reply.get("outcome") != "denied":
        return None
    reason = reply.get("reason")
    known = ErrorCode.__members__.get(reason) if isinstance(reason, str) else None
    return known if known is not None else ErrorCode.PERMISSION_DENIED


async def _panel_call(state_dir: Path, as_json: bool, op: str, *, full: bool = False,
                      **fields: Any) -> None:
    if not (state_dir / PANEL_ADDR).exists():
        raise TransportError(f"no emulator is running in {state_dir}",
                             code=ErrorCode.CONNECTION_FAILED,
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
    refused = _refusal(reply)
    if refused is not None:  # the lock said no: a script must see it (exit = the code)
        raise click.exceptions.Exit(int(refused))


@click.group()
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), help=_STATE_HELP)
@click.option("--json", "as_json", is_flag=True, help="print the lock's reply as JSON")
@click.pass_context
def panel(ctx: click.Context, state_dir: Path | None, as_json: bool) -> None:
    """Drive a running emulator's front panel; prints what the lock says."""
    app = ctx.find_object(App) or App()
    ctx.obj = app
    ctx.meta["panel"] = (_state_dir(app, state_dir), as_json)


def _op(op: str, as_json: bool, **fields: Any) -> None:
    """Run one panel op for the current command (state dir from the group; --json on the
    group or the command)."""
    state_dir, group_json = click.get_current_context().meta["panel"]
    command_runner(_panel_call)(state_dir, as_json or group_json, op, **fields)


@panel.command("status")
@json_option
def panel_status(as_json: bool) -> None:
    """The lock's display: bolt, door, lockout, enrolment, flags."""
    _op("status", as_json, full=True)


@panel.command("label")
@json_option
def panel_label(as_json: bool) -> None:
    """The printed label: serial, lock id, setup code and QR code."""
    _op("label", as_json)


@panel.command("pin")
@click.argument("digits")
@json_option
def panel_pin(digits: str, as_json: bool) -> None:
    """Type DIGITS at the keypad, then # (confirm)."""
    _op("keypad", as_json, keys=digits if digits.endswith(("#", "*")) else digits + "#")


@panel.command("keys")
@click.argument("keys")
@json_option
def panel_keys(keys: str, as_json: bool) -> None:
    """Press KEYS as they are (digits, # confirm, * cancel)."""
    _op("keypad", as_json, keys=keys)


def _biometric(kind: str) -> click.Command:
    @click.argument("template_id", metavar="ID")
    @json_option
    def present(template_id: str, as_json: bool) -> None:
        _op("biometric", as_json, kind=kind, template=template_id.encode().hex())

    present.__doc__ = (f"Present {kind} ID (any text names it: the same ID matches); "
                       "a capture while an enrolment of that kind runs.")
    return click.command(kind if kind != "fingerprint" else "finger")(present)


for _kind in ("fingerprint", "face", "palm"):
    panel.add_command(_biometric(_kind))


@panel.command("card")
@click.argument("uid")
@json_option
def panel_card(uid: str, as_json: bool) -> None:
    """Tap the card with UID (hex)."""
    _op("card", as_json, uid=uid)


@panel.command("key")
@json_option
def panel_key(as_json: bool) -> None:
    """Turn the mechanical key."""
    _op("mechanical_key", as_json)


@panel.command("door")
@click.argument("state", type=click.Choice(["open", "closed"]))
@json_option
def panel_door(state: str, as_json: bool) -> None:
    """The door sensor: open or closed."""
    _op("door", as_json, state=state)


@panel.command("button")
@json_option
def panel_button(as_json: bool) -> None:
    """The inside lock button."""
    _op("inside_button", as_json)


@panel.command("handle")
@json_option
def panel_handle(as_json: bool) -> None:
    """Open from inside with the handle."""
    _op("inside_handle", as_json)


@panel.command("touch")
@json_option
def panel_touch(as_json: bool) -> None:
    """Wake the keypad."""
    _op("touch", as_json)


@panel.command("tamper")
@json_option
def panel_tamper(as_json: bool) -> None:
    """Forced removal: the tamper alarm."""
    _op("tamper", as_json)


@panel.command("battery")
@click.argument("percent", type=click.IntRange(0, 100))
@json_option
def panel_battery(percent: int, as_json: bool) -> None:
    """Set the battery level to PERCENT."""
    _op("battery", as_json, percent=percent)


@panel.command("set")
@json_option
def panel_set(as_json: bool) -> None:
    """Press SET: pairing mode."""
    _op("set_button", as_json)


@panel.command("claim")
@click.argument("pin")
@json_option
def panel_claim(pin: str, as_json: bool) -> None:
    """First admin at the keypad of a fresh lock, with PIN (typed twice)."""
    _op("claim", as_json, pin=pin, confirm=pin)


@panel.command("menu")
@click.option("--pin", help="the master's PIN (digits)")
@click.option("--card", "card", metavar="UID", help="the master's card UID (hex)")
@click.option("--finger", "finger", metavar="ID", help="the master's fingerprint ID")
@click.option("--exit", "leave", is_flag=True, help="leave the menu")
@json_option
def panel_menu(pin: str | None, card: str | None, finger: str | None, leave: bool,
               as_json: bool) -> None:
    # R-USR-1: only an admin (DL20VC "master") enters management
    """Enter the admin menu with the master's PIN, card or fingerprint."""
    if leave:
        _op("menu_exit", as_json)
        return
    given = {k: v for k, v in (("pin", pin), ("card", card),
                               ("finger", None if finger is None else finger.encode().hex()))
             if v is not None}
    if len(given) != 1:
        raise click.UsageError("give one of --pin, --card or --finger (or --exit)")
    _op("menu", as_json, **given)


@panel.command("reset")
@json_option
def panel_reset(as_json: bool) -> None:
    """Factory reset at the lock."""
    _op("factory_reset", as_json)


@panel.command("clock")
@click.argument("seconds", type=click.FloatRange(0, 315_360_000))
@json_option
def panel_clock(seconds: float, as_json: bool) -> None:
    """Move a manual lock clock forward by SECONDS."""
    _op("clock.advance", as_json, seconds=seconds)
