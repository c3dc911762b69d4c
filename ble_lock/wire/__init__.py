"""The encrypted GATT protocol, sans-IO: bytes in, events and bytes out."""
