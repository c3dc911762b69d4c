"""A phone for the emulator's tests: the protocol's sans-IO phone objects over bleak."""

from __future__ import annotations

import asyncio
import time
from typing import TypeVar

from bleak import BleakClient

from ble_lock.protocol import messages as m
from ble_lock.protocol.client import (
    AppClient,
    LockLink,
    Pushed,
    claim_pairing,
    invite_pairing,
)
from ble_lock.protocol.crypto import KeyPair, os_rng
from ble_lock.protocol.events import PairingSucceeded, SessionClosed
from ble_lock.protocol.gatt import COMMAND_UUID, RESPONSE_UUID
from ble_lock.protocol.pairing import QrPayload
from ble_lock.protocol.phone import PhonePairing

B = TypeVar("B", bound=m.ResponseBody)
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

    async def pair(self, pairing: PhonePairing) -> bytes:
        pairing.start(time.monotonic())
        await self._flush(pairing.data_to_send())
        while True:
            data = await asyncio.wait_for(self.inbox.get(), TIMEOUT)
            if data[0] != pairing.channel:
                continue
            events = pairing.receive_data(data, time.monotonic())
            await self._flush(pairing.data_to_send())
            for event in events:
                if isinstance(event, PairingSucceeded):
                    self.lock_public = event.lock_public
                    return event.lock_public
                if isinstance(event, SessionClosed):
                    raise AssertionError(f"pairing closed: {event.error!r}")

    async def request(self, lock_id: bytes, body: m.RequestBody, expected: type[B]) -> B:
        """One request: in HS1 of a new session, or in the open session."""
        link = self.link
        if link is None or link.session.state.name != "ESTABLISHED":
            link = LockLink.open(app=AppClient(rng=os_rng), lock_id=lock_id,
                                 lock_public=self.lock_public, phone=self.key,
                                 counter=self.counter, rng=os_rng, mtu=self.mtu)
            self.link = link
            if getattr(body, "SECRET", False):
                link.start(None, time.monotonic())
                rid = None
            else:
                rid = link.start(body, time.monotonic())
            self.counter = link.next_counter
        else:
            rid = link.send(body)
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
                    raise AssertionError(f"session closed: {event.error!r}")
            if rid is None and link.session.state.name == "ESTABLISHED":
                rid = link.send(body)
            await self._flush(link.data_to_send())
        return link.app.result(rid, expected)

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
