"""Ranking, embedding, margin and likelihood losses, with PyTorch's names and conventions.

Pointwise losses (hinge embedding, soft margin, Poisson NLL) compute their values and
derivatives in one NumPy pass and share ``_pointwise``'s backward, as ``loss.py`` does; the
losses of whole vectors (cosine embedding, triplet margin, multi-label soft margin, Gaussian
NLL) are composed of differentiable tensor ops, so their gradients are the chain rule's.

Labels of 1 / -1 (margin ranking, hinge embedding, cosine embedding, soft margin) are checked
and treated as constants: a 0/1 label would silently give a constant loss. Options that sit
after PyTorch's deprecated ``size_average`` / ``reduce`` arguments are keyword-only here, so a
call that passes those positionally fails loudly instead of shifting its arguments.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Tuple, Union

import numpy as np

from ...tensor import ArrayLike, Tensor, as_tensor
from .activation_more import logsigmoid
from .distance import pairwise_distance
from .loss import (
    _array,
    _check_reduction,
    _float_input,
    _matching_target,
    _pointwise,
    _reduced,
)


# --------------------------------------------------------------------- helpers
def _reduce(losses: Tensor, reduction: str) -> Tensor:
    """``loss.py``'s reduction, with NaN (and no warning) for the mean of nothing."""
    if reduction == "mean":
        if losses.numel() == 0:
            return losses.sum() + losses.dtype.type(np.nan)
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _cast(op: str, name: str, value: Any, dtype: np.dtype) -> Tensor:
    """A second operand as a tensor of the first one's float dtype (differentiable cast)."""
    t = as_tensor(value)
    if t.dtype.kind not in "fiub":
        raise TypeError(f"{op}: {name} must be numeric, got dtype {t.dtype}")
    return t if t.dtype == dtype else t.astype(dtype)


def _sign_labels(op: str, target: Any, dtype: np.dtype) -> np.ndarray:
    """Labels that must be 1 or -1, as a constant array of ``dtype``."""
    labels = _array(target)
    if labels.dtype.kind not in "fiu":
        raise TypeError(f"{op}: target must hold the numbers 1 and -1, got dtype {labels.dtype}")
    bad = (labels != 1) & (labels != -1)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{op}: target must hold only 1 or -1, got {labels[where]} at index "
                         f"{where} (0/1 labels: use 2 * target - 1)")
    return labels.astype(dtype, copy=False)


def _broadcast(op: str, **shapes: Tuple[int, ...]) -> Tuple[int, ...]:
    try:
        return np.broadcast_shapes(*shapes.values())
    except ValueError:
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(f"{op}: shapes do not broadcast together: {listed}") from None


def _check_broadcasts_to(op: str, name: str, shape: Tuple[int, ...],
                         input_shape: Tuple[int, ...]) -> None:
    try:
        fits = np.broadcast_shapes(shape, input_shape) == input_shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{op}: {name} of shape {shape} does not broadcast to the input's shape "
                         f"{input_shape}")


def _same_ndim(op: str, **shapes: Tuple[int, ...]) -> None:
    if len({len(shape) for shape in shapes.values()}) > 1:
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(f"{op}: all inputs must have the same number of dimensions, got {listed}")


# --------------------------------------------------------------------- ranking and embedding
def margin_ranking_loss(input1: ArrayLike, input2: ArrayLike, target: ArrayLike,
                        margin: float = 0.0, *, reduction: str = "mean") -> Tensor:
    """``max(0, -y (x1 - x2) + margin)`` per element: ``y = 1`` asks for ``x1`` ranked above
    ``x2`` by at least ``margin``, ``y = -1`` the reverse.

    Shape: ``input1``, ``input2`` and ``target`` have the same number of dimensions and
    broadcast together (``(N,)`` each, usually); ``'none'`` gives the broadcast shape.
    Gradient: ``-y`` for ``input1`` and ``y`` for ``input2`` where the hinge is active
    (including its edge, as PyTorch), else 0.
    """
    op = "margin_ranking_loss"
    _check_reduction(op, reduction)
    x1 = _float_input(as_tensor(input1), op)
    x2 = _cast(op, "input2", input2, x1.dtype)
    y = _sign_labels(op, target, x1.dtype)
    _same_ndim(op, input1=x1.shape, input2=x2.shape, target=y.shape)
    _broadcast(op, input1=x1.shape, input2=x2.shape, target=y.shape)
    return _reduce(((x2 - x1) * y + margin).clamp(min=0), reduction)


