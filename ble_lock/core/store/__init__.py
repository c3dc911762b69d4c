"""The lock's durable store: the small :class:`Store` interface and its implementations.

* :mod:`~ble_lock.core.store.base`: the :class:`Store` protocol and :class:`MemoryStore`
  (tests, the loopback rigs);
* :mod:`~ble_lock.core.store.sqlite`: :class:`SqliteStore` (WAL, ``synchronous=FULL``,
  one transaction per mutation) for real runs;
* :mod:`~ble_lock.core.store.codec`: model dataclasses to JSON-able values and back.
"""

from ble_lock.core.store.base import MemoryStore, Store
from ble_lock.core.store.sqlite import SqliteStore

__all__ = ["MemoryStore", "SqliteStore", "Store"]
