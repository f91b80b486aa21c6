"""Pooling layers: max, min, average and their adaptive forms."""

from __future__ import annotations

from typing import Any, Optional

from ..tensor import Tensor
from . import functional as F
from .module import Module
from .ops.conv import _pair


def _check_window(name: str, kernel_size: Any, stride: Any, padding: Any, dilation: Any) -> None:
    """Refuse bad hyperparameters at construction, with the layer's name in the message."""
    for arg, value, low in (("kernel_size", kernel_size, 1), ("stride", stride, 1),
                            ("padding", padding, 0), ("dilation", dilation, 1)):
        if arg == "stride" and value is None:
            continue
        pair = _pair(value, arg, name)
        if min(pair) < low:
            rule = "positive" if low else "non-negative"
            raise ValueError(f"{name}: {arg} must be {rule}, got {value!r}")


class _ExtremumPool(Module):
    """Max or min pooling (1-D or 2-D): ``_function`` pools; ``_check`` refuses a bad window
    when the layer is made."""

    _function = staticmethod(F.max_pool2d)
    _check = staticmethod(_check_window)

    def __init__(self, kernel_size: Any, stride: Optional[Any] = None, padding: Any = 0,
                 dilation: Any = 1, return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        self._check(type(self).__name__, kernel_size, stride, padding, dilation)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, x: Any) -> Any:
        return self._function(x, self.kernel_size, self.stride, self.padding, self.dilation,
                              self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool2d(_ExtremumPool):
    """The maximum over each window (see :func:`dlcore.nn.functional.max_pool2d`).

    Args:
        kernel_size: window size, int or pair.
        stride: window step; default ``kernel_size``.
        padding: implicit ``-inf`` padding on both sides (at most half the kernel).
        dilation: spacing between window elements.
        return_indices: also return the flat index of each maximum.
        ceil_mode: round the output size up instead of down.

    Shape:
        ``(N, C, H, W) -> (N, C, H_out, W_out)``,
        ``H_out = floor((H + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``.
    """

    _function = staticmethod(F.max_pool2d)


class MinPool2d(_ExtremumPool):
    """The minimum over each window: :class:`MaxPool2d` mirrored, for dark features
    (shadows, cracks, ink on paper) that max pooling erases. Same arguments and shapes."""

    _function = staticmethod(F.min_pool2d)


class AvgPool2d(Module):
    """The mean over each window (see :func:`dlcore.nn.functional.avg_pool2d`).

    Args:
        kernel_size, stride (default ``kernel_size``), padding (zeros), ceil_mode: as in
            :class:`MaxPool2d`.
        count_include_pad: count the zero padding in each window's size.
        divisor_override: divide by this instead of the window size.
    """

    def __init__(self, kernel_size: Any, stride: Optional[Any] = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: Optional[int] = None) -> None:
        super().__init__()
        _check_window("AvgPool2d", kernel_size, stride, padding, 1)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x: Any) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed ``output_size`` (int or pair; ``None`` keeps that input
    dimension) whatever the input size; ``AdaptiveAvgPool2d(1)`` is global average pooling.

    Shape:
        ``(N, C, H, W) -> (N, C, *output_size)``.
    """

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Any) -> Tensor:
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class _AdaptiveExtremumPool(Module):
    """Adaptive max or min pooling (1-D or 2-D) by ``_function``."""

    _function = staticmethod(F.adaptive_max_pool2d)

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__()
        self._check_size(output_size)
        self.output_size = output_size
        self.return_indices = return_indices

    def _check_size(self, output_size: Any) -> None:
        """2-D sizes may hold ``None`` (keep that input dimension): checked per call."""

    def forward(self, x: Any) -> Any:
        return self._function(x, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(_AdaptiveExtremumPool):
    """Max pooling to a fixed ``output_size`` (int or pair; ``None`` keeps that input
    dimension) whatever the input size; ``AdaptiveMaxPool2d(1)`` is global max pooling.
    With ``return_indices`` the call returns ``(output, indices)`` (see
    :func:`dlcore.nn.functional.adaptive_max_pool2d`).

    Shape:
        ``(N, C, H, W) -> (N, C, *output_size)``.
    """

    _function = staticmethod(F.adaptive_max_pool2d)


class AdaptiveMinPool2d(_AdaptiveExtremumPool):
    """:class:`AdaptiveMaxPool2d` with the minimum (dlcore's own, like :class:`MinPool2d`).

    Shape:
        ``(N, C, H, W) -> (N, C, *output_size)``.
    """

    _function = staticmethod(F.adaptive_min_pool2d)