def hinge_embedding_loss(input: ArrayLike, target: ArrayLike, margin: float = 1.0, *,
                         reduction: str = "mean") -> Tensor:
    """``x`` where ``y = 1``, ``max(0, margin - x)`` where ``y = -1``: for ``x`` a distance
    between two embeddings that should be small for similar pairs, large for dissimilar ones.

    Shape: ``input`` any, ``target`` the same shape. Gradient: 1 where ``y = 1``; -1 where
    ``y = -1`` and ``x <= margin``; else 0.
    """
    op = "hinge_embedding_loss"
    _check_reduction(op, reduction)
    x = _float_input(as_tensor(input), op)
    y = _sign_labels(op, _matching_target(op, x, target).data, x.dtype)
    xd = x.data
    similar = y == 1
    slack = margin - xd
    losses = np.where(similar, xd, np.maximum(slack, 0)).astype(x.dtype, copy=False)
    grad = np.where(similar, 1, -(slack >= 0).astype(x.dtype)).astype(x.dtype, copy=False)
    return _pointwise(losses, grad, x, None, None, reduction)


def cosine_embedding_loss(input1: ArrayLike, input2: ArrayLike, target: ArrayLike,
                          margin: float = 0.0, *, reduction: str = "mean") -> Tensor:
    """``1 - cos(x1, x2)`` where ``y = 1``, ``max(0, cos(x1, x2) - margin)`` where ``y = -1``.

    The cosine is PyTorch's: ``x1 . x2 / sqrt((|x1|^2 + 1e-12) (|x2|^2 + 1e-12))``, finite for
    zero vectors. Shape: ``input1`` and ``input2`` ``(N, D)`` with ``target`` ``(N,)``, or
    ``(D,)`` with a single label; ``'none'`` gives ``(N,)`` (or a scalar).
    """
    op = "cosine_embedding_loss"
    _check_reduction(op, reduction)
    x1 = _float_input(as_tensor(input1), op)
    x2 = _cast(op, "input2", input2, x1.dtype)
    y = _sign_labels(op, target, x1.dtype)
    if x1.shape != x2.shape:
        raise ValueError(f"{op}: input1 has shape {x1.shape} but input2 has shape {x2.shape}; "
                         f"they must match")
    if x1.ndim not in (1, 2) or y.shape != x1.shape[:-1]:
        raise ValueError(f"{op}: expected inputs (N, D) with target (N,), or inputs (D,) with a "
                         f"single label; got inputs {x1.shape} and target {y.shape}")
    tiny = x1.dtype.type(1e-12)
    dot = (x1 * x2).sum(dim=-1)
    lengths = (((x1 * x1).sum(dim=-1) + tiny) * ((x2 * x2).sum(dim=-1) + tiny)).sqrt()
    cos = dot / lengths
    losses = (1 - cos) * (y == 1).astype(x1.dtype) + (cos - margin).clamp(min=0) * (
        y == -1).astype(x1.dtype)
    return _reduce(losses, reduction)


