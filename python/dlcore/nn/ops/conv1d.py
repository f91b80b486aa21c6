"""1-D convolution and pooling over ``(N, C, L)`` signals, differentiable.

A signal ``(N, C, L)`` is a one-row image ``(N, C, 1, L)``: each op checks its arguments in
1-D terms (so errors speak of ``L``, not of 4-D shapes), then calls its 2-D sibling with a
kernel of height 1 and reshapes the result back. The Rust kernels do the arithmetic and
autograd flows through the reshapes.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import numpy as np

from ...tensor import ArrayLike, Tensor, as_tensor, check_real_dtype
from .conv import conv2d
from .pooling import (
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    adaptive_min_pool2d,
    avg_pool2d,
    max_pool2d,
    min_pool2d,
)

IntSingle = Union[int, Tuple[int]]

_SIGNAL = "(N, C, L) or (C, L)"
_INT64_MAX = int(np.iinfo(np.int64).max)


def _single(value: Any, name: str, op: str, low: int) -> int:
    """An int (or a 1-tuple of one, as PyTorch accepts) of at least ``low``, else ValueError."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{op}: {name} must be an int or a 1-tuple of one, got {value!r}")
    if value < low:
        rule = "positive" if low > 0 else "non-negative"
        raise ValueError(f"{op}: {name} must be {rule}, got {value!r}")
    if value > _INT64_MAX:  # the kernels take int64: say so rather than overflow
        raise ValueError(f"{op}: {name} must be at most 2**63 - 1, got {value!r}")
    return int(value)


def _as_image(x: Tensor, op: str) -> Tuple[Tensor, bool]:
    """``(N, C, L)`` or ``(C, L)`` as a ``(N, C, 1, L)`` tensor, and whether it was unbatched."""
    check_real_dtype(x.dtype, op, "input")
    if x.ndim not in (2, 3):
        raise ValueError(f"{op}: input must be {_SIGNAL}, got shape {x.shape}")
    if x.shape[-1] == 0:
        raise ValueError(f"{op}: input {x.shape} has length L = 0")
    unbatched = x.ndim == 2
    n, c, length = (1,) + x.shape if unbatched else x.shape
    return x.reshape(n, c, 1, length), unbatched


def _as_signal(y: Tensor, unbatched: bool) -> Tensor:
    """The 2-D op's ``(N, C, 1, L_out)`` back as ``(N, C, L_out)`` (or ``(C, L_out)``)."""
    n, c, _, length = y.shape
    return y.reshape(c, length) if unbatched else y.reshape(n, c, length)


def conv1d_padding(padding: Any, kernel: int, stride: int, dilation: int,
                   op: str = "conv1d") -> Tuple[int, int]:
    """``padding`` (int, 1-tuple, ``'valid'`` or ``'same'``) as (left, right); ``'same'`` puts
    an odd total's extra element on the right, as PyTorch does."""
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0
        if padding == "same":
            if stride != 1:
                raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride}")
            total = dilation * (kernel - 1)
            return total // 2, total - total // 2
        raise ValueError(f"{op}: padding must be an int, 'valid' or 'same', got {padding!r}")
    side = _single(padding, "padding", op, 0)
    return side, side


def _check_conv_shapes(x: Tensor, w: Tensor, b: Optional[Tensor], groups: int) -> None:
    """Channels and bias of a conv1d, with the 1-D shapes in the messages."""
    op = "conv1d"
    c_in, (c_out, c_group, _) = x.shape[-2], w.shape
    if c_in == 0 or c_out == 0 or c_group == 0 or w.shape[2] == 0:
        raise ValueError(f"{op}: input and weight need channels and a kernel, got input "
                         f"{x.shape} and weight {w.shape}")
    if c_in % groups:
        raise ValueError(f"{op}: input {x.shape} has {c_in} channels, which groups={groups} "
                         f"does not divide")
    if c_out % groups:
        raise ValueError(f"{op}: weight {w.shape} has {c_out} output channels, which "
                         f"groups={groups} does not divide")
    if c_group * groups != c_in:
        with_groups = "" if groups == 1 else f" with groups={groups}"
        raise ValueError(f"{op}: input {x.shape} has {c_in} channels but weight {w.shape}"
                         f"{with_groups} expects {c_group * groups}")
    if b is not None and b.shape != (c_out,):
        raise ValueError(f"{op}: bias has shape {b.shape} but weight {w.shape} needs ({c_out},)")


