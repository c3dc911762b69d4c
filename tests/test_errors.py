"""The error hierarchy: stable codes, the one code -> class table, typed rebuild from the wire."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from ble_lock.core.errors import (
    CapacityError,
    Category,
    ConflictError,
    ErrorCode,
    InternalError,
    InvalidInputError,
    LockError,
    PermissionDeniedError,
    StateError,
    error_class,
    error_for,
    error_for_code,
)
from ble_lock.wire.errors import (
    LocalProtocolError,
    PairingError,
    RemoteProtocolError,
    ReplayError,
    remote_error_for_code,
)
from ble_lock.wire.link import transport_messages as tm
from ble_lock.wire.messages import Response, decode, encode
from ble_lock.wire.security.freshness import Freshness

ROOT = Path(__file__).resolve().parents[1]


def test_codes_are_unique_and_fit_an_exit_status() -> None:
    values = [int(c) for c in ErrorCode]
    assert len(values) == len(set(values))
    # Exit statuses 0-2 belong to success and click's own usage errors.
    assert all(2 < v < 126 for v in values)


def test_error_for_code_rebuilds_the_category() -> None:
    err = error_for_code(int(ErrorCode.USER_LIMIT_REACHED), "too many fingerprints")
    assert isinstance(err, CapacityError)
    assert err.code is ErrorCode.USER_LIMIT_REACHED
    assert isinstance(error_for_code(ErrorCode.MALFORMED_PIN, "x"), InvalidInputError)
    assert isinstance(error_for_code(ErrorCode.LAST_ADMIN, "x"), PermissionDeniedError)
    assert isinstance(error_for_code(ErrorCode.ALREADY_CLAIMED, "x"), ConflictError)


def test_unknown_code_from_a_newer_peer_is_kept_as_text() -> None:
    err = error_for_code(250, "something new")
    assert type(err) is InternalError
    assert err.code is ErrorCode.INTERNAL
    assert "250" in str(err)


def test_repr_names_the_code() -> None:
    assert "CAPACITY_FULL" in repr(CapacityError("full"))


@pytest.mark.parametrize("code", list(ErrorCode), ids=lambda c: c.name)
def test_every_code_round_trips_the_wire_as_the_class_it_is_raised_as(code: ErrorCode) -> None:
    """Raise through the table, send the code in an error response, rebuild on the client."""
    raised = error_for(code, f"{code.name} text")
    assert type(raised) is error_class(code)
    assert raised.code is code
    assert raised.category is code.category
    wire = encode(Response(request_id=bytes(8), opcode=None, status=int(code),
                           message=raised.message))
    received = decode(wire)
    assert isinstance(received, Response)
    rebuilt = error_for_code(received.status, received.message)
    assert type(rebuilt) is type(raised)
    assert (rebuilt.code, rebuilt.message) == (raised.code, raised.message)


@pytest.mark.parametrize("code", list(ErrorCode), ids=lambda c: c.name)
def test_a_class_refuses_every_code_of_another_class(code: ErrorCode) -> None:
    """The constructor check: a disagreeing (class, code) pair cannot be built."""
    owner = error_class(code)
    for other in {error_class(c) for c in ErrorCode}:
        if issubclass(other, owner):
            assert other("fits", code=code).code is code
        else:
            with pytest.raises(TypeError, match=code.name):
                other("disagrees", code=code)


def test_issue_13_disagreements_are_gone() -> None:
    """The two examples of issue 13 now arrive as the class they are raised as."""
    with pytest.raises(TypeError):
        StateError("invite used", code=ErrorCode.CODE_ALREADY_USED)
    with pytest.raises(TypeError):
        PermissionDeniedError("statement replayed", code=ErrorCode.REPLAY)
    assert isinstance(error_for_code(int(ErrorCode.CODE_ALREADY_USED), "x"),
                      PermissionDeniedError)
    assert isinstance(error_for_code(int(ErrorCode.REPLAY), "x"), ReplayError)


def test_every_category_has_one_class_and_codes() -> None:
    """Categories are declared on the codes; each is served by its one class."""
    for category in Category:
        classes = {error_class(c) for c in ErrorCode if c.category is category}
        assert classes, category
        roots = {cls for cls in classes if cls.__base__ not in classes}
        assert len(roots) == 1, (category, roots)
        assert all(cls.category is category for cls in classes)


def test_categories_and_codes_are_declared_only_in_core_errors() -> None:
    with pytest.raises(TypeError, match="declared in"):
        type("Stray", (LockError,), {}, category=Category.STATE)
    with pytest.raises(TypeError, match="declared in"):
        type("Stray", (RemoteProtocolError,), {}, code=ErrorCode.REPLAY)


def test_a_close_carries_the_peers_reason_on_the_protocol_error() -> None:
    """The one documented exception: a CLOSE's non-protocol reason on a protocol class."""
    denial = remote_error_for_code(int(ErrorCode.LOCKED_OUT), "x", PairingError)
    assert type(denial) is PairingError
    assert denial.code is ErrorCode.LOCKED_OUT
    generic = remote_error_for_code(int(ErrorCode.PROTOCOL_ERROR), "x", PairingError)
    assert (type(generic), generic.code) == (PairingError, ErrorCode.PROTOCOL_ERROR)


