"""PIN rules (R-PIN-1..3) and the card security code format (R-CRD-5)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

from ble_lock.core.errors import ErrorCode, InvalidInputError
from ble_lock.core.profile import Feature, Profile

__all__ = ["check_card_code", "check_pin", "is_weak_pin", "virtual_pin_runs"]


def _digits_only(value: str) -> bool:
    return value.isascii() and value.isdigit()


def is_weak_pin(pin: str) -> bool:
    """R-PIN-2: all-same digits, or consecutive ascending/descending digits."""
    steps = {int(b) - int(a) for a, b in itertools.pairwise(pin)}
    return steps in ({0}, {1}, {-1})


def check_pin(pin: str, profile: Profile, *, confirm: str | None = None) -> None:
    """R-PIN-1: 6-10 digits (entered twice when ``confirm`` is given); R-PIN-2 on
    profiles with the weak-PIN check. Raises MALFORMED_PIN / WEAK_PIN / PIN_MISMATCH."""
    if not isinstance(pin, str) or not _digits_only(pin) \
            or not profile.pin_min <= len(pin) <= profile.pin_max:
        raise InvalidInputError(
            f"a PIN is {profile.pin_min}-{profile.pin_max} digits", code=ErrorCode.MALFORMED_PIN
        )
    if profile.has(Feature.WEAK_PIN_CHECK) and is_weak_pin(pin):
        raise InvalidInputError(
            "PIN too weak (all same or consecutive digits)", code=ErrorCode.WEAK_PIN
        )
    if confirm is not None and confirm != pin:
        raise InvalidInputError("the two PIN entries differ", code=ErrorCode.PIN_MISMATCH)


def check_card_code(code: str, profile: Profile, *, confirm: str | None = None) -> None:
    """R-CRD-5: the card security code is exactly 6 digits (entered twice when set)."""
    if not isinstance(code, str) or not _digits_only(code) \
            or len(code) != profile.card_code_digits:
        raise InvalidInputError(
            f"a card code is {profile.card_code_digits} digits",
            code=ErrorCode.MALFORMED_CARD_CODE,
        )
    if confirm is not None and confirm != code:
        raise InvalidInputError("the two card code entries differ",
                                code=ErrorCode.MALFORMED_CARD_CODE)


def virtual_pin_runs(entry: str, lengths: Iterable[int]) -> Iterator[str]:
    """R-PIN-3: every contiguous run of ``entry`` whose length is one of ``lengths``,
    longest first, then left to right (so the longest matching PIN wins)."""
    n = len(entry)
    for length in sorted(set(lengths), reverse=True):
        for start in range(n - length + 1):
            yield entry[start:start + length]
