"""``PairwiseDistance`` and ``CosineSimilarity``: the ``p``-norm distance and the cosine
between matching rows of two batches."""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from . import functional as F
from .module import Module


class PairwiseDistance(Module):
    """``||x1 - x2 + eps||_p`` over the last dimension.

    Args:
        p: the norm's degree (any positive number, or ``inf``).
        eps: added to each difference (keeps the gradient finite where ``x1 == x2``).
        keepdim: keep the reduced dimension, with size 1.

    Shape: ``(N, D), (N, D) -> (N,)`` (``(N, 1)`` with ``keepdim``), broadcasting. See
    :func:`dlcore.nn.functional.pairwise_distance`.
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        if not p > 0:
            raise ValueError(f"PairwiseDistance: p must be positive (or inf), got {p}")
        self.norm, self.eps, self.keepdim = float(p), float(eps), bool(keepdim)

    def forward(self, x1: Any, x2: Any) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)

    def extra_repr(self) -> str:
        return f"p={self.norm}, eps={self.eps}, keepdim={self.keepdim}"


class CosineSimilarity(Module):
    """``x1 . x2 / max(||x1|| ||x2||, eps)`` along ``dim``.

    Args:
        dim: the dimension reduced.
        eps: the smallest denominator (keeps zero vectors finite).

    Shape: ``x1`` and ``x2`` broadcast together, ``dim`` is removed: ``(N, D), (N, D) ->
    (N,)``. See :func:`dlcore.nn.functional.cosine_similarity`.

    Example:
        >>> cos = nn.CosineSimilarity(dim=1)
        >>> out = cos(dlcore.randn(4, 8), dlcore.randn(4, 8))  # (4,)
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        if not eps > 0:
            raise ValueError(f"CosineSimilarity: eps must be positive, got {eps}")
        self.dim, self.eps = int(dim), float(eps)

    def forward(self, x1: Any, x2: Any) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, eps={self.eps}"
