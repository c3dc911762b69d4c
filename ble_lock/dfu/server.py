"""The lock's MCUmgr SMP server, sans-IO (R-APP-8; ``docs/firmware.md``).

Bytes in (the SMP characteristic's writes, any fragmentation), SMP responses out, on the
message definitions of the ``smp`` package (no CBOR of our own). Groups and commands:

* image management: state read, state write (test / confirm), upload (offsets, resume),
  erase;
* OS: echo, reset, MCUmgr parameters.

Every request but the MCUmgr parameters read (transport negotiation) needs the
maintenance window an admin opened over the secure protocol: SMP has no authentication of
its own, so outside the window the answer is SMP's ``EACCESSDENIED``. Refusals of an
image answer the image group's error code (SMP v2 ``err`` map; ``rc`` and a reason text
for an SMP v1 request) and change nothing.

Uploads follow Zephyr's ``img_mgmt``: the first chunk (offset 0) carries the total length
and optionally the SHA-256 of the whole upload; its header is checked at once (magic,
anti-rollback). A chunk at another offset than expected is answered with the expected
offset (the client continues there). A first chunk with the length and SHA-256 of the
upload in progress resumes it: the answer is the offset reached (what ``smpclient``'s
upload does after a reconnect). The complete image is verified (hash TLV, vendor
signature, version) before it is written to slot 1.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import cbor2
from pydantic import ValidationError
from smp import error as smperr
from smp import header as smphdr
from smp import image_management as smpimg
from smp import message as smpmsg
from smp import os_management as smpos
from smp.exceptions import SMPException

from ble_lock.dfu.image import MAX_IMAGE_SIZE, ImageError, ImageProblem, parse_header
from ble_lock.dfu.slots import SlotError, SlotProblem, Slots

__all__ = ["BUF_COUNT", "BUF_SIZE", "WINDOW_CLOSED", "Reply", "SmpServer", "describe"]

BUF_SIZE = 2475
"""The largest request the server reassembles (``MCUmgr parameters`` ``buf_size``; the
nRF Connect SDK's SMP buffer for DFU)."""
BUF_COUNT = 1

_IMG = smphdr.GroupId.IMAGE_MANAGEMENT
_OS = smphdr.GroupId.OS_MANAGEMENT
_ImgCmd = smphdr.CommandId.ImageManagement
_OsCmd = smphdr.CommandId.OSManagement
_E = smpimg.IMG_MGMT_ERR
_M = smperr.MGMT_ERR

_REQUESTS: dict[tuple[int, int, smphdr.OP], type[smpmsg.Request]] = {
    (_IMG, _ImgCmd.STATE, smphdr.OP.READ): smpimg.ImageStatesReadRequest,
    (_IMG, _ImgCmd.STATE, smphdr.OP.WRITE): smpimg.ImageStatesWriteRequest,
    (_IMG, _ImgCmd.UPLOAD, smphdr.OP.WRITE): smpimg.ImageUploadWriteRequest,
    (_IMG, _ImgCmd.ERASE, smphdr.OP.WRITE): smpimg.ImageEraseRequest,
    (_OS, _OsCmd.ECHO, smphdr.OP.WRITE): smpos.EchoWriteRequest,
    (_OS, _OsCmd.RESET, smphdr.OP.WRITE): smpos.ResetWriteRequest,
    (_OS, _OsCmd.MCUMGR_PARAMETERS, smphdr.OP.READ): smpos.MCUMgrParametersReadRequest,
}
_NO_WINDOW_NEEDED = frozenset({(_OS, _OsCmd.MCUMGR_PARAMETERS)})

# Image refusals: the SMP v2 image-group code, and the v1 general code.
_IMAGE_CODES: dict[ImageProblem, tuple[smpimg.IMG_MGMT_ERR, smperr.MGMT_ERR]] = {
    ImageProblem.TOO_SHORT: (_E.INVALID_IMAGE_HEADER, _M.EINVAL),
    ImageProblem.BAD_MAGIC: (_E.INVALID_IMAGE_HEADER_MAGIC, _M.EINVAL),
    ImageProblem.BAD_HEADER: (_E.INVALID_IMAGE_HEADER, _M.EINVAL),
    ImageProblem.TOO_LARGE: (_E.INVALID_IMAGE_TOO_LARGE, _M.ENOMEM),
    ImageProblem.NO_TLVS: (_E.NO_TLVS, _M.EINVAL),
    ImageProblem.BAD_TLV: (_E.INVALID_TLV, _M.EINVAL),
    ImageProblem.NO_HASH: (_E.HASH_NOT_FOUND, _M.EINVAL),
    ImageProblem.HASH_MISMATCH: (_E.INVALID_HASH, _M.ECORRUPT),
    ImageProblem.UNSIGNED: (_E.INVALID_TLV, _M.EACCESSDENIED),
    ImageProblem.BAD_SIGNATURE: (_E.INVALID_TLV, _M.EACCESSDENIED),
    ImageProblem.NO_VENDOR_KEY: (_E.UNKNOWN, _M.ENOTSUP),
    ImageProblem.DOWNGRADE: (_E.CURRENT_VERSION_IS_NEWER, _M.EINVAL),
}
_SLOT_CODES: dict[SlotProblem, tuple[smpimg.IMG_MGMT_ERR, smperr.MGMT_ERR]] = {
    SlotProblem.NO_IMAGE: (_E.NO_IMAGE, _M.ENOENT),
    SlotProblem.TEST_ACTIVE: (_E.IMAGE_SETTING_TEST_TO_ACTIVE_DENIED, _M.EBADSTATE),
    SlotProblem.ALREADY_PENDING: (_E.IMAGE_ALREADY_PENDING, _M.EBADSTATE),
    SlotProblem.SLOT_IN_USE: (_E.INVALID_SLOT, _M.EBADSTATE),
    SlotProblem.BAD_SLOT: (_E.INVALID_SLOT, _M.EINVAL),
}
WINDOW_CLOSED = "maintenance window closed"


def describe(code: smpimg.IMG_MGMT_ERR) -> str:
    """What an image-group error code means from this lock (the reasons mapped to it
    above; Zephyr's meaning for the others): for a client's message."""
    reasons = [p.value for p, (img, _) in _IMAGE_CODES.items() if img is code]
    reasons += [p.value for p, (img, _) in _SLOT_CODES.items() if img is code]
    return " or ".join(reasons) if reasons else code.name.lower().replace("_", " ")


class _Refused(Exception):
    """A request answered with an error: image-group code (v2) or general code (v1)."""

    def __init__(self, rc: smperr.MGMT_ERR, reason: str,
                 img: smpimg.IMG_MGMT_ERR | None = None) -> None:
        super().__init__(reason)
        self.rc = rc
        self.reason = reason
        self.img = img

    @classmethod
    def image(cls, problem: ImageProblem) -> _Refused:
        img, rc = _IMAGE_CODES[problem]
        return cls(rc, problem.value, img)

    @classmethod
    def slot(cls, problem: SlotProblem) -> _Refused:
        img, rc = _SLOT_CODES[problem]
        return cls(rc, problem.value, img)


@dataclass(slots=True)
class _Upload:
    total: int
    sha: bytes | None
    data: bytearray = field(default_factory=bytearray)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """What one complete request produced: the response bytes (one SMP message, to be
    cut to the link's MTU by the transport) and whether the device resets after sending
    it (OS reset)."""

    data: bytes
    reset: bool = False
    group: int = 0
    command: int = 0
    refused: bool = False


@cache
def _error_class(base: type[smpmsg.Response], command: int, op: smphdr.OP) -> Any:
    """The ``smp`` error response class of a group's ``base`` for one command (the
    package declares error bodies per group; the header needs the command and op)."""
    name = f"{base.__name__}_{command}_{op.name}"
    return type(name, (base,), {"_COMMAND_ID": command, "_OP": op})


class SmpServer:
    """One SMP server: reassembly, dispatch, uploads; the slots it manages are
    ``slots``. ``window_open`` is asked at each request (the lock's maintenance window)."""

    def __init__(self, slots: Slots, *, buf_size: int = BUF_SIZE) -> None:
        self.slots = slots
        self.buf_size = buf_size
        self._buffer = bytearray()
        self._upload: _Upload | None = None
        self.requests = 0
        self.refusals = 0

    @property
    def upload_offset(self) -> int | None:
        """The offset of the upload in progress (None: none)."""
        return None if self._upload is None else len(self._upload.data)

    @property
    def buffered(self) -> int:
        """Bytes of a partly received request held (at most ``buf_size``)."""
        return len(self._buffer)

    def link_lost(self) -> None:
        """The link dropped: a partly received request is gone (the upload in progress
        stays, to be resumed)."""
        self._buffer.clear()

    def receive(self, data: bytes, *, window_open: bool) -> list[Reply]:
        """One write of the SMP characteristic; the replies of the requests it completed.
        A request longer than ``buf_size`` is dropped with its buffer (``EMSGSIZE``)."""
        self._buffer += data
        replies: list[Reply] = []
        while len(self._buffer) >= smphdr.Header.SIZE:
            try:
                header = smphdr.Header.loads(bytes(self._buffer[:smphdr.Header.SIZE]))
            except (ValueError, TypeError):  # not an SMP header: nothing to answer to
                self._buffer.clear()
                self.refusals += 1
                break
            total = smphdr.Header.SIZE + header.length
            if total > self.buf_size:
                self._buffer.clear()
                replies.append(self._error_reply(header, _Refused(_M.EMSGSIZE,
                                                                  "request too large")))
                break
            if len(self._buffer) < total:
                break
            frame = bytes(self._buffer[:total])
            del self._buffer[:total]
            replies.append(self.handle(header, frame, window_open=window_open))
        return replies

    def handle(self, header: smphdr.Header, frame: bytes, *, window_open: bool) -> Reply:
        """One complete request."""
        self.requests += 1
        key = (int(header.group_id), int(header.command_id), header.op)
        cls = _REQUESTS.get(key)
        try:
            if cls is None:
                raise _Refused(_M.ENOTSUP, "command not supported")
            if not window_open and key[:2] not in _NO_WINDOW_NEEDED:
                raise _Refused(_M.EACCESSDENIED, WINDOW_CLOSED)
            try:
                request = cls.loads(frame)
            except (ValidationError, SMPException, cbor2.CBORError, ValueError,
                    TypeError) as exc:
                raise _Refused(_M.EINVAL, f"malformed request ({type(exc).__name__})"
                               ) from None
            body, reset = self._dispatch(request)
        except _Refused as refused:
            self.refusals += 1
            return self._error_reply(header, refused)
        response = _RESPONSES[type(request)](sequence=header.sequence, version=header.version,
                                             **body)
        return Reply(data=response.BYTES, reset=reset, group=key[0], command=key[1])

    def _error_reply(self, header: smphdr.Header, refused: _Refused) -> Reply:
        op = smphdr.OP(int(header.op) + 1) if header.op in (smphdr.OP.READ, smphdr.OP.WRITE) \
            else smphdr.OP.WRITE_RSP
        group = int(header.group_id)
        is_img = group == _IMG
        v2 = header.version == smphdr.Version.V2
        response: smpmsg.Response
        if v2 and is_img and refused.img is not None:
            cls2 = _error_class(smpimg.ImageManagementErrorV2, int(header.command_id), op)
            response = cls2(sequence=header.sequence, version=header.version,
                            err=smperr.Err[smpimg.IMG_MGMT_ERR](group=_IMG, rc=refused.img))
        else:
            base: type[smpmsg.Response] = (smpimg.ImageManagementErrorV1 if is_img
                                          else smpos.OSManagementErrorV1)
            if group not in (_IMG, _OS):
                base = _generic_error_v1(group)
            cls1 = _error_class(base, int(header.command_id), op)
            response = cls1(sequence=header.sequence, version=header.version, rc=refused.rc,
                            rsn=refused.reason)
        return Reply(data=response.BYTES, group=group, command=int(header.command_id),
                     refused=True)

    # -- the commands

    def _dispatch(self, request: smpmsg.Request) -> tuple[dict[str, Any], bool]:
        match request:
            case smpimg.ImageStatesReadRequest():
                return self._states(), False
            case smpimg.ImageStatesWriteRequest(hash=hash_, confirm=confirm):
                try:
                    self.slots.mark(hash_, confirm=confirm)
                except SlotError as exc:
                    raise _Refused.slot(exc.problem) from None
                return self._states(), False
            case smpimg.ImageUploadWriteRequest():
                return self._upload_chunk(request), False
            case smpimg.ImageEraseRequest(slot=slot):
                try:
                    self.slots.erase(1 if slot is None else slot)
                except SlotError as exc:
                    raise _Refused.slot(exc.problem) from None
                self._upload = None
                return {}, False
            case smpos.EchoWriteRequest(d=text):
                return {"r": text}, False
            case smpos.ResetWriteRequest():
                return {}, True
            case smpos.MCUMgrParametersReadRequest():
                return {"buf_size": self.buf_size, "buf_count": BUF_COUNT}, False
        raise _Refused(_M.ENOTSUP, "command not supported")  # pragma: no cover

    def _states(self) -> dict[str, Any]:
        images = [
            smpimg.ImageState(slot=s.slot, version=str(s.version), image=0,
                              hash=s.hash, bootable=s.bootable, pending=s.pending,
                              confirmed=s.confirmed, active=s.active, permanent=s.permanent)
            for s in self.slots.states()
        ]
        return {"images": images}

    def _upload_chunk(self, req: smpimg.ImageUploadWriteRequest) -> dict[str, Any]:
        if req.image not in (None, 0):
            raise _Refused(_M.EINVAL, "one image only", _E.INVALID_SLOT)
        if req.off == 0:
            if req.len is None:
                raise _Refused(_M.EINVAL, "the first chunk carries the length",
                               _E.INVALID_LENGTH)
            current = self._upload
            if (current is not None and req.sha is not None and current.sha == req.sha
                    and current.total == req.len and current.data):
                return {"off": len(current.data)}  # resume (module docstring)
            self._upload = None
            try:
                header = parse_header(req.data)
                if req.len > MAX_IMAGE_SIZE:
                    raise ImageError(ImageProblem.TOO_LARGE)
                self.slots.check_new(header.version)
            except ImageError as exc:
                raise _Refused.image(exc.problem) from None
            except SlotError as exc:
                raise _Refused.slot(exc.problem) from None
            self._upload = _Upload(total=req.len, sha=req.sha)
        upload = self._upload
        if upload is None:
            raise _Refused(_M.EINVAL, "no upload in progress", _E.INVALID_OFFSET)
        if req.off != len(upload.data):
            return {"off": len(upload.data)}  # the client continues where we are
        if req.off + len(req.data) > upload.total:
            self._upload = None
            raise _Refused(_M.EINVAL, "more data than the announced length",
                           _E.INVALID_IMAGE_DATA_OVERRUN)
        upload.data += req.data
        if len(upload.data) < upload.total:
            return {"off": len(upload.data)}
        return self._finish(upload)

    def _finish(self, upload: _Upload) -> dict[str, Any]:
        self._upload = None
        data = bytes(upload.data)
        match: bool | None = None
        if upload.sha is not None:
            match = hmac.compare_digest(hashlib.sha256(data).digest(), upload.sha)
            if not match:
                raise _Refused.image(ImageProblem.HASH_MISMATCH)
        try:
            self.slots.store(data)
        except ImageError as exc:
            raise _Refused.image(exc.problem) from None
        except SlotError as exc:
            raise _Refused.slot(exc.problem) from None
        out: dict[str, Any] = {"off": len(data)}
        if match is not None:
            out["match"] = match
        return out


@cache
def _generic_error_v1(group: int) -> type[smpmsg.Response]:
    made: type[smpmsg.Response] = type(f"ErrorV1_group{group}", (smperr.ErrorV1,),
                                       {"_GROUP_ID": group})
    return made


_RESPONSES: dict[type[smpmsg.Request], Any] = {
    smpimg.ImageStatesReadRequest: smpimg.ImageStatesReadResponse,
    smpimg.ImageStatesWriteRequest: smpimg.ImageStatesWriteResponse,
    smpimg.ImageUploadWriteRequest: smpimg.ImageUploadWriteResponse,
    smpimg.ImageEraseRequest: smpimg.ImageEraseResponse,
    smpos.EchoWriteRequest: smpos.EchoWriteResponse,
    smpos.ResetWriteRequest: smpos.ResetWriteResponse,
    smpos.MCUMgrParametersReadRequest: smpos.MCUMgrParametersReadResponse,
}
