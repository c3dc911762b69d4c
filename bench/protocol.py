"""Cost of an unlock and of a pairing over the secure transport, per ATT MTU.

    python bench/protocol.py [--json] [--runs N]

Counts come from the in-memory radio (``Loopback``): a *round trip* is a flight of ATT
writes from the phone followed by a flight of notifications it must wait for before it
can go on (fragments of one message belong to one flight; link-layer ACKs and the
write-without-response fragments are not round trips). ``*_lock_cpu_us`` is the median
process CPU time (``time.process_time_ns``, so other processes on a busy machine do not
count) the lock endpoint spends in ``receive_data`` + the app's ``respond`` +
``data_to_send`` (for an unlock: HS1 in, HS2 out; for pairing: PAIR1 in, PAIR2 out,
PAIR3 in, PAIR4 out), with the in-memory directory (a real store adds its fsync).
The unlock is the real one: an ``Unlock`` request of the message catalogue, answered by
the lock-side service (``ble_lock.lockapp.service``) over a real core ``Lock``
(DL20VC, in-memory store) in which the bench phone is the admin; its CPU is included.

ATT PDUs (protocol v2, docs/protocol.md "Freshness"): ``unlock_att_pdus`` is HS1 +
HS2 with a freshness value in hand (from the last HS2); ``connected_to_unlocked_att_pdus``
adds the read of the fresh characteristic (request + response: 2 PDUs) that a phone
makes when it has no value; ``connect_to_unlocked_att_pdus`` adds what every connection
costs before that (MTU exchange 2, subscribing to the response characteristic 2, the
info read 2; services from the cache). ``bogus_hs1_lock_cpu_us``: the lock's CPU for a
replayed HS1 whose freshness value expired (one handshake, HS2 STALE, nothing applied):
the price of each frame of a replay flood.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from ble_lock.core.clock import FakeClock, FakeRng
from ble_lock.core.lock import Lock, provision
from ble_lock.core.profile import DL20VC
from ble_lock.core.store import MemoryStore
from ble_lock.lockapp.service import LockService
from ble_lock.testing.testbed import TEST_SETUP_CODE, Testbed, make_testbed
from ble_lock.wire import messages as m
from ble_lock.wire.endpoints.directory import InMemoryPeer
from ble_lock.wire.endpoints.lock import LockEndpoint
from ble_lock.wire.endpoints.phone import PhonePairing, PhoneSession
from ble_lock.wire.events import EndpointEvent, MessageReceived, RequestReceived
from ble_lock.wire.security.crypto import KeyPair

sys.path.insert(0, str(Path(__file__).resolve().parent))
import protocol_floors as floors
from protocol_codec import measure_codec
from protocol_floors import Stats

FRESH_READ_PDUS = 2  # ATT Read Request + Read Response of the fresh characteristic
CONNECT_PDUS = 2 + 2 + 2  # MTU exchange, CCCD write request/response, info read
UNLOCK_REQUEST = m.encode(m.Request(request_id=bytes.fromhex("0123456789abcdef"),
                                    body=m.Unlock()))  # 10 bytes


def _service_for(phone_public: bytes) -> LockService:
    """The real service over a real core where the bench phone is the (claimed) admin."""
    store = MemoryStore()
    provision(store, FakeRng(1), serial="BL0000000001")
    lock = Lock(store=store, profile=DL20VC, clock=FakeClock(), rng=FakeRng(2))
    lock.claim(phone_key=phone_public)
    return LockService(lock)


SERVICE: list[LockService] = []  # set by measure(); the lock-side app of the bench


def _answer(lock: LockEndpoint, event: EndpointEvent) -> None:
    if isinstance(event, RequestReceived) and isinstance(event.peer, InMemoryPeer):
        lock.respond(event.channel, SERVICE[0].handle(event.peer.key, event.payload))


def _unlocked(got: list[Any]) -> bool:
    return any(isinstance(e, MessageReceived) and isinstance(r := m.decode(e.payload), m.Response)
               and isinstance(r.body, m.Unlocked) for e in got)


def _lock_turn(lock: LockEndpoint, frames: list[bytes], now: float, *, metered: bool = True
               ) -> tuple[list[bytes], int]:
    with METER[0]() if metered else nullcontext():
        t0 = time.process_time_ns()
        for frame in frames:
            for event in lock.receive_data(frame, now):
                _answer(lock, event)
        out = lock.data_to_send()
        return out, time.process_time_ns() - t0


METER: list[Callable[[], AbstractContextManager[object]]] = [nullcontext]
"""What the lock's turns run inside: nothing, or callgrind's collection (--instructions)."""


def _deliver(phone: PhonePairing | PhoneSession, frames: list[bytes], now: float) -> list[Any]:
    return [e for f in frames for e in phone.receive_data(f, now)]


def _unlock_sample(bed: Testbed, i: int, *, prepared: bool) -> int:
    """One unlock; the lock's CPU in ns. ``prepared``: the lock generated its next
    ephemeral key while idle before HS1 arrived (what the emulator does)."""
    s = bed.session(counter=1000 + i, now=float(i))
    s.start(UNLOCK_REQUEST, float(i))
    if prepared:
        bed.lock.prepare_idle()
    out, ns = _lock_turn(bed.lock, s.data_to_send(), float(i))
    if not _unlocked(_deliver(s, out, float(i))):
        raise RuntimeError("unlock failed")
    s.close()
    _lock_turn(bed.lock, s.data_to_send(), float(i), metered=False)
    return ns


def _bogus_hs1_cpu(bed: Testbed, runs: int) -> Stats:
    """A captured HS1 replayed after its value expired, on a fresh channel each time
    (no key prepared: a flood leaves the lock no idle time)."""
    s = bed.session(counter=10**6, now=0.0)
    s.start(UNLOCK_REQUEST, 0.0)
    captured = s.data_to_send()
    samples = []
    for i in range(runs):
        now = 100.0 + i
        frames = [bytes([1 + i % 200]) + f[1:] for f in captured]
        _, ns = _lock_turn(bed.lock, frames, now)
        bed.lock.close(1 + i % 200)
        bed.lock.data_to_send()
        samples.append(ns)
    return Stats.of(samples)


def _pair_sample(bed: Testbed, i: int, *, prepared: bool) -> int:
    p = bed.pairing(phone=KeyPair.generate(bed.rng))
    p.start(float(i))
    if prepared:
        bed.lock.prepare_idle()
    out, ns1 = _lock_turn(bed.lock, p.data_to_send(), float(i))
    _deliver(p, out, float(i))
    out, ns2 = _lock_turn(bed.lock, p.data_to_send(), float(i))
    _deliver(p, out, float(i))
    if p.lock_public is None:
        raise RuntimeError("pairing failed")
    return ns1 + ns2


def _instruction_subject(n: int) -> None:
    """Run under callgrind (``--instructions``): the lock's turns and the floors at MTU
    247, each region ``n`` times, collection on only inside them."""
    import callgrind

    bed, _, _, ik, cpace = _setup(247)
    METER[0] = callgrind.collecting
    for prepared, tag in ((True, ""), (False, "_cold")):
        for i in range(n):
            _unlock_sample(bed, i if prepared else n + i, prepared=prepared)
        callgrind.dump(f"unlock_lock{tag}")
        for _ in range(n):
            with callgrind.collecting():
                ik.run(prepared=prepared)
        callgrind.dump(f"unlock_crypto_floor{tag}")
        for i in range(n):
            _pair_sample(bed, 2 * i, prepared=prepared)
        callgrind.dump(f"pair_lock{tag}")
        for _ in range(n):
            with callgrind.collecting():
                cpace.run(prepared=prepared)
        callgrind.dump(f"pair_crypto_floor{tag}")


def _instructions(n: int) -> dict[str, Any]:
    """Instructions per operation (callgrind), and the ratios to the floors."""
    import callgrind

    totals = callgrind.count([__file__, "--instruction-subject", str(n)])
    out: dict[str, Any] = {"mtu": 247, "n": n}
    for name, total in totals.items():
        out[f"{name}_instructions"] = total // n
    for fig, floor in (("unlock_lock", "unlock_crypto_floor"), ("pair_lock", "pair_crypto_floor")):
        for tag in ("", "_cold"):
            out[f"{fig.replace('_lock', '')}{tag}_instructions_ratio"] = round(
                out[f"{fig}{tag}_instructions"] / out[f"{floor}{tag}_instructions"], 2)
    return out


def _reply_size(bed: Testbed) -> int:
    """HS2's plaintext for an unlock: status, fresh value, its lifetime, the response."""
    reply = SERVICE[0].handle(bed.phone_key.public, UNLOCK_REQUEST)
    return 1 + 16 + 1 + len(reply)


