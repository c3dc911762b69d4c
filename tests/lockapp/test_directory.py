"""CoreDirectory: the transport's PeerDirectory over the real core."""

from __future__ import annotations

import pytest

from ble_lock.central.app import invite_pairing
from ble_lock.core.errors import ErrorCode
from ble_lock.core.model import Actor
from ble_lock.core.profile import DL20VC
from ble_lock.core.rules.lockout import InputPath
from ble_lock.lockapp.directory import (
    CoreDirectory,
    CorePeer,
    invite_code_ref,
    invite_transport_code,
    transport_code,
)
from ble_lock.testing.phone import LOCK_ID, claimed_world, make_world, new_phone
from ble_lock.wire import messages as m
from ble_lock.wire.errors import PairingError
from ble_lock.wire.security.pairing import pairing_secret


def test_claim_needs_pairing_mode_on_face_palm() -> None:
    """R-APP-1: the QR is shown while SET is held; outside it the claim is refused."""
    world = make_world()
    owner = new_phone(world, b"owner")
    with pytest.raises(PairingError) as info:
        owner.claim()
    assert info.value.code is ErrorCode.NOT_IN_PAIRING_MODE
    assert not world.lock.claimed
    world.lock.enter_pairing_mode()
    owner.claim()
    assert world.lock.claimed


def test_dl20vc_claims_without_pairing_mode_and_only_once() -> None:
    world = make_world(profile=DL20VC)
    new_phone(world, b"owner").claim()
    with pytest.raises(PairingError) as info:
        new_phone(world, b"thief").claim()
    assert info.value.code is ErrorCode.ALREADY_CLAIMED


def test_wrong_invite_codes_count_toward_the_lockout() -> None:
    """DESIGN: online guessing of invite codes is bounded by the pairing limiter."""
    world, owner = claimed_world()
    invite = owner.call(m.KeyInvite(name="Gus"), m.Invite)
    thief = new_phone(world, b"thief")
    for guess in range(5):
        p = invite_pairing(lock_id=LOCK_ID, invite_id=invite.invite_id,
                           code=f"{guess:010d}", phone=thief.key, rng=world.rng)
        p.start(world.now)
        with pytest.raises(PairingError):
            world.run([p])
    assert world.lock.lockout_remaining(InputPath.PAIRING)
    assert world.lock.lockout_remaining() is None  # the users' credentials still work
    # even the right code is refused while the lockout runs
    p = invite_pairing(lock_id=LOCK_ID, invite_id=invite.invite_id, code=invite.code,
                       phone=thief.key, rng=world.rng)
    p.start(world.now)
    with pytest.raises(PairingError) as info:
        world.run([p])
    assert info.value.code is ErrorCode.LOCKED_OUT
    world.clock.advance(181)
    guest = new_phone(world, b"gus")
    guest.redeem(invite)
    assert guest.call(m.WhoAmI(), m.UserInfo).name == "Gus"


def test_an_invite_is_redeemed_once() -> None:
    world, owner = claimed_world()
    invite = owner.call(m.KeyInvite(name="Gus"), m.Invite)
    new_phone(world, b"gus").redeem(invite)
    with pytest.raises(PairingError):
        new_phone(world, b"copy").redeem(invite)


def test_directory_answers_from_the_core() -> None:
    world, owner = claimed_world()
    directory = CoreDirectory(world.lock)
    peer = directory.find_peer(owner.key.public)
    assert isinstance(peer, CorePeer)
    assert peer.user_number == 1
    assert directory.find_peer(bytes(32)) is None
    counter = directory.current_counter(peer)
    assert directory.advance_counter(peer, counter + 5)
    assert not directory.advance_counter(peer, counter + 5)  # replay
    assert directory.current_counter(peer) == counter + 5
    issued = world.lock.issue_invite(Actor.phone(owner.key.public), name="Gus")
    ref = invite_code_ref(issued.invite_id)
    expected = pairing_secret(invite_transport_code(issued.invite_id, issued.code))
    assert directory.pairing_secret(ref) == expected
    assert directory.pairing_secret(b"\x00\x00\x00\x63") is None
    assert directory.pairing_secret(b"bad") is None
    assert directory.pairing_refusal(b"", world.now) is ErrorCode.ALREADY_CLAIMED
    assert directory.complete_pairing(b"bad", bytes(32)) is ErrorCode.UNKNOWN_KEY
    assert len(transport_code(bytes(32))) == 32
