"""Test rigs (wire loopback, testbed, in-memory lock, vectors) and the pytest plugin."""
