"""``Flatten``: the bridge from convolutional feature maps to dense layers."""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from . import functional as F
from .module import Module


class Flatten(Module):
    """Merge dimensions ``start_dim..end_dim`` into one.

    Shape: ``(N, C, H, W) -> (N, C*H*W)`` with the defaults (the batch dimension is kept).

    Example:
        >>> nn.Flatten()(dlcore.zeros(64, 16, 4, 4)).shape
        (64, 256)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: Any) -> Tensor:
        return F.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
