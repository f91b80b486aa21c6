"""``flatten`` merges a range of dimensions into one, ``unflatten`` splits one (views; the
gradient is reshaped back)."""

from __future__ import annotations

from typing import Sequence

from ...tensor import ArrayLike, Tensor, as_tensor


def flatten(input: ArrayLike, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim..end_dim`` (inclusive) into one.

    Shape: ``(d0, ..., d_start, ..., d_end, ...) -> (d0, ..., d_start * ... * d_end, ...)``.
    ``nn.Flatten`` uses ``start_dim=1`` so the batch dimension stays:
    ``(N, C, H, W) -> (N, C*H*W)``. A 0-d input becomes shape ``(1,)``.
    """
    x = as_tensor(input)
    if x.ndim == 0:
        return x.reshape(1)
    ndim = x.ndim
    for name, d in (("start_dim", start_dim), ("end_dim", end_dim)):
        if not -ndim <= d < ndim:
            raise ValueError(f"flatten: {name}={d} is out of range for input of shape "
                             f"{x.shape} ({ndim} dimensions)")
    start, end = start_dim % ndim, end_dim % ndim
    if start > end:
        raise ValueError(f"flatten: start_dim={start_dim} comes after end_dim={end_dim} for "
                         f"input of shape {x.shape}")
    if start == end:
        return x
    merged = 1
    for n in x.shape[start:end + 1]:
        merged *= n
    return x.reshape(x.shape[:start] + (merged,) + x.shape[end + 1:])


def unflatten(input: ArrayLike, dim: int, sizes: Sequence[int]) -> Tensor:
    """Split dimension ``dim`` into ``sizes`` (one entry may be -1), the inverse of
    :func:`flatten`: ``(N, C*H*W) -> (N, C, H, W)`` with ``dim=1, sizes=(C, H, W)``."""
    x = as_tensor(input)
    if not -x.ndim <= dim < max(x.ndim, 1) or x.ndim == 0:
        raise ValueError(f"unflatten: dim={dim} is out of range for input of shape {x.shape}")
    axis = dim % x.ndim
    sizes = tuple(int(s) for s in sizes)
    known = 1
    for s in sizes:
        known *= s if s != -1 else 1
    if (not sizes or sizes.count(-1) > 1 or any(s < -1 for s in sizes)
            or (-1 not in sizes and known != x.shape[axis])
            or (-1 in sizes and (known == 0 or x.shape[axis] % known))):
        raise ValueError(f"unflatten: sizes {sizes} do not split dim {dim} of size "
                         f"{x.shape[axis]} (input shape {x.shape}); their product must be "
                         f"{x.shape[axis]}")
    return x.reshape(x.shape[:axis] + sizes + x.shape[axis + 1:])
