"""The phone side: the app client, engine, LockClient, transport, discovery, keystore, flows."""
