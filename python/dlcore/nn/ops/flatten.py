"""``flatten``: merge a range of dimensions into one (a view; the gradient is reshaped back)."""

from __future__ import annotations

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