def _timed(fn: Callable[[], object]) -> int:
    t0 = time.process_time_ns()
    fn()
    return time.process_time_ns() - t0


def _setup(mtu: int) -> tuple[Testbed, Any, Any, Any, Any]:
    """The bench's lock (phone paired), one unlock and one pairing run through the
    link, and the two floors captured and checked."""
    bed = make_testbed(mtu=mtu, seed=b"bench", app=_answer)
    SERVICE[:] = [_service_for(bed.phone_key.public)]
    pairing = bed.pairing()
    pairing.start(0.0)
    pair_stats = bed.link.run([pairing], 0.0)
    session = bed.session(counter=1, now=1.0)
    session.start(UNLOCK_REQUEST, 1.0)
    unlock = bed.link.run([session], 1.0)
    session.close()
    bed.link.run([session], 1.0)
    ik = floors.IkFloor.capture(bed.lock.lock_id, bed.lock_key, bed.phone_key,
                                bed.lock.freshness(0.0)[0], UNLOCK_REQUEST,
                                reply_size=_reply_size(bed))
    cpace = floors.CpaceFloor.capture(bed.lock.lock_id, bed.lock_key, bed.phone_key,
                                      TEST_SETUP_CODE)
    if ik.run(prepared=False) != ik.expected or cpace.run(prepared=False) != bed.phone_key.public:
        raise RuntimeError("a floor does not do the protocol's crypto")
    return bed, pair_stats, unlock, ik, cpace


