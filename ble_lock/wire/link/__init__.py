"""The link: GATT layout, framing, and the secure transport's messages."""