def conv1d(input: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike] = None,
           stride: IntSingle = 1, padding: Union[IntSingle, str] = 0, dilation: IntSingle = 1,
           groups: int = 1) -> Tensor:
    """1-D convolution (cross-correlation) over a signal, as PyTorch's ``F.conv1d``.

    Args:
        input: ``(N, C_in, L)`` or unbatched ``(C_in, L)``; cast to the weight's dtype
            (integers included).
        weight: ``(C_out, C_in / groups, K)``, float32 or float64.
        bias: optional ``(C_out,)``.
        stride, dilation: positive int.
        padding: zeros on both sides: int, ``'valid'`` (none) or ``'same'`` (output as long
            as the input; stride 1 only; an odd total pads one more on the right).
        groups: split the channels into this many independent convolutions.

    Shape:
        ``(N, C_in, L) -> (N, C_out, L_out)`` with
        ``L_out = floor((L + 2 * padding - dilation * (K - 1) - 1) / stride) + 1``.

    Example:
        >>> x = dlcore.randn(8, 1, 100)
        >>> F.conv1d(x, np.array([[[1.0, 0.0, -1.0]]], np.float32)).shape
        (8, 1, 98)
    """
    op = "conv1d"
    x = as_tensor(input)
    w = as_tensor(weight)
    b = None if bias is None else as_tensor(bias)
    if w.ndim != 3:
        raise ValueError(f"{op}: weight must be 3-D (C_out, C_in/groups, K), got shape {w.shape}")
    if w.dtype not in (np.float32, np.float64):
        raise TypeError(f"{op}: weight must be float32 or float64, got {w.dtype}")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    step = _single(stride, "stride", op, 1)
    spacing = _single(dilation, "dilation", op, 1)
    kernel = w.shape[2]
    left, right = conv1d_padding(padding, kernel, step, spacing)
    image, unbatched = _as_image(x, op)
    _check_conv_shapes(x, w, b, int(groups))
    length = x.shape[-1]
    span = spacing * (kernel - 1) + 1
    if span > length + left + right:
        raise ValueError(f"{op}: kernel {kernel} with dilation {spacing} spans {span} but the "
                         f"padded input {x.shape} is only {length + left + right} long "
                         f"(L = {length}, padding ({left}, {right}))")
    # 'same' may pad unevenly; conv2d splits it the same way along W (and not at all along H).
    padding2 = "same" if isinstance(padding, str) and padding == "same" else (0, left)
    filters = w.reshape(w.shape[0], w.shape[1], 1, kernel)
    out = conv2d(image, filters, b, (1, step), padding2, (1, spacing), int(groups))
    return _as_signal(out, unbatched)


def pool1d_window(op: str, kernel_size: Any, stride: Any, padding: Any,
                 dilation: Any = 1) -> Tuple[int, int, int, int]:
    """``(kernel, stride, padding, dilation)``; the stride defaults to the kernel (None or an
    empty sequence, as in PyTorch) and the padding may be at most half the kernel."""
    kernel = _single(kernel_size, "kernel_size", op, 1)
    default = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
    step = kernel if default else _single(stride, "stride", op, 1)
    side = _single(padding, "padding", op, 0)
    spacing = _single(dilation, "dilation", op, 1)
    if side > kernel // 2:
        raise ValueError(f"{op}: padding {side} must be at most half the kernel size {kernel}")
    return kernel, step, side, spacing


def _check_pool_fits(op: str, shape: Tuple[int, ...], window: Tuple[int, int, int, int],
                     ceil_mode: bool) -> None:
    """At least one window, by PyTorch's output length (see the 2-D kernels' ``out_size``)."""
    kernel, step, side, spacing = window
    length = shape[-1]
    room = length + 2 * side - spacing * (kernel - 1) - 1 + (step - 1 if ceil_mode else 0)
    if room < 0:
        raise ValueError(f"{op}: kernel {kernel} with dilation {spacing} does not fit in input "
                         f"{shape} of length {length} with padding {side}")


def _extremum_pool1d(kind: str, input: ArrayLike, kernel_size: IntSingle, stride: Any,
                     padding: IntSingle, dilation: IntSingle, ceil_mode: bool,
                     return_indices: bool) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    op = f"{kind}_pool1d"
    window = pool1d_window(op, kernel_size, stride, padding, dilation)
    x = as_tensor(input)
    image, unbatched = _as_image(x, op)
    _check_pool_fits(op, x.shape, window, ceil_mode)
    kernel, step, side, spacing = window
    pool = max_pool2d if kind == "max" else min_pool2d
    result = pool(image, (1, kernel), (1, step), (0, side), (1, spacing), bool(ceil_mode),
                  return_indices)
    if return_indices:
        # The 2-D index is row * L + column, and the one row is row 0: the position along L.
        values, indices = result
        return _as_signal(values, unbatched), _as_signal(indices, unbatched)
    return _as_signal(result, unbatched)