def triplet_margin_loss(anchor: ArrayLike, positive: ArrayLike, negative: ArrayLike,
                        margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
                        swap: bool = False, *, reduction: str = "mean") -> Tensor:
    """``max(0, margin + d(a, p) - d(a, n))`` with ``d`` the :func:`pairwise_distance`
    (``p``-norm of ``x1 - x2 + eps`` over the last dimension).

    ``swap`` (Balntas et al., 2016) uses ``min(d(a, n), d(p, n))`` as the negative distance.
    Shape: all three ``(N, D)`` (or ``(D,)``), the same number of dimensions, broadcasting;
    ``'none'`` gives ``(N,)``.
    """
    op = "triplet_margin_loss"
    _check_reduction(op, reduction)
    a = _float_input(as_tensor(anchor), op)
    pos = _cast(op, "positive", positive, a.dtype)
    neg = _cast(op, "negative", negative, a.dtype)
    _same_ndim(op, anchor=a.shape, positive=pos.shape, negative=neg.shape)
    if a.ndim == 0:
        raise ValueError(f"{op}: inputs must be (N, D) or (D,), got scalars")
    _broadcast(op, anchor=a.shape, positive=pos.shape, negative=neg.shape)
    d_pos = pairwise_distance(a, pos, p, eps)
    d_neg = pairwise_distance(a, neg, p, eps)
    if swap:
        d_neg = d_neg.minimum(pairwise_distance(pos, neg, p, eps))
    return _reduce((d_pos - d_neg + margin).clamp(min=0), reduction)


# --------------------------------------------------------------------- classification margins
def soft_margin_loss(input: ArrayLike, target: ArrayLike, *, reduction: str = "mean"
                     ) -> Tensor:
    """Two-class logistic loss ``log(1 + exp(-y x))`` with labels ``y`` of 1 / -1.

    Evaluated as ``max(-y x, 0) + log1p(exp(-|y x|))``: no overflow for any ``x``.
    Gradient: ``-y sigmoid(-y x)``. Shape: ``input`` any, ``target`` the same shape.
    """
    op = "soft_margin_loss"
    _check_reduction(op, reduction)
    x = _float_input(as_tensor(input), op)
    y = _sign_labels(op, _matching_target(op, x, target).data, x.dtype)
    z = -y * x.data
    losses = np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))
    grad = -y * (0.5 * (1 + np.tanh(0.5 * z)))  # sigmoid(z) without overflow
    return _pointwise(losses.astype(x.dtype, copy=False), grad.astype(x.dtype, copy=False), x,
                      None, None, reduction)


def multilabel_soft_margin_loss(input: ArrayLike, target: ArrayLike,
                                weight: Optional[ArrayLike] = None, *,
                                reduction: str = "mean") -> Tensor:
    """Binary logistic loss per class, averaged over the ``C`` classes of each sample:
    ``-(1/C) sum_c w_c (t_c log sigmoid(x_c) + (1 - t_c) log sigmoid(-x_c))``.

    Shape: ``input`` ``(N, C)`` (or ``(C,)``), ``target`` the same shape with entries in
    [0, 1]; ``weight`` broadcasts to the input (``(C,)`` usually). ``'none'`` gives ``(N,)``.
    Differentiable in ``input``, ``target`` and ``weight`` (PyTorch's composite formula).
    """
    op = "multilabel_soft_margin_loss"
    _check_reduction(op, reduction)
    x = _float_input(as_tensor(input), op)
    if x.ndim == 0:
        raise ValueError(f"{op}: input must be (N, C) or (C,), got a scalar")
    t = _matching_target(op, x, target)
    losses = -(t * logsigmoid(x) + (1 - t) * logsigmoid(-x))
    if weight is not None:
        w = _cast(op, "weight", weight, x.dtype)
        _check_broadcasts_to(op, "weight", w.shape, x.shape)
        losses = losses * w
    return _reduce(losses.sum(dim=-1) / x.shape[-1], reduction)


