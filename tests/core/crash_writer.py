"""Child process of tests/core/test_crash_consistency.py (not a test module).

``python crash_writer.py DB MAX_OPS`` opens the SQLite store, then applies mutations
``n = last + 1, last + 2, ...`` (``last`` = the store's ``op`` counter), each in one
transaction, and prints ``n`` (flushed) once the commit returned: an ack. The parent kills
it with SIGKILL at random moments. :func:`apply_op` is deterministic given the store's
state, so the parent replays the same ops on a MemoryStore as the model of what must be
there.
"""

from __future__ import annotations

import random
import sys

from ble_lock.core.model import Credential, CredentialKind, EventKind, LockEvent, Note, Role, User
from ble_lock.core.store import Store

MAX_LIVE_USERS = 6
EVENT_KEEP = 25
APPLIED_KEEP = 10
ACTOR = b"crash-writer"


def apply_op(store: Store, n: int) -> None:
    """Mutation ``n``: several rows, all or nothing."""
    rng = random.Random(n)
    with store.transaction():
        live = sorted(u.number for u in store.load_users())
        if live and (len(live) >= MAX_LIVE_USERS or n % 4 == 3):
            victim = live[0]  # delete a user and all their credentials
            for cred in store.load_credentials():
                if cred.user_number == victim:
                    store.delete_credential(cred.id)
            store.delete_user(victim)
        elif live and n % 4 == 2:
            owner = rng.choice(live)  # replace one credential of a user
            theirs = [c.id for c in store.load_credentials() if c.user_number == owner]
            if theirs:
                store.delete_credential(rng.choice(theirs))
            store.put_credential(_credential(n * 10, owner, rng))
        else:  # add a user with 1..3 credentials
            store.put_user(User(number=n, name=f"guest {n}", role=Role.NORMAL, created_at=n))
            for i in range(rng.randint(1, 3)):
                store.put_credential(_credential(n * 10 + i, n, rng))
        store.append_event(
            LockEvent(seq=n, timestamp=float(n), kind=EventKind.USER_UPDATED,
                      detail=Note(text=f"op {n}")),
            keep=EVENT_KEEP,
        )
        store.put_applied(ACTOR, n.to_bytes(4, "big"), rng.randbytes(8), keep=APPLIED_KEEP)
        store.mark_code_used(n, float(n + 5))
        store.prune_used_codes(float(n))
        store.set_counter("op", n)


def _credential(cid: int, owner: int, rng: random.Random) -> Credential:
    kind = rng.choice([CredentialKind.PIN, CredentialKind.CARD, CredentialKind.FINGERPRINT])
    return Credential(id=cid, kind=kind, user_number=owner, digest=rng.randbytes(16))


def snapshot(store: Store, last: int) -> tuple[object, ...]:
    """Everything the ops can have written, in a comparable form."""
    return (
        sorted(store.load_users(), key=lambda u: u.number),
        sorted(store.load_credentials(), key=lambda c: c.id),
        store.events_after(0, 10 * EVENT_KEEP),
        [store.get_applied(ACTOR, k.to_bytes(4, "big")) for k in range(last + 2)],
        [k for k in range(last + 2) if store.is_code_used(k)],
        store.get_counter("op"),
    )


def main(argv: list[str]) -> int:
    from ble_lock.core.store.sqlite import SqliteStore

    path, max_ops = argv[1], int(argv[2])
    store = SqliteStore(path, check=False)
    n = store.get_counter("op")
    for _ in range(max_ops):
        n += 1
        apply_op(store, n)
        sys.stdout.write(f"{n}\n")
        sys.stdout.flush()
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