def test_local_misuse_is_a_local_protocol_error() -> None:
    """h11's split: local misuse is LocalProtocolError (still a ValueError), not bare."""
    with pytest.raises(LocalProtocolError) as info:
        Freshness(bytes, rotation=0.0)
    assert info.value.code is ErrorCode.INVALID_ARGUMENT
    assert isinstance(info.value, ValueError)
    with pytest.raises(LocalProtocolError):
        encode(Response(request_id=bytes(3), opcode=None, status=10, message="x"))


def _lock_error_classes() -> dict[str, type[LockError]]:
    """Every LockError subclass defined under ble_lock/, by name."""
    found: dict[str, type[LockError]] = {}
    for path in sorted((ROOT / "ble_lock").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [n.name for n in tree.body if isinstance(n, ast.ClassDef)
                 and n.name.endswith("Error")]
        if not names:
            continue
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        loaded = importlib.import_module(module.removesuffix(".__init__"))
        for name in names:
            cls = getattr(loaded, name)
            if isinstance(cls, type) and issubclass(cls, LockError):
                assert found.setdefault(name, cls) is cls, f"two classes named {name}"
    return found


def test_no_raise_site_passes_a_code_outside_its_class() -> None:
    """Static check of every ``SomeError(..., code=ErrorCode.X)`` in ble_lock/ and bench/,
    including sites no test executes; and every class's default code is its own."""
    classes = _lock_error_classes()
    bad = [f"{cls.__name__} default {cls.default_code.name}" for cls in classes.values()
           if cls is not LockError  # the root: constructed only as one of its classes
           if not issubclass(cls, error_class(cls.default_code))]
    checked = 0
    for path in sorted([*(ROOT / "ble_lock").rglob("*.py"), *(ROOT / "bench").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else (
                func.attr if isinstance(func, ast.Attribute) else "")
            cls = classes.get(name)
            if cls is None:
                continue
            for kw in node.keywords:
                value = kw.value
                if kw.arg == "code" and isinstance(value, ast.Attribute) and isinstance(
                        value.value, ast.Name) and value.value.id == "ErrorCode":
                    checked += 1
                    if not issubclass(cls, error_class(ErrorCode[value.attr])):
                        bad.append(f"{path.relative_to(ROOT)}:{node.lineno} "
                                   f"{name}(code={value.attr})")
    assert checked > 50
    assert bad == []


@pytest.mark.parametrize("code", list(ErrorCode), ids=lambda c: c.name)
def test_every_code_on_a_close_message_rebuilds_a_consistent_protocol_error(
        code: ErrorCode) -> None:
    """A CLOSE carries one code: a protocol code comes back as its own class; any other
    code is the closing side's reason on the protocol error of where it arrived."""
    closed = tm.decode(tm.encode(tm.Close(code=int(code))))
    assert isinstance(closed, tm.Close)
    err = remote_error_for_code(closed.code, "closed", PairingError)
    assert err.code is code
    assert isinstance(err, RemoteProtocolError)
    if code.category is Category.PROTOCOL and code is not ErrorCode.PROTOCOL_ERROR:
        assert type(err) is error_class(code)
    else:
        assert type(err) is PairingError
