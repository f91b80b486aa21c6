"""``interpolate`` (nearest neighbour): resize feature maps, as a decoder's upsampling step
that has no weights (the alternative to a transposed convolution)."""

from __future__ import annotations

from typing import Any, Tuple

import numpy as np

from ...tensor import ArrayLike, Tensor, as_tensor


def _output_size(op: str, shape: Tuple[int, ...], size: Any, scale_factor: Any
                 ) -> Tuple[int, ...]:
    spatial = len(shape) - 2
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor")
    if size is not None:
        out = (size,) * spatial if isinstance(size, (int, np.integer)) else tuple(size)
        if len(out) != spatial or not all(isinstance(s, (int, np.integer)) and s >= 1
                                          for s in out):
            raise ValueError(f"{op}: size must be a positive int or {spatial} of them for "
                             f"input of shape {shape}, got {size!r}")
        return tuple(int(s) for s in out)
    factors = ((scale_factor,) * spatial if isinstance(scale_factor, (int, float, np.number))
               else tuple(scale_factor))
    if len(factors) != spatial or not all(f > 0 for f in factors):
        raise ValueError(f"{op}: scale_factor must be positive, one or {spatial} of them, got "
                         f"{scale_factor!r}")
    out = tuple(int(np.floor(n * f)) for n, f in zip(shape[2:], factors))
    if min(out) < 1:
        raise ValueError(f"{op}: scale_factor {scale_factor!r} shrinks input of shape {shape} "
                         f"to nothing")
    return out


def interpolate(input: ArrayLike, size: Any = None, scale_factor: Any = None,
                mode: str = "nearest") -> Tensor:
    """Resize the spatial dimensions of ``(N, C, L)``, ``(N, C, H, W)`` (or more) input by
    nearest-neighbour sampling, as PyTorch's ``F.interpolate(mode='nearest')``: output
    position ``i`` copies input position ``floor(i * in / out)``.

    Give ``size`` (the output's spatial size) or ``scale_factor`` (``out = floor(in *
    factor)``). The gradient adds each output's gradient back to the input it copied, so an
    integer upscaling by ``k`` sums ``k x k`` blocks.

    Example:
        >>> F.interpolate(dlcore.zeros(1, 8, 7, 7), scale_factor=2).shape
        (1, 8, 14, 14)
    """
    op = "interpolate"
    if mode != "nearest":
        raise ValueError(f"{op}: only mode='nearest' is supported, got {mode!r}")
    x = as_tensor(input)
    if x.ndim < 3:
        raise ValueError(f"{op}: input must be (N, C, *spatial) with at least one spatial "
                         f"dimension, got shape {x.shape}")
    out_size = _output_size(op, x.shape, size, scale_factor)
    data = x.data
    in_size = x.shape[2:]
    if all(o % i == 0 for o, i in zip(out_size, in_size)):
        # Whole-number factors: repeat along each axis; the gradient sums the copies.
        factors = [o // i for o, i in zip(out_size, in_size)]
        out = data
        for axis, k in enumerate(factors, start=2):
            if k > 1:
                out = np.repeat(out, k, axis=axis)

        def backward(g: np.ndarray) -> Tuple[np.ndarray]:
            split = x.shape[:2] + tuple(d for n, k in zip(in_size, factors) for d in (n, k))
            axes = tuple(range(3, 2 + 2 * len(factors), 2))
            return (g.reshape(split).sum(axis=axes),)

        return Tensor._from_op(np.ascontiguousarray(out), (x,), backward)
    index = [np.floor(np.arange(o) * (i / o)).astype(np.intp) for o, i in zip(out_size, in_size)]
    grid = np.ix_(*index)
    out = data[(slice(None), slice(None)) + grid]

    def backward_any(g: np.ndarray) -> Tuple[np.ndarray]:
        full = np.zeros(x.shape, dtype=g.dtype)
        np.add.at(full, (slice(None), slice(None)) + grid, g)
        return (full,)

    return Tensor._from_op(out, (x,), backward_any)

