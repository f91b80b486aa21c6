"""``instance_norm``: normalise each sample's each channel over its own pixels.

Instance normalisation (Ulyanov et al., 2016) is batch normalisation of the input seen as one
sample with ``N * C`` channels, which is how PyTorch computes it and how it is computed here:
``(N, C, *)`` is viewed as ``(1, N * C, *)`` and handed to
:func:`dlcore.nn.functional.batch_norm` (its Rust kernels), with the running statistics
repeated ``N`` times going in and averaged over the ``N`` copies coming out. The forward pass
with the input's statistics is also ``group_norm`` with one channel per group; batch norm is
used because it covers the running-statistics path too (``use_input_stats=False``).
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from ...tensor import ArrayLike, Tensor, as_tensor, check_real_dtype
from .batchnorm import batch_norm


def _channel_vector(name: str, value: Any, channels: int, shape: Any) -> None:
    if value is None:
        return
    got = value.shape if isinstance(value, (Tensor, np.ndarray)) else np.shape(value)
    if tuple(got) != (channels,):
        raise ValueError(f"instance_norm: {name} has shape {tuple(got)} but input {shape} has "
                         f"{channels} channels; expected ({channels},)")


def _repeated(value: Any, copies: int) -> Optional[np.ndarray]:
    """A per-channel vector repeated for each sample: ``(C,) -> (copies * C,)``."""
    if value is None:
        return None
    array = value.data if isinstance(value, Tensor) else np.asarray(value)
    return np.tile(array, copies)


def _check_updatable(name: str, buffer: Any) -> None:
    if buffer is not None and not isinstance(buffer, (Tensor, np.ndarray)):
        raise TypeError(f"instance_norm: {name} is updated in place, so it must be a Tensor "
                        f"or a NumPy array, got {type(buffer).__name__}")


def _write_back(buffer: Any, repeated: np.ndarray, n: int, channels: int) -> None:
    """``buffer[:] = mean over the N samples`` of the per-sample running estimates."""
    target = buffer.data if isinstance(buffer, Tensor) else buffer
    target[...] = repeated.reshape(n, channels).mean(axis=0)


def instance_norm(
    input: ArrayLike,
    running_mean: Optional[Any] = None,
    running_var: Optional[Any] = None,
    weight: Optional[ArrayLike] = None,
    bias: Optional[ArrayLike] = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Instance normalisation with PyTorch's semantics.

    Per sample ``n`` and channel ``c``: ``y = (x - mean) / sqrt(var + eps) * weight_c +
    bias_c``, the mean and biased variance taken over that channel's pixels.

    Args:
        input: ``(N, C, *)``; integer input is promoted to float32.
        running_mean, running_var: optional ``(C,)`` tensors. With ``use_input_stats`` they
            are updated in place: ``running = (1 - momentum) * running + momentum *
            batch``, ``batch`` being the per-instance mean (or unbiased variance) averaged
            over the ``N`` samples. Without ``use_input_stats`` they normalise instead.
        weight, bias: optional ``(C,)`` scale and shift.
        use_input_stats: normalise with each instance's own statistics (training, or a
            layer without running statistics); False needs both running statistics.

    Shape: ``(N, C, *) -> (N, C, *)``; with ``use_input_stats`` the ``*`` dimensions must
    hold more than one element.

    Example:
        >>> y = F.instance_norm(dlcore.randn(4, 3, 8, 8))   # each (n, c) map: mean 0, var 1
    """
    x = as_tensor(input)
    check_real_dtype(x.dtype, "instance_norm", "input")
    if x.dtype.kind != "f":
        x = x.astype(np.float32)
    if x.ndim < 2:
        raise ValueError(f"instance_norm: input must be (N, C, *), got shape {x.shape}")
    n, channels = x.shape[0], x.shape[1]
    for name, value in (("running_mean", running_mean), ("running_var", running_var),
                        ("weight", weight), ("bias", bias)):
        _channel_vector(name, value, channels, x.shape)
    spatial = math.prod(x.shape[2:])
    if use_input_stats and spatial == 1:
        raise ValueError(f"instance_norm: expected more than 1 spatial element when using the "
                         f"input's statistics, got input shape {x.shape}")
    if use_input_stats:
        _check_updatable("running_mean", running_mean)
        _check_updatable("running_var", running_var)
    if not use_input_stats and (running_mean is None or running_var is None):
        raise ValueError("instance_norm: use_input_stats=False needs running_mean and "
                         "running_var, got None")
    if x.data.size == 0:  # nothing to normalise; the running statistics stay as they are
        out = x * 1
    else:
        mean_copies = _repeated(running_mean, n)
        var_copies = _repeated(running_var, n)
        flat = x.reshape((1, n * channels) + x.shape[2:])
        out = batch_norm(flat, mean_copies, var_copies, None, None, bool(use_input_stats),
                         momentum, eps).reshape(x.shape)
        if use_input_stats and mean_copies is not None:
            _write_back(running_mean, mean_copies, n, channels)
        if use_input_stats and var_copies is not None:
            _write_back(running_var, var_copies, n, channels)
    per_channel = (1, channels) + (1,) * (x.ndim - 2)
    if weight is not None:
        out = out * as_tensor(weight).reshape(per_channel)
    if bias is not None:
        out = out + as_tensor(bias).reshape(per_channel)
    return out
