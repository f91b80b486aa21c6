"""Optimizer step benchmarks (pytest-benchmark): dlcore's fused Rust step against NumPy.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE pytest benches/bench_optim.py --benchmark-only

Cases:
- Adam on one float32 parameter of 10M elements: dlcore, NumPy written the usual way (one
  temporary per operation), NumPy with ``out=`` operations into a reused scratch array.
  One step moves 28 bytes per element (read p, g, m, v; write p, m, v).
- The same 10M elements as 100 tensors of 100K: the multi-tensor step should cost about what
  one tensor does.
- SGD with momentum on 10M elements, and an Adam step of a tiny MLP (4 small parameters),
  where the per-step Python overhead is all there is.
"""

from __future__ import annotations

import numpy as np
import pytest

import dlcore
from dlcore import nn, optim
from dlcore.reference import optim as ref

N = 10_000_000


def _params(sizes, seed=0):
    rng = np.random.default_rng(seed)
    params = [nn.Parameter(rng.standard_normal(n).astype(np.float32)) for n in sizes]
    for p in params:
        p.grad = dlcore.Tensor(rng.standard_normal(p.data.shape).astype(np.float32))
    return params


def _bench(benchmark, fn, rounds=10):
    benchmark.pedantic(fn, rounds=rounds, warmup_rounds=2, iterations=1)


@pytest.mark.parametrize("impl", ["dlcore", "numpy_naive", "numpy_inplace"])
def test_adam_10m(benchmark, impl):
    benchmark.group = "adam 10M float32"
    (p,) = _params([N])
    if impl == "dlcore":
        fn = optim.Adam([p], lr=1e-3).step
    elif impl == "numpy_naive":
        state: dict = {}
        grad = p.grad.data

        def fn():
            ref.adam(p.data, grad, state, lr=1e-3)
    else:
        state, scratch, grad = {}, np.empty_like(p.data), p.grad.data

        def fn():
            ref.adam_inplace(p.data, grad, state, scratch, lr=1e-3)
    _bench(benchmark, fn)


@pytest.mark.parametrize("layout", ["1x10M", "100x100K"])
def test_adam_many_small_vs_one_large(benchmark, layout):
    benchmark.group = "adam 10M float32: one tensor vs 100"
    params = _params([N]) if layout == "1x10M" else _params([N // 100] * 100)
    _bench(benchmark, optim.Adam(params, lr=1e-3).step)


@pytest.mark.parametrize("impl", ["dlcore", "numpy_naive"])
def test_sgd_momentum_10m(benchmark, impl):
    benchmark.group = "sgd momentum 10M float32"
    (p,) = _params([N])
    if impl == "dlcore":
        fn = optim.SGD([p], lr=1e-3, momentum=0.9).step
    else:
        state: dict = {}
        grad = p.grad.data

        def fn():
            ref.sgd(p.data, grad, state, lr=1e-3, momentum=0.9)
    _bench(benchmark, fn)


def test_adam_tiny_mlp_step(benchmark):
    benchmark.group = "adam tiny MLP (per-step overhead)"
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    for p in model.parameters():
        p.grad = dlcore.Tensor(np.ones_like(p.data))
    benchmark(optim.Adam(model.parameters(), lr=1e-3).step)
