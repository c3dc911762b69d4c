"""The lock emulator: the core ``Lock`` and the protocol's ``LockServer`` behind bless.

GATT (``ble_lock.wire.link.gatt``): every write to the command characteristic (write or
write-without-response) goes to ``LockServer.receive_data(frame, now)``; every frame of
``data_to_send()`` is notified on the response characteristic (bless ``update_value``);
the info characteristic reads the current :class:`~ble_lock.wire.link.gatt.LockInfo`, the
fresh characteristic the lock's current freshness value (a restart starts new ones).
Everything runs on one asyncio loop, so the lock sees one caller at a time.

Durability: the core commits every mutation (SQLite, synchronous=FULL) inside
``receive_data``; the response frames are notified only after it returned, so whatever a
phone saw acknowledged is on disk (SIGKILL loses nothing acknowledged).

Clock: one :class:`~ble_lock.peripheral.clock.EmulatorClock` for the whole lock. The core
reads its lock clock (``now()``); every ``now`` this module hands the protocol endpoint
(frames, the fresh characteristic, timers) is its link clock (``mono()``), so under a
manual clock ``clock.advance`` ages freshness values and session timers with the lock's
own windows.

Timers: one task sleeps until the earliest of ``lock.next_deadline()`` (lock clock) and
``server.next_timer()`` (link clock), runs ``lock.tick()`` / ``server.handle_timer()``,
flushes pushes and notifies; every input wakes it to re-arm. Front-panel input (a
``clock.advance`` among it) also runs the link timers that fell due before it returns, so
what an advance ended has been notified by the time the panel answers.

MTU: bless does not pass BlueZ's ``WriteValue`` options (``mtu``, ``device``) to its
write callback, so the lock cannot tell links apart or read their MTU: the server has one
MTU, the endpoint's default (``MIN_MTU``, safe for every subscriber; CLOSEs on channels
it does not know go at it). Per channel it infers a safe MTU instead: a phone that wrote
a frame of n bytes has a link MTU of at least n + 3 (an ATT write carries at most MTU - 3
bytes), so the lock answers on that channel with frames no longer than the longest frame
the phone wrote since it opened the channel (HS1 or PAIR1), and never below the
always-safe 23 (``docs/protocol.md``, Channels). The inferred MTU goes with the write
(``receive_data(frame, now, mtu=...)``); the endpoint's default is never changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bless import BlessServer  # type: ignore[attr-defined]  # bless re-exports per backend
from bless.backends.attribute import GATTAttributePermissions as Perm
from bless.backends.characteristic import GATTCharacteristicProperties as Props

from ble_lock.core.errors import ChannelBusyError, ErrorCode, LockError, TransportError
from ble_lock.core.lock import Lock
from ble_lock.core.profile import Feature, get_profile
from ble_lock.dfu.image import ImageVersion, VendorKey
from ble_lock.dfu.slots import Slots
from ble_lock.lockapp.service import LockServer
from ble_lock.peripheral.adapter_claim import AdapterClaim
from ble_lock.peripheral.advertising import Advertiser
from ble_lock.peripheral.clock import EmulatorClock, OsRng
from ble_lock.peripheral.control import ControlServer, PanelAddress
from ble_lock.peripheral.panel import FrontPanel
from ble_lock.peripheral.smp import (
    SMP_CHARACTERISTIC_UUID,
    DirectoryFlash,
    SmpService,
    disconnect_centrals,
)
from ble_lock.peripheral.state import Label, Opened, StateDir
from ble_lock.wire.link.framing import MAX_MTU, MIN_MTU, parse_frame
from ble_lock.wire.link.gatt import (
    COMMAND_UUID,
    FRESH_UUID,
    INFO_UUID,
    RESPONSE_UUID,
    SERVICE_UUID,
    Advertisement,
    FreshValue,
    LockInfo,
    StateFlags,
)
from ble_lock.wire.link.transport_messages import MsgType
from ble_lock.wire.security.crypto import KeyPair

__all__ = ["Emulator", "EmulatorConfig"]

_log = logging.getLogger(__name__)
RESET_DELAY_S = 0.25
"""From an SMP OS reset's answer to the reboot (Zephyr's default)."""
_NEW_CHANNEL_TYPES = (MsgType.HS1, MsgType.PAIR1)


@dataclass(frozen=True, slots=True, kw_only=True)
class EmulatorConfig:
    state_dir: Path
    clock: EmulatorClock
    name: str | None = None
    profile: str | None = None
    adapter: str | None = None
    force_tcp_panel: bool = False
    vendor_key: VendorKey | None = None
    """The key firmware images must be signed by (R-APP-8); None: no SMP service (the
    running image is still chosen by the slots: the factory version, or an earlier one)."""


class Emulator:
    """One emulated lock. ``await start()``, then it serves until ``await stop()``."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.clock = config.clock
        self._rng = OsRng()
        self._state = StateDir(config.state_dir)
        self.opened: Opened | None = None
        self.lock: Lock | None = None
        self.server: LockServer | None = None
        self.panel: FrontPanel | None = None
        self.name = ""
        self._bless: Any = None
        self._advertiser: Advertiser | None = None
        self._control: ControlServer | None = None
        self._claim: AdapterClaim | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._adv_dirty = asyncio.Event()
        self._mtus: dict[int, int] = {}
        self._static_key: KeyPair | None = None
        self._label: Label | None = None
        self._was_claimed = False
        self._reset_pending = False
        self.smp: SmpService | None = None
        self.boots = 0
        self._reboot_task: asyncio.Task[None] | None = None
        self.frames_in = 0
        self.frames_out = 0

    def __repr__(self) -> str:
        return f"Emulator({self.name!r}, state_dir={str(self.config.state_dir)!r})"

    # -- life cycle

    async def start(self) -> None:
        """Open the lock, serve GATT and advertise, open the panel, start the timers.
        Raises ``StorageError`` for a bad state directory and ``TransportError``
        (``CONNECTION_FAILED``) when the Bluetooth stack cannot be used, ``ChannelBusyError``
        (``CHANNEL_BUSY``) when another emulator runs on the same state directory, and
        ``TransportError`` (``ADAPTER_IN_USE``) when another emulated lock serves the
        adapter (one lock per adapter: ``peripheral/adapter_claim.py``)."""
        if ControlServer.in_use(self.config.state_dir):
            raise ChannelBusyError(f"an emulator is already running on {self.config.state_dir}",
                             code=ErrorCode.CHANNEL_BUSY)
        await self._claim_adapter()
        try:
            self.build()
        except BaseException:
            self._release_adapter()
            raise
        assert self._claim is not None
        self._claim.describe(self._lock().lock_id.hex().upper())
        try:
            await self._start_bless()
        except LockError:
            raise
        except Exception as exc:  # dbus, BlueZ or CoreBluetooth errors: one typed error
            from ble_lock.central.availability import bluetooth_unavailable

            if (unavailable := bluetooth_unavailable(exc)) is not None:
                raise unavailable from exc  # BLUETOOTH_UNAVAILABLE: no bus, BlueZ, adapter
            raise TransportError(f"cannot start the Bluetooth GATT server: {exc}",
                                 code=ErrorCode.CONNECTION_FAILED) from exc
        assert self.panel is not None
        self._control = ControlServer(self.panel, self.config.state_dir,
                                      force_tcp=self.config.force_tcp_panel)
        await self._control.start()
        self.start_tasks()

    def build(self) -> None:
        """Open the state directory; make the lock, the protocol server and the panel."""
        opened = self._state.open(profile=self.config.profile, rng=self._rng)
        self.opened = opened
        profile = get_profile(opened.profile)
        # R-APP-8: the bootloader picks the image that runs; its version is the lock's
        slots = Slots(DirectoryFlash(self.config.state_dir / "firmware"),
                      factory_version=ImageVersion.parse(profile.firmware_version),
                      key=self.config.vendor_key)
        running = slots.boot()
        self.boots += 1
        lock = Lock(store=opened.store, clock=self.clock, rng=self._rng,
                    profile=replace(profile, firmware_version=str(running)))
        self.lock = lock
        self.server = LockServer.create(lock, static_key=opened.static_key, rng=self._rng,
                                        mtu=MIN_MTU)
        self._static_key = opened.static_key
        self._label = opened.label
        self._was_claimed = lock.claimed
        self.panel = FrontPanel(lock, self.clock, on_input=self.after_panel_input,
                                label=lambda: self._label, flags=self._flag_names,
                                on_factory_reset=self._note_factory_reset)
        self.name = self.config.name or self.advertisement().local_name()
        # R-APP-8: a lock with a vendor key serves SMP; one without has no firmware update
        # (no SMP service: a new connection discovers exactly the lock's own service)
        self.smp = None
        if self.config.vendor_key is not None:
            from ble_lock.dfu.server import SmpServer  # smp + pydantic: 0.5 s of start-up

            self.smp = SmpService(SmpServer(slots), window_open=lambda: lock.maintenance_open,
                                  on_reset=self._schedule_reboot)

    def start_tasks(self) -> None:
        """The timer task and the advertisement updater."""
        self._tasks = [asyncio.create_task(self._timer_loop(), name="lock-timers"),
                       asyncio.create_task(self._advert_loop(), name="lock-advert")]

    async def _start_bless(self) -> None:
        bless = BlessServer(name=self.name, adapter=self.config.adapter)
        bless.read_request_func = self._on_read
        bless.write_request_func = self._on_write
        await bless.add_new_service(SERVICE_UUID)
        await bless.add_new_characteristic(
            SERVICE_UUID, COMMAND_UUID, Props.write | Props.write_without_response, None,
            Perm.writeable)
        await bless.add_new_characteristic(SERVICE_UUID, RESPONSE_UUID, Props.notify, None,
                                           Perm.readable)
        await bless.add_new_characteristic(SERVICE_UUID, INFO_UUID, Props.read,
                                           bytearray(self.info().encode()), Perm.readable)
        await bless.add_new_characteristic(SERVICE_UUID, FRESH_UUID, Props.read,
                                           bytearray(self.fresh().encode()), Perm.readable)
        if self.smp is not None:
            await self.smp.add_to(bless)
        self._bless = bless
        self._advertiser = Advertiser(bless)
        self._advertiser.on_disconnected = self._on_central_gone
        await self._advertiser.start(self.advertisement())

    async def _claim_adapter(self) -> None:
        """Take the adapter before anything is opened, registered or advertised."""
        try:
            bus_id = await _system_bus_id()
        except Exception as exc:  # no D-Bus system bus: one typed error, as for bless
            raise TransportError(f"cannot start the Bluetooth GATT server: {exc}",
                                 code=ErrorCode.CONNECTION_FAILED) from exc
        # bless serves "hci0" when given no adapter (bless.backends.bluezdbus.dbus.utils)
        claim = AdapterClaim(bus_id, self.config.adapter or "hci0")
        claim.take(state_dir=self.config.state_dir)
        self._claim = claim

    async def stop(self) -> None:
        """Stop advertising, unregister the GATT application, close the panel and the
        store. Safe to call twice."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._control is not None:
            await self._control.close()
            self._control = None
        if self._bless is not None:
            bless, self._bless = self._bless, None
            try:
                await bless.stop()
            except Exception as exc:  # the bus may already be gone; nothing left to undo
                _log.warning("bless stop: %s", exc)
        self._release_adapter()
        if self.opened is not None:
            self.opened.store.close()
            self.opened = None

    def _release_adapter(self) -> None:
        if self._claim is not None:
            self._claim.release()
            self._claim = None

    @property
    def panel_address(self) -> PanelAddress | None:
        return None if self._control is None else self._control.address

    @property
    def advertises_flags(self) -> bool:
        """Whether the advertisement carries the manufacturer data (BlueZ)."""
        return self._advertiser is not None and self._advertiser.manufacturer_data

    @property
    def label(self) -> Label | None:
        return self._label

    @property
    def static_public(self) -> bytes:
        """The lock's current static public key (its identity in sessions, QR fingerprint)."""
        if self._static_key is None:
            raise RuntimeError("emulator not started")
        return self._static_key.public

    def _note_factory_reset(self) -> None:
        self._reset_pending = True  # the panel's reset (also of a lock never claimed)

    def _check_factory_reset(self) -> None:
        claimed = self._lock().claimed
        # A phone's FACTORY_RESET (admins only) turns a claimed lock into a fresh one.
        if self._reset_pending or (self._was_claimed and not claimed):
            self._reset_pending = False
            self._rotate_key()
        self._was_claimed = claimed

    def _rotate_key(self) -> None:
        """Factory reset: a new static key (``docs/protocol.md``, key schedule) and a new
        protocol server; every channel of the old identity ends with it (its phones were
        erased). The response to the reset was notified before."""
        self._notify()
        self._static_key = self._state.rotate_key(self._rng)
        if self._label is not None:
            self._label = self._label.for_key(self._static_key)
        self.server = LockServer.create(self._lock(), static_key=self._static_key,
                                        rng=self._rng, mtu=MIN_MTU)
        self._mtus.clear()
        self._was_claimed = self._lock().claimed
        _log.info("factory reset: new static key")

    # -- what the lock shows on the air

    def flags(self) -> StateFlags:
        lock = self._lock()
        flags = StateFlags(0)
        if lock.claimed:
            flags |= StateFlags.PAIRED
        else:
            flags |= StateFlags.FACTORY_FRESH
        # Pairing is accepted: SET was pressed, or a fresh lock that claims without it.
        if lock.pairing_mode or (not lock.claimed and not lock.profile.has(
                Feature.CLAIM_NEEDS_PAIRING_MODE)):
            flags |= StateFlags.PAIRING_MODE
        if lock.low_battery:
            flags |= StateFlags.LOW_BATTERY
        return flags

    def _flag_names(self) -> list[str]:
        return [f.name or "" for f in StateFlags if f in self.flags()]

    def info(self) -> LockInfo:
        lock = self._lock()
        return LockInfo(lock_id=lock.lock_id, flags=self.flags(), profile=lock.profile.name)

    def fresh(self) -> FreshValue:
        """The fresh characteristic now: the endpoint's current freshness value
        (docs/protocol.md, Freshness); every read shows the value of its moment."""
        fresh, fresh_for = self._server().endpoint.freshness(self.clock.mono())
        return FreshValue(fresh=fresh, fresh_for=fresh_for)

    def advertisement(self) -> Advertisement:
        return Advertisement(lock_id=self._lock().lock_id, flags=self.flags())

    def _lock(self) -> Lock:
        if self.lock is None:
            raise RuntimeError("emulator not started")
        return self.lock

    def _server(self) -> LockServer:
        if self.server is None:
            raise RuntimeError("emulator not started")
        return self.server

    # -- GATT callbacks (bless calls them on the loop, one at a time)

    def _on_read(self, char: Any, **_: Any) -> bytearray:
        uuid = str(char.uuid).lower()
        if uuid == INFO_UUID:
            return bytearray(self.info().encode())
        if uuid == FRESH_UUID:
            return bytearray(self.fresh().encode())
        return bytearray(char.value or b"")

    def _on_write(self, char: Any, value: Any, **_: Any) -> None:
        uuid = str(char.uuid).lower()
        if uuid == SMP_CHARACTERISTIC_UUID and self.smp is not None:
            self.smp.on_write(bytes(value))
            return
        if uuid != COMMAND_UUID:
            return
        self.receive_frame(bytes(value))

    # -- firmware update (R-APP-8, peripheral/smp.py)

    def _on_central_gone(self, _path: str) -> None:
        if self.smp is not None:
            self.smp.link_lost()

    def _schedule_reboot(self) -> None:
        if self._reboot_task is None or self._reboot_task.done():
            self._reboot_task = asyncio.create_task(self.reboot(), name="lock-reboot")

    async def reboot(self) -> None:
        """An SMP OS reset: drop the centrals' links, stop, and start again (the
        bootloader runs in ``build``: a tested image boots, an unconfirmed one reverts).
        Users, credentials, keys and events are in the store: they stay.

        As Zephyr's OS group (``CONFIG_MCUMGR_GRP_OS_RESET_MS``, 250 ms), the reset waits
        ``RESET_DELAY_S`` first so that the answer to the reset reaches the client before
        the link goes (a disconnection discards notifications still queued)."""
        await asyncio.sleep(RESET_DELAY_S)
        try:
            if self._bless is not None and self._advertiser is not None:
                await disconnect_centrals(self._bless, self._advertiser.connected)
            await self.stop()
            await self.start()
        except Exception:  # a lock that cannot come back says why, once
            _log.exception("reboot failed")
            raise
        _log.info("rebooted: firmware %s", self._lock().profile.firmware_version)

    def receive_frame(self, frame: bytes) -> None:
        """One ATT write of the command characteristic."""
        server = self._server()
        self.frames_in += 1
        try:
            server.receive_data(frame, self.clock.mono(), mtu=self._infer_mtu(frame))
        except LockError as exc:  # a frame too short to name a channel: nothing to answer
            _log.debug("dropped a frame: %s", exc.code.name)
        except Exception as exc:  # the app behind the endpoint failed: end its channel only
            _log.error("frame on channel %d: %s in the lock's service; channel closed",
                       frame[0], type(exc).__name__)
            server.endpoint.close(frame[0], ErrorCode.INTERNAL)
        self._after_input()

    def _infer_mtu(self, data: bytes) -> int | None:
        """The MTU the write's channel answers at (module docstring), from the framing
        layer's parse; None for a write that is not a frame (the endpoint refuses it)."""
        try:
            frame = parse_frame(data)
        except LockError:
            return None
        size = min(MAX_MTU, max(MIN_MTU, len(data) + 3))
        opens = frame.start and frame.index == 0 and frame.chunk[0] in _NEW_CHANNEL_TYPES
        cid = frame.channel
        self._mtus[cid] = size if opens else max(self._mtus.get(cid, MIN_MTU), size)
        return self._mtus[cid]

    # -- outputs

    def after_panel_input(self) -> None:
        """Front-panel activity (a ``clock.advance`` among it): end the channels whose
        link timers fell due, push what the phones should hear, re-arm timers."""
        server = self._server()
        try:
            server.handle_timer(self.clock.mono())
        except Exception:  # a bug must not fail the panel's input
            _log.exception("link timers failed")
        server.flush_pushes()
        self._after_input()

    def _after_input(self) -> None:
        self._notify()
        self._check_factory_reset()
        self._wake.set()
        self._adv_dirty.set()

    def _notify(self) -> None:
        for frame in self._server().data_to_send():
            self.send_frame(frame)
            self.frames_out += 1

    def send_frame(self, frame: bytes) -> None:
        """Notify one frame on the response characteristic (to every subscriber)."""
        if self._bless is None:
            return
        self._bless.get_characteristic(RESPONSE_UUID).value = bytearray(frame)
        self._bless.update_value(SERVICE_UUID, RESPONSE_UUID)

    # -- background tasks

    def _delay(self) -> float | None:
        lock_delay = self.clock.lock_delay(self._lock().next_deadline())
        link_delay = self.clock.link_delay(self._server().next_timer())
        delays = [d for d in (lock_delay, link_delay) if d is not None]
        return min(delays) if delays else None

    async def _timer_loop(self) -> None:
        stuck = 0
        while True:
            self._wake.clear()
            self._prepare_idle()
            delay = self._delay()
            if delay is not None and delay <= 0 and stuck >= 3:
                delay = 0.5  # a deadline tick() did not clear: do not spin on it
            if delay is None or delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                stuck = 0
            else:
                stuck += 1
            self.run_timers()

    def _prepare_idle(self) -> None:
        """The input's frames are notified: generate the next ephemeral key now rather
        than while the next phone waits (``LockEndpoint.prepare_idle``)."""
        try:
            self._server().endpoint.prepare_idle()
        except Exception:  # a bug must not stop the lock's timers for good
            _log.exception("preparing the next ephemeral key failed")

    def run_timers(self) -> None:
        try:
            self._lock().tick()
            self._server().handle_timer(self.clock.mono())
            self._server().flush_pushes()
        except Exception:  # a bug must not stop the lock's timers for good
            _log.exception("timer run failed")
        self._notify()
        self._adv_dirty.set()

    async def _advert_loop(self) -> None:
        while True:
            await self._adv_dirty.wait()
            self._adv_dirty.clear()
            if self._advertiser is None:
                continue
            try:
                await self._advertiser.update(self.advertisement())
            except Exception as exc:  # advertising is best effort: the info char has the flags
                _log.warning("advertisement update failed: %s", exc)



async def _system_bus_id() -> str:
    """The id of the D-Bus system bus bless will use (each simulated host has its own);
    ``"local"`` where bless does not run on BlueZ (one system-wide stack)."""
    if not sys.platform.startswith("linux"):
        return "local"
    # bless's own D-Bus library, already imported: bleak's dbus_fast would add 1.9 MB
    # to the emulator's USS for this one call (issue 15, emulator memory)
    from dbus_next.aio.message_bus import MessageBus
    from dbus_next.constants import BusType, MessageType
    from dbus_next.message import Message

    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    try:
        reply = await bus.call(Message(destination="org.freedesktop.DBus",
                                       path="/org/freedesktop/DBus",
                                       interface="org.freedesktop.DBus", member="GetId"))
    finally:
        bus.disconnect()  # type: ignore[no-untyped-call]  # dbus_next leaves it unannotated
    if reply is None or reply.message_type != MessageType.METHOD_RETURN:
        raise TransportError("the system bus did not tell its id",
                             code=ErrorCode.CONNECTION_FAILED)
    return str(reply.body[0])
