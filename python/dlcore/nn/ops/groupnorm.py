"""``group_norm``: normalise each sample's channels in groups (Wu & He, 2018).

Batch normalisation needs batches large enough for good statistics; on a CPU, with batches of
a few images, group normalisation is the usual replacement. Each sample's ``C`` channels are
split into ``num_groups`` groups, and each group is normalised over its channels and pixels
together: layer normalisation of the reshaped ``(N, G, C/G * H * W)`` input, followed by a
per-channel scale and shift. ``num_groups = 1`` is layer normalisation over ``(C, H, W)``;
``num_groups = C`` is instance normalisation.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ...tensor import ArrayLike, Tensor, as_tensor
from .layernorm import layer_norm


def _positive_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0


def group_norm(input: ArrayLike, num_groups: int, weight: Optional[ArrayLike] = None,
               bias: Optional[ArrayLike] = None, eps: float = 1e-5) -> Tensor:
    """Group normalisation with PyTorch's semantics.

    Shape:
        input ``(N, C, *)`` with ``C`` divisible by ``num_groups``; ``weight`` and ``bias``
        ``(C,)``. Output: the input's shape, ``y = (x - mean) / sqrt(var + eps) * weight +
        bias`` with the mean and biased variance of each sample's group.

    Gradient: that of layer normalisation over each group (see
    :func:`dlcore.nn.functional.layer_norm`), then of the per-channel affine map.
    """
    x = as_tensor(input)
    if not _positive_int(num_groups):
        raise ValueError(f"group_norm: num_groups must be a positive int, got {num_groups!r}")
    if x.ndim < 2:
        raise ValueError(f"group_norm: input must be (N, C, *), got shape {x.shape}")
    n, channels = x.shape[0], x.shape[1]
    if channels % num_groups:
        raise ValueError(f"group_norm: the {channels} channels of input {x.shape} do not split "
                         f"into num_groups={num_groups} equal groups")
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and np.shape(value) != (channels,):
            raise ValueError(f"group_norm: {name} has shape {np.shape(value)}; expected "
                             f"({channels},), one per channel of input {x.shape}")
    group = x.data.size // max(n * num_groups, 1)
    if group == 0:  # no pixels: nothing to normalise, as an empty layer norm
        return x * 1
    grouped = layer_norm(x.reshape(n, num_groups, group), (group,), None, None, eps)
    out = grouped.reshape(x.shape)
    per_channel = (1, channels) + (1,) * (x.ndim - 2)
    if weight is not None:
        out = out * as_tensor(weight).reshape(per_channel)
    if bias is not None:
        out = out + as_tensor(bias).reshape(per_channel)
    return out
