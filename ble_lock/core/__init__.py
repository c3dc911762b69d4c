"""The lock's embedded auth core: pure and synchronous, clock and RNG passed in.

Start at :class:`ble_lock.core.lock.Lock` (its module docstring maps the public API).
"""

from ble_lock.core.clock import Clock, FakeClock, FakeRng, Rng
from ble_lock.core.errors import ErrorCode, LockError
from ble_lock.core.lock import Lock, provision
from ble_lock.core.model import (
    Actor,
    CredentialKind,
    Decision,
    Event,
    EventKind,
    Role,
    Settings,
    UnlockMethod,
    User,
)
from ble_lock.core.profile import DL20VC, FACE_PALM, Profile, get_profile
from ble_lock.core.store import MemoryStore, Store

__all__ = [
    "DL20VC",
    "FACE_PALM",
    "Actor",
    "Clock",
    "CredentialKind",
    "Decision",
    "ErrorCode",
    "Event",
    "EventKind",
    "FakeClock",
    "FakeRng",
    "Lock",
    "LockError",
    "MemoryStore",
    "Profile",
    "Rng",
    "Role",
    "Settings",
    "Store",
    "UnlockMethod",
    "User",
    "get_profile",
    "provision",
]
