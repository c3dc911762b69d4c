"""Test rigs (wire loopback, testbed, in-memory lock, vectors), waiting helpers and the
pytest plugin.

``START`` is where every test clock starts (fake clocks, the emulators' manual clocks, the
benchmarks'): 2026-01-01 00:00 UTC, a Thursday. Tests that need another moment advance
from it.
"""

START = 1_767_225_600.0
