"""1-D layers over ``(N, C, L)`` signals: ``Conv1d`` and max, min, average and adaptive
average pooling, with PyTorch's names, arguments and parameter shapes."""

from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import numpy as np

from ..tensor import Tensor
from . import functional as F
from .conv import _PADDING_MODES, _add_parameters, _check_channels, _reset_parameters
from .module import Module
from .ops.conv1d import _single, conv1d_padding, pool1d_window
from .pooling import _AdaptiveExtremumPool, _ExtremumPool


class Conv1d(Module):
    """1-D convolution over ``(N, C_in, L)`` signals (see :func:`dlcore.nn.functional.conv1d`).

    Args:
        in_channels: channels of the input signal.
        out_channels: channels the layer produces (its number of filters).
        kernel_size: filter length (int or 1-tuple).
        stride, dilation: int or 1-tuple.
        padding: int, 1-tuple, ``'valid'`` or ``'same'`` (stride 1 only).
        groups: independent channel groups; ``groups == in_channels`` is depthwise.
        bias: learn an additive bias per output channel.
        padding_mode: what the padding holds: ``'zeros'``, ``'reflect'``, ``'replicate'`` or
            ``'circular'``.
        dtype: parameter dtype (float32 by default).

    Shape:
        ``(N, C_in, L) -> (N, C_out, L_out)`` (or unbatched ``(C_in, L) -> (C_out, L_out)``),
        ``L_out = floor((L + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``.

    ``weight`` is ``(C_out, C_in / groups, K)`` and ``bias`` ``(C_out,)``, as in PyTorch, so
    state dicts carry over. They start as PyTorch's do: ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``
    with ``fan_in = in_channels / groups * K``.

    Example:
        >>> conv = nn.Conv1d(12, 32, kernel_size=5, padding="same")   # 12-lead ECG
        >>> conv(dlcore.randn(4, 12, 500)).shape
        (4, 32, 500)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Union[int, Tuple[int], str] = 0, dilation: Any = 1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", dtype: Any = np.float32
                 ) -> None:
        super().__init__()
        name = "Conv1d"
        _check_channels(name, in_channels, out_channels, groups, padding_mode)
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = (_single(kernel_size, "kernel_size", name, 1),)
        self.stride = (_single(stride, "stride", name, 1),)
        self.dilation = (_single(dilation, "dilation", name, 1),)
        self.padding: Union[Tuple[int], str] = (
            padding if isinstance(padding, str) else (_single(padding, "padding", name, 0),))
        # Validates 'same' with a stride now rather than at the first call.
        self._sides = conv1d_padding(self.padding, self.kernel_size[0], self.stride[0],
                                     self.dilation[0], name)
        self.groups = int(groups)
        self.padding_mode = padding_mode
        shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        _add_parameters(self, shape, self.out_channels, bias, dtype)

    def reset_parameters(self) -> None:
        """PyTorch's default: Kaiming-uniform with ``a = sqrt(5)``, that is
        ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` with ``fan_in = C_in / groups * K``, and the
        bias on the same bounds."""
        _reset_parameters(self)

    def forward(self, x: Any) -> Tensor:
        mode = _PADDING_MODES[self.padding_mode]
        if mode is None:
            return F.conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                            self.groups)
        x = F.pad(x, self._sides, mode=mode)
        return F.conv1d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding not in ((0,), "valid"):
            s += f", padding={self.padding!r}"
        if self.dilation != (1,):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode!r}"
        return s


class _ExtremumPool1d(_ExtremumPool):
    _check = staticmethod(pool1d_window)


class MaxPool1d(_ExtremumPool1d):
    """The maximum over each window along ``L`` (see :func:`dlcore.nn.functional.max_pool1d`).

    Args:
        kernel_size: window length.
        stride: window step; default ``kernel_size``.
        padding: implicit ``-inf`` padding on both ends (at most half the kernel).
        dilation: spacing between window elements.
        return_indices: also return each maximum's position along ``L``.
        ceil_mode: round the output length up instead of down.

    Shape:
        ``(N, C, L) -> (N, C, L_out)``,
        ``L_out = floor((L + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``.
    """

    _function = staticmethod(F.max_pool1d)


class MinPool1d(_ExtremumPool1d):
    """The minimum over each window: :class:`MaxPool1d` mirrored, for dips and troughs
    that max pooling erases. Same arguments and shapes."""

    _function = staticmethod(F.min_pool1d)


class AvgPool1d(Module):
    """The mean over each window along ``L`` (see :func:`dlcore.nn.functional.avg_pool1d`).

    Args:
        kernel_size, stride (default ``kernel_size``), padding (zeros), ceil_mode: as in
            :class:`MaxPool1d`.
        count_include_pad: count the zero padding in each window's length.
        divisor_override: divide by this instead of the window length (an addition).

    ``kernel_size``, ``stride`` and ``padding`` are kept as 1-tuples, as in PyTorch.

    Shape:
        ``(N, C, L) -> (N, C, L_out)``, ``L_out`` as in :class:`MaxPool1d` with dilation 1.
    """

    def __init__(self, kernel_size: Any, stride: Optional[Any] = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: Optional[int] = None) -> None:
        super().__init__()
        kernel, step, side, _ = pool1d_window("AvgPool1d", kernel_size, stride, padding)
        self.kernel_size = (kernel,)
        self.stride = (step,)
        self.padding = (side,)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x: Any) -> Tensor:
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(Module):
    """Average pooling to a fixed ``output_size`` whatever the input length;
    ``AdaptiveAvgPool1d(1)`` is global average pooling.

    Shape:
        ``(N, C, L) -> (N, C, output_size)``.
    """

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        _single(output_size, "output_size", "AdaptiveAvgPool1d", 1)
        self.output_size = output_size

    def forward(self, x: Any) -> Tensor:
        return F.adaptive_avg_pool1d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class _AdaptiveExtremumPool1d(_AdaptiveExtremumPool):
    def _check_size(self, output_size: Any) -> None:
        _single(output_size, "output_size", type(self).__name__, 1)


class AdaptiveMaxPool1d(_AdaptiveExtremumPool1d):
    """Max pooling to a fixed ``output_size`` whatever the input length;
    ``AdaptiveMaxPool1d(1)`` is global max pooling. With ``return_indices`` the call
    returns ``(output, indices)``.

    Shape:
        ``(N, C, L) -> (N, C, output_size)``.
    """

    _function = staticmethod(F.adaptive_max_pool1d)


class AdaptiveMinPool1d(_AdaptiveExtremumPool1d):
    """:class:`AdaptiveMaxPool1d` with the minimum (dlcore's own, like ``MinPool1d``).

    Shape:
        ``(N, C, L) -> (N, C, output_size)``.
    """

    _function = staticmethod(F.adaptive_min_pool1d)
