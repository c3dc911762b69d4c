"""Two image slots with MCUboot's swap semantics (R-APP-8; ``docs/firmware.md``).

Slot 0 (primary) holds the running image, slot 1 (secondary) receives uploads. The swap
state, as MCUboot keeps it in the slot trailers, is two facts:

* ``pending``: slot 1 is marked for the next boot, once (``TEST``) or for good
  (``PERMANENT``);
* ``trial``: the running image was booted on test and is not confirmed yet.

:meth:`Slots.boot` is the bootloader's decision at a reset:

=========================  ==========================================================
state at reset             what boots
=========================  ==========================================================
``pending`` TEST           swap: slot 1 runs, on trial (``trial`` set)
``pending`` PERMANENT      swap: slot 1 runs, confirmed
``trial`` (not confirmed)  revert: swap back, the previous image runs, confirmed
otherwise                  slot 0 again
=========================  ==========================================================

A pending image is verified again at boot (MCUboot validates the secondary slot before
it swaps); one that fails is erased and slot 0 boots. Before any image was uploaded,
slot 0 holds the *factory image*: the lock's built-in version, with no image bytes.

Storage is a small interface (:class:`Flash`): named blobs, each ``put`` durable before
it returns. :class:`MemoryFlash` is the in-memory one; the emulator's is a directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from ble_lock.dfu.image import (
    ImageError,
    ImageProblem,
    ImageVersion,
    McubootImage,
    VendorKey,
    parse_image,
)

__all__ = ["Flash", "MemoryFlash", "Pending", "SlotError", "SlotProblem", "SlotState", "Slots"]


class Flash(Protocol):
    """Named blobs: ``slot0``, ``slot1`` (image bytes) and ``boot`` (the swap state)."""

    def get(self, name: str) -> bytes | None: ...

    def put(self, name: str, data: bytes | None) -> None:
        """Store ``data`` under ``name`` (None erases it), durably, before returning."""


class MemoryFlash:
    """A :class:`Flash` in a dict (tests, benchmarks)."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.writes = 0

    def get(self, name: str) -> bytes | None:
        return self.blobs.get(name)

    def put(self, name: str, data: bytes | None) -> None:
        self.writes += 1
        if data is None:
            self.blobs.pop(name, None)
        else:
            self.blobs[name] = data


class Pending(Enum):
    """How slot 1 is marked for the next boot."""

    TEST = "test"
    PERMANENT = "permanent"


class SlotProblem(Enum):
    """A slot operation the state does not allow (``dfu.server`` maps each to SMP)."""

    NO_IMAGE = "no image with that hash"
    TEST_ACTIVE = "the running image cannot be marked for test"
    ALREADY_PENDING = "an image is already pending: reset or erase it first"
    SLOT_IN_USE = "the running slot cannot be erased"
    BAD_SLOT = "no such slot"


class SlotError(Exception):
    """A slot operation refused; ``problem`` says why."""

    def __init__(self, problem: SlotProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True, slots=True, kw_only=True)
class SlotState:
    """One slot as SMP's image-state read reports it (Zephyr ``img_mgmt_state``)."""

    slot: int
    version: ImageVersion
    hash: bytes | None
    bootable: bool
    pending: bool
    confirmed: bool
    active: bool
    permanent: bool


