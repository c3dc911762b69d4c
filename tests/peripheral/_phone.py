"""A phone for the emulator's tests: the protocol's sans-IO phone objects over bleak."""

from __future__ import annotations

import asyncio
import time
from typing import TypeVar

from bleak import BleakClient

from ble_lock.central.app import (
    AppClient,
    LockLink,
    Pushed,
    claim_pairing,
    invite_pairing,
)
from ble_lock.wire import messages as m
from ble_lock.wire.endpoints.phone import PhonePairing
from ble_lock.wire.errors import RemoteProtocolError
from ble_lock.wire.events import PairingSucceeded, SessionClosed
from ble_lock.wire.link.gatt import COMMAND_UUID, FRESH_UUID, RESPONSE_UUID, FreshValue
from ble_lock.wire.security.crypto import KeyPair, os_rng
from ble_lock.wire.security.pairing import QrPayload

B = TypeVar("B", bound=m.ResponseBody)


class _Closed(Exception):
    """The lock closed the channel (e.g. a collision garbled it)."""
TIMEOUT = 10.0


class BlePhone:
    """One phone key on one bleak connection (subscribed to the response char)."""

    def __init__(self, client: BleakClient, key: KeyPair | None = None) -> None:
        self.client = client
        self.key = key or KeyPair.generate(os_rng)
        self.inbox: asyncio.Queue[bytes] = asyncio.Queue()
        self.pushes: list[m.EventBody] = []
        self.counter = 1
        self.lock_public = b""
        self.link: LockLink | None = None
        self.received: list[bytes] = []  # every notification, all channels
        self.app = AppClient(rng=os_rng)
        self._last_rid: bytes | None = None
        self.retries = 0

    @property
    def mtu(self) -> int:
        return self.client.mtu_size

    async def subscribe(self) -> None:
        backend = getattr(self.client, "_backend", None)
        if hasattr(backend, "_acquire_mtu"):  # bleak's way to learn the MTU on BlueZ
            await backend._acquire_mtu()
        def on_notify(_char: object, data: bytearray) -> None:
            self.received.append(bytes(data))
            self.inbox.put_nowait(bytes(data))

        await self.client.start_notify(RESPONSE_UUID, on_notify)

    async def _flush(self, frames: list[bytes]) -> None:
        for frame in frames:
            await self.client.write_gatt_char(COMMAND_UUID, frame, response=False)

    async def claim(self, qr: str) -> bytes:
        payload = QrPayload.parse(qr)
        pairing = claim_pairing(lock_id=payload.lock_id, setup_code=payload.setup_code,
                                phone=self.key, rng=os_rng,
                                lock_fingerprint=payload.fingerprint, mtu=self.mtu)
        return await self.pair(pairing)

    async def redeem(self, qr: str, invite: m.Invite) -> bytes:
        payload = QrPayload.parse(qr)
        pairing = invite_pairing(lock_id=payload.lock_id, invite_id=invite.invite_id,
                                 code=invite.code, phone=self.key, rng=os_rng,
                                 lock_fingerprint=payload.fingerprint, mtu=self.mtu)
        return await self.pair(pairing)

    def _forget_old_frames(self) -> None:
        """Notifications of earlier channels (other phones') still queued are stale."""
        while not self.inbox.empty():
            self.inbox.get_nowait()

    async def pair(self, pairing: PhonePairing) -> bytes:
        self._forget_old_frames()
        pairing.start(time.monotonic())
        await self._flush(pairing.data_to_send())
        while True:
            data = await asyncio.wait_for(self.inbox.get(), TIMEOUT)
            if data[0] != pairing.channel:
                continue
            try:
                events = pairing.receive_data(data, time.monotonic())
            finally:  # a refusal (wrong lock key...) sends CLOSE: the lock frees its pairing
                await self._flush(pairing.data_to_send())
            for event in events:
                if isinstance(event, PairingSucceeded):
                    self.lock_public = event.lock_public
                    return event.lock_public
                if isinstance(event, SessionClosed):
                    raise AssertionError(f"pairing closed: {event.error!r}")

    async def request(self, lock_id: bytes, body: m.RequestBody, expected: type[B]) -> B:
        """One request: in HS1 of a new session, or in the open session. A channel
        collision with another phone (docs/protocol.md, Channels) costs a retry on a fresh
        channel with the same request id (the lock applies it once)."""
        rid: bytes | None = None
        for attempt in range(3):
            try:
                return await self._request_once(lock_id, body, expected, rid)
            except (RemoteProtocolError, _Closed):
                if attempt == 2:
                    raise
                self.retries += 1
                self.link = None
                rid = self._last_rid
        raise AssertionError("unreachable")

    async def _request_once(self, lock_id: bytes, body: m.RequestBody, expected: type[B],
                            retry: bytes | None) -> B:
        link = self.link
        if link is None or link.session.state.name != "ESTABLISHED":
            fresh = FreshValue.decode(bytes(await self.client.read_gatt_char(FRESH_UUID)))
            link = LockLink.open(app=self.app, lock_id=lock_id, lock_public=self.lock_public,
                                 phone=self.key, counter=self.counter, rng=os_rng,
                                 fresh=fresh.fresh, mtu=self.mtu)
            self.link = link
            self._forget_old_frames()
            if retry is not None:
                link.start_retry(retry, time.monotonic())
                rid: bytes | None = retry
            elif getattr(body, "SECRET", False):
                link.start(None, time.monotonic())
                rid = None
            else:
                rid = link.start(body, time.monotonic())
            self.counter = link.next_counter
        else:
            rid = retry if retry is not None else link.send(body)
        self._last_rid = rid
        await self._flush(link.data_to_send())
        while rid is None or not link.app.answered(rid):
            data = await asyncio.wait_for(self.inbox.get(), TIMEOUT)
            if data[0] != link.channel:
                continue
            events = link.receive_data(data, time.monotonic())
            for event in events:
                if isinstance(event, Pushed):
                    self.pushes.append(event.body)
                if isinstance(event, SessionClosed):
                    raise _Closed(repr(event.error))
            if rid is None and link.session.state.name == "ESTABLISHED":
                rid = self._last_rid = link.send(body)
            await self._flush(link.data_to_send())
        return link.app.result(rid, expected)

    async def close_session(self) -> None:
        """End the open session (CLOSE to the lock), so its channel is free again."""
        if self.link is not None:
            self.link.close()
            await self._flush(self.link.data_to_send())
            self.link = None

    async def drain(self, lock_id: bytes, seconds: float = 0.5) -> None:
        """Read pushes for a while (events of the open session)."""
        link = self.link
        assert link is not None
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                data = await asyncio.wait_for(self.inbox.get(), left)
            except TimeoutError:
                return
            if data[0] != link.channel:
                continue
            for event in link.receive_data(data, time.monotonic()):
                if isinstance(event, Pushed):
                    self.pushes.append(event.body)
