"""``batch_norm``: normalise each channel over the batch (and spatial) dimensions.

Per channel ``c``: ``y = (x - mean_c) / sqrt(var_c + eps) * weight_c + bias_c``. In training
the mean and the (biased) variance are those of the batch, and the running estimates move
toward them; in evaluation the running estimates are used, so the layer is a fixed affine
map. The statistics, the map and the gradients are Rust kernels (``_core.batch_norm_*``):
two passes over the data each way, sums in float64.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

import numpy as np

from ... import _core
from ...tensor import ArrayLike, Tensor, as_tensor

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _channel_vector(name: str, value: Any, channels: int, shape: Tuple[int, ...]
                    ) -> Optional[Any]:
    if value is None:
        return None
    got = value.shape if isinstance(value, (Tensor, np.ndarray)) else np.shape(value)
    if tuple(got) != (channels,):
        raise ValueError(f"batch_norm: {name} has shape {tuple(got)} but input {shape} has "
                         f"{channels} channels; expected ({channels},)")
    return value


def _update_running(buffer: Any, batch_value: np.ndarray, momentum: float) -> None:
    """``buffer = (1 - momentum) * buffer + momentum * batch_value``, in place."""
    array = buffer.data if isinstance(buffer, Tensor) else buffer
    array *= 1 - momentum
    array += momentum * batch_value


def batch_norm(
    input: ArrayLike,
    running_mean: Optional[Any],
    running_var: Optional[Any],
    weight: Optional[ArrayLike] = None,
    bias: Optional[ArrayLike] = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalisation (Ioffe & Szegedy, 2015) with PyTorch's semantics.

    Shape:
        input ``(N, C)``, ``(N, C, L)`` or ``(N, C, H, W)``; statistics, ``weight`` and
        ``bias`` ``(C,)``. Output: the input's shape.

    Args:
        running_mean, running_var: tensors (or arrays) updated in place when ``training``:
            ``running = (1 - momentum) * running + momentum * batch``, the variance entering
            unbiased (``* n / (n - 1)``, ``n`` values per channel) while the batch itself is
            normalised with the biased one. Used instead of batch statistics when not
            ``training``; may be None (batch statistics are then always used).
        training: normalise with the batch's statistics (and update the running ones).

    Gradient in training mode, with ``x_hat`` the normalised input, ``g`` the gradient of
    ``x_hat`` (``dL/dy * weight``) and means over the ``n`` values of a channel:
    ``dL/dx = (g - mean(g) - x_hat * mean(g * x_hat)) / sqrt(var + eps)`` — the batch mean and
    variance depend on every input, hence the two correction terms. In evaluation mode only
    ``g / sqrt(running_var + eps)`` remains.
    """
    x = as_tensor(input)
    if x.dtype.kind != "f":
        raise TypeError(f"batch_norm: input must be a float tensor, got dtype {x.dtype}")
    if x.ndim < 2:
        raise ValueError(f"batch_norm: input must be (N, C, *) with a channel dimension, got "
                         f"shape {x.shape}")
    channels = x.shape[1]
    for name, value in (("running_mean", running_mean), ("running_var", running_var),
                        ("weight", weight), ("bias", bias)):
        _channel_vector(name, value, channels, x.shape)
    data = x.data if x.dtype in _KERNEL_DTYPES else x.data.astype(np.float32)
    data = np.ascontiguousarray(data)
    dtype = data.dtype
    use_batch_stats = training or running_mean is None or running_var is None
    count = data.size // max(channels, 1)
    if use_batch_stats:
        if count <= 1 and training:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input shape {x.shape}")
        mean, var = _core.batch_norm_stats(data)
        if training and running_mean is not None:
            _update_running(running_mean, mean, momentum)
        if training and running_var is not None:
            _update_running(running_var, var * (count / max(count - 1, 1)), momentum)
    else:
        mean = _vector(running_mean, dtype)
        var = _vector(running_var, dtype)
    inv_std = (1.0 / np.sqrt(var + dtype.type(eps))).astype(dtype, copy=False)
    w = None if weight is None else as_tensor(weight)
    b = None if bias is None else as_tensor(bias)
    w_data = None if w is None else _vector(w, dtype)
    b_data = None if b is None else _vector(b, dtype)
    out = _core.batch_norm_forward(data, mean, inv_std, w_data, b_data)

    def backward(g: np.ndarray) -> Tuple[Optional[np.ndarray], ...]:
        g = np.ascontiguousarray(g, dtype=dtype)
        dx, dw, db = _core.batch_norm_backward(data, g, mean, inv_std, w_data, use_batch_stats)
        grads: List[Optional[np.ndarray]] = [dx if x.requires_grad else None]
        if w is not None:
            grads.append(dw if w.requires_grad else None)
        if b is not None:
            grads.append(db if b.requires_grad else None)
        return tuple(grads)

    parents = (x,) + tuple(t for t in (w, b) if t is not None)
    return Tensor._from_op(out, parents, backward)


def _vector(value: Any, dtype: np.dtype) -> np.ndarray:
    """A per-channel vector as a contiguous array of ``dtype`` (what the kernels take)."""
    array = value.data if isinstance(value, Tensor) else np.asarray(value)
    return np.ascontiguousarray(array, dtype=dtype)
