"""``pixel_shuffle`` and ``pixel_unshuffle``: trade channels for resolution (Shi et al., 2016).

Pure rearrangements (a reshape, a permutation, a reshape), so they keep the dtype and their
gradients are the inverse rearrangement, which the recorded reshape/permute ops provide.
"""

from __future__ import annotations

from typing import Any, Tuple

import numpy as np

from ...tensor import ArrayLike, Tensor, as_tensor


def _factor(op: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{op}: {name} must be a positive int, got {value!r}")
    return int(value)


def _split_shape(op: str, x: Tensor) -> Tuple[Tuple[int, ...], int, int, int]:
    if x.ndim < 3:
        raise ValueError(f"{op}: input must be (*, C, H, W) with at least 3 dimensions, got "
                         f"shape {x.shape}")
    *batch, c, h, w = x.shape
    return tuple(batch), c, h, w


def pixel_shuffle(input: ArrayLike, upscale_factor: int) -> Tensor:
    """Move blocks of ``r * r`` channels into ``r x r`` patches of pixels (``r`` the
    ``upscale_factor``): the output pixel ``(c, h * r + i, w * r + j)`` is the input's
    ``(c * r * r + i * r + j, h, w)``. A convolution to ``C * r * r`` channels followed by it
    is the usual learned upsampling.

    Shape: ``(*, C * r^2, H, W) -> (*, C, H * r, W * r)``.

    Example:
        >>> F.pixel_shuffle(dlcore.randn(1, 8, 3, 3), 2).shape
        (1, 2, 6, 6)
    """
    op = "pixel_shuffle"
    r = _factor(op, "upscale_factor", upscale_factor)
    x = as_tensor(input)
    batch, c, h, w = _split_shape(op, x)
    if c % (r * r):
        raise ValueError(f"{op}: input {x.shape} has {c} channels, not divisible by "
                         f"upscale_factor ** 2 = {r * r}")
    k = len(batch)
    blocks = x.reshape(batch + (c // (r * r), r, r, h, w))
    # (*, C, r_i, r_j, H, W) -> (*, C, H, r_i, W, r_j)
    order = tuple(range(k)) + (k, k + 3, k + 1, k + 4, k + 2)
    return blocks.permute(order).reshape(batch + (c // (r * r), h * r, w * r))


def pixel_unshuffle(input: ArrayLike, downscale_factor: int) -> Tensor:
    """The inverse of :func:`pixel_shuffle`: each ``r x r`` patch of pixels becomes ``r * r``
    channels (``r`` the ``downscale_factor``).

    Shape: ``(*, C, H * r, W * r) -> (*, C * r^2, H, W)``.

    Example:
        >>> F.pixel_unshuffle(dlcore.randn(1, 2, 6, 6), 2).shape
        (1, 8, 3, 3)
    """
    op = "pixel_unshuffle"
    r = _factor(op, "downscale_factor", downscale_factor)
    x = as_tensor(input)
    batch, c, h, w = _split_shape(op, x)
    if h % r or w % r:
        raise ValueError(f"{op}: input {x.shape} has height {h} and width {w}; both must be "
                         f"divisible by downscale_factor = {r}")
    k = len(batch)
    patches = x.reshape(batch + (c, h // r, r, w // r, r))
    # (*, C, H, r_i, W, r_j) -> (*, C, r_i, r_j, H, W)
    order = tuple(range(k)) + (k, k + 2, k + 4, k + 1, k + 3)
    return patches.permute(order).reshape(batch + (c * r * r, h // r, w // r))
