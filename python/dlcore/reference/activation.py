"""Activation functions written from their formulas in NumPy (float64 in, float64 out).

These are the oracles the tests compare ``dlcore.nn.functional`` against. They are allowed to
be slow (``gelu`` calls ``math.erf`` per element) but not wrong.
"""

from __future__ import annotations

import math

import numpy as np

_erf = np.vectorize(math.erf, otypes=[np.float64])


def step(x: np.ndarray) -> np.ndarray:
    """Heaviside: 1 where ``x > 0``, else 0."""
    return (x > 0).astype(x.dtype)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))``, via ``exp(-|x|)`` so that it never overflows."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def tanh(x: np.ndarray) -> np.ndarray:
    return np.tanh(x)


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def leaky_relu(x: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    return np.where(x > 0, x, negative_slope * x)


def prelu(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Leaky ReLU with slope ``weight`` (one value, or one per channel along dim 1)."""
    w = weight.reshape((1, -1) + (1,) * (x.ndim - 2)) if weight.size > 1 else weight
    return np.where(x > 0, x, w * x)


def elu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def gelu(x: np.ndarray, approximate: str = "none") -> np.ndarray:
    """``x * Phi(x)``, or the tanh approximation of Hendrycks & Gimpel (2016)."""
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
        return 0.5 * x * (1 + np.tanh(inner))
    return x * 0.5 * (1 + _erf(x / math.sqrt(2)))


def silu(x: np.ndarray) -> np.ndarray:
    return x * sigmoid(x)


def softplus(x: np.ndarray, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray:
    bx = beta * x
    return np.where(bx > threshold, x, np.logaddexp(0.0, bx) / beta)


def softmax(x: np.ndarray, dim: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def log_softmax(x: np.ndarray, dim: int = -1) -> np.ndarray:
    shifted = x - x.max(axis=dim, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))


# PyTorch's definitions, as its documentation states them.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def relu6(x: np.ndarray) -> np.ndarray:
    return np.minimum(np.maximum(x, 0), 6)


def hardtanh(x: np.ndarray, min_val: float = -1.0, max_val: float = 1.0) -> np.ndarray:
    return np.clip(x, min_val, max_val)


def hardsigmoid(x: np.ndarray) -> np.ndarray:
    return relu6(x + 3) / 6


def hardswish(x: np.ndarray) -> np.ndarray:
    return x * relu6(x + 3) / 6


def selu(x: np.ndarray) -> np.ndarray:
    return SELU_SCALE * (np.maximum(0, x) + np.minimum(0, SELU_ALPHA * np.expm1(np.minimum(x, 0))))


def celu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    # exp of min(x, 0) / alpha only, so that the unused branch does not overflow (alpha > 0).
    return np.maximum(0, x) + np.minimum(0, alpha * np.expm1(np.minimum(x, 0) / alpha))


def mish(x: np.ndarray) -> np.ndarray:
    return x * np.tanh(np.logaddexp(0.0, x))


def softsign(x: np.ndarray) -> np.ndarray:
    return x / (1 + np.abs(x))


def logsigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


def tanhshrink(x: np.ndarray) -> np.ndarray:
    return x - np.tanh(x)


def softshrink(x: np.ndarray, lambd: float = 0.5) -> np.ndarray:
    return np.where(x > lambd, x - lambd, np.where(x < -lambd, x + lambd, 0.0))


def hardshrink(x: np.ndarray, lambd: float = 0.5) -> np.ndarray:
    return np.where(np.abs(x) > lambd, x, 0.0)


def threshold(x: np.ndarray, threshold: float, value: float) -> np.ndarray:
    return np.where(x > threshold, x, value)


def glu(x: np.ndarray, dim: int = -1) -> np.ndarray:
    a, b = np.split(x, 2, axis=dim)
    return a * sigmoid(b)


def softmin(x: np.ndarray, dim: int = -1) -> np.ndarray:
    return softmax(-x, dim)
