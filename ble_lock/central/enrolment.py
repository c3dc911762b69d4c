"""Driving an enrolment at the lock from the phone (docs/protocol.md, "Enrol a
fingerprint"): ``ENROL_BEGIN``, then the lock pushes one ``ENROL_STEP`` per capture
until the credential is stored (``DONE``) or the enrolment is cancelled.

::

    async with lock.enrol(3, m.CredentialKind.FINGERPRINT) as run:
        async for step in run:                 # one per capture at the sensor
            print(step.captured, "/", step.captures_needed, step.next_step)
    print(run.credential_id)

Leaving the block while the lock is still capturing cancels the enrolment (nothing is
stored, R-CRD-4). A callback works too: ``run = lock.enrol(...); run.on_step = f``.
If the lock goes away meanwhile, waiting for the next step raises the client's
``LinkLostError`` at once (nothing is left to cancel over that link; the lock ends the
enrolment on its own timeout).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import TYPE_CHECKING

from ble_lock.central.linkkeeper import LinkLostError
from ble_lock.wire import messages as m

if TYPE_CHECKING:
    from ble_lock.central.client import LockClient

__all__ = ["EnrolmentRun"]


class EnrolmentRun:
    """One enrolment started by this phone; ``state`` is the latest record."""

    def __init__(self, client: LockClient, user_number: int, kind: m.CredentialKind, *,
                 duress: bool = False) -> None:
        self._client = client
        self.user_number = user_number
        self.kind = kind
        self.duress = duress
        self.state: m.Enrolment | None = None
        self.on_step: Callable[[m.Enrolment], None] | None = None
        self._queue: asyncio.Queue[m.Enrolment | LinkLostError] = asyncio.Queue()
        self._remove: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        return f"EnrolmentRun(user={self.user_number}, kind={self.kind.name}, state={self.state})"

    @property
    def session_id(self) -> int:
        if self.state is None:
            raise RuntimeError("the enrolment has not begun")
        return self.state.session_id

    @property
    def finished(self) -> bool:
        return self.state is not None and self.state.state is not m.EnrolmentState.CAPTURING

    @property
    def credential_id(self) -> int | None:
        return None if self.state is None else self.state.credential_id

    def _on_push(self, body: m.EventBody) -> None:
        if isinstance(body, m.EnrolStep):
            self._queue.put_nowait(body.enrolment)

    async def begin(self) -> m.Enrolment:
        """Start it (listening for steps first, so that none is missed)."""
        self._remove = [self._client.on_event(self._on_push),
                        self._client.on_link_lost(self._queue.put_nowait)]
        self.state = await self._client.enrol_begin(self.user_number, self.kind,
                                                    duress=self.duress)
        return self.state

    async def __aenter__(self) -> EnrolmentRun:
        await self.begin()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            if self.state is not None and not self.finished and not isinstance(
                    exc, LinkLostError):
                await self.cancel()
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop listening for steps."""
        remove, self._remove = self._remove, []
        for stop in remove:
            stop()

    async def next_step(self) -> m.Enrolment:
        """Wait for the next capture of this enrolment."""
        session_id = self.session_id
        while True:
            step = await self._queue.get()
            if isinstance(step, LinkLostError):
                raise LinkLostError(step.message, hint=step.hint)
            if step.session_id == session_id:
                self.state = step
                if self.on_step is not None:
                    self.on_step(step)
                return step

    async def steps(self) -> AsyncIterator[m.Enrolment]:
        while not self.finished:
            yield await self.next_step()

    def __aiter__(self) -> AsyncIterator[m.Enrolment]:
        return self.steps()

    async def wait(self) -> m.Enrolment:
        """Run to the end; returns the final record (``DONE`` with ``credential_id``)."""
        async for _ in self.steps():
            pass
        assert self.state is not None
        return self.state

    async def cancel(self) -> m.Enrolment:
        """Cancel at the lock; nothing is stored."""
        self.state = await self._client.enrol_cancel(self.session_id)
        return self.state
