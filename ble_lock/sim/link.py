"""A simulated LE link: two ordered PDU pipes with air time, ATT transactions, faults, trace.

When a PDU arrives is the time model's (``airtime.py``): with a connection interval set
(``RadioConfig.timing``), each PDU is given its slots in the link's connection events the
moment it is queued, and its pipe delivers it when its last LL fragment has crossed; a burst
queued at once (write-without-response commands, notifications) shares events, up to the
controller's packets per event. With no interval (the default), PDUs are delivered at
once, in order: what the software costs. Every PDU is recorded in the link's trace, with
the connection event it completed in.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from ble_lock.sim.airtime import AirSchedule, Delivery
from ble_lock.sim.att import DEFAULT_MTU, MAX_MTU, AttError, AttOp, Direction, record_size

if TYPE_CHECKING:
    from ble_lock.sim.radio import CentralSink, Node, Radio

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class AttRecord:
    """One ATT PDU on a link: when (seconds since the link came up), which way, what, how big."""

    time: float
    direction: Direction
    op: AttOp
    handle: int
    size: int
    event: int | None = None
    """The connection event its last LL fragment went in (None: no air model)."""
    first_event: int | None = None
    """The connection event its first LL fragment went in (None: no air model)."""


class LinkDown(Exception):
    """The link is gone (dropped, disconnected, out of range)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Pipe:
    """Ordered one-way delivery of PDUs, each when the link's time model says it arrives.

    :meth:`close` cancels the delivery task *and* sets a flag it checks between PDUs: on
    Python 3.11 ``asyncio.wait_for`` (in a request being served) swallows a cancellation
    that arrives in the loop turn its result does, and the task would then wait on its
    queue forever ("Task was destroyed but it is pending", a teardown awaiting it hangs).
    """

    def __init__(self, link: Link, direction: Direction) -> None:
        self._link = link
        self._direction = direction
        self._queue: asyncio.Queue[
            tuple[AttOp, int, int, Callable[[], Awaitable[None]], Delivery | None]
        ] = asyncio.Queue()
        self._closed = False
        self._task = asyncio.get_running_loop().create_task(self._run())

    def put(
        self, op: AttOp, handle: int, size: int, deliver: Callable[[], Awaitable[None]]
    ) -> None:
        arrival = self._link.reserve_air(self._direction, size)
        self._queue.put_nowait((op, handle, size, deliver, arrival))

    async def _run(self) -> None:
        while not self._closed:
            op, handle, size, deliver, arrival = await self._queue.get()
            if arrival is not None:
                await self._link.radio.air_clock.sleep_until(arrival.time)
            self._link.record(self._direction, op, handle, size, arrival)
            try:
                await deliver()
            except Exception:
                log.exception("delivery of %s failed", op)

    def close(self) -> None:
        self._closed = True
        self._task.cancel()

    @property
    def stopped(self) -> bool:
        return self._task.done()

    async def wait_stopped(self) -> None:
        """Until the delivery task has ended (after :meth:`close`); never raises."""
        await asyncio.wait({self._task})


