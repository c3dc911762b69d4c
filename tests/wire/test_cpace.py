"""CPace over X25519 against the test vectors of draft-irtf-cfrg-cpace (Appendix B.1)."""

from __future__ import annotations

import pytest

from ble_lock.wire.errors import HandshakeError
from ble_lock.wire.security.cpace import (
    calculate_generator,
    elligator2_curve25519,
    generator_string,
    isk_ir,
    lv_cat,
    prepend_len,
    scalar_mult,
)

H = bytes.fromhex
PRS = b"Password"
CI = H("6f630b425f726573706f6e6465720b415f696e69746961746f72")
SID = H("7e4b4791d6a8ef019b936c79fb7f2c57")
YA_SCALAR = H("21b4f4bd9e64ed355c3eb676a28ebedaf6d8f17bdc365995b319097153044080")
YB_SCALAR = H("848b0779ff415f0af4ea14df9dd1d3c29ac41d836c7808896c4eba19c51ac40a")
G = H("64e8099e3ea682cfdc5cb665c057ebb514d06bf23ebc9f743b51b82242327074")
YA = H("1b02dad6dbd29a07b6d28c9e04cb2f184f0734350e32bb7e62ff9dbcfdb63d15")
YB = H("20cda5955f82c4931545bcbf40758ce1010d7db4db2a907013d79c7a8fcf957f")
K = H("f97fdfcfff1c983ed6283856a401de3191ca919902b323c5f950c9703df7297a")
ISK_IR = H("a051ee5ee2499d16da3f69f430218b8ea94a18a45b67f9e86495b382c33d14a5"
           "c38cecc0cc834f960e39e0d1bf7d76b9ef5d54eecc5e0f386c97ad12da8c3d5f")


def test_string_utilities_match_the_draft() -> None:
    assert prepend_len(b"") == H("00")
    assert prepend_len(b"1234") == H("0431323334")
    assert prepend_len(bytes(range(128)))[:2] == H("8001")
    assert lv_cat(b"1234", b"5", b"", b"6789") == H("04313233340135000436373839")
    gen = generator_string(PRS, CI, SID)
    assert len(gen) == 172
    assert gen.startswith(H("0843506163653235350850617373776f72646d"))


def test_generator_and_key_exchange_match_the_draft() -> None:
    assert calculate_generator(PRS, CI, SID) == G
    assert scalar_mult(YA_SCALAR, G) == YA
    assert scalar_mult(YB_SCALAR, G) == YB
    assert scalar_mult(YA_SCALAR, YB) == K
    assert scalar_mult(YB_SCALAR, YA) == K
    assert isk_ir(SID, K, YA, b"ADa", YB, b"ADb") == ISK_IR


@pytest.mark.parametrize("point", [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
])
def test_low_order_points_abort(point: str) -> None:
    s = H("af46e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449aff")
    with pytest.raises(HandshakeError):
        scalar_mult(s, H(point))


def test_elligator2_lands_on_the_curve() -> None:
    p = 2**255 - 19
    for r in (0, 1, 2, 12345, p - 1, 2**254 + 7):
        u = elligator2_curve25519(r)
        rhs = (u**3 + 486662 * u * u + u) % p
        assert pow(rhs, (p - 1) // 2, p) in (0, 1)


def test_different_passwords_give_unrelated_generators() -> None:
    gens = {calculate_generator(b"code %d" % i, CI, SID) for i in range(50)}
    assert len(gens) == 50
