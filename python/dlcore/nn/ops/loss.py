"""Loss functions. ``reduction`` is ``'mean'`` (default), ``'sum'`` or ``'none'``.

Each pointwise loss computes its per-element values and their derivative in one NumPy pass
and records a single backward rule, so the formula for ``dL/dinput`` is written out next to the
loss itself. Cross-entropy with integer labels runs in one fused Rust kernel.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from ... import _core
from ...tensor import ArrayLike, Tensor, as_tensor
from ...tensor import log_softmax as _log_softmax

_REDUCTIONS = ("mean", "sum", "none")
_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


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


def _array(value: Any) -> np.ndarray:
    return value.data if isinstance(value, Tensor) else np.asarray(value)


# --------------------------------------------------------------------- pointwise losses
def _matching_target(op: str, x: Tensor, target: Any) -> Tensor:
    """The target as a tensor of the input's dtype; shapes must match exactly.

    Broadcasting ``(N, 1)`` against ``(N,)`` would silently compare every prediction with every
    target, so it is an error here rather than a quiet ``(N, N)`` loss.
    """
    t = as_tensor(target)
    if x.shape != t.shape:
        raise ValueError(
            f"{op}: input has shape {x.shape} but target has shape {t.shape}; they must match "
            f"(reshape one of them, e.g. target.reshape({x.shape}))"
        )
    if t.dtype != x.dtype:
        t = t.astype(x.dtype)
    return t


def _optional_weight(op: str, name: str, weight: Any, shape: Tuple[int, ...],
                     dtype: np.dtype) -> Optional[np.ndarray]:
    if weight is None:
        return None
    w = _array(weight).astype(dtype, copy=False)
    try:
        broadcast = np.broadcast_shapes(w.shape, shape)
    except ValueError:
        broadcast = None
    if broadcast != shape:
        raise ValueError(f"{op}: {name} of shape {w.shape} does not broadcast to the input's "
                         f"shape {shape}")
    return w


def _reduced(losses: np.ndarray, reduction: str) -> Tuple[np.ndarray, float]:
    """The reduced loss, and the factor ``dL/dlosses`` each element gets (``1/n`` for mean).

    ``np.add.reduce`` is ``ndarray.mean`` without its Python wrapper (the same pairwise sum
    and the same division), several microseconds less per call.
    """
    if reduction == "none":
        return losses, 1.0
    count = losses.size
    total = np.add.reduce(losses, axis=None, dtype=losses.dtype)
    if reduction == "sum":
        return np.asarray(total), 1.0
    if not count:
        return np.asarray(np.nan, losses.dtype), 1.0
    return np.asarray(total / count), 1.0 / count


def _pointwise(losses: np.ndarray, dloss_dx: np.ndarray, x: Tensor, target: Optional[Tensor],
               dloss_dt: Optional[np.ndarray], reduction: str) -> Tensor:
    """Reduce per-element ``losses`` and record the backward rule from their derivatives.

    ``dloss_dx`` (and ``dloss_dt`` for a differentiable target) are the elementwise
    derivatives of ``losses``; the chain rule only scales them by the incoming gradient,
    divided by the element count for ``'mean'``.
    """
    out, scale = _reduced(losses, reduction)
    parents: Tuple[Tensor, ...] = (x,) if target is None or dloss_dt is None else (x, target)

    def backward(g: np.ndarray) -> Tuple[Optional[np.ndarray], ...]:
        g = g * scale if scale != 1.0 else g
        gx = g * dloss_dx if x.requires_grad else None
        if len(parents) == 1:
            return (gx,)
        return gx, (g * dloss_dt if parents[1].requires_grad else None)

    return Tensor._from_op(out, parents, backward)


def mse_loss(input: ArrayLike, target: ArrayLike, reduction: str = "mean") -> Tensor:
    """Mean squared error: ``(x - t)^2`` per element, reduced.

    Gradient: ``dL/dx = 2 (x - t)`` per element (divided by the count for ``'mean'``).
    Shapes must match exactly.
    """
    if reduction != "mean":
        _check_reduction("mse_loss", reduction)
    x = _float_input(input if isinstance(input, Tensor) else as_tensor(input), "mse_loss")
    t = _matching_target("mse_loss", x, target)
    diff = x.data - t.data
    out, scale = _reduced(diff * diff, reduction)

    def backward(g: np.ndarray) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
        # A reduced loss passes back a 0-d gradient: scale by it as a number, one array op.
        factor = 2 * scale * (g.item() if g.ndim == 0 else g)
        gx = diff * factor
        return (gx if x.requires_grad else None), (-gx if t.requires_grad else None)

    return Tensor._from_op(out, (x, t), backward)


def l1_loss(input: ArrayLike, target: ArrayLike, reduction: str = "mean") -> Tensor:
    """Mean absolute error (MAE): ``|x - t|`` per element, reduced.

    Gradient: ``sign(x - t)``, with the sub-gradient 0 where ``x == t`` (as PyTorch).
    """
    _check_reduction("l1_loss", reduction)
    x = _float_input(as_tensor(input), "l1_loss")
    t = _matching_target("l1_loss", x, target)
    diff = x.data - t.data
    grad = np.sign(diff)
    return _pointwise(np.abs(diff), grad, x, t, -grad, reduction)


def huber_loss(input: ArrayLike, target: ArrayLike, reduction: str = "mean",
               delta: float = 1.0) -> Tensor:
    """Huber loss: quadratic near 0, linear beyond ``delta`` (robust to outliers).

    ``0.5 d^2`` where ``|d| <= delta``, else ``delta (|d| - 0.5 delta)``, with ``d = x - t``.
    Gradient: ``d`` inside, ``delta * sign(d)`` outside: the error, clipped at ``delta``.
    """
    _check_reduction("huber_loss", reduction)
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    x = _float_input(as_tensor(input), "huber_loss")
    t = _matching_target("huber_loss", x, target)
    diff = x.data - t.data
    size = np.abs(diff)
    inside = size <= delta
    losses = np.where(inside, 0.5 * diff * diff, delta * (size - 0.5 * delta))
    grad = np.clip(diff, -delta, delta)
    return _pointwise(losses.astype(x.dtype, copy=False), grad, x, t, -grad, reduction)


def smooth_l1_loss(input: ArrayLike, target: ArrayLike, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """Smooth L1 loss (Fast R-CNN's): ``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| -
    0.5 beta``, with ``d = x - t``: the Huber loss with ``delta = beta``, divided by
    ``beta``. ``beta = 0`` is the L1 loss. Gradient: ``d / beta`` clipped to [-1, 1].
    """
    _check_reduction("smooth_l1_loss", reduction)
    if not beta >= 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction)
    return huber_loss(input, target, reduction, delta=beta) / beta


def kl_div(input: ArrayLike, target: ArrayLike, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence ``KL(target || model)`` from the model's log-probabilities
    ``input`` (``log_softmax`` output), as ``torch.nn.functional.kl_div``: per element
    ``t (log t - x)``, taken as 0 where ``t = 0``, or ``exp(t) (t - x)`` when ``log_target``
    says the target holds log-probabilities too.

    ``reduction``: ``'batchmean'`` (the sum over a sample's classes, averaged over the batch:
    the divergence itself, what distillation wants), ``'sum'``, ``'none'``, or ``'mean'``
    (over every element, PyTorch's default, which divides by the class count as well).
    Shapes: ``input`` and ``target`` the same, ``(N, C)`` or any.
    Gradients: ``-t`` for the input; ``log t - x + 1`` for the target (0 where ``t = 0``).
    """
    if reduction not in _REDUCTIONS + ("batchmean",):
        raise ValueError(f"kl_div: reduction must be one of {_REDUCTIONS + ('batchmean',)}, "
                         f"got {reduction!r}")
    x = _float_input(as_tensor(input), "kl_div")
    t = _matching_target("kl_div", x, target)
    xd, td = x.data, t.data
    with np.errstate(divide="ignore", invalid="ignore"):
        if log_target:
            p = np.exp(td)
            losses, dloss_dx, dloss_dt = p * (td - xd), -p, p * (td - xd + 1)
        else:
            log_t = np.log(td)  # NaN for a negative target, which then shows in the loss
            zero = td == 0
            losses = np.where(zero, 0, td * (log_t - xd))
            dloss_dx, dloss_dt = -td, np.where(zero, 0, log_t - xd + 1)
    losses = losses.astype(x.dtype, copy=False)
    if reduction != "batchmean":
        return _pointwise(losses, dloss_dx, x, t, dloss_dt, reduction)
    batch = x.shape[0] if x.ndim else 1
    return _pointwise(losses, dloss_dx, x, t, dloss_dt, "sum") / max(batch, 1)


def rmse_loss(input: ArrayLike, target: ArrayLike, eps: float = 1e-8,
              reduction: str = "mean") -> Tensor:
    """Root mean squared error, ``sqrt(mean((x - t)^2) + eps)``.

    Gradient: ``(x - t) / (n sqrt(mean((x - t)^2) + eps))``. ``eps`` keeps it finite at a
    perfect fit, where the plain square root gives 0/0; elsewhere each entry is bounded by
    ``1/sqrt(n)`` anyway, so ``eps`` can be tiny (it adds at most ``sqrt(eps)`` to the value).

    Only ``reduction='mean'`` exists: the root of a sum or of single elements is another loss
    (use ``l1_loss`` for per-element absolute errors).
    """
    if reduction != "mean":
        raise ValueError(f"rmse_loss: reduction must be 'mean' (RMSE is the root of a mean), "
                         f"got {reduction!r}")
    if not eps >= 0:
        raise ValueError(f"rmse_loss: eps must be non-negative, got {eps}")
    x = _float_input(as_tensor(input), "rmse_loss")
    t = _matching_target("rmse_loss", x, target)
    diff = x.data - t.data
    count = max(diff.size, 1)
    root = np.sqrt(np.mean(diff * diff, dtype=x.dtype) + x.dtype.type(eps))
    parents = (x, t)

    def backward(g: np.ndarray) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
        gx = g * diff / (count * root)
        return (gx if x.requires_grad else None), (-gx if t.requires_grad else None)

    return Tensor._from_op(np.asarray(root, dtype=x.dtype), parents, backward)


def binary_cross_entropy(input: ArrayLike, target: ArrayLike, weight: Optional[ArrayLike] = None,
                         reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities ``p`` in [0, 1] against targets ``t`` in [0, 1].

    ``-w (t log p + (1 - t) log(1 - p))``, each log clamped at -100 as in PyTorch so that
    ``p = 0`` or ``p = 1`` gives a large finite loss instead of ``inf``.
    Gradient: ``w (p - t) / max(p (1 - p), 1e-12)`` (PyTorch's guard). The target is treated
    as a constant. Prefer :func:`binary_cross_entropy_with_logits` on raw scores: it is exact
    where the sigmoid saturates.
    """
    _check_reduction("binary_cross_entropy", reduction)
    x = _float_input(as_tensor(input), "binary_cross_entropy")
    t = _matching_target("binary_cross_entropy", x, target)
    p, target_data = x.data, t.data
    if p.size and not (p.min() >= 0 and p.max() <= 1):
        raise ValueError(
            f"binary_cross_entropy: input must hold probabilities in [0, 1], got values from "
            f"{p.min():.4g} to {p.max():.4g}; apply sigmoid first, or use "
            f"binary_cross_entropy_with_logits on the raw scores"
        )
    w = _optional_weight("binary_cross_entropy", "weight", weight, x.shape, x.dtype)
    with np.errstate(divide="ignore"):  # log(0) = -inf is clamped to -100 just below
        log_p = np.maximum(np.log(p), -100)
        log_not_p = np.maximum(np.log1p(-p), -100)
    losses = -(target_data * log_p + (1 - target_data) * log_not_p)
    grad = (p - target_data) / np.maximum(p * (1 - p), 1e-12)
    if w is not None:
        losses = losses * w
        grad = grad * w
    return _pointwise(losses.astype(x.dtype, copy=False), grad, x, None, None, reduction)


def _fused_bce_with_logits(x: Tensor, target: np.ndarray, reduction: str) -> Tensor:
    """The common case (no weights, a constant target) as one Rust pass each way."""
    z = np.ascontiguousarray(x.data)
    target = np.ascontiguousarray(target)
    losses = _core.bce_with_logits(z, target)
    count = losses.size
    if reduction == "none":
        out = losses
    else:
        total = np.add.reduce(losses, axis=None, dtype=losses.dtype)
        if reduction == "sum":
            out = np.asarray(total, dtype=losses.dtype)
        else:
            out = np.asarray(total / count if count else np.nan, dtype=losses.dtype)
    scale = 1.0 / count if reduction == "mean" and count else 1.0

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        if reduction == "none":
            upstream = np.ascontiguousarray(g, dtype=z.dtype)
            return (_core.bce_with_logits_backward(z, target, upstream),)
        return (_core.bce_with_logits_backward(z, target, float(g) * scale),)

    return Tensor._from_op(out, (x,), backward, True)  # (new arrays: see _from_op)


def binary_cross_entropy_with_logits(input: ArrayLike, target: ArrayLike,
                                     weight: Optional[ArrayLike] = None, reduction: str = "mean",
                                     pos_weight: Optional[ArrayLike] = None) -> Tensor:
    """Binary cross-entropy of raw scores ``x``: ``sigmoid`` and log fused, stable for any x.

    With ``l = 1 + (pos_weight - 1) t`` (``l = 1`` without ``pos_weight``), the loss is
    ``w ((1 - t) x + l softplus(-x))`` where ``softplus(-x) = log(1 + exp(-x))`` is evaluated
    as ``log1p(exp(-|x|)) + max(-x, 0)``, which never overflows.

    Gradients: ``dL/dx = w ((1 - t) - l sigmoid(-x))``, i.e. ``w (sigmoid(x) - t)`` without
    ``pos_weight``; ``dL/dt = w ((pos_weight - 1) softplus(-x) - x)``.

    Args:
        weight: rescales each element's loss; broadcast to the input's shape.
        pos_weight: weight of the positive term per class (broadcast along the last
            dimension), e.g. ``negatives / positives`` to balance a rare class.
    """
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    op = "binary_cross_entropy_with_logits"
    x = _float_input(as_tensor(input), op)
    t = _matching_target(op, x, target)
    w = _optional_weight(op, "weight", weight, x.shape, x.dtype)
    pw = _optional_weight(op, "pos_weight", pos_weight, x.shape, x.dtype)
    if w is None and pw is None and not t.requires_grad and x.dtype in _KERNEL_DTYPES:
        return _fused_bce_with_logits(x, t.data, reduction)
    z, target_data = x.data, t.data
    e = np.abs(z)
    np.negative(e, out=e)
    np.exp(e, out=e)  # exp(-|z|) is in (0, 1]: no overflow for any z
    softplus_neg = np.maximum(-z, 0)
    softplus_neg += np.log1p(e)
    one_minus_t = 1 - target_data
    log_weight = None if pw is None else 1 + (pw - 1) * target_data
    losses = one_minus_t * z
    losses += softplus_neg if log_weight is None else log_weight * softplus_neg
    if w is not None:
        losses *= w
    losses = losses.astype(x.dtype, copy=False)
    count = losses.size
    if reduction == "none":
        out = losses
    elif reduction == "sum":
        out = np.asarray(losses.sum(dtype=losses.dtype))
    else:
        out = np.asarray(losses.mean(dtype=losses.dtype) if count else np.nan, losses.dtype)
    scale = 1.0 / count if reduction == "mean" and count else 1.0

    def backward(g: np.ndarray) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
        g = g * (scale if w is None else scale * w)
        gx = gt = None
        if x.requires_grad:
            sigmoid_neg = np.where(z >= 0, e, 1)
            sigmoid_neg /= 1 + e
            if log_weight is not None:
                sigmoid_neg *= log_weight
            gx = g * (one_minus_t - sigmoid_neg)
        if t.requires_grad:
            gt = g * (-z if pw is None else (pw - 1) * softplus_neg - z)
        return gx, gt

    return Tensor._from_op(out, (x, t), backward)


# --------------------------------------------------------------------- classification
def _integer_labels(target: Any, rows: int, input_shape: Tuple[int, ...], op: str) -> np.ndarray:
    labels = _array(target)
    if labels.dtype.kind == "f":
        raise TypeError(
            f"{op}: class labels must be integers, got a {labels.dtype} target of shape "
            f"{labels.shape}; cast it with .astype(np.int64), or pass class probabilities of "
            f"the input's shape {input_shape}"
        )
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{op}: class labels must be integers, got dtype {labels.dtype}")
    if labels.ndim != 1 or labels.shape[0] != rows:
        raise ValueError(
            f"{op}: input has shape {input_shape} ({rows} samples) but target has shape "
            f"{labels.shape}; expected ({rows},) integer class labels"
        )
    return np.ascontiguousarray(labels, dtype=np.int64)


def _check_label_range(op: str, labels: np.ndarray, keep: np.ndarray, classes: int) -> None:
    bad = keep & ((labels < 0) | (labels >= classes))
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(f"{op}: label {labels[row]} at position {row} is out of range for "
                         f"{classes} classes (expected 0 <= label < {classes})")


def _class_weight(op: str, weight: Any, classes: int, dtype: np.dtype) -> Optional[np.ndarray]:
    if weight is None:
        return None
    w = _array(weight).astype(dtype, copy=False)
    if w.shape != (classes,):
        raise ValueError(f"{op}: weight must have one entry per class, shape ({classes},), got "
                         f"{w.shape}")
    return w


def _row_weights(labels: np.ndarray, keep: np.ndarray, weight: Optional[np.ndarray],
                 dtype: np.dtype) -> np.ndarray:
    """Each row's weight: ``weight[label]`` (1 without weights), 0 for ignored rows."""
    if weight is None:
        return keep.astype(dtype)
    return np.where(keep, weight[np.where(keep, labels, 0)], 0).astype(dtype, copy=False)


def _as_rows(op: str, x: Tensor, target: np.ndarray, per_class_target: bool
             ) -> Tuple[Tensor, np.ndarray, Tuple[int, ...]]:
    """Bring ``(N, C, d1, ..., dk)`` or unbatched ``(C,)`` inputs to ``(rows, C)``.

    Returns the 2-D logits, the matching 1-D labels or 2-D class targets, and the shape of
    the per-sample losses for ``reduction='none'``.
    """
    if x.ndim == 0:
        raise ValueError(f"{op}: input must be (N, C) or (N, C, d1, ...), got a scalar")
    if x.ndim == 1:
        shape = target.shape[:-1] if per_class_target else target.shape
        if shape != ():
            raise ValueError(f"{op}: unbatched input of shape {x.shape} needs a single label "
                             f"or a ({x.shape[0]},) probability row, got target {target.shape}")
        return x.reshape(1, -1), target.reshape((1, -1) if per_class_target else (1,)), ()
    if x.ndim == 2:
        return x, target, (x.shape[0],)
    classes = x.shape[1]
    order = (0,) + tuple(range(2, x.ndim)) + (1,)
    rows = x.permute(order).reshape(-1, classes)
    sample_shape = (x.shape[0],) + x.shape[2:]
    if per_class_target:
        if target.shape != x.shape:
            raise ValueError(f"{op}: class targets must have the input's shape {x.shape}, got "
                             f"{target.shape}")
        return rows, target.transpose(order).reshape(-1, classes), sample_shape
    if target.shape != sample_shape:
        raise ValueError(f"{op}: input has shape {x.shape} but target has shape "
                         f"{target.shape}; expected integer class labels of shape {sample_shape}")
    return rows, target.reshape(-1), sample_shape


def _is_class_target(target: np.ndarray, x: Tensor) -> bool:
    """Probabilities (float), or one-hot rows of ints/bools with the input's rank."""
    if target.dtype.kind == "f":
        return target.ndim == x.ndim
    return target.dtype.kind in "iub" and target.ndim == x.ndim and x.ndim >= 2


def cross_entropy(
    input: ArrayLike,
    target: Any,
    weight: Optional[ArrayLike] = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy of logits (log-softmax and negative log-likelihood, fused).

    Shape:
        input ``(N, C)`` logits, ``(N, C, d1, ..., dk)`` (e.g. per-pixel classes) or
        unbatched ``(C,)``. target: integer class labels ``(N,)`` / ``(N, d1, ..., dk)`` in
        ``[0, C)`` (sparse categorical cross-entropy), or class probabilities / one-hot rows
        of the input's shape (categorical cross-entropy). Output: a scalar, or the per-sample
        losses ``(N,)`` / ``(N, d1, ..., dk)`` with ``reduction='none'``.

    Args:
        weight: ``(C,)`` rescaling of each class. With integer labels ``'mean'`` divides by
            the summed weights of the counted samples (PyTorch's convention); with class
            targets it divides by the number of samples.
        ignore_index: label whose samples add no loss and no gradient (integer labels only);
            ``'mean'`` then averages over the others (NaN when every sample is ignored).
        label_smoothing: mix each target with the uniform distribution by this amount.

    Gradient: ``softmax(x) - target`` per row (times the weights). The integer-label path
    without smoothing is one fused Rust kernel.
    """
    if (type(target) is np.ndarray and target.dtype == np.int64 and target.ndim == 1
            and isinstance(input, Tensor) and input.data.ndim == 2
            and input.data.dtype in _KERNEL_DTYPES and target.shape[0] == input.data.shape[0]
            and weight is None and label_smoothing == 0.0 and reduction in _REDUCTIONS):
        # The common case of every training step (a batch of logits, int64 labels, no
        # options) skips the general checks and reshapes below.
        return _fused_cross_entropy(input, target, None, ignore_index, reduction)
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    x = _float_input(as_tensor(input), "cross_entropy")
    target_array = _array(target)
    class_target = _is_class_target(target_array, x)
    rows, target_rows, sample_shape = _as_rows("cross_entropy", x, target_array, class_target)
    classes = rows.shape[1]
    w = _class_weight("cross_entropy", weight, classes, x.dtype)
    if class_target:
        out = _cross_entropy_probs(rows, target_rows, w, reduction, label_smoothing)
    else:
        labels = _integer_labels(target_rows, rows.shape[0], rows.shape, "cross_entropy")
        if label_smoothing > 0:
            out = _smoothed_cross_entropy(rows, labels, w, ignore_index, reduction,
                                          label_smoothing)
        else:
            out = _fused_cross_entropy(rows, labels, w, ignore_index, reduction)
    return out.reshape(sample_shape) if reduction == "none" else out


def _cross_entropy_probs(x: Tensor, probs: np.ndarray, weight: Optional[np.ndarray],
                         reduction: str, smoothing: float) -> Tensor:
    c = x.shape[1]
    if probs.shape != x.shape:
        raise ValueError(f"cross_entropy: class targets must have the input's shape {x.shape}, "
                         f"got {probs.shape}")
    targets = probs.astype(x.dtype)
    if smoothing > 0:
        targets = targets * (1 - smoothing) + smoothing / c
    if weight is not None:
        targets = targets * weight
    losses = -(_log_softmax(x, 1) * targets).sum(axis=1)
    return _reduce(losses, reduction)


def _smoothed_cross_entropy(x: Tensor, labels: np.ndarray, weight: Optional[np.ndarray],
                            ignore_index: int, reduction: str, smoothing: float) -> Tensor:
    """``(1 - s) * nll + s/C * sum_c w_c (-log p_c)`` per sample, as PyTorch defines it."""
    n, c = x.shape
    keep = labels != ignore_index
    _check_label_range("cross_entropy", labels, keep, c)
    row_w = _row_weights(labels, keep, weight, x.dtype)
    class_w = np.ones(c, dtype=x.dtype) if weight is None else weight
    targets = np.zeros(x.shape, dtype=x.dtype)
    targets[keep] = (smoothing / c) * class_w
    targets[np.arange(n)[keep], labels[keep]] += (1 - smoothing) * row_w[keep]
    losses = -(_log_softmax(x, 1) * targets).sum(axis=1)
    if reduction == "mean":
        denominator = row_w.sum()
        if denominator == 0:  # every sample ignored: NaN, as PyTorch, and no gradient
            return Tensor._from_op(np.asarray(np.nan, x.dtype), (x,),
                                   lambda g: (np.zeros(x.shape, x.dtype),))
        return losses.sum() / denominator
    return _reduce(losses, reduction)


def _fused_cross_entropy(x: Tensor, labels: np.ndarray, weight: Optional[np.ndarray],
                         ignore_index: int, reduction: str) -> Tensor:
    logits = x.data
    if logits.dtype not in _KERNEL_DTYPES:
        # The kernel reads native float32/float64; float16 (or big-endian) logits run in
        # float32.
        logits = logits.astype(np.float32)
    dtype = logits.dtype
    try:
        # The kernel checks every label's range and gives ignored rows loss 0 and gradient 0.
        losses, log_probs = _core.cross_entropy_forward(logits, labels, ignore_index)
    except ValueError:  # a strided batch (a label out of range raises again from here)
        logits, labels = np.ascontiguousarray(logits), np.ascontiguousarray(labels)
        losses, log_probs = _core.cross_entropy_forward(logits, labels, ignore_index)
    row_scale: Optional[np.ndarray] = None  # each row's share of dL/dloss, if not uniform
    if weight is None:
        # Every kept row weighs 1: the reduction is a plain sum, divided by the kept rows
        # for 'mean', and the backward scales every row alike.
        if reduction == "none":
            out, uniform = losses, None
        else:
            kept = labels.shape[0] - np.count_nonzero(labels == ignore_index)
            denominator = kept if reduction == "mean" else 1
            total = np.add.reduce(losses, axis=None, dtype=dtype)
            out = np.asarray(total / denominator if denominator else np.nan, dtype=dtype)
            uniform = 1 / denominator if denominator else 0.0
    else:
        keep = labels != ignore_index
        row_w = _row_weights(labels, keep, weight, dtype)
        losses = losses * row_w
        uniform = None
        if reduction == "none":
            out, row_scale = losses, row_w
        else:
            total = losses.sum(dtype=dtype)
            denominator = row_w.sum(dtype=dtype) if reduction == "mean" else dtype.type(1)
            out = np.asarray(total / denominator if denominator != 0 else np.nan, dtype=dtype)
            scale = 1 / denominator if denominator != 0 else 0
            row_scale = row_w * dtype.type(scale)
    rows_count = labels.shape[0]

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        if uniform is not None:
            rows = np.empty(rows_count, dtype=dtype)
            rows.fill(uniform * g.item())
        else:
            rows = np.ascontiguousarray(g if row_scale is None else g * row_scale, dtype=dtype)
        return (_core.cross_entropy_backward(log_probs, labels, rows, ignore_index),)

    return Tensor._from_op(out, (x,), backward, True)  # (a new array: see _from_op)


def nll_loss(input: ArrayLike, target: Any, weight: Optional[ArrayLike] = None,
             ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood ``-w[y] * input[y]`` of log-probabilities at integer labels.

    Shape: input ``(N, C)``, ``(N, C, d1, ..., dk)`` or ``(C,)``; target ``(N,)``,
    ``(N, d1, ..., dk)`` or a single label. ``weight``, ``ignore_index`` and ``'mean'`` as
    in :func:`cross_entropy`. Gradient: ``-w[y]`` at each label, 0 elsewhere.
    """
    _check_reduction("nll_loss", reduction)
    x = _float_input(as_tensor(input), "nll_loss")
    rows, target_rows, sample_shape = _as_rows("nll_loss", x, _array(target), False)
    n, c = rows.shape
    labels = _integer_labels(target_rows, n, rows.shape, "nll_loss")
    keep = labels != ignore_index
    _check_label_range("nll_loss", labels, keep, c)
    w = _class_weight("nll_loss", weight, c, x.dtype)
    row_w = _row_weights(labels, keep, w, x.dtype)
    index = (np.arange(n), np.where(keep, labels, 0))
    losses = -rows.data[index] * row_w
    if reduction == "none":
        out, row_scale = losses, row_w
    else:
        denominator = row_w.sum() if reduction == "mean" else 1
        out = np.asarray(losses.sum() / denominator if denominator != 0 else np.nan, x.dtype)
        row_scale = row_w / denominator if denominator != 0 else np.zeros_like(row_w)

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        grad = np.zeros(rows.shape, dtype=x.dtype)
        grad[index] = -g * row_scale
        return (grad,)

    result = Tensor._from_op(out, (rows,), backward)
    return result.reshape(sample_shape) if reduction == "none" else result
