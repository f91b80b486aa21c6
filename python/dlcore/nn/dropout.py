"""Dropout layers: random zeroing while training (inverted dropout), identity in eval mode.

Why scaling the kept units by ``1/(1-p)`` while training equals the textbook "multiply the
weights by the keep probability at test time": see :mod:`dlcore.nn.ops.dropout`.
"""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from . import functional as F
from .module import Module


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: dropout probability p must be in [0, 1], "
                             f"got {p}")
        self.p = float(p)
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dropout(_DropoutNd):
    """Zero each element with probability ``p`` while training; scale the rest by
    ``1/(1-p)`` so the expected output equals the input. The identity after ``.eval()``.

    Shape: any -> same. Seeded by ``dlcore.manual_seed``.

    Example:
        >>> model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.5),
        ...                       nn.Linear(256, 10))
    """

    def forward(self, x: Any) -> Tensor:
        return F.dropout(x, self.p, self.training)


class Dropout2d(_DropoutNd):
    """Zero whole channels (feature maps) with probability ``p`` while training.

    Shape: ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def forward(self, x: Any) -> Tensor:
        return F.dropout2d(x, self.p, self.training)
