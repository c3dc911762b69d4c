"""The lock's embedded auth core: pure and synchronous, clock and RNG passed in.

Start at :class:`ble_lock.core.lock.Lock` (its module docstring maps the public API).
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - names for type checkers; loaded lazily below
    from ble_lock.core.clock import Clock, FakeClock, FakeRng, Rng
    from ble_lock.core.errors import ErrorCode, LockError
    from ble_lock.core.lock import Lock, provision
    from ble_lock.core.model import (
        Actor,
        CredentialKind,
        Decision,
        EventKind,
        LockEvent,
        Role,
        Settings,
        UnlockMethod,
        User,
    )
    from ble_lock.core.profile import DL20VC, FACE_PALM, Profile, get_profile
    from ble_lock.core.store import MemoryStore, Store

# Lazy (PEP 562): importing ``ble_lock.core.errors`` or ``ble_lock.core.model`` (as the
# wire and the phone's app client do) must not load the lock itself (``core.lock``);
# tests/test_layering.py checks it.
_HOME = {
    "Clock": "clock", "FakeClock": "clock", "FakeRng": "clock", "Rng": "clock",
    "ErrorCode": "errors", "LockError": "errors",
    "Lock": "lock", "provision": "lock",
    "Actor": "model", "CredentialKind": "model", "Decision": "model", "LockEvent": "model",
    "EventKind": "model", "Role": "model", "Settings": "model", "UnlockMethod": "model",
    "User": "model",
    "DL20VC": "profile", "FACE_PALM": "profile", "Profile": "profile",
    "get_profile": "profile",
    "MemoryStore": "store", "Store": "store",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'ble_lock.core' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"ble_lock.core.{home}"), name)

__all__ = [
    "DL20VC",
    "FACE_PALM",
    "Actor",
    "Clock",
    "CredentialKind",
    "Decision",
    "ErrorCode",
    "EventKind",
    "FakeClock",
    "FakeRng",
    "Lock",
    "LockError",
    "LockEvent",
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
