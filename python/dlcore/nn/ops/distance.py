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
    dot = (a * b).sum(dim=dim)
    lengths = a.norm(2, dim=dim) * b.norm(2, dim=dim)
    return dot / lengths.clamp(min=eps)
