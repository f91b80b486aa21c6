"""``GroupNorm``: per-sample normalisation of channel groups (PyTorch's semantics)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from . import functional as F
from .layernorm import _AffineNorm
from .module import Parameter
from .ops.groupnorm import _positive_int


class GroupNorm(_AffineNorm):
    """Normalise each sample's channels in ``num_groups`` groups, then scale and shift each
    channel. No batch statistics: training and evaluation compute the same thing, and
    batches of one or two images are fine (where ``BatchNorm2d``'s statistics are noise).

    Args:
        num_groups: groups the channels are split into; must divide ``num_channels``.
        num_channels: ``C``, dimension 1 of the input.
        eps: added to the variance for stability.
        affine: learn a per-channel ``weight`` (init 1) and ``bias`` (init 0).

    Shape: ``(N, C, *) -> (N, C, *)``.

    Example:
        >>> block = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.GroupNorm(8, 32), nn.ReLU())
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, dtype: Any = np.float32) -> None:
        super().__init__()
        for name, value in (("num_groups", num_groups), ("num_channels", num_channels)):
            if not _positive_int(value):
                raise ValueError(f"GroupNorm: {name} must be a positive int, got {value!r}")
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels={num_channels} is not divisible by "
                             f"num_groups={num_groups}")
        if not eps > 0:
            raise ValueError(f"GroupNorm: eps must be positive, got {eps}")
        self.num_groups, self.num_channels = int(num_groups), int(num_channels)
        self.eps = float(eps)
        self.affine = bool(affine)
        if self.affine:
            self.weight = Parameter(np.ones(self.num_channels, dtype=dtype))
            self.bias = Parameter(np.zeros(self.num_channels, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self._dtype = np.dtype(dtype)

    def forward(self, x: Any) -> Tensor:
        x = self._in_layer_dtype(x)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: input has shape {x.shape}; expected (N, "
                             f"{self.num_channels}, *) for num_channels={self.num_channels}")
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
