"""Pure-NumPy reference implementations of every dlcore kernel.

They are written for clarity, not speed: the oracle the tests compare against and the
baseline the benchmarks measure dlcore's Rust kernels against. Nothing in dlcore's own code
path calls them.
"""
