"""``Upsample``: weight-free resizing of feature maps (nearest neighbour)."""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from . import functional as F
from .module import Module


class Upsample(Module):
    """Resize feature maps by nearest-neighbour sampling, as PyTorch's ``nn.Upsample``
    (see :func:`dlcore.nn.functional.interpolate`). Give ``size`` or ``scale_factor``.

    Shape: ``(N, C, H, W) -> (N, C, H_out, W_out)``.

    Example:
        >>> nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(16, 8, 3, padding=1))
    """

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest"
                 ) -> None:
        super().__init__()
        if mode != "nearest":
            raise ValueError(f"Upsample: only mode='nearest' is supported, got {mode!r}")
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: give exactly one of size and scale_factor")
        self.size = size
        self.scale_factor = scale_factor
        self.mode = mode

    def forward(self, x: Any) -> Tensor:
        return F.interpolate(x, self.size, self.scale_factor, self.mode)

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else \
            f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"
