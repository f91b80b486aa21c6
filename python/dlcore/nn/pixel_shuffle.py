"""``PixelShuffle`` and ``PixelUnshuffle``: sub-pixel upsampling and its inverse."""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from . import functional as F
from .module import Module
from .ops.pixel_shuffle import _factor


class PixelShuffle(Module):
    """Rearrange ``(*, C * r^2, H, W)`` into ``(*, C, H * r, W * r)``; see
    :func:`dlcore.nn.functional.pixel_shuffle`.

    Args:
        upscale_factor: ``r``.

    Example:
        >>> upsample = nn.Sequential(nn.Conv2d(16, 3 * 4, 3, padding=1), nn.PixelShuffle(2))
    """

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = _factor("PixelShuffle", "upscale_factor", upscale_factor)

    def forward(self, x: Any) -> Tensor:
        return F.pixel_shuffle(x, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """Rearrange ``(*, C, H * r, W * r)`` into ``(*, C * r^2, H, W)``, the inverse of
    :class:`PixelShuffle`.

    Args:
        downscale_factor: ``r``.
    """

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = _factor("PixelUnshuffle", "downscale_factor", downscale_factor)

    def forward(self, x: Any) -> Tensor:
        return F.pixel_unshuffle(x, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