def measure(mtu: int, runs: int) -> dict[str, Any]:
    bed, pair_stats, unlock, ik, cpace = _setup(mtu)
    pdus = unlock.writes + unlock.notifications
    # Figure and floor alternate, sample by sample: a load that comes and goes on the
    # shared machine weighs on both alike.
    u: dict[str, list[int]] = {k: [] for k in ("hot", "floor", "cold", "floor_cold")}
    for i in range(runs):
        u["hot"].append(_unlock_sample(bed, 2 * i, prepared=True))
        u["floor"].append(_timed(lambda: ik.run(prepared=True)))
        u["cold"].append(_unlock_sample(bed, 2 * i + 1, prepared=False))
        u["floor_cold"].append(_timed(lambda: ik.run(prepared=False)))
    p: dict[str, list[int]] = {k: [] for k in ("hot", "floor", "cold", "floor_cold")}
    for i in range(max(20, runs // 5)):
        p["hot"].append(_pair_sample(bed, 2 * i, prepared=True))
        p["floor"].append(_timed(lambda: cpace.run(prepared=True)))
        p["cold"].append(_pair_sample(bed, 2 * i + 1, prepared=False))
        p["floor_cold"].append(_timed(lambda: cpace.run(prepared=False)))
    out: dict[str, Any] = {
        "mtu": mtu,
        "unlock_round_trips": unlock.round_trips,
        "unlock_att_writes": unlock.writes,
        "unlock_notifications": unlock.notifications,
        "unlock_att_pdus": pdus,
        "connected_to_unlocked_att_pdus": FRESH_READ_PDUS + pdus,
        "connect_to_unlocked_att_pdus": CONNECT_PDUS + FRESH_READ_PDUS + pdus,
        "unlock_bytes_up": unlock.bytes_up,
        "unlock_bytes_down": unlock.bytes_down,
        "pair_round_trips": pair_stats.round_trips,
    }
    out.update(_figure("unlock_lock_cpu", u["hot"], "unlock_crypto_floor", u["floor"]))
    out.update(_figure("unlock_lock_cpu_cold", u["cold"], "unlock_crypto_floor_cold",
                       u["floor_cold"]))
    out.update(_figure("pair_lock_cpu", p["hot"], "pair_crypto_floor", p["floor"]))
    out.update(_figure("pair_lock_cpu_cold", p["cold"], "pair_crypto_floor_cold",
                       p["floor_cold"]))
    bogus = _bogus_hs1_cpu(bed, max(20, runs // 5))
    out.update(bogus.keys("bogus_hs1_lock_cpu"))
    return out


def _figure(name: str, samples: list[int], floor_name: str, floor: list[int]
            ) -> dict[str, float]:
    fig, flo = Stats.of(samples), Stats.of(floor)
    ratio_key = name.replace("_lock_cpu", "") + "_ratio"
    return {**fig.keys(name), **flo.keys(floor_name),
            ratio_key: round(fig.median / flo.median, 2)}


ROWS = [("unlock_lock_cpu", "unlock_crypto_floor", "unlock_ratio"),
        ("unlock_lock_cpu_cold", "unlock_crypto_floor_cold", "unlock_cold_ratio"),
        ("pair_lock_cpu", "pair_crypto_floor", "pair_ratio"),
        ("pair_lock_cpu_cold", "pair_crypto_floor_cold", "pair_cold_ratio")]


def _span(r: dict[str, Any], name: str) -> str:
    return f"{r[name + '_us']:.1f} [{r[name + '_min_us']:.1f}-{r[name + '_max_us']:.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--runs", type=int, default=300, help="unlocks timed per MTU")
    parser.add_argument("--codec-calls", type=int, default=2000,
                        help="codec calls timed per case and round")
    parser.add_argument("--instructions", type=int, default=0, metavar="N",
                        help="also count instructions per unlock / pairing and per floor "
                             "under callgrind, N of each at MTU 247 (slow: minutes)")
    parser.add_argument("--instruction-subject", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.instruction_subject:
        _instruction_subject(args.instruction_subject)
        return
    results = [measure(mtu, args.runs) for mtu in (23, 247)]
    report: dict[str, Any] = {"results": results,
                              "codec": measure_codec(calls=args.codec_calls)}
    if args.instructions:
        report["instructions"] = _instructions(args.instructions)
    if args.json:
        print(json.dumps(report))
        return
    keys = [k for k in results[0] if not k.startswith(("unlock_lock", "unlock_crypto",
                                                        "pair_lock", "pair_crypto",
                                                        "bogus")) and "ratio" not in k]
    print(" ".join(f"{k:>22}" for k in keys))
    for r in results:
        print(" ".join(f"{r[k]!s:>22}" for k in keys))
    print()
    print(f"{'mtu':>4} {'figure (us)':<22} {'median [min-max]':>24} {'floor median [min-max]':>26}"
          f" {'ratio':>6}")
    for r in results:
        for fig, flo, ratio in ROWS:
            print(f"{r['mtu']:>4} {fig:<22} {_span(r, fig):>24} {_span(r, flo):>26}"
                  f" {r[ratio]:>6}")
        print(f"{r['mtu']:>4} {'bogus_hs1_lock_cpu':<22} {_span(r, 'bogus_hs1_lock_cpu'):>24}")
    codec = report["codec"]
    print()
    print(f"{'codec (us per call)':<22} {'median [min-max]':>22} {'struct by hand':>22}"
          f" {'ratio':>6}")
    for case in ("event_page_encode", "event_page_decode", "unlocked_encode", "unlocked_decode"):
        ours = f"{codec[case + '_us']} [{codec[case + '_min_us']}-{codec[case + '_max_us']}]"
        ref = (f"{codec[case + '_struct_us']} [{codec[case + '_struct_min_us']}-"
               f"{codec[case + '_struct_max_us']}]")
        print(f"{case:<22} {ours:>22} {ref:>22} {codec[case + '_ratio']:>6}")
    print(f"{'(construct, interpreted: event_page_decode)':<44} "
          f"{codec['event_page_decode_construct_us']}")
    if args.instructions:
        print()
        for key, value in report["instructions"].items():
            print(f"{key:<40} {value}")


if __name__ == "__main__":
    main()
