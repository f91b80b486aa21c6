"""pytest-benchmark cases: `dlcore._core.matmul` against `numpy.matmul`, float32.

Run with `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE pytest benches/ --benchmark-only`;
each shape is one benchmark group, so the comparison table puts the two side by side.
`benches/report.py` gives the same comparison as ratios measured in one process.
"""

import numpy as np
import pytest
from cases.matmul import SQUARE_SIZES, operands

from dlcore import _core

SHAPES = [(s, s, s) for s in SQUARE_SIZES] + [(64, 784, 256), (1, 1024, 1024), (1024, 1024, 1)]
IMPLEMENTATIONS = {"dlcore": _core.matmul, "numpy": np.matmul}


@pytest.mark.parametrize("impl", list(IMPLEMENTATIONS))
@pytest.mark.parametrize("m,k,n", SHAPES, ids=[f"{m}x{k}@{k}x{n}" for m, k, n in SHAPES])
def test_matmul_float32(benchmark, m, k, n, impl):
    a, b = operands(m, k, n)
    matmul = IMPLEMENTATIONS[impl]
    benchmark.group = f"matmul {m}x{k}@{k}x{n} float32"
    benchmark.extra_info["gflop"] = 2 * m * n * k / 1e9
    out = benchmark(matmul, a, b)
    np.testing.assert_allclose(out, a @ b, rtol=1e-3, atol=1e-3 * np.sqrt(k))
