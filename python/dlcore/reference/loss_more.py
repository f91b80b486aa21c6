"""Ranking, embedding, margin and likelihood losses, the pairwise distance and the bilinear
map, written from PyTorch's documented formulas in NumPy.

Per-sample rules loop over samples so each reads as the documentation's sentence.
"""

from __future__ import annotations

import math
from typing import Optional, Union

import numpy as np

from .loss import reduce


def pairwise_distance(x1: np.ndarray, x2: np.ndarray, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> np.ndarray:
    d = np.abs(x1 - x2 + eps)
    if math.isinf(p):
        out = d.max(axis=-1, keepdims=keepdim)
    else:
        out = (d**p).sum(axis=-1, keepdims=keepdim) ** (1 / p)
    return np.asarray(out)


def bilinear(x1: np.ndarray, x2: np.ndarray, weight: np.ndarray,
             bias: Optional[np.ndarray] = None) -> np.ndarray:
    """``out[..., o] = x1 . (weight[o] @ x2)``, one output feature at a time."""
    out = np.stack([np.sum((x1 @ weight[o]) * x2, axis=-1) for o in range(weight.shape[0])],
                   axis=-1)
    return out if bias is None else out + bias


def margin_ranking(x1: np.ndarray, x2: np.ndarray, y: np.ndarray, margin: float = 0.0,
                   reduction: str = "mean") -> np.ndarray:
    return reduce(np.maximum(0, -y * (x1 - x2) + margin), reduction)


def hinge_embedding(x: np.ndarray, y: np.ndarray, margin: float = 1.0,
                    reduction: str = "mean") -> np.ndarray:
    return reduce(np.where(y == 1, x, np.maximum(0, margin - x)), reduction)


def cosine_embedding(x1: np.ndarray, x2: np.ndarray, y: np.ndarray, margin: float = 0.0,
                     reduction: str = "mean") -> np.ndarray:
    """PyTorch's cosine: ``x1 . x2 / sqrt((|x1|^2 + 1e-12) (|x2|^2 + 1e-12))``."""
    rows1, rows2, labels = np.atleast_2d(x1), np.atleast_2d(x2), np.atleast_1d(y)
    losses = np.zeros(len(labels))
    for i, (a, b, label) in enumerate(zip(rows1, rows2, labels)):
        cos = a @ b / math.sqrt((a @ a + 1e-12) * (b @ b + 1e-12))
        losses[i] = 1 - cos if label == 1 else max(0.0, cos - margin)
    return reduce(losses.reshape(np.shape(y)), reduction)


def triplet_margin(anchor: np.ndarray, positive: np.ndarray, negative: np.ndarray,
                   margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                   reduction: str = "mean") -> np.ndarray:
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = np.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return reduce(np.maximum(0, margin + d_pos - d_neg), reduction)


def soft_margin(x: np.ndarray, y: np.ndarray, reduction: str = "mean") -> np.ndarray:
    """``log(1 + exp(-y x))`` as written (the tests keep ``|x|`` moderate)."""
    return reduce(np.log(1 + np.exp(-y * x)), reduction)


def multilabel_soft_margin(x: np.ndarray, t: np.ndarray, weight: Optional[np.ndarray] = None,
                           reduction: str = "mean") -> np.ndarray:
    s = 1 / (1 + np.exp(-x))
    losses = -(t * np.log(s) + (1 - t) * np.log(1 - s))
    if weight is not None:
        losses = losses * weight
    return reduce(losses.mean(axis=-1), reduction)


def multi_margin(x: np.ndarray, y: np.ndarray, p: int = 1, margin: float = 1.0,
                 weight: Optional[np.ndarray] = None, reduction: str = "mean") -> np.ndarray:
    rows, labels = np.atleast_2d(x), np.atleast_1d(y)
    n, c = rows.shape
    losses = np.zeros(n)
    for i in range(n):
        label = labels[i]
        w = 1.0 if weight is None else weight[label]
        for j in range(c):
            if j != label:
                losses[i] += w * max(0.0, margin - rows[i, label] + rows[i, j]) ** p / c
    return reduce(losses.reshape(np.shape(y)), reduction)


def poisson_nll(x: np.ndarray, t: np.ndarray, log_input: bool = True, full: bool = False,
                eps: float = 1e-8, reduction: str = "mean") -> np.ndarray:
    losses = np.exp(x) - t * x if log_input else x - t * np.log(x + eps)
    if full:
        stirling = np.zeros_like(losses)
        for index in np.ndindex(t.shape):
            k = t[index]
            if k > 1:
                stirling[index] = k * math.log(k) - k + 0.5 * math.log(2 * math.pi * k)
        losses = losses + stirling
    return reduce(losses, reduction)


def gaussian_nll(x: np.ndarray, t: np.ndarray, var: Union[float, np.ndarray],
                 full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> np.ndarray:
    """``var`` of the input's shape, or one per sample (the last dimension dropped or 1)."""
    v = np.asarray(var, dtype=np.float64)
    if v.ndim and v.shape == x.shape[:-1]:
        v = v[..., None]
    v = np.maximum(v, eps)
    losses = 0.5 * (np.log(v) + (x - t) ** 2 / v)
    if full:
        losses = losses + 0.5 * math.log(2 * math.pi)
    return reduce(np.broadcast_to(losses, np.broadcast_shapes(x.shape, losses.shape)), reduction)
