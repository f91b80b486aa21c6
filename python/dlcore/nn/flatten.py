"""``Flatten``: the bridge from convolutional feature maps to dense layers; ``Unflatten``,
the way back (a decoder's dense code to feature maps)."""

from __future__ import annotations

from typing import Any, Sequence

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


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``, as PyTorch's ``nn.Unflatten``.

    Shape: ``(N, C*H*W) -> (N, C, H, W)`` with ``dim=1, unflattened_size=(C, H, W)``.

    Example:
        >>> decoder_input = nn.Sequential(nn.Linear(32, 16 * 7 * 7), nn.Unflatten(1, (16, 7, 7)))
        >>> decoder_input(dlcore.zeros(8, 32)).shape
        (8, 16, 7, 7)
    """

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(int(s) for s in unflattened_size)

    def forward(self, x: Any) -> Tensor:
        return F.unflatten(x, self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
