"""Pooling: max, min, average and their adaptive forms, differentiable, on the Rust kernels."""

from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import numpy as np

from ... import _core
from ..._grad_mode import is_grad_enabled
from ...tensor import ArrayLike, Tensor, as_tensor, check_real_dtype
from .conv import IntPair, _batched, _pair


def _float_data(x: Tensor, op: str) -> np.ndarray:
    data = x.data
    check_real_dtype(data.dtype, op, "input")
    if data.dtype not in (np.float32, np.float64):
        data = data.astype(np.float32)
    return _batched(np.ascontiguousarray(data), op)


def _window(op: str, kernel_size: Any, stride: Any, padding: Any,
            dilation: Any = 1) -> Tuple[Tuple[int, int], ...]:
    kernel = _pair(kernel_size, "kernel_size", op)
    # PyTorch's default stride is the kernel size (None, or an empty list).
    stride2 = kernel if stride is None or stride == [] or stride == () else _pair(
        stride, "stride", op)
    return kernel, stride2, _pair(padding, "padding", op), _pair(dilation, "dilation", op)


def _extremum_pool(kind: str, input: ArrayLike, kernel_size: IntPair, stride: Any,
                   padding: IntPair, dilation: IntPair, ceil_mode: bool,
                   return_indices: bool) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    op = f"{kind}_pool2d"
    x = as_tensor(input)
    data = _float_data(x, op)
    window = _window(op, kernel_size, stride, padding, dilation)
    # The indices are only needed to route gradients back (or when asked for). Kept only for
    # the backward, 2x2 windows record one-byte pick codes instead of int32 flat indices.
    track = return_indices or (x.requires_grad and is_grad_enabled())
    out, indices = _core.extremum_pool2d(data, kind, *window, bool(ceil_mode), track,
                                         not return_indices)

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        g = np.ascontiguousarray(g.reshape(out.shape), dtype=data.dtype)
        grad = _core.extremum_pool2d_backward(g, indices, data.shape, kind, *window,
                                              bool(ceil_mode))
        return (grad.reshape(x.shape).astype(x.dtype, copy=False),)

    shape = out.shape[1:] if x.ndim == 3 else out.shape
    # The backward's gradient is a new array that nothing else holds: x.grad can take it
    # without a copy (8 MB on the benchmark's input).
    result = Tensor._from_op(out.reshape(shape), (x,), backward, fresh_grads=True)
    if return_indices:
        return result, Tensor(indices.reshape(shape).astype(np.int64))
    return result


