"""Virtual LE controllers for the real-BlueZ lane (scripts/test-real-bluez.sh): N bumble
controllers on one simulated radio (``bumble.link.LocalLink``), each handed to the kernel
over its own ``/dev/vhci``, so BlueZ sees N ordinary ``hciX`` adapters.

Why bumble and not BlueZ's own ``btvirt``: btvirt 5.66 gives every connection the handle
42, so a peripheral controller cannot hold two links at once (two phones connected);
bumble's controller allocates a free handle per connection.

    python scripts/virtual_controllers.py N

bumble's ``LocalLink`` hands LE ACL data over with the sender's *random* address as the
source, which matches no connection when the hosts connect with public addresses (as BlueZ
does here): the PDU is dropped and no ATT request is ever answered. ``_Link`` gives the
address the sender's own end of that connection uses instead.

Prints ``ready N`` once every controller is handed over, then runs until killed. Each
controller gets its own public address (F0:00:00:00:00:0i): the kernel leaves a controller
whose address is 00:00:00:00:00:00 unconfigured.
"""

from __future__ import annotations

import asyncio
import sys

from bumble.controller import Controller
from bumble.core import PhysicalTransport
from bumble.hci import Address
from bumble.link import LocalLink
from bumble.transport import open_transport


class _Link(LocalLink):
    """A ``LocalLink`` whose LE ACL data carries the address its connection uses."""

    def send_acl_data(self, sender_controller: Controller, destination_address: Address,
                      transport: PhysicalTransport, data: bytes) -> None:
        if transport == PhysicalTransport.LE:
            connection = sender_controller.le_connections.get(destination_address)
            destination = self.find_le_controller(destination_address)
            if connection is not None and destination is not None:
                source = connection.self_address
                asyncio.get_running_loop().call_soon(
                    destination.on_link_acl_data, source, transport, data)
                return
        super().send_acl_data(sender_controller, destination_address, transport, data)


async def _main(count: int) -> None:
    link = _Link()
    transports = []
    controllers = []
    for index in range(count):
        transport = await open_transport("vhci")
        transports.append(transport)
        controllers.append(Controller(f"C{index}", host_source=transport.source,
                                      host_sink=transport.sink, link=link,
                                      public_address=f"F0:00:00:00:00:{index:02X}"))
    print(f"ready {count}", flush=True)
    try:
        await asyncio.get_running_loop().create_future()
    finally:
        for transport in transports:
            await transport.close()


if __name__ == "__main__":
    asyncio.run(_main(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