class Link:
    """An LE connection between a central node and a peripheral node."""

    _ids = itertools.count(1)

    def __init__(self, radio: Radio, central: Node, peripheral: Node) -> None:
        self.id = next(self._ids)
        self.radio = radio
        self.central = central
        self.peripheral = peripheral
        self.mtu = DEFAULT_MTU
        self.encrypted = False
        self.trace: list[AttRecord] = []
        self.down_reason: str | None = None
        self.sink: CentralSink | None = None
        self._loop = asyncio.get_running_loop()
        self._start = radio.air_clock.now()
        self._air: AirSchedule | None = None
        self._c2p = _Pipe(self, Direction.C2P)
        self._p2c = _Pipe(self, Direction.P2C)
        self._request_lock = asyncio.Lock()
        self._pending: set[asyncio.Future[object]] = set()
        self._ops_left: int | None = None

    @property
    def up(self) -> bool:
        return self.down_reason is None

    @property
    def closed(self) -> bool:
        """Down, and both PDU pipes stopped (nothing of the link left running)."""
        return not self.up and self._c2p.stopped and self._p2c.stopped

    async def wait_closed(self) -> None:
        """After :meth:`drop`: until both PDU pipes have stopped."""
        await self._c2p.wait_stopped()
        await self._p2c.wait_stopped()

    def __repr__(self) -> str:
        state = "up" if self.up else f"down ({self.down_reason})"
        ends = f"{self.central.address}->{self.peripheral.address}"
        return f"<Link {self.id} {ends} mtu={self.mtu} {state}>"

    # -- trace and faults ---------------------------------------------------------------

    def reserve_air(self, direction: Direction, size: int) -> Delivery | None:
        """Slots in the connection events for an ATT PDU of ``size`` bytes queued now;
        None without an air model (``RadioConfig.timing`` with no interval). A new
        timing (set on the radio's config) starts a new schedule, with a new phase."""
        timing = self.radio.config.timing
        if not timing.timed:
            self._air = None
            return None
        now = self.radio.air_clock.now()
        if self._air is None or self._air.timing is not timing:
            phase = self.radio.rng.random() * timing.interval_s
            self._air = AirSchedule(timing, start=now, phase=phase)
        return self._air.reserve(direction, size, now)

    def record(self, direction: Direction, op: AttOp, handle: int, size: int,
               arrival: Delivery | None = None) -> None:
        self.trace.append(
            AttRecord(
                time=self.radio.air_clock.now() - self._start,
                direction=direction,
                op=op,
                handle=handle,
                size=size,
                event=None if arrival is None else arrival.event,
                first_event=None if arrival is None else arrival.first_event,
            )
        )

    def drop_after(self, ops: int) -> None:
        """Drop the link once ``ops`` more ATT operations have completed."""
        if ops <= 0:
            self.drop("fault: dropped")
        else:
            self._ops_left = ops

    def _op_done(self) -> None:
        if self._ops_left is not None:
            self._ops_left -= 1
            if self._ops_left <= 0:
                self._ops_left = None
                self._loop.call_soon(self.drop, "fault: dropped after ATT operations")

    def drop(self, reason: str) -> None:
        """Tear the link down now; both ends see a disconnection."""
        if not self.up:
            return
        self.down_reason = reason
        self._c2p.close()
        self._p2c.close()
        for fut in list(self._pending):
            if not fut.done():
                fut.set_exception(LinkDown(reason))
        self.radio.links.discard(self)
        self.peripheral.gatt.link_closed(self)
        self.peripheral.on_link_down(self)
        self.central.on_link_down(self)
        if self.sink is not None:
            self.sink.on_link_down(self)

    # -- ATT procedures (called by the central side) --------------------------------------

    def _check(self) -> None:
        if not self.up:
            raise LinkDown(self.down_reason or "down")

    def _future(self) -> asyncio.Future[object]:
        fut: asyncio.Future[object] = self._loop.create_future()
        self._pending.add(fut)
        fut.add_done_callback(self._pending.discard)
        return fut

    async def _wait(self, fut: asyncio.Future[object]) -> object:
        try:
            return await asyncio.wait_for(fut, self.radio.config.att_timeout_s)
        except TimeoutError:
            # A real stack closes the bearer when a transaction times out (Vol 3, F, 3.3.3).
            self.drop("ATT transaction timeout")
            raise LinkDown("ATT transaction timeout") from None

    async def transaction(
        self,
        req: tuple[AttOp, int, int],
        rsp_op: AttOp,
        serve: Callable[[], Awaitable[T]],
        rsp_len: Callable[[T], int],
    ) -> T:
        """One request/response exchange; the server runs ``serve`` when the request lands."""
        async with self._request_lock:
            self._check()
            fut = self._future()
            op, handle, size = req

            async def on_request() -> None:
                try:
                    result = await asyncio.wait_for(serve(), self.radio.config.att_timeout_s)
                except AttError as exc:
                    self._p2c.put(
                        AttOp.ERROR_RSP, handle, record_size(AttOp.ERROR_RSP), _resolver(fut, exc)
                    )
                    return
                except TimeoutError:
                    return  # no response ever comes: the central times out and drops
                self._p2c.put(
                    rsp_op, handle, record_size(rsp_op, rsp_len(result)), _resolver(fut, result)
                )

            self._c2p.put(op, handle, size, on_request)
            result = await self._wait(fut)
            self._op_done()
            if isinstance(result, AttError):
                raise result
            return result  # type: ignore[return-value]  # the resolver carries serve()'s T

    def command(self, handle: int, value: bytes, deliver: Callable[[], Awaitable[None]]) -> None:
        """Write Without Response: queued, no answer."""
        self._check()

        async def on_command() -> None:
            await deliver()
            self._op_done()

        self._c2p.put(AttOp.WRITE_CMD, handle, record_size(AttOp.WRITE_CMD, len(value)), on_command)

    def notify(self, value_handle: int, value: bytes, indicate: bool) -> None:
        """Handle Value Notification/Indication from the peripheral, cut to ATT_MTU-3."""
        if not self.up:
            return
        value = value[: self.mtu - 3]  # bt_gatt_server_send_notification truncates likewise
        op = AttOp.HANDLE_VALUE_IND if indicate else AttOp.HANDLE_VALUE_NTF

        async def on_value() -> None:
            if self.sink is not None:
                self.sink.on_notification(value_handle, value)
            if indicate:
                self._c2p.put(
                    AttOp.HANDLE_VALUE_CFM, value_handle, record_size(AttOp.HANDLE_VALUE_CFM), _noop
                )
            self._op_done()

        self._p2c.put(op, value_handle, record_size(op, len(value)), on_value)

    async def exchange_mtu(self, client_mtu: int) -> int:
        server_mtu = self.peripheral.preferred_mtu

        async def serve() -> int:
            return server_mtu

        await self.transaction(
            (AttOp.EXCHANGE_MTU_REQ, 0, record_size(AttOp.EXCHANGE_MTU_REQ)),
            AttOp.EXCHANGE_MTU_RSP,
            serve,
            lambda _: 2,
        )
        self.mtu = max(DEFAULT_MTU, min(client_mtu, server_mtu, MAX_MTU))
        return self.mtu


def _resolver(fut: asyncio.Future[object], value: object) -> Callable[[], Awaitable[None]]:
    async def resolve() -> None:
        if not fut.done():
            fut.set_result(value)

    return resolve


async def _noop() -> None:
    return None
