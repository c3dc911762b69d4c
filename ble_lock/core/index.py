"""The in-memory index the lock matches against (the store is the durable copy).

1:N matching (R-CRD-2) is a dict lookup of a keyed digest per credential kind; per-user
counts serve the per-user limits (R-CRD-3) and the admin count guards R-USR-4. The
lowest free user number (R-USR-3) comes from a heap of freed numbers below the highest
one in use, in O(log N) (issue 15: ``add_user`` scanned every number).
"""

from __future__ import annotations

import heapq
from collections import Counter

from ble_lock.core.model import Credential, CredentialKind, Role, User
from ble_lock.core.store.codec import gc_paused

__all__ = ["Index"]


class Index:
    """Users and credentials by number, id, digest and public key."""

    __slots__ = ("_admins", "_free", "_high", "by_digest", "by_user", "credentials", "phones",
                 "pin_lengths", "users")

    def __init__(self) -> None:
        self.users: dict[int, User] = {}
        self.credentials: dict[int, Credential] = {}
        self.by_digest: dict[CredentialKind, dict[bytes, int]] = {k: {} for k in CredentialKind}
        self.by_user: dict[int, set[int]] = {}
        self.phones: dict[bytes, int] = {}
        self.pin_lengths: Counter[int] = Counter()
        self._admins: set[int] = set()
        # Every number below ``_high`` that is not in ``users`` is in ``_free``; it may
        # also hold numbers taken again since (skipped when met: lazy deletion).
        self._free: list[int] = []
        self._high = 0

    def __repr__(self) -> str:
        return f"Index(users={len(self.users)}, credentials={len(self.credentials)})"

    @classmethod
    def build(cls, users: list[User], credentials: list[Credential]) -> Index:
        index = cls()
        with gc_paused():  # a bulk load: see gc_paused
            for user in users:
                index.put_user(user)
            for credential in credentials:
                index.put_credential(credential)
        return index

    def put_user(self, user: User) -> None:
        number = user.number
        self.users[number] = user
        self.by_user.setdefault(number, set())
        if user.role is Role.ADMIN:
            self._admins.add(number)
        else:
            self._admins.discard(number)
        if number > self._high:
            for gap in range(self._high + 1, number):  # numbers skipped (a sparse load)
                heapq.heappush(self._free, gap)
            self._high = number

    def remove_user(self, number: int) -> None:
        if self.users.pop(number, None) is not None:
            heapq.heappush(self._free, number)
        self.by_user.pop(number, None)
        self._admins.discard(number)

    def lowest_free_number(self) -> int:
        """The lowest user number not in use (R-USR-3: 1 on an empty lock)."""
        free, users = self._free, self.users
        while free and free[0] in users:
            heapq.heappop(free)
        return free[0] if free else self._high + 1

    def put_credential(self, credential: Credential) -> None:
        old = self.credentials.get(credential.id)
        if old is not None:
            self.remove_credential(old.id)
        self.credentials[credential.id] = credential
        self.by_digest[credential.kind][credential.digest] = credential.id
        self.by_user.setdefault(credential.user_number, set()).add(credential.id)
        if credential.kind is CredentialKind.PIN:
            self.pin_lengths[credential.length] += 1
        if credential.public_key is not None:
            self.phones[credential.public_key] = credential.id

    def remove_credential(self, credential_id: int) -> Credential | None:
        credential = self.credentials.pop(credential_id, None)
        if credential is None:
            return None
        self.by_digest[credential.kind].pop(credential.digest, None)
        owned = self.by_user.get(credential.user_number)
        if owned is not None:
            owned.discard(credential_id)
        if credential.kind is CredentialKind.PIN:
            self.pin_lengths[credential.length] -= 1
            if self.pin_lengths[credential.length] <= 0:
                del self.pin_lengths[credential.length]
        if credential.public_key is not None:
            self.phones.pop(credential.public_key, None)
        return credential

    def lookup(self, kind: CredentialKind, digest: bytes) -> Credential | None:
        credential_id = self.by_digest[kind].get(digest)
        return None if credential_id is None else self.credentials[credential_id]

    def of_user(self, number: int, kind: CredentialKind | None = None) -> list[Credential]:
        ids = sorted(self.by_user.get(number, ()))
        creds = [self.credentials[i] for i in ids]
        return creds if kind is None else [c for c in creds if c.kind is kind]

    def count(self, kind: CredentialKind) -> int:
        return len(self.by_digest[kind])

    def admins(self) -> list[int]:
        return sorted(self._admins)
