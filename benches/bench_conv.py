"""pytest-benchmark: conv2d and pooling forward + backward, dlcore against the NumPy reference.

Run with `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE pytest benches/bench_conv.py
--benchmark-only`; each workload is one benchmark group, so the table puts dlcore, NumPy
(and PyTorch, when installed) side by side. `benches/report.py` gives the same comparison as
ratios measured in one process.
"""

import numpy as np
import pytest
from conv_workloads import (
    CONV_TABLE,
    CONV_TRANSPOSE_TABLE,
    conv_flops,
    conv_sides,
    conv_transpose_flops,
    conv_transpose_sides,
    optional_torch,
    pool_sides,
)

POOLS = {
    "max-pool 2x2": ("max", 2, None, 0),
    "min-pool 2x2": ("min", 2, None, 0),
    "avg-pool 3x3 stride 2 pad 1": ("avg", 3, 2, 1),
    "global avg-pool": ("adaptive", 1, None, 0),
}
IMPLS = ["dlcore", "numpy"] + (["torch"] if optional_torch() is not None else [])


def _run(benchmark, group, sides, impl, flops=None):
    fn = dict(zip(("dlcore", "numpy", "torch"), sides))[impl]
    benchmark.group = group
    if flops:
        benchmark.extra_info["gflop"] = flops / 1e9
    return benchmark.pedantic(fn, rounds=5, warmup_rounds=1, iterations=1)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("label", list(CONV_TABLE))
def test_conv2d_forward_backward(benchmark, label, impl):
    spec = CONV_TABLE[label]
    grads = _run(benchmark, f"conv2d fwd+bwd {label}", conv_sides(*spec), impl, conv_flops(*spec))
    assert np.all(np.isfinite(np.asarray(grads[1])))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("label", list(CONV_TRANSPOSE_TABLE))
def test_conv_transpose2d_forward_backward(benchmark, label, impl):
    x_shape, w_shape, stride, padding, output_padding = CONV_TRANSPOSE_TABLE[label]
    sides = conv_transpose_sides(x_shape, w_shape, stride, padding, output_padding)
    grads = _run(benchmark, f"conv_transpose2d fwd+bwd {label}", sides, impl,
                 conv_transpose_flops(x_shape, w_shape))
    assert np.all(np.isfinite(np.asarray(grads[1])))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("label", list(POOLS))
def test_pool_forward_backward(benchmark, label, impl):
    kind, kernel, stride, padding = POOLS[label]
    sides = pool_sides(kind, kernel, stride, padding)
    _run(benchmark, f"{label} fwd+bwd on 64x32x32x32", sides, impl)
