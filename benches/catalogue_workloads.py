"""NumPy written the usual way for the elementwise cases (activations, dropout, batch norm,
BCE), and the dlcore forward + backward call that times the same work; shared by
`bench_catalogue.py` and `cases/elementwise.py`."""

from __future__ import annotations

import math
from typing import Callable, Tuple

import numpy as np

import dlcore

RNG = np.random.default_rng(0)


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
