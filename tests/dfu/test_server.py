"""The sans-IO SMP server and the two slots (R-APP-8, docs/firmware.md), with requests
built by ``smpclient``'s own request classes and images signed by ``imgtool``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from smp import error as smperr
from smp import header as smphdr
from smp import image_management as smpimg
from smpclient.generics import SMPRequest
from smpclient.requests.image_management import (
    ImageErase,
    ImageStatesRead,
    ImageStatesWrite,
    ImageUploadWrite,
)
from smpclient.requests.os_management import EchoWrite, MCUMgrParametersRead, ResetWrite

from ble_lock.dfu.image import ImageError, ImageProblem, ImageVersion, VendorKey, parse_image
from ble_lock.dfu.server import SmpServer
from ble_lock.dfu.slots import MemoryFlash, Slots
from tests.dfu._images import keygen, signed_image


@dataclass(frozen=True)
class Kit:
    key: VendorKey
    v2: bytes
    v3: bytes
    v0_9: bytes
    other_signer: bytes
    unsigned: bytes
    ecdsa_key: VendorKey
    ecdsa_v2: bytes


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    tmp = tmp_path_factory.mktemp("images")
    vendor = keygen(tmp / "vendor.pem")
    other = keygen(tmp / "other.pem")
    ecdsa = keygen(tmp / "ecdsa.pem", "ecdsa-p256")
    return Kit(
        key=VendorKey.from_pem(vendor.read_bytes()),
        v2=signed_image(tmp, vendor, "2.0.0", seed=2),
        v3=signed_image(tmp, vendor, "3.0.0", seed=3),
        v0_9=signed_image(tmp, vendor, "0.9.0", seed=9),
        other_signer=signed_image(tmp, other, "2.0.0", seed=4),
        unsigned=signed_image(tmp, None, "2.0.0", seed=5),
        ecdsa_key=VendorKey.from_pem(ecdsa.read_bytes()),
        ecdsa_v2=signed_image(tmp, ecdsa, "2.0.0", seed=6),
    )


def _server(key: VendorKey, flash: MemoryFlash | None = None) -> SmpServer:
    slots = Slots(flash or MemoryFlash(), factory_version=ImageVersion(1), key=key)
    return SmpServer(slots)


def _ask(server: SmpServer, request: SMPRequest, *, window: bool = True,  # type: ignore[type-arg]
         piece: int = 20) -> object:
    """Send ``request`` in ATT-sized pieces; parse the one reply as smpclient does."""
    data = request.BYTES
    replies = []
    for start in range(0, len(data), piece):
        replies += server.receive(data[start:start + piece], window_open=window)
    assert len(replies) == 1
    frame = replies[0].data
    for cls in (request._Response, request._ErrorV1, request._ErrorV2):
        try:
            return cls.loads(frame)
        except ValueError:
            continue
    raise AssertionError(f"unparseable reply {frame.hex()}")


def _upload(server: SmpServer, image: bytes, *, chunk: int = 512,
            stop_after: int | None = None) -> object:
    """smpclient's upload sequence (offset 0 with len and sha, then from each answer)."""
    sha = hashlib.sha256(image).digest()
    off, sent = 0, 0
    while True:
        first = off == 0
        req = ImageUploadWrite(off=off, data=image[off:off + chunk],
                               len=len(image) if first else None,
                               sha=sha if first else None, image=0 if first else None)
        rsp = _ask(server, req)
        sent += 1
        if not isinstance(rsp, smpimg.ImageUploadWriteResponse):
            return rsp
        assert rsp.off is not None
        off = rsp.off
        if off == len(image) or (stop_after is not None and sent >= stop_after):
            return rsp


def _states(server: SmpServer) -> list[smpimg.ImageState]:
    rsp = _ask(server, ImageStatesRead())
    assert isinstance(rsp, smpimg.ImageStatesReadResponse)
    return rsp.images


def _img_error(rsp: object) -> smpimg.IMG_MGMT_ERR:
    assert isinstance(rsp, smpimg.ImageManagementErrorV2), rsp
    return rsp.err.rc


def test_imgtool_images_verify_with_the_vendor_key_ed25519_and_ecdsa(kit: Kit) -> None:
    assert kit.key.verify(kit.v2).version == ImageVersion(2)
    assert kit.ecdsa_key.verify(kit.ecdsa_v2).version == ImageVersion(2)
    for image, problem in ((kit.other_signer, ImageProblem.BAD_SIGNATURE),
                           (kit.unsigned, ImageProblem.UNSIGNED),
                           (kit.ecdsa_v2, ImageProblem.UNSIGNED)):
        with pytest.raises(ImageError) as info:
            kit.key.verify(image)
        assert info.value.problem is problem
    corrupted = bytearray(kit.v2)
    corrupted[100] ^= 1
    with pytest.raises(ImageError) as info:
        kit.key.verify(bytes(corrupted))
    assert info.value.problem is ImageProblem.HASH_MISMATCH


