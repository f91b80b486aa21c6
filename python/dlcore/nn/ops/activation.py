"""Activation functions.

The elementwise ones run forward and backward in one Rust kernel each (``_core``): a single
pass over memory, stable formulas for large ``|x|`` and no NumPy temporaries. ``prelu`` has a
learnable slope and stays in NumPy, where its slope gradient is one reduction.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ...tensor import ArrayLike, Tensor, _activation, as_tensor
from ...tensor import log_softmax as _log_softmax
from ...tensor import softmax as _softmax


def step(input: ArrayLike) -> Tensor:
    """Heaviside step: 1 where ``x > 0``, else 0 (the perceptron's threshold unit).

    Its derivative is 0 everywhere except at 0, where it does not exist, so backpropagation
    through it passes back zeros: nothing before a step unit can learn by gradient descent.
    That is why the perceptron is trained with Rosenblatt's rule (:class:`dlcore.nn.Perceptron`)
    and why networks trained by backpropagation use smooth or piecewise-linear units instead.
    """
    return _activation(as_tensor(input), "step")


def relu(input: ArrayLike, inplace: bool = False) -> Tensor:
    """``max(x, 0)``; the gradient is 1 where ``x > 0`` and 0 elsewhere (also at 0).

    ``inplace`` (here and in the other activations) is accepted so ported PyTorch code runs;
    the result is always a new tensor, with the same values.
    """
    return _activation(as_tensor(input), "relu")


def leaky_relu(input: ArrayLike, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x`` where ``x > 0``, else ``negative_slope * x``; gradient 1 or ``negative_slope``."""
    return _activation(as_tensor(input), "leaky_relu", float(negative_slope))


def elu(input: ArrayLike, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``; the exponential is only taken of
    non-positive values, so it cannot overflow. Gradient 1, or ``y + alpha`` where ``x <= 0``.
    """
    return _activation(as_tensor(input), "elu", float(alpha))


def softplus(input: ArrayLike, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta x)) / beta``, a smooth ReLU; ``x`` itself where ``beta x >
    threshold`` (there the two agree to float precision), as in PyTorch.

    Computed as ``max(bx, 0) + log1p(exp(-|bx|))``, so no exponential overflows. Gradient:
    ``sigmoid(beta x)`` (1 beyond the threshold).
    """
    if not beta > 0:
        raise ValueError(f"softplus: beta must be positive, got {beta}")
    x = as_tensor(input)
    if x.dtype.kind != "f":
        x = x.astype(np.float32)
    data = x.data
    bx = data * data.dtype.type(beta)
    linear = bx > threshold
    soft = (np.maximum(bx, 0) + np.log1p(np.exp(-np.abs(bx)))) / data.dtype.type(beta)
    out = np.where(linear, data, soft).astype(data.dtype, copy=False)

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        slope = 0.5 * (1 + np.tanh(0.5 * bx))  # sigmoid(bx) without overflow
        return (g * np.where(linear, 1, slope).astype(data.dtype, copy=False),)

    return Tensor._from_op(out, (x,), backward)


def sigmoid(input: ArrayLike) -> Tensor:
    """``1 / (1 + exp(-x))``, stable for large ``|x|``; derivative ``s (1 - s)``."""
    return _activation(as_tensor(input), "sigmoid")


def tanh(input: ArrayLike) -> Tensor:
    """Hyperbolic tangent; derivative ``1 - tanh(x)^2``."""
    return _activation(as_tensor(input), "tanh")


def silu(input: ArrayLike, inplace: bool = False) -> Tensor:
    """SiLU (swish): ``x * sigmoid(x)``; derivative ``s (1 + x (1 - s))``."""
    return _activation(as_tensor(input), "silu")


def gelu(input: ArrayLike, approximate: str = "none") -> Tensor:
    """GELU: ``x * Phi(x)``, ``Phi`` the standard normal CDF (Hendrycks & Gimpel, 2016).

    Args:
        approximate: ``'none'`` (default) for the exact form, computed as
            ``x * erfc(-x / sqrt 2) / 2`` with a libm ``erfc`` accurate to round-off;
            ``'tanh'`` for ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`` (as in BERT
            and GPT-2), evaluated as the equal ``x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3))``.

    Derivative (exact form): ``Phi(x) + x phi(x)``, ``phi`` the normal density.
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _activation(as_tensor(input), "gelu" if approximate == "none" else "gelu_tanh")


def prelu(input: ArrayLike, weight: ArrayLike) -> Tensor:
    """Leaky ReLU with a learnable slope: ``x`` where ``x > 0``, else ``weight * x``.

    Shape:
        input ``(N, C, *)`` (or any shape when ``weight`` has one element); weight ``(1,)``
        or ``(C,)``, one slope per channel of dim 1.

    Gradients: ``dL/dx = g`` where ``x > 0`` else ``weight * g``;
    ``dL/dweight = sum(g * min(x, 0))`` over every dimension but the channel one.
    """
    x = as_tensor(input)
    w = as_tensor(weight)
    if x.dtype.kind != "f":
        x = x.astype(np.float32)
    if w.ndim > 1:
        raise ValueError(f"prelu: weight must be 1-D (num_parameters,), got shape {w.shape}")
    per_channel = w.size > 1
    if per_channel and (x.ndim < 2 or x.shape[1] != w.size):
        raise ValueError(
            f"prelu: weight has {w.size} slopes but input {x.shape} has "
            f"{x.shape[1] if x.ndim >= 2 else 'no'} channels in dim 1; expected them to match"
        )
    data = x.data
    slope_shape = (1, w.size) + (1,) * (data.ndim - 2) if per_channel else ()
    slope = w.data.astype(data.dtype, copy=False).reshape(slope_shape)
    positive = data > 0
    out = np.where(positive, data, slope * data)
    reduce_axes = tuple(a for a in range(data.ndim) if not (per_channel and a == 1))

    def backward(g: np.ndarray) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
        gx = np.where(positive, g, slope * g) if x.requires_grad else None
        gw = None
        if w.requires_grad:
            gw = np.sum(np.where(positive, 0, g * data), axis=reduce_axes).reshape(w.shape)
        return gx, gw

    return Tensor._from_op(out, (x, w), backward)


def _check_dim(op: str, x: Tensor, dim: int) -> None:
    if x.ndim == 0 or not -x.ndim <= dim < x.ndim:
        raise ValueError(f"{op}: dim {dim} is out of range for input of shape {x.shape}")


def softmax(input: ArrayLike, dim: int = -1) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``, computed with the maximum subtracted.

    Gradient: ``s * (g - sum(g * s, dim))``.
    """
    x = as_tensor(input)
    _check_dim("softmax", x, dim)
    return _softmax(x, dim)


def log_softmax(input: ArrayLike, dim: int = -1) -> Tensor:
    """``x - logsumexp(x)`` along ``dim``: finite where ``log(softmax(x))`` would be -inf.

    Gradient: ``g - softmax(x) * sum(g, dim)``.
    """
    x = as_tensor(input)
    _check_dim("log_softmax", x, dim)
    return _log_softmax(x, dim)
