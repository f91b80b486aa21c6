"""``Unfold`` (im2col) and ``Fold`` (col2im) layers, as PyTorch's ``nn.Unfold``/``nn.Fold``."""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from . import functional as F
from .module import Module
from .ops.conv import _pair
from .ops.fold import IntPair, _Geometry


class Unfold(Module):
    """Extract sliding ``KH x KW`` blocks into columns; see
    :func:`dlcore.nn.functional.unfold`.

    Args:
        kernel_size, dilation, padding, stride: int or pair, as for ``Conv2d``.

    Shape: ``(N, C, H, W) -> (N, C * KH * KW, L)``.

    Example:
        >>> patches = nn.Unfold(kernel_size=4, stride=4)(dlcore.randn(8, 3, 32, 32))
        >>> patches.shape                                 # 64 patches of 3 * 4 * 4 values
        (8, 48, 64)
    """

    def __init__(self, kernel_size: IntPair, dilation: IntPair = 1, padding: IntPair = 0,
                 stride: IntPair = 1) -> None:
        super().__init__()
        _Geometry("Unfold", kernel_size, dilation, padding, stride)
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, x: Any) -> Tensor:
        return F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    """Sum columns of sliding blocks back into an image; see
    :func:`dlcore.nn.functional.fold`.

    Args:
        output_size: ``(H, W)`` (int or pair).
        kernel_size, dilation, padding, stride: as for :class:`Unfold`.

    Shape: ``(N, C * KH * KW, L) -> (N, C, H, W)``.
    """

    def __init__(self, output_size: IntPair, kernel_size: IntPair, dilation: IntPair = 1,
                 padding: IntPair = 0, stride: IntPair = 1) -> None:
        super().__init__()
        _Geometry("Fold", kernel_size, dilation, padding, stride)
        _pair(output_size, "output_size", "Fold")
        self.output_size, self.kernel_size, self.dilation = output_size, kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, x: Any) -> Tensor:
        return F.fold(x, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")
