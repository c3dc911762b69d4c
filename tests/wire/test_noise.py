"""The Noise machinery against the cacophony test vectors (Noise_X_25519_ChaChaPoly_SHA256:
pre-message ``<- s``, then ``-> e, es, s, ss``: the tokens of our IK message 1), and the
full IK round trip."""

from __future__ import annotations

from ble_lock.wire.security.crypto import DeterministicRng, KeyPair
from ble_lock.wire.security.handshake import (
    FirstPayload,
    HsStatus,
    InitiatorHandshake,
    ReplyPayload,
    ResponderHandshake,
    SymmetricState,
    write_e_es_s_ss,
)

H = bytes.fromhex
PROLOGUE = H("4a6f686e2047616c74")
INIT_STATIC = H("e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1")
INIT_EPHEMERAL = H("893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a")
REMOTE_STATIC = H("31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62")
PAYLOAD0 = H("4c756477696720766f6e204d69736573")
CIPHERTEXT0 = H(
    "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79446c15957a594079a5"
    "bdeae05d01e089fbb7cc6ea2ecfd209b941f73c9235213bc875f7283e9e17ebdac8112627915b455"
    "fdc3aaa6de60cb3c98302f370fdb03ea850b9b0cf22fec13e4dc0707245c8721")
PAYLOAD1 = H("4d757272617920526f746862617264")
CIPHERTEXT1 = H("9868def631af6242aaf00c35218275832d8d022af1c67b9fc5e8ba90f4d91b")


def test_noise_x_vector_matches_our_symmetric_state_and_tokens() -> None:
    e = KeyPair.from_private_bytes(INIT_EPHEMERAL)
    s = KeyPair.from_private_bytes(INIT_STATIC)
    st = SymmetricState(PROLOGUE, REMOTE_STATIC, protocol_name=b"Noise_X_25519_ChaChaPoly_SHA256")
    enc_s, enc_payload = write_e_es_s_ss(st, e, s, REMOTE_STATIC, PAYLOAD0)
    assert e.public + enc_s + enc_payload == CIPHERTEXT0
    send, _ = st.split()
    assert send.encrypt(b"", PAYLOAD1) == CIPHERTEXT1


def test_ik_round_trip_agrees_on_keys_and_hash() -> None:
    lock, phone = KeyPair.from_private_bytes(bytes(32)), KeyPair.from_private_bytes(b"\x01" * 32)
    fresh = bytes(range(16))
    ini = InitiatorHandshake(lock_id=b"LOCK", lock_public=lock.public, phone=phone,
                             rng=DeterministicRng(b"i"), fresh=fresh)
    res = ResponderHandshake(lock_id=b"LOCK", lock=lock, rng=DeterministicRng(b"r"),
                             fresh=fresh)
    hs1 = ini.write_msg1(FirstPayload(counter=9, payload=b"hi"))
    phone_key, first = res.read_msg1(hs1)
    assert phone_key == phone.public
    assert first == FirstPayload(counter=9, payload=b"hi")
    hs2, lock_keys = res.write_msg2(ReplyPayload(status=HsStatus.OK, fresh=fresh[::-1],
                                                 fresh_for=29, payload=b"yo"))
    reply, phone_keys = ini.read_msg2(hs2)
    assert (reply.payload, reply.fresh, reply.fresh_for) == (b"yo", fresh[::-1], 29)
    assert phone_keys.handshake_hash == lock_keys.handshake_hash
    assert lock_keys.recv.decrypt(b"", phone_keys.send.encrypt(b"", b"up")) == b"up"
    assert phone_keys.recv.decrypt(b"", lock_keys.send.encrypt(b"", b"down")) == b"down"
