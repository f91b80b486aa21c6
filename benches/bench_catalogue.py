"""Activations, dropout, batch norm and losses: dlcore against NumPy written the usual way.

pytest-benchmark, one group per case (the cases of `cases/elementwise.py`, which
`report.py` also runs):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE pytest benches/bench_catalogue.py --benchmark-only

or as a script, ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=python python
benches/bench_catalogue.py``: each case times forward + backward (median of repeats) for
dlcore and for NumPy in the same process, and prints the ratio.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, Dict

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases import Case, elementwise  # noqa: E402

CASES: Dict[str, Case] = {case.name: case for case in elementwise.cases()}


@pytest.mark.parametrize("impl", ["dlcore", "numpy", "torch"])
@pytest.mark.parametrize("name", list(CASES))
def test_elementwise(benchmark, name, impl):
    fn = getattr(CASES[name].prepare(), impl)
    if fn is None:
        pytest.skip("PyTorch is not installed")
    benchmark.group = name
    benchmark.pedantic(fn, rounds=10, warmup_rounds=2, iterations=1)


def median_time(fn: Callable[[], object], repeats: int = 15) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    print(f"{'case (fwd+bwd, float32)':40s} {'dlcore ms':>10s} {'numpy ms':>10s} {'speed-up':>9s}")
    for name, case in CASES.items():
        sides = case.prepare()
        dl = median_time(sides.dlcore)
        time.sleep(0.2)  # let BLAS threads stop spinning before timing the other side
        ref = median_time(sides.numpy)
        print(f"{name:40s} {dl * 1e3:10.2f} {ref * 1e3:10.2f} {ref / dl:8.2f}x")


if __name__ == "__main__":
    main()
