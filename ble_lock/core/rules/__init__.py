"""The lock's rules as pure functions and small state machines, no store, no clock reads:

* :mod:`~ble_lock.core.rules.pins`: PIN and card-code shape, weak PINs, virtual PINs
  (R-PIN-*, R-CRD-5);
* :mod:`~ble_lock.core.rules.lockout`: failure runs and barriers per input path (R-SEC-1);
* :mod:`~ble_lock.core.rules.schedule`: THE validity-window check (:func:`within`),
  week-day schedules (R-USR-7);
* :mod:`~ble_lock.core.rules.visitor`: visitor codes (R-APP-4).
"""
