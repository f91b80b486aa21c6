"""Activations, dropout, batch norm and losses: dlcore against NumPy written the usual way.

Run: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=python python
benches/bench_catalogue.py``. Each case times forward + backward (median of repeats) for
dlcore and for a NumPy version in the same process, and prints the ratio.
"""

from __future__ import annotations

import math
import time
from typing import Callable, List, Tuple

import numpy as np

import dlcore
import dlcore.nn.functional as F
from dlcore import nn

RNG = np.random.default_rng(0)
N = 1 << 20  # elements for the elementwise cases (4 MiB of float32)


def median_time(fn: Callable[[], object], repeats: int = 15) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def dl_fwd_bwd(fn: Callable[[dlcore.Tensor], dlcore.Tensor], x: np.ndarray
               ) -> Callable[[], object]:
    g = np.ones_like(x)

    def run() -> None:
        t = dlcore.Tensor(x, requires_grad=True)
        fn(t).backward(g)

    return run


# NumPy forward + backward, written the way one usually would.
def np_gelu_tanh(x: np.ndarray) -> np.ndarray:
    k = math.sqrt(2 / math.pi)
    u = k * (x + 0.044715 * x**3)
    t = np.tanh(u)
    y = 0.5 * x * (1 + t)
    dy = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x)
    return y, dy


def np_silu(x: np.ndarray) -> np.ndarray:
    s = 1 / (1 + np.exp(-x))
    return x * s, s * (1 + x * (1 - s))


def np_elu(x: np.ndarray) -> np.ndarray:
    e = np.expm1(np.minimum(x, 0))
    return np.where(x > 0, x, e), np.where(x > 0, 1.0, e + 1)


def np_leaky(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, 0.01 * x), np.where(x > 0, 1.0, 0.01)


def np_dropout(x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    mask = (RNG.random(x.shape) >= 0.5) / 0.5
    return x * mask, np.ones_like(x) * mask


def np_batchnorm(x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    axes = (0, 2, 3)
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    x_hat = (x - mean) / np.sqrt(var + 1e-5)
    g = np.ones_like(x)
    dx = (g - g.mean(axis=axes, keepdims=True)
          - x_hat * (g * x_hat).mean(axis=axes, keepdims=True)) / np.sqrt(var + 1e-5)
    return x_hat, dx


def np_bce_logits(x: np.ndarray, t: np.ndarray) -> Tuple[float, np.ndarray]:
    loss = np.mean(np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x))))
    return loss, (1 / (1 + np.exp(-x)) - t) / x.size


def main() -> None:
    x = RNG.normal(size=N).astype(np.float32)
    image = RNG.normal(size=(64, 32, 32, 32)).astype(np.float32)
    t = (RNG.random(N) > 0.5).astype(np.float32)
    bn = nn.BatchNorm2d(32)
    cases: List[Tuple[str, Callable[[], object], Callable[[], object]]] = [
        ("gelu (tanh) 1M", dl_fwd_bwd(lambda a: F.gelu(a, "tanh"), x), lambda: np_gelu_tanh(x)),
        ("gelu (exact erf) 1M", dl_fwd_bwd(F.gelu, x), lambda: np_gelu_tanh(x)),
        ("silu 1M", dl_fwd_bwd(F.silu, x), lambda: np_silu(x)),
        ("elu 1M", dl_fwd_bwd(F.elu, x), lambda: np_elu(x)),
        ("leaky_relu 1M", dl_fwd_bwd(F.leaky_relu, x), lambda: np_leaky(x)),
        ("dropout p=0.5 1M", dl_fwd_bwd(lambda a: F.dropout(a, 0.5), x), lambda: np_dropout(x)),
        ("batchnorm2d train 64x32x32x32", dl_fwd_bwd(bn, image), lambda: np_batchnorm(image)),
        ("bce_with_logits 1M", lambda: _loss_run(x, t), lambda: np_bce_logits(x, t)),
    ]
    print(f"{'case (fwd+bwd, float32)':32s} {'dlcore ms':>10s} {'numpy ms':>10s} {'speed-up':>9s}")
    for name, dl_run, np_run in cases:
        dl = median_time(dl_run)
        time.sleep(0.2)  # let BLAS threads stop spinning before timing the other side
        ref = median_time(np_run)
        print(f"{name:32s} {dl * 1e3:10.2f} {ref * 1e3:10.2f} {ref / dl:8.2f}x")


def _loss_run(x: np.ndarray, t: np.ndarray) -> None:
    xt = dlcore.Tensor(x, requires_grad=True)
    F.binary_cross_entropy_with_logits(xt, t).backward()


if __name__ == "__main__":
    main()
