"""The phone side: scanning, connecting, LockClient, keystore, flows and the gateway (bleak)."""
