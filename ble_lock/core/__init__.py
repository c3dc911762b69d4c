"""The lock's embedded auth core: pure and synchronous, clock and RNG passed in."""

from ble_lock.core.errors import ErrorCode, LockError

__all__ = ["ErrorCode", "LockError"]