@pytest.mark.parametrize("cut", [0, 10, 31, 40, 4100])
def test_truncated_images_are_typed_errors(kit: Kit, cut: int) -> None:
    with pytest.raises(ImageError):
        parse_image(kit.v2[:cut])


def test_upload_test_reset_confirm_follows_mcuboot(kit: Kit) -> None:
    flash = MemoryFlash()
    server = _server(kit.key, flash)
    rsp = _upload(server, kit.v2)
    assert isinstance(rsp, smpimg.ImageUploadWriteResponse)
    assert rsp.match is True
    h2 = parse_image(kit.v2).hash
    slot1 = _states(server)[1]
    assert (slot1.slot, slot1.version, slot1.hash, slot1.pending) == (1, "2.0.0", h2, False)
    rsp = _ask(server, ImageStatesWrite(hash=h2))  # test
    assert isinstance(rsp, smpimg.ImageStatesWriteResponse)
    assert rsp.images[1].pending
    assert not rsp.images[1].permanent
    reset = server.receive(ResetWrite().BYTES, window_open=True)
    assert [r.reset for r in reset] == [True]
    # the reset: a new boot on the same flash
    booted = Slots(flash, factory_version=ImageVersion(1), key=kit.key)
    assert booted.boot() == ImageVersion(2)
    server = SmpServer(booted)
    running = _states(server)[0]
    assert (running.version, running.active, running.confirmed) == ("2.0.0", True, False)
    rsp = _ask(server, ImageStatesWrite(confirm=True))
    assert isinstance(rsp, smpimg.ImageStatesWriteResponse)
    assert rsp.images[0].confirmed
    again = Slots(flash, factory_version=ImageVersion(1), key=kit.key)
    assert again.boot() == ImageVersion(2)  # confirmed: stays


def test_a_reset_without_confirm_reverts(kit: Kit) -> None:
    flash = MemoryFlash()
    server = _server(kit.key, flash)
    _upload(server, kit.v2)
    _ask(server, ImageStatesWrite(hash=parse_image(kit.v2).hash))
    slots = Slots(flash, factory_version=ImageVersion(1), key=kit.key)
    assert slots.boot() == ImageVersion(2)
    slots = Slots(flash, factory_version=ImageVersion(1), key=kit.key)
    assert slots.boot() == ImageVersion(1)  # not confirmed: back to the factory image
    states = slots.states()
    assert states[0].confirmed
    assert states[1].version == ImageVersion(2)
    assert not states[1].pending


def test_confirm_of_the_secondary_makes_it_permanent(kit: Kit) -> None:
    flash = MemoryFlash()
    server = _server(kit.key, flash)
    _upload(server, kit.v2)
    rsp = _ask(server, ImageStatesWrite(hash=parse_image(kit.v2).hash, confirm=True))
    assert isinstance(rsp, smpimg.ImageStatesWriteResponse)
    assert rsp.images[1].permanent
    for _ in range(2):
        assert Slots(flash, factory_version=ImageVersion(1), key=kit.key).boot() == \
            ImageVersion(2)


def test_outside_the_window_every_request_is_access_denied(kit: Kit) -> None:
    server = _server(kit.key)
    for request in (ImageStatesRead(), EchoWrite(d="hi"), ResetWrite(), ImageErase(),
                    ImageUploadWrite(off=0, data=kit.v2[:100], len=len(kit.v2))):
        rsp = _ask(server, request, window=False)
        assert isinstance(rsp, smperr.ErrorV1), rsp
        assert rsp.rc == smperr.MGMT_ERR.EACCESSDENIED
    assert server.upload_offset is None
    params = _ask(server, MCUMgrParametersRead(), window=False)  # transport negotiation
    assert getattr(params, "buf_size", None) == server.buf_size


def test_echo(kit: Kit) -> None:
    rsp = _ask(_server(kit.key), EchoWrite(d="hello lock"))
    assert getattr(rsp, "r", None) == "hello lock"


@pytest.mark.parametrize(("name", "code"), [
    ("other_signer", smpimg.IMG_MGMT_ERR.INVALID_TLV),
    ("unsigned", smpimg.IMG_MGMT_ERR.INVALID_TLV),
    ("v0_9", smpimg.IMG_MGMT_ERR.CURRENT_VERSION_IS_NEWER),
])
def test_refused_images_change_nothing(kit: Kit, name: str, code: smpimg.IMG_MGMT_ERR) -> None:
    flash = MemoryFlash()
    server = _server(kit.key, flash)
    assert _img_error(_upload(server, getattr(kit, name))) is code
    assert [s.slot for s in _states(server)] == [0]
    assert "slot1" not in flash.blobs


def test_a_corrupted_image_is_refused_as_invalid_hash(kit: Kit) -> None:
    corrupted = bytearray(kit.v2)
    corrupted[200] ^= 0xFF
    server = _server(kit.key)
    assert _img_error(_upload(server, bytes(corrupted))) is smpimg.IMG_MGMT_ERR.INVALID_HASH
    assert [s.slot for s in _states(server)] == [0]


