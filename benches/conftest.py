"""Let `pytest benches/` collect the `bench_*.py` files (the test suite's `testpaths` is tests/,
so benchmarks never run with plain `pytest`)."""

import pytest


def pytest_collect_file(file_path, parent):
    # Files named on the command line are collected by pytest itself; don't add them twice.
    if file_path.name.startswith("bench_") and file_path.suffix == ".py":
        if not parent.session.isinitpath(file_path):
            return pytest.Module.from_parent(parent, path=file_path)
    return None
