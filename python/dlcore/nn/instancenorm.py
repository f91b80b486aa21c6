"""Instance normalisation layers (PyTorch's semantics): per-sample, per-channel statistics."""

from __future__ import annotations

import warnings
from typing import Any, Optional

import numpy as np

from ..tensor import Tensor, as_tensor
from . import functional as F
from .batchnorm import _BatchNorm


class _InstanceNorm(_BatchNorm):
    """What InstanceNorm1d and InstanceNorm2d share. The parameters and buffers are those of
    batch norm (``weight``, ``bias``; ``running_mean``, ``running_var``,
    ``num_batches_tracked``, which instance norm never advances, as in PyTorch); only the
    defaults and the forward pass differ."""

    _spatial_dims = 1

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: Optional[float] = 0.1,
                 affine: bool = False, track_running_stats: bool = False,
                 dtype: Any = np.float32) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype)

    def forward(self, x: Any) -> Tensor:
        x = as_tensor(x)
        name = type(self).__name__
        batched = self._spatial_dims + 2
        if x.ndim not in (batched - 1, batched):
            raise ValueError(f"{name}: expected input of shape {self._shape_text}, got shape "
                             f"{x.shape}")
        channels = x.shape[x.ndim - self._spatial_dims - 1]
        if channels != self.num_features:
            if self.affine or self.track_running_stats:
                raise ValueError(f"{name}: input {x.shape} has {channels} channels but the "
                                 f"layer was built for num_features={self.num_features}")
            # PyTorch only warns: without affine or running statistics, num_features is unused.
            warnings.warn(f"{name}: input {x.shape} has {channels} channels but "
                          f"num_features={self.num_features}; it is not used because "
                          f"affine=False", UserWarning, stacklevel=2)
        unbatched = x.ndim == batched - 1
        if unbatched:
            x = x.reshape((1,) + x.shape)
        own = self.weight if self.weight is not None else self.running_mean
        if own is not None and x.dtype != own.dtype:
            x = x.astype(own.dtype)
        out = F.instance_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias,
            self.training or not self.track_running_stats,
            0.0 if self.momentum is None else self.momentum, self.eps)
        return out.reshape(out.shape[1:]) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Normalise each sample's each channel over its length ``L``, then (with ``affine``)
    scale and shift per channel.

    Args:
        num_features: ``C``.
        eps: added to the variance for stability.
        momentum: weight of the newest batch in the running statistics.
        affine: learn a per-channel ``weight`` (init 1) and ``bias`` (init 0). Off by
            default, unlike batch norm.
        track_running_stats: keep running averages of the per-instance statistics and
            normalise with them in eval mode; off by default, so training and evaluation
            both use each instance's own statistics.

    Shape: ``(N, C, L) -> (N, C, L)`` or unbatched ``(C, L) -> (C, L)``; ``L > 1`` when the
    instance's statistics are used.

    Example:
        >>> layer = nn.InstanceNorm1d(16, affine=True)
        >>> layer(dlcore.randn(4, 16, 50)).shape
        (4, 16, 50)
    """

    _spatial_dims = 1
    _shape_text = "(N, C, L) or (C, L)"


class InstanceNorm2d(_InstanceNorm):
    """Normalise each sample's each feature map over its ``H * W`` pixels (style transfer,
    image generation). Arguments as :class:`InstanceNorm1d`.

    Shape: ``(N, C, H, W) -> (N, C, H, W)`` or unbatched ``(C, H, W) -> (C, H, W)``.

    Example:
        >>> block = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.InstanceNorm2d(32),
        ...                       nn.ReLU())
    """

    _spatial_dims = 2
    _shape_text = "(N, C, H, W) or (C, H, W)"