def multi_margin_loss(input: ArrayLike, target: Any, p: int = 1, margin: float = 1.0,
                      weight: Optional[ArrayLike] = None, *, reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss of scores ``x`` at integer labels ``y``:
    ``w[y] / C * sum_{j != y} max(0, margin - x[y] + x[j]) ** p`` per sample, ``p`` 1 or 2.

    Shape: ``input`` ``(N, C)`` with ``target`` ``(N,)``, or ``(C,)`` with one label;
    ``weight`` ``(C,)`` (a constant, as in PyTorch). ``'none'`` gives ``(N,)`` (a scalar for a
    scalar label); ``'mean'`` averages over samples. Gradient for ``x[j]``, ``j != y``:
    ``w[y] / C`` times 1 (``p = 1``) or ``2 * hinge`` (``p = 2``) where the hinge is positive;
    ``x[y]`` gets minus their sum.
    """
    op = "multi_margin_loss"
    _check_reduction(op, reduction)
    if p not in (1, 2):
        raise ValueError(f"{op}: only p == 1 and p == 2 are supported, got p={p!r}")
    x = _float_input(as_tensor(input), op)
    if x.ndim not in (1, 2) or x.shape[-1] == 0:
        raise ValueError(f"{op}: input must be (N, C) or (C,) with C > 0, got {x.shape}")
    rows = x.data.reshape(-1, x.shape[-1])
    frames, classes = rows.shape
    labels = _array(target)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class labels, got dtype {labels.dtype}")
    if labels.ndim > 1 or labels.size != frames:
        expected = f"({frames},)" if x.ndim == 2 else "a single label"
        raise ValueError(f"{op}: input has shape {x.shape} but target has shape {labels.shape}; "
                         f"expected {expected}")
    labels = labels.reshape(frames).astype(np.int64)
    out_of_range = (labels < 0) | (labels >= classes)
    if out_of_range.any():
        at = int(np.argmax(out_of_range))
        raise ValueError(f"{op}: label {labels[at]} at position {at} is out of range for "
                         f"{classes} classes (expected 0 <= label < {classes})")
    row_weight = np.ones(frames, x.dtype)
    if weight is not None:
        w = _array(weight).astype(x.dtype, copy=False)
        if w.ndim > 1 or w.size != classes:
            raise ValueError(f"{op}: weight must have one entry per class, shape ({classes},), "
                             f"got {w.shape}")
        row_weight = w.reshape(classes)[labels]
    index = (np.arange(frames), labels)
    hinge = margin - rows[index][:, None] + rows
    active = hinge > 0
    active[index] = False
    # A NaN score fails ``hinge > 0``: keep it in the loss so that it shows (PyTorch's kernel
    # drops it and reports a finite loss).
    hinge = np.where(active | np.isnan(hinge), hinge, 0)
    scale = (row_weight / classes)[:, None]
    losses = ((hinge if p == 1 else hinge * hinge) * scale).sum(axis=1).astype(x.dtype)
    hinge[~active] = 0
    grad_rows = (active if p == 1 else 2 * hinge) * scale
    grad_rows[index] = -grad_rows.sum(axis=1)
    if np.ndim(_array(target)) == 0:  # one label: a scalar loss even for 'none', as PyTorch
        losses = losses.reshape(())
    out, factor = _reduced(losses, reduction)

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        per_row = np.reshape(g * factor, (-1, 1)) if reduction == "none" else g * factor
        return ((per_row * grad_rows).reshape(x.shape).astype(x.dtype, copy=False),)

    return Tensor._from_op(out, (x,), backward)


# --------------------------------------------------------------------- likelihoods
def poisson_nll_loss(input: ArrayLike, target: ArrayLike, log_input: bool = True,
                     full: bool = False, *, eps: float = 1e-8, reduction: str = "mean"
                     ) -> Tensor:
    """Negative log-likelihood of counts ``t`` under a Poisson distribution with rate ``x``.

    ``exp(x) - t x`` when ``log_input`` (``x`` is the log-rate), else ``x - t log(x + eps)``.
    ``full`` adds Stirling's approximation of ``log(t!)``, ``t log t - t + 0.5 log(2 pi t)``,
    where ``t > 1`` (0 elsewhere). Shape: ``input`` any, ``target`` the same shape.
    Gradients: ``exp(x) - t`` (or ``1 - t / (x + eps)``) for the input; ``-x`` (or
    ``-log(x + eps)``), plus ``log t + 1 / (2 t)`` with ``full``, for the target.
    """
    op = "poisson_nll_loss"
    _check_reduction(op, reduction)
    x = _float_input(as_tensor(input), op)
    t = _matching_target(op, x, target)
    xd, td = x.data, t.data
    with np.errstate(divide="ignore", invalid="ignore"):  # a negative rate gives NaN
        if log_input:
            rate = np.exp(xd)
            losses, dloss_dx, dloss_dt = rate - td * xd, rate - td, -xd
        else:
            shifted = xd + x.dtype.type(eps)
            log_rate = np.log(shifted)
            losses, dloss_dx, dloss_dt = xd - td * log_rate, 1 - td / shifted, -log_rate
        if full:
            big = td > 1
            safe = np.where(big, td, 2)
            stirling = safe * np.log(safe) - safe + 0.5 * np.log(2 * np.pi * safe)
            losses = losses + np.where(big, stirling, 0)
            dloss_dt = dloss_dt + np.where(big, np.log(safe) + 0.5 / safe, 0)
    return _pointwise(losses.astype(x.dtype, copy=False), dloss_dx.astype(x.dtype, copy=False),
                      x, t, dloss_dt.astype(x.dtype, copy=False), reduction)


def _gaussian_var(op: str, var: Union[float, ArrayLike], x: Tensor) -> Tensor:
    """``var`` brought to broadcast against the input by PyTorch's rules: the input's shape,
    that shape without its last dimension, or with a last dimension of 1; a number is one
    variance for every element."""
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError(f"{op}: var must be non-negative, got {var}")
        return Tensor(np.full(x.shape, var, dtype=x.dtype))
    v = _cast(op, "var", var, x.dtype)
    if v.shape != x.shape:
        if x.ndim >= 1 and v.shape == x.shape[:-1]:
            v = v.unsqueeze(-1)
        elif not (x.ndim >= 1 and v.ndim == x.ndim and v.shape[-1] == 1
                  and v.shape[:-1] == x.shape[:-1]):
            raise ValueError(
                f"{op}: var has shape {v.shape} but input has shape {x.shape}; expected "
                f"{x.shape}, {x.shape[:-1]} or {x.shape[:-1] + (1,)} (one variance per "
                f"element, or one per sample)")
    if (v.data < 0).any():
        raise ValueError(f"{op}: var must be non-negative, got a minimum of {v.data.min():.4g}")
    return v


def _clamp_keeping_gradient(v: Tensor, low: float) -> Tensor:
    """``max(v, low)`` whose gradient passes through unchanged: PyTorch clamps ``var`` in
    place under ``no_grad``, so the variance's gradient is taken at the clamped value but
    reaches ``var`` even where it was clamped."""
    return Tensor._from_op(np.maximum(v.data, v.dtype.type(low)), (v,), lambda g: (g,))


def gaussian_nll_loss(input: ArrayLike, target: ArrayLike, var: Union[float, ArrayLike],
                      full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of ``target`` under ``N(input, var)``:
    ``0.5 (log(max(var, eps)) + (input - target)^2 / max(var, eps))``, plus
    ``0.5 log(2 pi)`` with ``full``.

    Shape: ``input`` ``(N, *)``; ``target`` the same (or broadcasting to it); ``var`` the
    input's shape (heteroscedastic), the input's shape without its last dimension or with it
    set to 1 (one variance per sample), or a number. Differentiable in all three.
    """
    op = "gaussian_nll_loss"
    _check_reduction(op, reduction)
    if not eps >= 0:
        raise ValueError(f"{op}: eps must be non-negative, got {eps}")
    x = _float_input(as_tensor(input), op)
    t = _cast(op, "target", target, x.dtype)
    _check_broadcasts_to(op, "target", t.shape, x.shape)
    v = _clamp_keeping_gradient(_gaussian_var(op, var, x), eps)
    losses = 0.5 * (v.log() + (x - t) ** 2 / v)
    if full:
        losses = losses + 0.5 * math.log(2 * math.pi)
    return _reduce(losses, reduction)
