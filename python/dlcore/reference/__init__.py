"""Pure-NumPy reference implementations: the test oracle and the benchmark baseline.

Each module mirrors a family of ``dlcore`` ops and is written straight from the textbook
formula, for clarity rather than speed.
"""
