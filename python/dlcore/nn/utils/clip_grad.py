"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_`` (in place on ``.grad``).

Call them between ``loss.backward()`` and ``optimizer.step()``.
"""

from __future__ import annotations

import math
from typing import Iterable, List, Union

import numpy as np

from ...tensor import Tensor

Parameters = Union[Tensor, Iterable[Tensor]]


def _grads(parameters: Parameters) -> List[Tensor]:
    """The ``.grad`` tensors of ``parameters`` (one tensor or an iterable), skipping None."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"expected Tensors or Parameters, got {type(p).__name__}")
    return [p.grad for p in params if p.grad is not None]


def _norm(array: np.ndarray, norm_type: float) -> float:
    if norm_type == math.inf:
        return float(np.max(np.abs(array))) if array.size else 0.0
    if norm_type == 2.0:
        flat = array.reshape(-1)
        with np.errstate(over="ignore"):
            squares = float(np.dot(flat, flat))  # one BLAS pass, no temporary
        if math.isinf(squares) and flat.dtype != np.float64:
            # A float32 sum of squares overflows from entries near 2e19 on; the norm does not.
            flat = flat.astype(np.float64)
            squares = float(np.dot(flat, flat))
        return math.sqrt(squares)
    if norm_type == 1.0:
        return float(np.sum(np.abs(array), dtype=np.float64))
    return float(np.sum(np.abs(array).astype(np.float64) ** norm_type)) ** (1.0 / norm_type)


def clip_grad_norm_(parameters: Parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Rescale all gradients together so their joint norm is at most ``max_norm``.

    The total norm is taken over all gradients as if concatenated into one vector: the p-norm
    of the per-parameter p-norms (``norm_type=inf``: the largest absolute entry). When it
    exceeds ``max_norm`` every gradient is multiplied by ``max_norm / (total + 1e-6)``, which
    keeps the update's direction and only shortens it.

    Args:
        parameters: a tensor or an iterable of tensors (e.g. ``model.parameters()``); those
            without a gradient are skipped.
        max_norm: the largest allowed norm.
        norm_type: the p of the p-norm (``float('inf')`` for the max norm).
        error_if_nonfinite: raise RuntimeError if the total norm is NaN or infinite
            (otherwise the gradients are scaled by a NaN factor, as in PyTorch).

    Returns:
        The total norm before clipping, as a 0-d tensor.

    Example:
        >>> loss.backward()
        >>> norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        >>> opt.step()
    """
    max_norm = float(max_norm)
    if not max_norm >= 0:
        # A negative factor would flip every gradient: the step would climb the loss.
        raise ValueError(f"clip_grad_norm_: max_norm must be non-negative, got {max_norm}")
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be positive, got {norm_type}")
    grads = _grads(parameters)
    if not grads:
        return Tensor(np.asarray(0.0, dtype=np.float32))
    norms = [_norm(g.data, norm_type) for g in grads]
    if norm_type == math.inf:
        total = max(norms)
    else:
        total = float(np.sum(np.asarray(norms) ** norm_type) ** (1.0 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}, "
            f"so they cannot be clipped; pass error_if_nonfinite=False to scale them anyway"
        )
    coefficient = max_norm / (total + 1e-6)
    if coefficient < 1.0 or math.isnan(coefficient):
        for g in grads:
            g.data *= g.data.dtype.type(coefficient)
    return Tensor(np.asarray(total, dtype=grads[0].dtype))


def clip_grad_value_(parameters: Parameters, clip_value: float) -> None:
    """Clamp every gradient entry into ``[-clip_value, clip_value]`` in place.

    Unlike :func:`clip_grad_norm_` this changes the gradient's direction.
    """
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be non-negative, got {clip_value}")
    for g in _grads(parameters):
        np.clip(g.data, -clip_value, clip_value, out=g.data)


__all__ = ["clip_grad_norm_", "clip_grad_value_"]
