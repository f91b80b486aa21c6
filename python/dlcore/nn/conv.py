"""Convolution layers: ``Conv2d`` and its adjoint, ``ConvTranspose2d``."""

from __future__ import annotations

import math
from typing import Any, Tuple, Union

import numpy as np

from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter
from .ops.conv import _pair, conv_padding

_PADDING_MODES = {"zeros": None, "reflect": "reflect", "replicate": "replicate",
                  "circular": "circular"}


def _add_parameters(layer: Module, weight_shape: Tuple[int, ...], out_channels: int,
                    bias: bool, dtype: Any) -> None:
    """Give a convolution its ``weight`` (and ``bias`` of ``out_channels``, or None), then
    PyTorch's initial values."""
    layer.weight = Parameter(np.empty(weight_shape, dtype=dtype))
    if bias:
        layer.bias = Parameter(np.empty(out_channels, dtype=dtype))
    else:
        layer.register_parameter("bias", None)
    layer.reset_parameters()


def _check_channels(name: str, in_channels: Any, out_channels: Any, groups: Any,
                    padding_mode: str) -> None:
    """Refuse channel counts that are not positive ints or that ``groups`` does not divide,
    and an unknown ``padding_mode``, with the layer's ``name`` in the message."""
    for arg, value in (("in_channels", in_channels), ("out_channels", out_channels),
                       ("groups", groups)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"{name}: {arg} must be a positive int, got {value!r}")
    for arg, value in (("in_channels", in_channels), ("out_channels", out_channels)):
        if value % groups:
            raise ValueError(f"{name}: {arg}={value} is not divisible by groups={groups}")
    if padding_mode not in _PADDING_MODES:
        raise ValueError(f"{name}: padding_mode must be one of {tuple(_PADDING_MODES)}, "
                         f"got {padding_mode!r}")


def _reset_parameters(layer: Module) -> None:
    """Kaiming-uniform with ``a = sqrt(5)`` and the bias on ``+-1/sqrt(fan_in)``, ``fan_in``
    taken from the weight's second dimension times the kernel area, as PyTorch does for both
    kinds of convolution (``C_in / groups`` for Conv2d, ``C_out / groups`` for the transposed
    one)."""
    init.kaiming_uniform_(layer.weight, a=math.sqrt(5))
    if layer.bias is not None:
        fan_in = int(np.prod(layer.weight.shape[1:]))
        bound = 1.0 / math.sqrt(fan_in)
        init.uniform_(layer.bias, -bound, bound)


