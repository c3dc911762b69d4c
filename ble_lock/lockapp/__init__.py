"""The lock's application: core + wire (server, request handlers, conversions, sync
statements, the peer directory over the core)."""
