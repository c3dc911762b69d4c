"""The core's structure (issue 13): a ``Lock`` façade over named services, each a plain
class given its collaborators in its constructor; the façade keeps the documented API;
one declaration per fact (the validity check, the wire-visible bounds)."""

from __future__ import annotations

import inspect
import re

import pytest
from core_env import START, Env

from ble_lock.core import lock as lock_module
from ble_lock.core import model
from ble_lock.core.admin import Admin
from ble_lock.core.credentials import Credentials
from ble_lock.core.enrolment import Enrolment
from ble_lock.core.errors import ErrorCode
from ble_lock.core.keys import Keys
from ble_lock.core.links import Links
from ble_lock.core.lock import Lock
from ble_lock.core.model import Credential, CredentialKind, Role, User
from ble_lock.core.panel import Panel
from ble_lock.core.rules.schedule import validity_denial, within
from ble_lock.core.timers import Timers
from ble_lock.core.unlock import Unlock
from ble_lock.core.users import Users

SERVICES = (Users, Credentials, Enrolment, Keys, Links, Unlock, Admin, Timers, Panel)


def _documented_api() -> set[str]:
    doc = lock_module.__doc__ or ""
    return set(re.findall(r"``([a-z_]+)``", doc.split("Management calls")[0])) - {"request_id"}


def test_lock_is_a_facade_not_a_mixin_chain() -> None:
    """No inheritance: Lock and every service derive from ``object`` only."""
    assert Lock.__mro__ == (Lock, object)
    for service in SERVICES:
        assert service.__mro__ == (service, object), service


def test_services_are_attributes_of_the_facade(env: Env) -> None:
    """Each named service is reachable on the façade, one instance per lock."""
    lock = env.lock
    for name, cls in (("users", Users), ("credentials", Credentials),
                      ("enrolment", Enrolment), ("keys", Keys), ("links", Links),
                      ("unlock", Unlock), ("admin", Admin), ("timers", Timers),
                      ("panel", Panel)):
        assert isinstance(getattr(lock, name), cls), name


def test_facade_keeps_every_documented_name(env: Env) -> None:
    """Every name in ``core/lock.py``'s docstring (API map and services) is a public
    attribute of a ``Lock``."""
    names = _documented_api()
    assert len(names) > 80  # the map, not an empty parse
    missing = sorted(n for n in names if not hasattr(env.lock, n))
    assert missing == []


def test_facade_delegates_with_the_service_signature() -> None:
    """A façade method has exactly its service method's parameters (nothing dropped)."""
    for service in SERVICES:
        for name, fn in inspect.getmembers(service, inspect.isfunction):
            facade = getattr(Lock, name, None)
            if name.startswith("_") or not inspect.isfunction(facade):
                continue
            assert inspect.signature(facade) == inspect.signature(fn), name


def test_bounds_are_declared_once_in_the_model() -> None:
    """MAX_NAME / MAX_SCHEDULES / MAX_LINKS live in core.model; the wire imports them."""
    from ble_lock.wire.messages import records as messages_records
    from ble_lock.wire.messages import types as messages_types

    assert messages_types.MAX_NAME is model.MAX_NAME
    assert messages_records.MAX_LINKS is model.MAX_LINKS
    assert messages_types.MAX_SCHEDULES is model.MAX_SCHEDULES


@pytest.mark.parametrize(("start", "end", "now", "inside"), [
    (None, None, START, True),
    (START, None, START, True),
    (START + 1, None, START, False),
    (None, START, START, False),
    (None, START + 1, START, True),
])
def test_r_usr_7_one_validity_window(start: float | None, end: float | None, now: float,
                                     inside: bool) -> None:
    """R-USR-7 / R-APP-3: ``valid_from <= now < valid_until``, open bounds."""
    assert within(start, end, now) is inside


def test_r_app_3_one_key_validity_check_order() -> None:
    """Revoked before expired before the user's own window (the order both the
    authorization and the decision report)."""
    user = User(number=1, name="u", role=Role.NORMAL, valid_until=START)
    key = Credential(id=1, kind=CredentialKind.BLUETOOTH_KEY, user_number=1, digest=b"d",
                     valid_until=START, revoked=True)
    assert validity_denial(key, user, START, 0) is ErrorCode.KEY_REVOKED
    key = Credential(id=1, kind=CredentialKind.BLUETOOTH_KEY, user_number=1, digest=b"d",
                     valid_until=START)
    assert validity_denial(key, user, START, 0) is ErrorCode.KEY_EXPIRED
    assert validity_denial(None, user, START, 0) is ErrorCode.OUTSIDE_VALIDITY
    assert validity_denial(None, user, START - 1, 0) is None
