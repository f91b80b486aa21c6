"""Loss functions. ``reduction`` is ``'mean'`` (default), ``'sum'`` or ``'none'``."""

from __future__ import annotations

from typing import Any, Tuple

import numpy as np

from ... import _core
from ...tensor import ArrayLike, Tensor, as_tensor
from ...tensor import log_softmax as _log_softmax

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(op: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _float_input(x: Tensor, op: str) -> Tensor:
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be a float tensor, got dtype {x.dtype}")
    return x


def _integer_labels(target: Any, rows: int, input_shape: Tuple[int, ...], op: str) -> np.ndarray:
    labels = target.data if isinstance(target, Tensor) else np.asarray(target)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{op}: class labels must be integers, got dtype {labels.dtype}")
    if labels.ndim != 1 or labels.shape[0] != rows:
        raise ValueError(
            f"{op}: input has shape {input_shape} ({rows} samples) but target has shape "
            f"{labels.shape}; expected ({rows},) integer class labels"
        )
    return np.ascontiguousarray(labels, dtype=np.int64)


def cross_entropy(
    input: ArrayLike,
    target: Any,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy of logits.

    Shape:
        input ``(N, C)`` logits; target ``(N,)`` integer class labels in ``[0, C)``
        (sparse categorical cross-entropy) or ``(N, C)`` class probabilities / one-hot rows
        (categorical cross-entropy). Output: a scalar, or ``(N,)`` with ``reduction='none'``.

    Args:
        ignore_index: label whose rows add no loss and no gradient (integer labels only);
            ``'mean'`` then averages over the other rows.
        label_smoothing: mix each target with the uniform distribution by this amount.

    The integer-label path is one fused Rust kernel (log-sum-exp forward, ``softmax - onehot``
    backward).
    """
    _check_reduction("cross_entropy", reduction)
    x = _float_input(as_tensor(input), "cross_entropy")
    if x.ndim != 2:
        raise ValueError(f"cross_entropy: input must be (N, C) logits, got shape {x.shape}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    n, c = x.shape
    target_array = target.data if isinstance(target, Tensor) else np.asarray(target)
    if target_array.dtype.kind == "f":
        if target_array.shape != x.shape:
            raise ValueError(
                f"cross_entropy: probability targets must have the input's shape {x.shape}, "
                f"got {target_array.shape}"
            )
        probs = target_array.astype(x.dtype)
        if label_smoothing > 0:
            probs = probs * (1 - label_smoothing) + label_smoothing / c
        losses = -(_log_softmax(x, 1) * probs).sum(axis=1)
        return _reduce(losses, reduction)
    labels = _integer_labels(target, n, x.shape, "cross_entropy")
    if label_smoothing > 0:
        return _smoothed_cross_entropy(x, labels, ignore_index, reduction, label_smoothing)
    logits = np.ascontiguousarray(x.data)
    losses, log_probs = _core.cross_entropy_forward(logits, labels, ignore_index)
    kept = n if ignore_index is None else int(np.count_nonzero(labels != ignore_index))

    if reduction == "none":
        def backward(g: np.ndarray) -> Tuple[np.ndarray]:
            g = np.ascontiguousarray(g, dtype=logits.dtype)
            return (_core.cross_entropy_backward(log_probs, labels, g, ignore_index),)

        return Tensor._from_op(losses, (x,), backward)

    scale = 1.0 / kept if reduction == "mean" and kept > 0 else 1.0
    total = losses.sum(dtype=logits.dtype) * logits.dtype.type(scale)
    if reduction == "mean" and kept == 0:
        total = logits.dtype.type(np.nan)

    def reduced_backward(g: np.ndarray) -> Tuple[np.ndarray]:
        rows = np.full(n, g * scale, dtype=logits.dtype)
        return (_core.cross_entropy_backward(log_probs, labels, rows, ignore_index),)

    return Tensor._from_op(np.asarray(total, dtype=logits.dtype), (x,), reduced_backward)


def _smoothed_cross_entropy(x: Tensor, labels: np.ndarray, ignore_index: int, reduction: str,
                            smoothing: float) -> Tensor:
    n, c = x.shape
    keep = labels != ignore_index
    if np.any((labels[keep] < 0) | (labels[keep] >= c)):
        bad = labels[keep][(labels[keep] < 0) | (labels[keep] >= c)][0]
        raise ValueError(f"cross_entropy: label {bad} is out of range for {c} classes")
    targets = np.zeros(x.shape, dtype=x.dtype)
    targets[np.arange(n)[keep], labels[keep]] = 1 - smoothing
    targets[keep] += smoothing / c
    losses = -(_log_softmax(x, 1) * targets).sum(axis=1)
    if reduction == "mean":
        return losses.sum() / max(int(keep.sum()), 1)
    return _reduce(losses, reduction)


def nll_loss(input: ArrayLike, target: Any, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities ``(N, C)`` at integer labels ``(N,)``."""
    _check_reduction("nll_loss", reduction)
    x = _float_input(as_tensor(input), "nll_loss")
    if x.ndim != 2:
        raise ValueError(f"nll_loss: input must be (N, C) log-probabilities, got shape {x.shape}")
    n, c = x.shape
    labels = _integer_labels(target, n, x.shape, "nll_loss")
    keep = labels != ignore_index
    if np.any((labels[keep] < 0) | (labels[keep] >= c)):
        bad = labels[keep][(labels[keep] < 0) | (labels[keep] >= c)][0]
        raise ValueError(f"nll_loss: label {bad} is out of range for {c} classes")
    rows = np.arange(n)[keep]
    picked = -x[rows, labels[keep]]
    if reduction == "none":
        full = np.zeros(n, dtype=x.dtype)
        out = picked.data
        full[keep] = out

        def backward(g: np.ndarray) -> Tuple[np.ndarray]:
            grad = np.zeros(x.shape, dtype=x.dtype)
            grad[rows, labels[keep]] = -g[keep]
            return (grad,)

        return Tensor._from_op(full, (x,), backward)
    return _reduce(picked, reduction)


def mse_loss(input: ArrayLike, target: ArrayLike, reduction: str = "mean") -> Tensor:
    """Mean squared error ``mean((input - target)^2)``.

    The shapes must match exactly: broadcasting ``(N, 1)`` against ``(N,)`` would silently
    compare every prediction with every target, so it is an error here.
    """
    _check_reduction("mse_loss", reduction)
    x = _float_input(as_tensor(input), "mse_loss")
    t = as_tensor(target)
    if x.shape != t.shape:
        raise ValueError(
            f"mse_loss: input has shape {x.shape} but target has shape {t.shape}; they must "
            f"match (reshape one of them, e.g. target.reshape({x.shape}))"
        )
    if t.dtype != x.dtype:
        t = t.astype(x.dtype)
    diff = x - t
    return _reduce(diff * diff, reduction)