def test_an_smp_v1_client_gets_the_reason_text(kit: Kit) -> None:
    server = _server(kit.key)
    req = ImageUploadWrite(off=0, data=kit.v0_9[:200], len=len(kit.v0_9),
                           version=smphdr.Version.V1)
    rsp = _ask(server, req)
    assert isinstance(rsp, smperr.ErrorV1)
    assert rsp.rsn is not None
    assert "anti-rollback" in rsp.rsn


def test_an_upload_resumes_from_the_offset_reached(kit: Kit) -> None:
    server = _server(kit.key)
    rsp = _upload(server, kit.v3, stop_after=3)
    assert isinstance(rsp, smpimg.ImageUploadWriteResponse)
    reached = server.upload_offset
    assert reached == 3 * 512
    server.link_lost()
    # the client starts over at offset 0 with the same length and hash: told where to go on
    sha = hashlib.sha256(kit.v3).digest()
    rsp = _ask(server, ImageUploadWrite(off=0, data=kit.v3[:512], len=len(kit.v3), sha=sha))
    assert isinstance(rsp, smpimg.ImageUploadWriteResponse)
    assert rsp.off == reached
    rsp = _upload(server, kit.v3)  # smpclient's whole loop, from 0 again: resumes
    assert isinstance(rsp, smpimg.ImageUploadWriteResponse)
    assert rsp.match is True
    assert _states(server)[1].version == "3.0.0"


def test_a_partial_request_is_dropped_when_the_link_is_lost(kit: Kit) -> None:
    server = _server(kit.key)
    assert server.receive(EchoWrite(d="x" * 50).BYTES[:20], window_open=True) == []
    assert server.buffered == 20
    server.link_lost()
    assert server.buffered == 0
    rsp = _ask(server, EchoWrite(d="after"))
    assert getattr(rsp, "r", None) == "after"


def test_a_pending_image_blocks_a_new_upload_until_erased(kit: Kit) -> None:
    server = _server(kit.key)
    _upload(server, kit.v2)
    _ask(server, ImageStatesWrite(hash=parse_image(kit.v2).hash))
    assert _img_error(_upload(server, kit.v3)) is smpimg.IMG_MGMT_ERR.IMAGE_ALREADY_PENDING
    assert isinstance(_ask(server, ImageErase()), smpimg.ImageEraseResponse)
    assert [s.slot for s in _states(server)] == [0]
    assert isinstance(_upload(server, kit.v3), smpimg.ImageUploadWriteResponse)


def test_test_of_the_running_image_and_unknown_hashes_are_refused(kit: Kit) -> None:
    server = _server(kit.key)
    assert _img_error(_ask(server, ImageStatesWrite(hash=b"\x01" * 32))) is \
        smpimg.IMG_MGMT_ERR.NO_IMAGE
    flash = MemoryFlash()
    server = _server(kit.key, flash)
    _upload(server, kit.v2)
    _ask(server, ImageStatesWrite(hash=parse_image(kit.v2).hash, confirm=True))
    booted = Slots(flash, factory_version=ImageVersion(1), key=kit.key)
    booted.boot()
    rsp = _ask(SmpServer(booted), ImageStatesWrite(hash=parse_image(kit.v2).hash))
    assert _img_error(rsp) is smpimg.IMG_MGMT_ERR.IMAGE_SETTING_TEST_TO_ACTIVE_DENIED


def test_an_oversized_request_is_refused_not_buffered(kit: Kit) -> None:
    server = _server(kit.key)
    big = EchoWrite(d="x" * (server.buf_size + 10)).BYTES
    replies = server.receive(big[:20], window_open=True)
    assert len(replies) == 1
    assert replies[0].refused
    assert server.receive(b"", window_open=True) == []


def test_garbage_after_a_header_is_a_typed_smp_error(kit: Kit) -> None:
    server = _server(kit.key)
    header = smphdr.Header(op=smphdr.OP.WRITE, version=smphdr.Version.V2,
                           flags=smphdr.Flag(0), length=4, group_id=smphdr.GroupId.OS_MANAGEMENT,
                           sequence=7, command_id=smphdr.CommandId.OSManagement.ECHO)
    replies = server.receive(bytes(header) + b"\xff\xff\xff\xff", window_open=True)
    assert len(replies) == 1
    assert replies[0].refused
    parsed = EchoWrite._ErrorV1.loads(replies[0].data)  # as smpclient parses a v1 error
    assert parsed.rc == smperr.MGMT_ERR.EINVAL


def test_states_persist_in_flash_across_instances(kit: Kit, tmp_path: Path) -> None:
    from ble_lock.peripheral.smp import DirectoryFlash

    flash = DirectoryFlash(tmp_path / "fw")
    server = SmpServer(Slots(flash, factory_version=ImageVersion(1), key=kit.key))
    _upload(server, kit.ecdsa_v2)  # signed by another key type: refused
    assert not (tmp_path / "fw" / "slot1").exists()
    _upload(server, kit.v2)
    again = Slots(DirectoryFlash(tmp_path / "fw"), factory_version=ImageVersion(1),
                  key=kit.key)
    assert [s.version for s in again.states()] == [ImageVersion(1), ImageVersion(2)]
