"""Batch normalisation written from its formulas (float64), with PyTorch's running statistics."""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np


def _axes_and_shape(x: np.ndarray) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    return (0,) + tuple(range(2, x.ndim)), (1, x.shape[1]) + (1,) * (x.ndim - 2)


def batch_norm(x: np.ndarray, running_mean: Optional[np.ndarray],
               running_var: Optional[np.ndarray], weight: Optional[np.ndarray] = None,
               bias: Optional[np.ndarray] = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> np.ndarray:
    """Forward pass; updates ``running_mean``/``running_var`` in place when training."""
    axes, shape = _axes_and_shape(x)
    if training or running_mean is None:
        n = x.size // x.shape[1]
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)  # biased, for normalising
        if training and running_mean is not None:
            running_mean[...] = (1 - momentum) * running_mean + momentum * mean
            running_var[...] = (1 - momentum) * running_var + momentum * var * n / (n - 1)
    else:
        mean, var = running_mean, running_var
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def batch_norm_backward(x: np.ndarray, grad: np.ndarray, weight: np.ndarray,
                        eps: float = 1e-5) -> Dict[str, np.ndarray]:
    """Training-mode gradients, from the chain rule through the batch mean and variance:
    ``dvar = sum(dx_hat (x - mu)) * -1/2 (var + eps)^(-3/2)``,
    ``dmu = -sum(dx_hat) / sqrt(var + eps) + dvar * mean(-2 (x - mu))``,
    ``dx = dx_hat / sqrt(var + eps) + dvar * 2 (x - mu) / n + dmu / n``."""
    axes, shape = _axes_and_shape(x)
    n = x.size // x.shape[1]
    mu = x.mean(axis=axes).reshape(shape)
    var = x.var(axis=axes).reshape(shape)
    x_hat = (x - mu) / np.sqrt(var + eps)
    dx_hat = grad * weight.reshape(shape)
    dvar = np.sum(dx_hat * (x - mu), axis=axes, keepdims=True) * -0.5 * (var + eps) ** -1.5
    dmu = (-np.sum(dx_hat, axis=axes, keepdims=True) / np.sqrt(var + eps)
           + dvar * np.mean(-2 * (x - mu), axis=axes, keepdims=True))
    dx = dx_hat / np.sqrt(var + eps) + dvar * 2 * (x - mu) / n + dmu / n
    return {"input": dx, "weight": np.sum(grad * x_hat, axis=axes),
            "bias": np.sum(grad, axis=axes)}
