"""Per-sample loss weights for ``fit``: Keras' ``sample_weight`` and ``class_weight``.

A weighted step's loss is ``sum(w_i * loss_i) / N`` over the batch's ``N`` samples (Keras'
``sum_over_batch_size``): a weight of 2 counts a sample twice, and weights of 1 give the
unweighted mean. ``class_weight`` is the usual cure for imbalanced classes: with
``{0: 1.0, 1: 9.0}`` each example of the rare class 1 pulls on the weights as hard as nine of
class 0.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Optional

import numpy as np

from ..tensor import Tensor


def class_labels(y: np.ndarray, op: str) -> np.ndarray:
    """Each sample's class, as ``class_weight`` keys name them: integer labels ``(N,)`` or
    ``(N, 1)`` as they are, one-hot or probability rows ``(N, C)`` by their argmax, and
    binary float targets ``(N,)`` / ``(N, 1)`` rounded to 0 or 1."""
    if y.ndim == 2 and y.shape[1] > 1:
        return np.argmax(y, axis=1)
    flat = y.reshape(len(y)) if y.ndim == 2 else y
    if flat.ndim != 1:
        raise ValueError(f"{op}: class_weight needs class labels (N,), (N, 1) or one-hot "
                         f"(N, C) targets, got shape {y.shape}")
    if flat.dtype.kind == "f":
        return np.rint(flat).astype(np.int64)
    return flat.astype(np.int64, copy=False)


def sample_weights(n: int, y: np.ndarray, sample_weight: Any,
                   class_weight: Optional[Dict[Any, float]], op: str) -> Optional[np.ndarray]:
    """The ``(n,)`` float64 weight of each sample, or None when neither option is given."""
    if sample_weight is None and class_weight is None:
        return None
    weights = np.ones(n, dtype=np.float64)
    if sample_weight is not None:
        sw = np.asarray(sample_weight.data if isinstance(sample_weight, Tensor)
                        else sample_weight)
        if sw.dtype.kind not in "iuf" or sw.shape != (n,):
            raise ValueError(f"{op}: sample_weight must be a numeric array of shape ({n},), "
                             f"one weight per sample; got shape {sw.shape} and dtype "
                             f"{sw.dtype}")
        weights *= sw
    if class_weight is not None:
        if not isinstance(class_weight, dict):
            raise TypeError(f"{op}: class_weight must be a dict {{class: weight}}, got "
                            f"{type(class_weight).__name__}")
        labels = class_labels(y, op)
        table = {int(k): float(v) for k, v in class_weight.items()}
        missing = sorted(set(np.unique(labels).tolist()) - set(table))
        if missing:
            raise ValueError(f"{op}: class_weight has no weight for class(es) {missing}; give "
                             f"every class in y a weight (1.0 leaves it as it is)")
        keys = np.array(sorted(table))
        values = np.array([table[k] for k in keys])
        weights *= values[np.searchsorted(keys, labels)]
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError(f"{op}: sample weights must be finite and non-negative")
    return weights


def unreduced(loss_fn: Any, op: str) -> Any:
    """A copy of ``loss_fn`` that returns one loss per element (``reduction='none'``)."""
    if getattr(loss_fn, "reduction", None) is None:
        raise ValueError(f"{op}: sample_weight and class_weight need a loss with a "
                         f"'reduction' argument (dlcore.nn losses or their Keras names), got "
                         f"{loss_fn!r}")
    per_element = copy.copy(loss_fn)
    object.__setattr__(per_element, "reduction", "none")
    return per_element


def weighted_loss(per_element: Any, out: Tensor, target: Any, weights: np.ndarray) -> Tensor:
    """``sum(w_i * loss_i) / N``: each sample's loss is the mean of its elements' losses."""
    losses = per_element(out, target)
    n = len(weights)
    if losses.data.ndim == 0 or losses.shape[0] != n:
        raise ValueError(f"fit: the loss gave shape {losses.shape} with reduction='none'; "
                         f"sample weights need one loss per sample ({n} here)")
    if losses.data.ndim > 1:
        losses = losses.reshape(n, -1).mean(axis=1)
    w = Tensor(weights.astype(losses.dtype, copy=False))
    return (losses * w).sum() / n
