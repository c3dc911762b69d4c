"""The lock emulator: core + protocol behind a bless GATT server, and its front panel."""
