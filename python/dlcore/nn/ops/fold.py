"""``unfold`` (im2col) and ``fold`` (col2im), with PyTorch's ``(N, C * KH * KW, L)`` layout.

``unfold`` copies every sliding ``KH x KW`` block of a zero-padded image into a column;
``fold`` adds columns back into an image, summing where blocks overlap. They are each
other's adjoint (``<unfold(x), y> == <x, fold(y)>``), so each one's backward pass is the
other one applied to the gradient. The Rust kernels (``_core.unfold2d`` / ``_core.fold2d``,
the convolution's own im2col lowering) do the copying; ``dlcore.reference.fold`` is the
NumPy version the tests compare against.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple, Union

import numpy as np

from ... import _core
from ...tensor import ArrayLike, Tensor, as_tensor, check_real_dtype
from .conv import _pair

IntPair = Union[int, Tuple[int, int]]
Pair = Tuple[int, int]


class _Geometry:
    """Kernel size, dilation, padding and stride as pairs, checked once."""

    def __init__(self, op: str, kernel_size: Any, dilation: Any, padding: Any,
                 stride: Any) -> None:
        self.kernel = _pair(kernel_size, "kernel_size", op)
        self.dilation = _pair(dilation, "dilation", op)
        self.padding = _pair(padding, "padding", op)
        self.stride = _pair(stride, "stride", op)
        for name in ("kernel", "dilation", "stride"):
            if min(getattr(self, name)) < 1:
                label = "kernel_size" if name == "kernel" else name
                raise ValueError(f"{op}: {label} must be positive, got {getattr(self, name)}")
        if min(self.padding) < 0:
            raise ValueError(f"{op}: padding must be non-negative, got {self.padding}")

    def blocks(self, size: Pair) -> Pair:
        """The number of block positions along each dimension of an image of ``size``:
        ``(size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1``."""
        return tuple(  # type: ignore[return-value]
            (n + 2 * p - d * (k - 1) - 1) // s + 1
            for n, p, d, k, s in zip(size, self.padding, self.dilation, self.kernel, self.stride))

    def describe(self) -> str:
        return (f"kernel_size={self.kernel}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")

    def kernel_args(self) -> Dict[str, Pair]:
        """The keyword arguments of ``_core.unfold2d`` / ``_core.fold2d``."""
        return dict(kernel_size=self.kernel, dilation=self.dilation, padding=self.padding,
                    stride=self.stride)


def _floats(x: Tensor, op: str) -> Tuple[np.ndarray, np.dtype]:
    """``x``'s data as the kernels take it (C-contiguous float32 or float64), and the dtype of
    the result: ``x``'s own for floats (float16 is computed in float32), float32 for ints."""
    check_real_dtype(x.dtype, op, "input")
    result = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    compute = np.float64 if result.itemsize >= 8 else np.float32
    return np.ascontiguousarray(x.data, dtype=compute), result


def _contiguous(g: np.ndarray, shape: Tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A gradient reshaped to ``shape``, as a C-contiguous array of the kernels' ``dtype``."""
    return np.ascontiguousarray(np.reshape(g, shape), dtype=dtype)


def unfold(input: ArrayLike, kernel_size: IntPair, dilation: IntPair = 1, padding: IntPair = 0,
           stride: IntPair = 1) -> Tensor:
    """Extract sliding local blocks (im2col).

    Args:
        input: ``(N, C, H, W)`` or unbatched ``(C, H, W)``; integer input becomes float32.
        kernel_size, dilation, padding, stride: int or pair, as for ``conv2d`` (zero
            padding on both sides).

    Shape:
        ``(N, C, H, W) -> (N, C * KH * KW, L)`` with ``L = L_h * L_w`` block positions,
        ``L_h = floor((H + 2 * padding - dilation * (KH - 1) - 1) / stride) + 1``. Column
        ``l = h * L_w + w`` holds the block at ``(h, w)``, channel-major: row
        ``c * KH * KW + i * KW + j``.

    Example:
        >>> F.unfold(dlcore.randn(2, 3, 5, 5), kernel_size=3).shape
        (2, 27, 9)
    """
    op = "unfold"
    geo = _Geometry(op, kernel_size, dilation, padding, stride)
    x = as_tensor(input)
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: input must be (N, C, H, W) or (C, H, W), got shape {x.shape}")
    image, dtype = _floats(x, op)
    image = image[None] if x.ndim == 3 else image
    size = image.shape[2:]
    blocks = geo.blocks(size)
    if min(blocks) < 1:
        raise ValueError(f"{op}: input of spatial size {size} with {geo.describe()} gives "
                         f"{blocks} block positions; each must be at least 1")
    cols = _core.unfold2d(image, **geo.kernel_args())
    cols_shape, compute = cols.shape, image.dtype

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        grad = _core.fold2d(_contiguous(g, cols_shape, compute), size, **geo.kernel_args())
        return (grad.reshape(x.shape).astype(x.dtype, copy=False),)

    out = cols.astype(dtype, copy=False)
    # The gradient is a new array from the kernel: a leaf may keep it without a copy.
    return Tensor._from_op(out[0] if x.ndim == 3 else out, (x,), backward, fresh_grads=True)


def fold(input: ArrayLike, output_size: IntPair, kernel_size: IntPair, dilation: IntPair = 1,
         padding: IntPair = 0, stride: IntPair = 1) -> Tensor:
    """Sum sliding local blocks back into an image (col2im): the adjoint of :func:`unfold`.

    ``fold(unfold(x))`` is ``x`` times the number of blocks covering each pixel (``x`` itself
    when the blocks do not overlap, e.g. ``stride == kernel_size``).

    Args:
        input: ``(N, C * KH * KW, L)`` or unbatched ``(C * KH * KW, L)``, ``L`` the number
            of block positions that ``output_size`` and the other arguments give.
        output_size: ``(H, W)`` of the image (int or pair).
        kernel_size, dilation, padding, stride: as for :func:`unfold`.

    Shape: ``(N, C * KH * KW, L) -> (N, C, H, W)``.

    Example:
        >>> F.fold(dlcore.randn(2, 27, 9), output_size=5, kernel_size=3).shape
        (2, 3, 5, 5)
    """
    op = "fold"
    geo = _Geometry(op, kernel_size, dilation, padding, stride)
    size = _pair(output_size, "output_size", op)
    x = as_tensor(input)
    if x.ndim not in (2, 3):
        raise ValueError(f"{op}: input must be (N, C * KH * KW, L) or (C * KH * KW, L), got "
                         f"shape {x.shape}")
    if min(size) < 0:
        raise ValueError(f"{op}: output_size must be non-negative, got {size}")
    cols, dtype = _floats(x, op)
    cols = cols[None] if x.ndim == 2 else cols
    per_block = geo.kernel[0] * geo.kernel[1]
    if cols.shape[1] % per_block:
        raise ValueError(f"{op}: input {x.shape} has {cols.shape[1]} rows per block, not "
                         f"divisible by KH * KW = {per_block} for kernel_size={geo.kernel}")
    blocks = geo.blocks(size)
    if min(blocks) < 1 or blocks[0] * blocks[1] != cols.shape[2]:
        raise ValueError(f"{op}: output_size={size} with {geo.describe()} gives {blocks} block "
                         f"positions ({blocks[0] * blocks[1]} in all), but input {x.shape} has "
                         f"L = {cols.shape[2]}")
    image = _core.fold2d(cols, size, **geo.kernel_args())
    image_shape, compute = image.shape, cols.dtype

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        grad = _core.unfold2d(_contiguous(g, image_shape, compute), **geo.kernel_args())
        return (grad.reshape(x.shape).astype(x.dtype, copy=False),)

    out = image.astype(dtype, copy=False)
    # The gradient is a new array from the kernel: a leaf may keep it without a copy.
    return Tensor._from_op(out[0] if x.ndim == 2 else out, (x,), backward, fresh_grads=True)
