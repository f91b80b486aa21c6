"""Activation functions (the Rust kernels compute forward and backward)."""

from __future__ import annotations

from ...tensor import ArrayLike, Tensor, _activation, as_tensor
from ...tensor import log_softmax as _log_softmax
from ...tensor import softmax as _softmax


def relu(input: ArrayLike) -> Tensor:
    """``max(x, 0)``; the gradient is 1 where ``x > 0`` and 0 elsewhere (also at 0)."""
    return _activation(as_tensor(input), "relu")


def sigmoid(input: ArrayLike) -> Tensor:
    """``1 / (1 + exp(-x))``, stable for large ``|x|``; derivative ``s (1 - s)``."""
    return _activation(as_tensor(input), "sigmoid")


def tanh(input: ArrayLike) -> Tensor:
    """Hyperbolic tangent; derivative ``1 - tanh(x)^2``."""
    return _activation(as_tensor(input), "tanh")


def softmax(input: ArrayLike, dim: int = -1) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``, computed with the maximum subtracted."""
    return _softmax(input, dim)


def log_softmax(input: ArrayLike, dim: int = -1) -> Tensor:
    """``x - logsumexp(x)`` along ``dim``: finite where ``log(softmax(x))`` would be -inf."""
    return _log_softmax(input, dim)