class Conv2d(Module):
    """2-D convolution over ``(N, C_in, H, W)`` images (see :func:`dlcore.nn.functional.conv2d`).

    Args:
        in_channels: channels of the input image.
        out_channels: channels the layer produces (its number of filters).
        kernel_size: filter size, int or pair.
        stride, dilation: int or pair.
        padding: int, pair, ``'valid'`` or ``'same'`` (stride 1 only).
        groups: independent channel groups; ``groups == in_channels`` is depthwise.
        bias: learn an additive bias per output channel.
        padding_mode: what the padding holds: ``'zeros'``, ``'reflect'`` (mirror),
            ``'replicate'`` (copy the edge pixel) or ``'circular'`` (wrap around).
        dtype: parameter dtype (float32 by default).

    Shape:
        ``(N, C_in, H, W) -> (N, C_out, H_out, W_out)``, with
        ``H_out = floor((H + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``.

    Weights start as PyTorch's do: Kaiming-uniform with ``a = sqrt(5)``, that is
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` with ``fan_in = in_channels / groups * KH * KW``,
    and the bias from the same range.

    Example:
        >>> conv = nn.Conv2d(1, 6, 5)          # LeNet's first layer
        >>> conv(dlcore.randn(64, 1, 28, 28)).shape
        (64, 6, 24, 24)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Union[int, Tuple[int, int], str] = 0, dilation: Any = 1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 dtype: Any = np.float32) -> None:
        super().__init__()
        _check_channels("Conv2d", in_channels, out_channels, groups, padding_mode)
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = _pair(kernel_size, "kernel_size", "Conv2d")
        if min(self.kernel_size) <= 0:
            raise ValueError(f"Conv2d: kernel_size must be positive, got {kernel_size!r}")
        self.stride = _pair(stride, "stride", "Conv2d")
        self.dilation = _pair(dilation, "dilation", "Conv2d")
        self.padding = padding if isinstance(padding, str) else _pair(padding, "padding",
                                                                        "Conv2d")
        # Validates 'same' with strides and negative values now rather than at the first call.
        self._sides = conv_padding(self.padding, self.kernel_size, self.stride, self.dilation,
                                   "Conv2d")
        if min(self._sides) < 0:
            raise ValueError(f"Conv2d: padding must be non-negative, got {padding!r}")
        self.groups = int(groups)
        self.padding_mode = padding_mode
        shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        _add_parameters(self, shape, self.out_channels, bias, dtype)

    def reset_parameters(self) -> None:
        """PyTorch's default: Kaiming-uniform with ``a = sqrt(5)``, which works out to
        ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` with ``fan_in = C_in / groups * KH * KW``, and
        the bias on the same bounds."""
        _reset_parameters(self)

    def forward(self, x: Any) -> Tensor:
        mode = _PADDING_MODES[self.padding_mode]
        if mode is None:
            return F.conv2d(x, self.weight, self.bias, self.stride, self.padding,
                            self.dilation, self.groups)
        top, bottom, left, right = self._sides
        x = F.pad(x, (left, right, top, bottom), mode=mode)
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding not in ((0, 0), "valid"):
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) else \
                f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode!r}"
        return s


class ConvTranspose2d(Module):
    """2-D transposed convolution, the learnable upsampling of decoders and autoencoders
    (see :func:`dlcore.nn.functional.conv_transpose2d`), as PyTorch's ``nn.ConvTranspose2d``.

    Args:
        in_channels, out_channels: channels of the input and of the output.
        kernel_size: filter size, int or pair.
        stride: the upsampling factor, int or pair.
        padding: trims ``padding`` rows and columns from each side of the output.
        output_padding: extra rows/columns at the bottom/right (less than the stride).
        groups: independent channel groups.
        bias: learn an additive bias per output channel.
        dilation: spacing of the filter taps.
        dtype: parameter dtype (float32 by default).

    Shape:
        ``(N, C_in, H, W) -> (N, C_out, H_out, W_out)``, with ``H_out = (H - 1) * stride -
        2 * padding + dilation * (kernel_size - 1) + output_padding + 1``. A ``Conv2d`` with
        the same arguments maps ``H_out`` back to ``H``.

    The weight is ``(C_in, C_out / groups, KH, KW)`` and starts as PyTorch's: uniform on
    ``+-1/sqrt(fan_in)`` with ``fan_in = C_out / groups * KH * KW`` (PyTorch reads the fan
    from the weight's second dimension), the bias from the same range.

    Example:
        >>> up = nn.ConvTranspose2d(16, 8, kernel_size=2, stride=2)   # 7x7 -> 14x14
        >>> up(dlcore.randn(1, 16, 7, 7)).shape
        (1, 8, 14, 14)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", dtype: Any = np.float32
                 ) -> None:
        super().__init__()
        name = "ConvTranspose2d"
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels),
                           ("groups", groups)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"{name}: {arg} must be a positive int, got {value!r}")
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if value % groups:
                raise ValueError(f"{name}: {arg}={value} is not divisible by groups={groups}")
        if padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' is supported (as in PyTorch), "
                             f"got {padding_mode!r}")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = _pair(kernel_size, "kernel_size", name)
        if min(self.kernel_size) <= 0:
            raise ValueError(f"{name}: kernel_size must be positive, got {kernel_size!r}")
        self.stride = _pair(stride, "stride", name)
        self.padding = _pair(padding, "padding", name)
        self.output_padding = _pair(output_padding, "output_padding", name)
        self.dilation = _pair(dilation, "dilation", name)
        if min(self.stride) < 1 or min(self.dilation) < 1 or min(self.padding) < 0:
            raise ValueError(f"{name}: stride and dilation must be positive and padding "
                             f"non-negative, got stride={self.stride}, dilation={self.dilation}, "
                             f"padding={self.padding}")
        if any(o < 0 or o >= max(s, d) for o, s, d in
               zip(self.output_padding, self.stride, self.dilation)):
            raise ValueError(f"{name}: output_padding {self.output_padding} must be non-negative "
                             f"and smaller than the stride {self.stride} or the dilation "
                             f"{self.dilation}")
        self.groups = int(groups)
        self.padding_mode = padding_mode
        shape = (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        _add_parameters(self, shape, self.out_channels, bias, dtype)

    def reset_parameters(self) -> None:
        """PyTorch's default (see the class docstring)."""
        _reset_parameters(self)

    def forward(self, x: Any) -> Tensor:
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        for arg, default in (("padding", (0, 0)), ("output_padding", (0, 0)),
                             ("dilation", (1, 1))):
            if getattr(self, arg) != default:
                s += f", {arg}={getattr(self, arg)}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s