def max_pool2d(input: ArrayLike, kernel_size: IntPair, stride: Optional[IntPair] = None,
               padding: IntPair = 0, dilation: IntPair = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """The maximum of each window.

    Args:
        input: ``(N, C, H, W)`` or ``(C, H, W)``.
        kernel_size: window size, int or pair.
        stride: window step (default: ``kernel_size``).
        padding: implicit ``-inf`` on both sides, at most half the kernel.
        dilation: spacing between window elements.
        ceil_mode: round the output size up; the last window must still start inside the
            input or its left padding.
        return_indices: also return the flat index ``h * W + w`` of each maximum (int64).

    Shape:
        ``H_out = floor((H + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``
        (``ceil`` in ceil mode).

    The gradient flows to the maximum of each window; on ties, to the first one (row-major),
    and a NaN in a window is its maximum, as in PyTorch.
    """
    return _extremum_pool("max", input, kernel_size, stride, padding, dilation, ceil_mode,
                          return_indices)


def min_pool2d(input: ArrayLike, kernel_size: IntPair, stride: Optional[IntPair] = None,
               padding: IntPair = 0, dilation: IntPair = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """The minimum of each window: :func:`max_pool2d` mirrored (padding is ``+inf``).

    Useful in image work for dark features (shadows, cracks, thin dark strokes), which max
    pooling erases. Ties go to the first element; NaN propagates.
    """
    return _extremum_pool("min", input, kernel_size, stride, padding, dilation, ceil_mode,
                          return_indices)


def avg_pool2d(input: ArrayLike, kernel_size: IntPair, stride: Optional[IntPair] = None,
               padding: IntPair = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None) -> Tensor:
    """The mean of each window.

    Args:
        input: ``(N, C, H, W)`` or ``(C, H, W)``.
        kernel_size, stride (default ``kernel_size``), padding (zeros), ceil_mode: as in
            :func:`max_pool2d`.
        count_include_pad: divide by the window size including zero padding (clipped to the
            padded input) rather than by the number of input elements in the window.
        divisor_override: divide by this instead.
    """
    op = "avg_pool2d"
    x = as_tensor(input)
    data = _float_data(x, op)
    kernel, stride2, padding2, _ = _window(op, kernel_size, stride, padding)
    d = divisor_override
    if d is not None and (isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d <= 0):
        raise ValueError(f"{op}: divisor_override must be a positive int, got {d!r}")
    args = (kernel, stride2, padding2, bool(ceil_mode), bool(count_include_pad),
            None if divisor_override is None else int(divisor_override))
    out = _core.avg_pool2d(data, *args)

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        g = np.ascontiguousarray(g.reshape(out.shape), dtype=data.dtype)
        grad = _core.avg_pool2d_backward(g, data.shape, *args)
        return (grad.reshape(x.shape).astype(x.dtype, copy=False),)

    shape = out.shape[1:] if x.ndim == 3 else out.shape
    return Tensor._from_op(out.reshape(shape), (x,), backward, fresh_grads=True)


def _adaptive_size(output_size: Any, shape: Tuple[int, ...], op: str) -> Tuple[int, int]:
    """``output_size`` (an int, or a pair where ``None`` keeps that dimension of the
    ``(N, C, H, W)`` input ``shape``) as ``(H_out, W_out)``."""
    if isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        output_size = tuple(shape[2 + i] if s is None else s for i, s in enumerate(output_size))
    return _pair(output_size, "output_size", op)


def _adaptive_extremum(kind: str, input: ArrayLike, output_size: Any,
                       return_indices: bool) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    op = f"adaptive_{kind}_pool2d"
    x = as_tensor(input)
    data = _float_data(x, op)
    out, indices = _core.adaptive_extremum_pool2d(
        data, kind, _adaptive_size(output_size, data.shape, op))

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        g = np.ascontiguousarray(g.reshape(out.shape), dtype=data.dtype)
        grad = _core.adaptive_extremum_pool2d_backward(g, indices, data.shape, kind)
        return (grad.reshape(x.shape).astype(x.dtype, copy=False),)

    shape = out.shape[1:] if x.ndim == 3 else out.shape
    result = Tensor._from_op(out.reshape(shape), (x,), backward, fresh_grads=True)
    if return_indices:
        return result, Tensor(indices.reshape(shape))
    return result


def adaptive_max_pool2d(input: ArrayLike, output_size: Any,
                        return_indices: bool = False) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """Max pooling to a fixed output size, whatever the input size.

    Output cell ``i`` (along each axis) takes the maximum of input ``floor(i * H / H_out)``
    up to ``ceil((i + 1) * H / H_out)``, as PyTorch's: the first maximum on ties, NaN if the
    window holds one. ``output_size`` is an int or a pair, where ``None`` keeps that input
    dimension; ``1`` is global max pooling. ``(N, C, H, W) -> (N, C, H_out, W_out)`` (or
    without ``N``). With ``return_indices`` also returns each pick's flat index
    ``h * W + w`` in its plane (int64).
    """
    return _adaptive_extremum("max", input, output_size, return_indices)


def adaptive_min_pool2d(input: ArrayLike, output_size: Any,
                        return_indices: bool = False) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """:func:`adaptive_max_pool2d` with the minimum (PyTorch has no such op; see
    :func:`min_pool2d`)."""
    return _adaptive_extremum("min", input, output_size, return_indices)


def adaptive_avg_pool2d(input: ArrayLike, output_size: Any) -> Tensor:
    """Average pooling to a fixed output size, whatever the input size.

    Output cell ``i`` (along each axis) averages input ``floor(i * H / H_out)`` up to
    ``ceil((i + 1) * H / H_out)``. ``output_size`` is an int or a pair, where ``None`` keeps
    that input dimension; ``1`` is global average pooling.
    """
    op = "adaptive_avg_pool2d"
    x = as_tensor(input)
    data = _float_data(x, op)
    out = _core.adaptive_avg_pool2d(data, _adaptive_size(output_size, data.shape, op))

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        g = np.ascontiguousarray(g.reshape(out.shape), dtype=data.dtype)
        grad = _core.adaptive_avg_pool2d_backward(g, data.shape)
        return (grad.reshape(x.shape).astype(x.dtype, copy=False),)

    shape = out.shape[1:] if x.ndim == 3 else out.shape
    return Tensor._from_op(out.reshape(shape), (x,), backward, fresh_grads=True)
