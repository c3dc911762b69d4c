"""ATT client procedures of the central's stack (bluetoothd's gatt-client over the radio).

Long values use Read Blob and Prepare/Execute Write, one ATT operation per chunk, as
BlueZ does when a value does not fit in ATT_MTU.
"""

from __future__ import annotations

import contextlib

from ble_lock.sim import att
from ble_lock.sim.att import AttError, AttOp, ServiceDef, record_size
from ble_lock.sim.radio import Link


async def read(link: Link, handle: int, offset: int = 0) -> bytes:
    value = b""
    while True:
        op, rsp = (
            (AttOp.READ_REQ, AttOp.READ_RSP)
            if offset == 0 and not value
            else (AttOp.READ_BLOB_REQ, AttOp.READ_BLOB_RSP)
        )
        at = offset + len(value)

        async def serve(at: int = at) -> bytes:
            return await link.peripheral.gatt.read(link, handle, at)

        chunk = await link.transaction((op, handle, record_size(op)), rsp, serve, len)
        value += chunk
        if len(chunk) < link.mtu - 1 or offset + len(value) >= att.MAX_ATTR_LEN:
            return value


async def write_request(link: Link, handle: int, value: bytes) -> None:
    if len(value) > att.MAX_ATTR_LEN:
        raise AttError(att.INVALID_ATTRIBUTE_VALUE_LENGTH)
    if len(value) <= link.mtu - 3:
        await link.transaction(
            (AttOp.WRITE_REQ, handle, record_size(AttOp.WRITE_REQ, len(value))),
            AttOp.WRITE_RSP,
            lambda: link.peripheral.gatt.write(link, handle, 0, value, True),
            lambda _: 0,
        )
        return
    # Long write: the server queues prepared chunks and writes them on Execute Write.
    step = link.mtu - 5
    chunks = [(off, value[off : off + step]) for off in range(0, len(value), step)]
    for _, chunk in chunks:

        async def echo(chunk: bytes = chunk) -> bytes:
            return chunk

        await link.transaction(
            (AttOp.PREPARE_WRITE_REQ, handle, record_size(AttOp.PREPARE_WRITE_REQ, len(chunk))),
            AttOp.PREPARE_WRITE_RSP,
            echo,
            lambda c: 4 + len(c),
        )

    async def execute() -> None:
        for off, chunk in chunks:
            await link.peripheral.gatt.write(link, handle, off, chunk, True)

    await link.transaction(
        (AttOp.EXECUTE_WRITE_REQ, 0, record_size(AttOp.EXECUTE_WRITE_REQ)),
        AttOp.EXECUTE_WRITE_RSP,
        execute,
        lambda _: 0,
    )


def write_command(link: Link, handle: int, value: bytes) -> bool:
    """False if the value does not fit in one PDU (BlueZ then fails the D-Bus call)."""
    if len(value) > link.mtu - 3:
        return False

    async def deliver() -> None:
        # A server drops a command it cannot accept, and never answers.
        with contextlib.suppress(AttError):
            await link.peripheral.gatt.write(link, handle, 0, value, False)

    link.command(handle, value, deliver)
    return True


async def discover(link: Link) -> tuple[ServiceDef, ...]:
    """Primary service, characteristic and descriptor discovery (one exchange per step)."""
    db = link.peripheral.gatt.database()

    async def serve_db() -> tuple[ServiceDef, ...]:
        return db

    async def step(req: AttOp, rsp: AttOp, handle: int, size: int) -> None:
        await link.transaction((req, handle, record_size(req)), rsp, serve_db, lambda _: size)

    await step(AttOp.READ_BY_GROUP_TYPE_REQ, AttOp.READ_BY_GROUP_TYPE_RSP, 1, 1 + 20 * len(db))
    for service in db:
        await step(
            AttOp.READ_BY_TYPE_REQ,
            AttOp.READ_BY_TYPE_RSP,
            service.handle,
            1 + 21 * len(service.characteristics),
        )
        for char in service.characteristics:
            if char.descriptors:
                await step(
                    AttOp.FIND_INFORMATION_REQ,
                    AttOp.FIND_INFORMATION_RSP,
                    char.value_handle + 1,
                    1 + 4 * len(char.descriptors),
                )
    return db
