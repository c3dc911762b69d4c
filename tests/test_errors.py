"""The error hierarchy: stable codes, typed rebuild from the wire."""

from __future__ import annotations

from ble_lock.core.errors import (
    CapacityError,
    ConflictError,
    ErrorCode,
    InvalidInputError,
    LockError,
    PermissionDeniedError,
    error_for_code,
)


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
    assert type(err) is LockError
    assert err.code is ErrorCode.INTERNAL
    assert "250" in str(err)


def test_repr_names_the_code() -> None:
    assert "CAPACITY_FULL" in repr(CapacityError("full"))