class Slots:
    """The two slots of one lock over a :class:`Flash`; not thread-safe (one caller)."""

    def __init__(self, flash: Flash, *, factory_version: ImageVersion,
                 key: VendorKey | None) -> None:
        self._flash = flash
        self.factory_version = factory_version
        self.key = key
        boot = json.loads(flash.get("boot") or b"{}")
        pending = boot.get("pending")
        self._pending = Pending(pending) if pending else None
        self._trial = bool(boot.get("trial", False))
        self._images: list[McubootImage | None] = [self._load(0), self._load(1)]

    def _load(self, slot: int) -> McubootImage | None:
        data = self._flash.get(f"slot{slot}")
        if data is None:
            return None
        try:
            return parse_image(data)
        except ImageError:  # a torn or foreign blob is an empty slot, as for MCUboot
            return None

    def _save_boot(self) -> None:
        record = {"pending": self._pending.value if self._pending else None,
                  "trial": self._trial}
        self._flash.put("boot", json.dumps(record, sort_keys=True).encode())

    # -- what runs

    @property
    def running_version(self) -> ImageVersion:
        """The version of the running image (slot 0; the factory version before any)."""
        image = self._images[0]
        return self.factory_version if image is None else image.version

    def image(self, slot: int) -> McubootImage | None:
        return self._images[slot] if slot in (0, 1) else None

    def states(self) -> list[SlotState]:
        """Both slots as image-state read reports them (slot 1 only when it holds one)."""
        running = self._images[0]
        out = [SlotState(slot=0, version=self.running_version,
                         hash=None if running is None else running.hash, bootable=True,
                         pending=False, confirmed=not self._trial, active=True,
                         permanent=False)]
        second = self._images[1]
        if second is not None:
            out.append(SlotState(
                slot=1, version=second.version, hash=second.hash, bootable=True,
                pending=self._pending is not None,
                # reverting state: the previous image is what boots next (Zephyr reports
                # it confirmed)
                confirmed=self._trial and self._pending is None,
                active=False, permanent=self._pending is Pending.PERMANENT))
        return out

    # -- uploads

    def check_new(self, version: ImageVersion) -> None:
        """Before an upload starts: slot 1 must be free to take it and ``version`` must not
        roll back (anti-rollback). Raises :class:`SlotError` / :class:`ImageError`."""
        if self._pending is not None or self._trial:
            raise SlotError(SlotProblem.ALREADY_PENDING)
        if version < self.running_version:
            raise ImageError(ImageProblem.DOWNGRADE)

    def store(self, data: bytes) -> McubootImage:
        """A completely received image into slot 1 after verifying it (hash, vendor
        signature, anti-rollback). On any refusal nothing is written."""
        if self.key is None:
            raise ImageError(ImageProblem.NO_VENDOR_KEY)
        image = self.key.verify(data)
        self.check_new(image.version)
        self._flash.put("slot1", data)
        self._images[1] = image
        return image

    def erase(self, slot: int = 1) -> None:
        """Erase slot 1 (and a pending mark on it). Slot 0 runs: refused."""
        if slot == 0:
            raise SlotError(SlotProblem.SLOT_IN_USE)
        if slot != 1:
            raise SlotError(SlotProblem.BAD_SLOT)
        if self._trial:  # slot 1 holds the image a revert boots
            raise SlotError(SlotProblem.SLOT_IN_USE)
        self._flash.put("slot1", None)
        self._images[1] = None
        if self._pending is not None:
            self._pending = None
            self._save_boot()

    # -- test / confirm (SMP image-state write)

    def _slot_of(self, hash_: bytes) -> int:
        for slot, image in enumerate(self._images):
            if image is not None and image.hash == hash_:
                return slot
        raise SlotError(SlotProblem.NO_IMAGE)

    def mark(self, hash_: bytes | None, *, confirm: bool) -> None:
        """``test`` (``confirm`` False: slot 1 boots once) or ``confirm`` (of the running
        image, or of slot 1: it boots for good). ``hash_`` None means the running image."""
        slot = 0 if hash_ is None else self._slot_of(hash_)
        if slot == 0:
            if not confirm:
                raise SlotError(SlotProblem.TEST_ACTIVE)
            if self._trial:
                self._trial = False  # boot_write_img_confirmed(): no revert
                self._save_boot()
            return
        if self._trial:
            raise SlotError(SlotProblem.ALREADY_PENDING)
        self._pending = Pending.PERMANENT if confirm else Pending.TEST
        self._save_boot()

    # -- the bootloader

    def boot(self) -> ImageVersion:
        """What MCUboot does at a reset (module table); returns the version that runs."""
        second = self._images[1]
        if self._pending is not None and second is not None:
            data = self._flash.get("slot1") or b""
            try:
                if self.key is None:
                    raise ImageError(ImageProblem.NO_VENDOR_KEY)
                self.key.verify_parsed(second, data)
            except ImageError:
                self._flash.put("slot1", None)
                self._images[1] = None
                self._pending = None
                self._save_boot()
                return self.running_version
            self._swap(data)
            self._trial = self._pending is Pending.TEST
            self._pending = None
            self._save_boot()
        elif self._trial:
            self._swap(self._flash.get("slot1") or b"")
            self._trial = False
            self._save_boot()
        else:
            self._pending = None
        return self.running_version

    def _swap(self, new_primary: bytes) -> None:
        old = self._flash.get("slot0")
        self._flash.put("slot0", new_primary or None)
        self._flash.put("slot1", old)
        self._images = [self._load(0), self._load(1)]
