"""Batch normalisation layers with running statistics (PyTorch's semantics)."""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from ..tensor import Tensor, as_tensor
from . import functional as F
from . import init
from .module import Module, Parameter


class _BatchNorm(Module):
    _expected_dims: Tuple[int, ...] = ()
    _shape_text = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: Optional[float] = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        name = type(self).__name__
        if not isinstance(num_features, (int, np.integer)) or num_features < 1:
            raise ValueError(f"{name}: num_features must be a positive int, got {num_features!r}")
        if not eps > 0:
            raise ValueError(f"{name}: eps must be positive, got {eps}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum}")
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(np.empty(self.num_features, dtype=dtype))
            self.bias = Parameter(np.empty(self.num_features, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(self.num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(self.num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        """Statistics reset; ``weight`` 1 and ``bias`` 0 (the identity affine map)."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, x: Any) -> Tensor:
        x = as_tensor(x)
        name = type(self).__name__
        if x.ndim not in self._expected_dims:
            raise ValueError(f"{name}: expected input of shape {self._shape_text}, got shape "
                             f"{x.shape}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{name}: input {x.shape} has {x.shape[1]} channels in dim 1 but "
                             f"the layer was built for num_features={self.num_features}")
        # As Linear and Conv2d do: uint8 images and float64 arrays run in the layer's dtype.
        own = self.weight if self.weight is not None else self.running_mean
        if own is not None and x.dtype != own.dtype:
            x = x.astype(own.dtype)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            if self.momentum is None:  # cumulative moving average over all batches seen
                factor = 1.0 / float(self.num_batches_tracked.data)
        use_batch_stats = self.training or self.running_mean is None
        keep_stats = not self.training or self.track_running_stats
        return F.batch_norm(
            x,
            self.running_mean if keep_stats else None,
            self.running_var if keep_stats else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over ``(N, C)`` or ``(N, C, L)`` inputs, per feature ``C``.

    Args:
        num_features: ``C``.
        eps: added to the variance for stability.
        momentum: weight of the newest batch in the running statistics (None: a cumulative
            average over all batches).
        affine: learn a per-channel scale ``weight`` (init 1) and shift ``bias`` (init 0).
        track_running_stats: keep running statistics (buffers ``running_mean``,
            ``running_var``, ``num_batches_tracked``) and use them in eval mode; when False
            batch statistics are used in both modes.

    Shape: ``(N, C) -> (N, C)``, ``(N, C, L) -> (N, C, L)``.

    Example:
        >>> model = nn.Sequential(nn.Linear(20, 64), nn.BatchNorm1d(64), nn.ReLU())
    """

    _expected_dims = (2, 3)
    _shape_text = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of ``(N, C, H, W)`` feature maps, statistics per channel over
    ``N, H, W``. Arguments as :class:`BatchNorm1d`.

    Shape: ``(N, C, H, W) -> (N, C, H, W)``.
    """

    _expected_dims = (4,)
    _shape_text = "(N, C, H, W)"
