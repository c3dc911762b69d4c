"""Security: crypto primitives, CPace, the Noise handshake, pairing, freshness."""
