"""``normalize`` and ``cosine_similarity``: vectors scaled to unit length, and the cosine of
the angle between two. Built from differentiable tensor ops (norm, clamp, division), so
their gradients are the chain rule's."""

from __future__ import annotations

import numpy as np

from ...tensor import ArrayLike, Tensor, as_tensor


def _floats(x: ArrayLike) -> Tensor:
    t = as_tensor(x)
    if t.dtype.kind != "f":
        t = t.astype(np.float32)
    return t


def normalize(input: ArrayLike, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """``x / max(||x||_p, eps)`` along ``dim``: each vector scaled to unit ``p``-norm (a
    zero vector stays zero). Shape: any -> same."""
    x = _floats(input)
    if not eps > 0:
        raise ValueError(f"normalize: eps must be positive, got {eps}")
    return x / x.norm(p, dim=dim, keepdim=True).clamp(min=eps)


def cosine_similarity(x1: ArrayLike, x2: ArrayLike, dim: int = 1, eps: float = 1e-8
                      ) -> Tensor:
    """``x1 . x2 / max(||x1|| ||x2||, eps)`` along ``dim``, as PyTorch documents it.

    Shape: ``x1`` and ``x2`` broadcast together; ``dim`` is reduced: ``(N, D), (N, D) ->
    (N,)``.
    """
    a, b = _floats(x1), _floats(x2)
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"cosine_similarity: shapes {a.shape} and {b.shape} do not "
                         f"broadcast together") from None
    if not -len(shape) <= dim < len(shape):
        raise ValueError(f"cosine_similarity: dim {dim} is out of range for shape {shape}")
    if not eps > 0:
        raise ValueError(f"cosine_similarity: eps must be positive, got {eps}")
    # Broadcast first, so ``dim`` counts in the common shape even when ranks differ.
    a, b = (t if t.shape == shape else t.expand(*shape) for t in (a, b))
    dot = (a * b).sum(dim=dim)
    lengths = a.norm(2, dim=dim) * b.norm(2, dim=dim)
    return dot / lengths.clamp(min=eps)


def pairwise_distance(x1: ArrayLike, x2: ArrayLike, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """``||x1 - x2 + eps||_p`` over the last dimension, as PyTorch computes it (``eps`` is
    added to every difference, which keeps the gradient finite where ``x1 == x2``).

    Shape: ``x1`` and ``x2`` broadcast together: ``(N, D), (N, D) -> (N,)`` (``(N, 1)`` with
    ``keepdim``), ``(D,), (D,) -> ()``. ``p`` is any positive number or ``inf``.
    """
    a, b = _floats(x1), _floats(x2)
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"pairwise_distance: x1 of shape {a.shape} and x2 of shape {b.shape} "
                         f"do not broadcast together") from None
    if not shape:
        raise ValueError("pairwise_distance: x1 and x2 are scalars; expected vectors (D,) or "
                         "batches (N, D)")
    if not p > 0:
        raise ValueError(f"pairwise_distance: p must be positive (or inf), got {p}")
    return (a - b + eps).norm(p, dim=-1, keepdim=keepdim)