def max_pool1d(input: ArrayLike, kernel_size: IntSingle, stride: Optional[IntSingle] = None,
               padding: IntSingle = 0, dilation: IntSingle = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """The maximum of each window along ``L``, as PyTorch's ``F.max_pool1d``.

    Args:
        input: ``(N, C, L)`` or ``(C, L)``; integers become float32.
        kernel_size: window length.
        stride: window step (default: ``kernel_size``).
        padding: implicit ``-inf`` on both ends, at most half the kernel.
        dilation: spacing between window elements.
        ceil_mode: round the output length up; the last window must still start inside the
            input or its left padding.
        return_indices: also return each maximum's position along ``L`` (int64).

    Shape:
        ``(N, C, L) -> (N, C, L_out)`` with
        ``L_out = floor((L + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``
        (``ceil`` in ceil mode).

    The gradient flows to the maximum of each window (the first one on ties); a NaN in a
    window is its maximum.
    """
    return _extremum_pool1d("max", input, kernel_size, stride, padding, dilation, ceil_mode,
                            return_indices)


def min_pool1d(input: ArrayLike, kernel_size: IntSingle, stride: Optional[IntSingle] = None,
               padding: IntSingle = 0, dilation: IntSingle = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """The minimum of each window: :func:`max_pool1d` mirrored (padding is ``+inf``), for
    dips and troughs that max pooling erases. Same arguments and shapes."""
    return _extremum_pool1d("min", input, kernel_size, stride, padding, dilation, ceil_mode,
                            return_indices)


def avg_pool1d(input: ArrayLike, kernel_size: IntSingle, stride: Optional[IntSingle] = None,
               padding: IntSingle = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None) -> Tensor:
    """The mean of each window along ``L``, as PyTorch's ``F.avg_pool1d``.

    Args:
        input: ``(N, C, L)`` or ``(C, L)``; integers become float32.
        kernel_size, stride (default ``kernel_size``), padding (zeros), ceil_mode: as in
            :func:`max_pool1d`.
        count_include_pad: divide by the window length including zero padding (clipped to
            the padded input) rather than by the number of input elements in the window.
        divisor_override: divide by this instead (an addition; PyTorch has it in 2-D only).

    Shape:
        ``(N, C, L) -> (N, C, L_out)``, ``L_out`` as in :func:`max_pool1d` with dilation 1.
    """
    op = "avg_pool1d"
    window = pool1d_window(op, kernel_size, stride, padding)
    d = divisor_override
    if d is not None and (isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d <= 0):
        raise ValueError(f"{op}: divisor_override must be a positive int, got {d!r}")
    x = as_tensor(input)
    image, unbatched = _as_image(x, op)
    _check_pool_fits(op, x.shape, window, ceil_mode)
    kernel, step, side, _ = window
    out = avg_pool2d(image, (1, kernel), (1, step), (0, side), bool(ceil_mode),
                     bool(count_include_pad), divisor_override)
    return _as_signal(out, unbatched)


def adaptive_avg_pool1d(input: ArrayLike, output_size: IntSingle) -> Tensor:
    """Average pooling to a fixed output length, whatever the input length.

    Output cell ``i`` averages input ``floor(i * L / L_out)`` up to
    ``ceil((i + 1) * L / L_out)``; ``output_size=1`` is global average pooling.

    Shape:
        ``(N, C, L) -> (N, C, output_size)``.
    """
    op = "adaptive_avg_pool1d"
    size = _single(output_size, "output_size", op, 1)
    image, unbatched = _as_image(as_tensor(input), op)
    return _as_signal(adaptive_avg_pool2d(image, (1, size)), unbatched)


def _adaptive_extremum_pool1d(kind: str, input: ArrayLike, output_size: IntSingle,
                              return_indices: bool) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    op = f"adaptive_{kind}_pool1d"
    size = _single(output_size, "output_size", op, 1)
    image, unbatched = _as_image(as_tensor(input), op)
    pool = adaptive_max_pool2d if kind == "max" else adaptive_min_pool2d
    result = pool(image, (1, size), return_indices)
    if return_indices:
        # As in _extremum_pool1d: the one row is row 0, so the flat index is the position.
        values, indices = result
        return _as_signal(values, unbatched), _as_signal(indices, unbatched)
    return _as_signal(result, unbatched)


def adaptive_max_pool1d(input: ArrayLike, output_size: IntSingle,
                        return_indices: bool = False) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """Max pooling to a fixed output length, whatever the input length.

    Output cell ``i`` takes the maximum of input ``floor(i * L / L_out)`` up to
    ``ceil((i + 1) * L / L_out)`` (first maximum on ties, NaN if the window holds one);
    ``output_size=1`` is global max pooling. With ``return_indices`` also returns each
    pick's position along L (int64).

    Shape:
        ``(N, C, L) -> (N, C, output_size)`` (or without ``N``).
    """
    return _adaptive_extremum_pool1d("max", input, output_size, return_indices)


def adaptive_min_pool1d(input: ArrayLike, output_size: IntSingle,
                        return_indices: bool = False) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """:func:`adaptive_max_pool1d` with the minimum (dlcore's own, like ``min_pool1d``)."""
    return _adaptive_extremum_pool1d("min", input, output_size, return_indices)
