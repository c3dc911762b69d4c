"""The machinery under :class:`~ble_lock.central.client.LockClient`: one link, one
session at a time, requests with retries.

It moves bytes between a :class:`~ble_lock.central.transport.GattLink` and the sans-IO
phone objects (:class:`~ble_lock.central.app.LockLink`,
:class:`~ble_lock.wire.endpoints.phone.PhonePairing`), and adds what only an I/O layer can:

* **Counters** come from the keystore, persisted *before* the first message of a
  session is sent (``Keystore.next_counter``); a RESYNC raises the stored counter.
* **0-RTT where it is safe.** A request opens a new session riding in HS1 (one round
  trip), unless it carries a secret (a field hidden from ``repr``: PIN, card code,
  remote id): HS1 has no forward secrecy (docs/protocol.md, "What 0-RTT gives up"), so
  such a request waits for the session and goes as DATA.
* **Retries with the same request id.** A dropped link (the connector reconnects, with
  bleak-retry-connector's backoff) or a session the lock or the phone had to close for
  garbage - typically two phones on the same random channel - is retried on a new
  session on a fresh channel with the very same request bytes; the lock applies a
  request id once (docs/protocol.md, "Retry after a lost link").
* **One HS1 per user action** (docs/protocol.md, "Freshness"). At most one HS1 per call
  carries the request. After an unauthenticated CLOSE, a dropped link or an answer that
  did not verify, a retry opens a session with an empty HS1 and sends the request inside
  it once HS2 verified (a timeout ends the call): a fake lock that refuses every HS1 collects
  at most one request, and that one is bound to a freshness value that expires.
* **Freshness values** come from the fresh characteristic (read before an HS1 when no
  value is in hand, it is about to expire, the link is new or a retry follows a failure)
  and from every HS2; a value the lock no longer accepts costs a round trip
  (``STALE``), never an unlock.
* **Pushes** (state changes, alarms, enrolment steps) go to listeners.
* **Two-phase pairing** (docs/protocol.md, "Interrupted pairing"): with ``on_key``, PAIR3
  (which makes the lock bind the phone) waits until the caller kept the lock's key; a
  pairing is retried from PAIR1 only while PAIR3 has not left; a session established
  with a pending record confirms it in the keystore (the lock answered the new key).
* **Timeouts are the protocol's own.** The engine keeps no timer: while it waits it
  sleeps until the phone object's ``next_timer()`` (monotonic, the injected ``clock``)
  and calls its ``handle_timer(now)``, like aioquic's ``get_timer``/``handle_timer``. A
  lock that does not answer (handshake, pairing, a request) ends the call with a
  ``TransportError`` ``TIMEOUT`` after ``timeout`` seconds (docs/central.md, "Timeouts").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ble_lock.central.app import (
    AppClient,
    Failed,
    LockLink,
    PairingStep,
    Pushed,
    StepHook,
    Succeeded,
)
from ble_lock.central.keystore import Keystore, KeystoreError, LockRecord, lock_key
from ble_lock.central.linkkeeper import (
    PROBE_INTERVAL,
    RELINK_TIMEOUT,
    Channel,
    LinkKeeper,
    LinkLostError,
    Retry,
    dropped,
    future,
)
from ble_lock.central.transport import Connector, GattLink
from ble_lock.core.errors import ErrorCode, LockError, TransportError, error_for_code
from ble_lock.wire import messages as m
from ble_lock.wire.endpoints.phone import (
    PhonePairing,
    PhoneSession,
    PhoneState,
    random_channel,
)
from ble_lock.wire.errors import RemoteProtocolError, SessionTimeoutError
from ble_lock.wire.events import PairingKeyReceived, PairingSucceeded, SessionEstablished
from ble_lock.wire.link.gatt import FreshValue
from ble_lock.wire.security.crypto import KeyPair, Rng

__all__ = ["FRESH_MARGIN", "PAIRING_RETRYABLE_CODES", "REQUEST_TIMEOUT", "RETRYABLE_CODES",
           "Engine", "Listener", "PairingInDoubt", "lock_key"]

_log = logging.getLogger(__name__)
B = TypeVar("B", bound=m.ResponseBody)
Listener = Callable[[m.EventBody], None]

RETRYABLE_CODES = frozenset({
    ErrorCode.PROTOCOL_ERROR, ErrorCode.MESSAGE_TOO_LARGE, ErrorCode.BAD_FRAGMENT,
    ErrorCode.DECRYPT_FAILED, ErrorCode.HANDSHAKE_FAILED, ErrorCode.UNKNOWN_MESSAGE,
    ErrorCode.SESSION_CLOSED, ErrorCode.REASSEMBLY_TIMEOUT, ErrorCode.CHANNEL_BUSY,
    ErrorCode.SESSION_TIMEOUT,
})
"""Channel failures worth a new session on a fresh channel: garbled frames (a channel
collision with another phone), a busy lock, an idle session the lock timed out. Not
retried: an unknown or revoked key, a wrong code, a version or identity mismatch."""

PAIRING_RETRYABLE_CODES = frozenset({
    ErrorCode.CHANNEL_BUSY, ErrorCode.BAD_FRAGMENT, ErrorCode.UNKNOWN_MESSAGE,
    ErrorCode.PROTOCOL_ERROR,
})
"""Pairing failures worth a new attempt on a fresh channel: a busy lock, or frames garbled
by another phone on the same channel (docs/protocol.md, Channels). A wrong code is not
among them."""


REQUEST_TIMEOUT = 10.0
"""Seconds a lock has to answer (a request, a handshake, a pairing step) by default, as
the command line's ``--timeout``. A lock that went away is noticed sooner, by the link
keeper (docs/central.md, "A lock that goes away"); this bounds a lock that is there but
silent."""

FRESH_MARGIN = 2.0
"""The phone stops using a freshness value this many seconds before the lock would stop
accepting it (time for the HS1 to reach the lock), and reads the fresh characteristic."""


class PairingInDoubt(Exception):
    """Internal to the phone side: PAIR3 left and no PAIR4 verified (a drop, a timeout, a
    CLOSE - unauthenticated, so not proof of anything). Whether the lock bound the phone
    is learnt from a session with the new key (``LockClient`` tries one)."""

    def __init__(self, error: LockError) -> None:
        super().__init__(error.message)
        self.error = error


async def _step(hook: StepHook | None, step: PairingStep) -> None:
    if hook is not None:
        await hook(step)


def _final_error(err: RemoteProtocolError) -> LockError:
    """What the caller sees for a channel the lock closed: protocol codes keep their
    protocol error, a denial code (``KEY_REVOKED``...) becomes its typed ``LockError``."""
    if 60 <= int(err.code) < 80:
        return err
    return error_for_code(int(err.code), f"{err.message}: {err.code.name}")


class Engine(LinkKeeper):
    """One lock connection: link, session, requests, pairing, pushes.

    ``timeout`` is handed to each phone object (session, pairing) as its answer timeout;
    ``clock`` (monotonic seconds) is the ``now`` of every sans-IO call."""

    def __init__(self, *, connector: Connector, keystore: Keystore, phone: KeyPair, rng: Rng,
                 timeout: float = REQUEST_TIMEOUT, max_retries: int = 3,
                 retry_delay: float = 0.02, pick_channel: Callable[[], int] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 relink_timeout: float = RELINK_TIMEOUT,
                 probe_interval: float | None = PROBE_INTERVAL) -> None:
        super().__init__(connector, relink_timeout=relink_timeout,
                         probe_interval=probe_interval)
        self.keystore = keystore
        self.phone = phone
        self.rng = rng
        """The injected RNG: request ids, channels, handshake and pairing ephemerals."""
        self.timeout = timeout
        self._clock = clock
        self.max_retries = max_retries
        self._retry_delay = retry_delay
        self._pick_channel = pick_channel or (lambda: random_channel(rng))
        self.app = AppClient(rng=rng)
        self.lock_id: bytes | None = None
        self._lk: LockLink | None = None
        self._pairing: PhonePairing | None = None
        self._established: asyncio.Future[None] | None = None
        self._pair_key: asyncio.Future[bytes] | None = None
        self._pair_done: asyncio.Future[bytes] | None = None
        self._unconfirmed: tuple[LockLink, LockRecord] | None = None
        self.pair3_sent = False
        """Whether the last :meth:`pair` handed PAIR3 to the link (the lock may have
        bound the phone): a pending record is kept from then on."""
        self._waiters: dict[bytes, asyncio.Future[None]] = {}
        self._listeners: list[Listener] = []
        self._op_lock = asyncio.Lock()
        self.sessions_opened = 0
        self.retries = 0
        self.fresh_reads = 0
        self.early_requests = 0
        """HS1s that carried a request (at most one per call: docs, Freshness)."""
        self._fresh: tuple[bytes, float] | None = None  # (value, local time it expires)
        self._fresh_link: GattLink | None = None

    def __repr__(self) -> str:
        lock = None if self.lock_id is None else lock_key(self.lock_id)
        return f"Engine(lock={lock}, link={self._link!r}, sessions={self.sessions_opened})"

    def _current(self, chan: Channel) -> bool:
        return chan is self._lk or chan is self._pairing

    def _wants_link(self) -> bool:
        pending = (self._established, self._pair_done, *self._waiters.values())
        return bool(self._listeners) or any(f is not None and not f.done() for f in pending)

    def _lock_name(self) -> str:
        return "the lock" if self.lock_id is None else f"lock {lock_key(self.lock_id)}"

    def _fail_all(self, error: LockError) -> None:
        lk, self._lk = self._lk, None
        for chan in (lk, self._pairing):
            if chan is not None:
                self._orphan(chan)
        for fut in (self._established, self._pair_key, self._pair_done,
                    *self._waiters.values()):
            if fut is not None and not fut.done():
                fut.set_exception(Retry(error))
        self._maybe_relisten()

    # ------------------------------------------------------------------ incoming

    def _now(self) -> float:
        return self._clock()

    def _on_notify(self, data: bytes) -> None:
        self._heard()
        now = self._now()
        if self._pairing is not None:
            self._feed_pairing(self._pairing, data, now)
            return
        lk = self._lk
        if lk is None:
            return
        try:
            events = lk.receive_data(data, now)
        except RemoteProtocolError as err:
            self._session_failed(lk, err)
        else:
            for event in events:
                self._dispatch(lk, event)
        self._spawn(self._flush(lk))  # a CLOSE, or the request re-sent after a RESYNC

    def _feed_pairing(self, pairing: PhonePairing, data: bytes, now: float) -> None:
        key, fut = self._pair_key, self._pair_done
        try:
            events = pairing.receive_data(data, now)
        except RemoteProtocolError as err:
            for waiting in (key, fut):
                if waiting is not None and not waiting.done():
                    waiting.set_exception(Retry(err))
        else:
            for event in events:
                if isinstance(event, PairingKeyReceived) and key is not None \
                        and not key.done():
                    key.set_result(event.lock_public)
                if isinstance(event, PairingSucceeded) and fut is not None and not fut.done():
                    fut.set_result(event.lock_public)
        self._spawn(self._flush(pairing))

    def _dispatch(self, lk: LockLink, event: object) -> None:
        if isinstance(event, SessionEstablished):
            self._confirm_pairing(lk)
            if lk.session.lock_fresh is not None and self._link is not None:
                value, fresh_for = lk.session.lock_fresh
                self.note_fresh(value, fresh_for, self._link)
            if event.resynced and event.lock_counter is not None and self.lock_id is not None:
                self.keystore.raise_counter(lock_key(self.lock_id), event.lock_counter)
            if self._established is not None and not self._established.done():
                self._established.set_result(None)
        elif isinstance(event, Succeeded | Failed):
            fut = self._waiters.get(event.request_id)
            if fut is not None and not fut.done():
                fut.set_result(None)
        elif isinstance(event, Pushed):
            for listener in list(self._listeners):
                try:
                    listener(event.body)
                except Exception:  # a listener's bug must not break the link
                    _log.exception("push listener failed")

    def _confirm_pairing(self, lk: LockLink) -> None:
        """Key confirmation: the lock answered an HS1 from the key of a pending record, so
        it bound that key (it finds no peer otherwise): the record is final."""
        unconfirmed, self._unconfirmed = self._unconfirmed, None
        if unconfirmed is None or unconfirmed[0] is not lk:
            self._unconfirmed = unconfirmed
            return
        record = unconfirmed[1]
        try:
            self.keystore.confirm_pending(record.lock_id, record.lock_public_key)
        except KeystoreError as exc:  # stays pending: the next session confirms it again
            _log.warning("cannot mark the pairing with lock %s confirmed: %s",
                         record.lock_id, exc)

    def _session_failed(self, lk: LockLink, err: RemoteProtocolError) -> None:
        _log.debug("session on channel %d failed: %r", lk.channel, err)
        if lk is not self._lk:
            return
        self._lk = None
        for fut in (self._established, *self._waiters.values()):
            if fut is not None and not fut.done():
                fut.set_exception(Retry(err))
        self._maybe_relisten()

    # ------------------------------------------------------------------ outgoing

    def _require_lock(self) -> tuple[bytes, LockRecord]:
        if self.lock_id is None:
            raise TransportError("no lock identified yet", code=ErrorCode.NOT_PAIRED)
        record = self.keystore.get(lock_key(self.lock_id))
        if record is None:
            raise TransportError(f"lock {lock_key(self.lock_id)} is not paired with this phone",
                                 code=ErrorCode.NOT_PAIRED)
        return self.lock_id, record

    # ------------------------------------------------------------------ freshness

    def note_fresh(self, value: bytes, fresh_for: int, link: GattLink) -> None:
        """The lock's freshness value, accepted for ``fresh_for`` more seconds (from the
        fresh characteristic or an HS2), for HS1s on ``link``."""
        self._fresh = (value, self._now() + fresh_for - FRESH_MARGIN)
        self._fresh_link = link

    def forget_fresh(self) -> None:
        """Drop the value in hand: the next HS1 reads the fresh characteristic first."""
        self._fresh, self._fresh_link = None, None

    async def _fresh_value(self, link: GattLink) -> bytes:
        """A freshness value the lock still accepts, read from the fresh characteristic
        (one ATT read: 2 PDUs) unless the one in hand (from the last HS2) is good."""
        if self._fresh is not None and self._fresh_link is link and \
                self._now() < self._fresh[1]:
            return self._fresh[0]
        try:
            value = FreshValue.decode(await link.read_fresh())
        except RemoteProtocolError as err:  # not our layout
            raise _final_error(err) from None
        except TransportError:  # the link died under the read: a new link, a new try
            await self._drop_link(link, "a read failed")
            raise Retry(dropped()) from None
        self.fresh_reads += 1
        self.note_fresh(value.fresh, value.fresh_for, link)
        return value.fresh

    # ------------------------------------------------------------------ sessions

    async def _new_session(self, first: bytes) -> LockLink:
        """A new session whose HS1 carries ``first`` (may be empty); counter persisted first."""
        lock_id, record = self._require_lock()
        link = await self._live_link()
        fresh = await self._fresh_value(link)
        if self._link is not link or not link.connected:
            raise Retry(dropped())
        counter = self.keystore.next_counter(lock_key(lock_id))  # persisted before HS1 goes
        session = PhoneSession(lock_id=lock_id, lock_public=record.lock_public_key,
                               phone=self.phone, counter=counter, rng=self.rng, mtu=link.mtu,
                               channel=self._pick_channel(), fresh=fresh,
                               timeout=self.timeout)
        if first:
            self.early_requests += 1
        lk = LockLink(app=self.app, session=session)
        self._lk = lk
        self._unconfirmed = (lk, record) if record.pending else None
        self._established = future(asyncio.get_running_loop())
        self.sessions_opened += 1
        session.start(first, self._now())
        await self._flush(lk)
        return lk

    async def _established_session(self) -> LockLink:
        lk = self._lk
        if lk is None or lk.session.state is PhoneState.CLOSED:
            lk = await self._new_session(b"")
        if lk.session.state is not PhoneState.ESTABLISHED:
            assert self._established is not None
            await self._wait(self._established, lk)
        return lk

    async def _deliver(self, payload: bytes, early: bool) -> LockLink:
        """Send a request: in a new session's HS1 if ``early`` and no session is open,
        else inside an established session (opened with an empty HS1 if need be)."""
        lk = self._lk
        reuse = lk is not None and lk.session.state in (PhoneState.WAITING,
                                                        PhoneState.ESTABLISHED)
        if not reuse and early:
            return await self._new_session(payload)  # 0-RTT: the request rides in HS1
        lk = await self._established_session()
        lk.session.send(payload)
        await self._flush(lk)
        return lk

    async def _wait(self, fut: asyncio.Future[Any], chan: LockLink | PhonePairing,
                    what: str = "") -> Any:
        """Wait for ``fut`` while driving ``chan``'s timers: sleep until its
        ``next_timer()``, then ``handle_timer(now)``. The lock not answering in time is a
        ``TransportError`` ``TIMEOUT``; a half message that timed out is a retry."""
        while not fut.done():
            due = chan.next_timer()
            delay = None if due is None else max(0.0, due - self._now())
            await asyncio.wait((fut,), timeout=delay)
            if fut.done():
                break
            try:
                chan.handle_timer(self._now())
            except RemoteProtocolError as err:
                if chan is self._lk:
                    self._lk = None
                with contextlib.suppress(LockError):
                    await self._flush(chan)  # the CLOSE handle_timer queued
                if isinstance(err, SessionTimeoutError):
                    raise TransportError(what or "the lock did not answer within "
                                         f"{self.timeout:g} s", code=ErrorCode.TIMEOUT) from None
                raise Retry(err) from None
        return fut.result()

    # ------------------------------------------------------------------ requests

    async def call(self, body: m.RequestBody, expected: type[B]) -> B:
        """One request, answered; retried with the same id after a link drop or a
        garbled channel. Raises the lock's typed error, or a ``TransportError``."""
        async with self._op_lock:
            request_id, payload = self.app.request(body)
            secret = body.SECRET  # never in HS1 (docs/protocol.md, 0-RTT)
            failures = 0
            early_before = self.early_requests
            while True:
                fut: asyncio.Future[None] = future(asyncio.get_running_loop())
                self._waiters[request_id] = fut
                try:
                    # At most one HS1 per call carries the request: a retry follows a
                    # CLOSE, a drop or a failed check that nothing authenticated, so it
                    # waits for a verified HS2 and goes inside the session (docs,
                    # Freshness). An attempt that failed before its HS1 left counts not.
                    early = not secret and self.early_requests == early_before
                    lk = await self._deliver(payload, early=early)
                    lk.expect_answer(request_id, self._now())
                    await self._wait(fut, lk)
                    return self.app.result(request_id, expected)
                except Retry as retry:
                    failures = await self._after_failure(retry, failures)
                finally:
                    self._waiters.pop(request_id, None)

    async def _after_failure(self, retry: Retry, failures: int) -> int:
        err = retry.error
        if isinstance(err, RemoteProtocolError) and err.code not in RETRYABLE_CODES:
            raise _final_error(err) from None
        failures += 1
        if failures > self.max_retries:
            raise err from None
        self.retries += 1
        self.forget_fresh()  # the lock may have restarted: read its value before the HS1
        _log.debug("retrying after %r (%d)", err, failures)
        await asyncio.sleep(self._retry_delay * failures)
        return failures

    async def open_session(self) -> None:
        """Make sure a session is established (pushes flow only on a session)."""
        async with self._op_lock:
            failures = 0
            while True:
                try:
                    await self._established_session()
                    return
                except Retry as retry:
                    failures = await self._after_failure(retry, failures)

    async def end_session(self) -> None:
        """Close the current session (the link stays): the next request opens a new one."""
        async with self._op_lock:
            lk, self._lk = self._lk, None
            if lk is not None and lk.session.state is not PhoneState.CLOSED:
                lk.close()
                await self._flush(lk)

    # ------------------------------------------------------------------ pairing

    async def pair(self, make: Callable[[int], PhonePairing], *,
                   on_key: Callable[[bytes], Awaitable[None]] | None = None,
                   on_step: StepHook | None = None) -> bytes:
        """Run a pairing (``make(mtu)`` builds it); returns the lock's static public key.
        Retried only when the link drops or the lock is busy with another pairing.

        Two-phase with ``on_key`` (``make`` then builds the pairing with ``hold=True``):
        once PAIR2 verified, ``on_key(lock_public)`` is awaited - the caller keeps the
        key durably, or raises and the lock binds nothing (a CLOSE goes instead of
        PAIR3). Then PAIR3 goes (:attr:`pair3_sent`), and from there nothing is retried:
        a drop, a timeout or a CLOSE raises :class:`PairingInDoubt`. ``on_step`` hears
        ``PAIR1_SENT``, ``PAIR3_SENT`` and ``PAIRED``."""
        async with self._op_lock:
            self.pair3_sent = False
            failures = 0
            while True:
                try:
                    link = await self._live_link()
                except Retry as retry:
                    failures = await self._after_failure(retry, failures)
                    continue
                pairing = make(link.mtu)
                loop = asyncio.get_running_loop()
                key: asyncio.Future[bytes] = future(loop)
                fut: asyncio.Future[bytes] = future(loop)
                self._pairing, self._pair_key, self._pair_done = pairing, key, fut
                try:
                    pairing.start(self._now())
                    await self._flush(pairing)
                    await _step(on_step, PairingStep.PAIR1_SENT)
                    if on_key is not None:
                        await self._held(pairing, key, fut, on_key)
                        return await self._committed(pairing, fut, on_step)
                    public: bytes = await self._wait(
                        fut, pairing, "the lock did not answer the pairing in time")
                    await _step(on_step, PairingStep.PAIRED)
                    return public
                except Retry as retry:
                    err = retry.error
                    if isinstance(err, RemoteProtocolError) and err.code not in (
                            PAIRING_RETRYABLE_CODES):
                        # send the CLOSE now: a caller that closes the client at once
                        # would cancel the spawned flush, and the lock would hold its
                        # one pairing slot until the handshake timeout (CHANNEL_BUSY)
                        with contextlib.suppress(LockError):
                            await self._flush(pairing)
                        raise _final_error(err) from None
                    failures = await self._after_failure(retry, failures)
                except BaseException:  # cancelled (Ctrl-C), or the caller's hook raised
                    await self._abandon(pairing)
                    raise
                finally:
                    self._pairing, self._pair_key, self._pair_done = None, None, None

    async def _abandon(self, pairing: PhonePairing) -> None:
        """A pairing left midway: its CLOSE frees the lock's one pairing slot now, not at
        its handshake timeout (a no-op once the pairing ended)."""
        if pairing.state in (PhoneState.DONE, PhoneState.CLOSED):
            return
        pairing.close()
        with contextlib.suppress(Exception):
            await self._flush(pairing)

    async def _held(self, pairing: PhonePairing, key: asyncio.Future[bytes],
                    fut: asyncio.Future[bytes],
                    on_key: Callable[[bytes], Awaitable[None]]) -> None:
        """Phase one: PAIR2 verified, the caller keeps the key; PAIR3 not sent."""
        public: bytes = await self._wait(key, pairing,
                                         "the lock did not answer the pairing in time")
        await on_key(public)  # raising: pair() closes it, the lock binds nothing
        if fut.done():  # the lock closed the pairing or the link dropped meanwhile
            fut.result()  # raises its Retry

    async def _committed(self, pairing: PhonePairing, fut: asyncio.Future[bytes],
                         on_step: StepHook | None) -> bytes:
        """Phase two: PAIR3 goes; the lock binds the phone when it reads it."""
        pairing.commit(self._now())  # PAIR3 queued
        self.pair3_sent = True
        try:
            await self._flush(pairing)
            await _step(on_step, PairingStep.PAIR3_SENT)
            public: bytes = await self._wait(fut, pairing,
                                             "the lock did not answer the pairing in time")
        except Retry as retry:
            with contextlib.suppress(LockError):
                await self._flush(pairing)  # the CLOSE, if one is queued
            raise PairingInDoubt(retry.error) from None
        except LockError as exc:  # TIMEOUT
            raise PairingInDoubt(exc) from None
        await _step(on_step, PairingStep.PAIRED)
        return public

    # ------------------------------------------------------------------ pushes

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return remove

    def _maybe_relisten(self) -> None:
        """Listeners want pushes: keep a session open after the old one ended."""
        if self._listeners and not self._closing and self.lock_id is not None:
            self._spawn(self._relisten())

    async def _relisten(self) -> None:
        await asyncio.sleep(self._retry_delay)
        if not self._listeners or self._closing or self._lk is not None or self._gone:
            return
        try:
            await self.open_session()
        except LinkLostError:
            pass  # the lock went away: the link listeners were told
        except LockError as exc:
            _log.warning("cannot reopen a session for pushes: %s", exc)

    # ------------------------------------------------------------------ closing

    async def aclose(self) -> None:
        self._closing = True
        lk, self._lk = self._lk, None
        if lk is not None and lk.session.state is not PhoneState.CLOSED:
            lk.close()  # tell the lock the channel is free
            with contextlib.suppress(Exception):
                await self._flush(lk)
        self._fail_all(TransportError("the client is closed", code=ErrorCode.DISCONNECTED))
        await self._close_link()
