"""``LayerNorm``: per-sample normalisation over the last dimensions (PyTorch's semantics)."""

from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import numpy as np

from ..tensor import Tensor, as_tensor
from . import functional as F
from . import init
from .module import Module, Parameter
from .ops.layernorm import normalized_shape_tuple


class _AffineNorm(Module):
    """What LayerNorm and GroupNorm share: an optional learned ``weight`` (init 1) and
    ``bias`` (init 0), and inputs converted to the layer's dtype."""

    weight: Optional[Parameter]
    bias: Optional[Parameter]
    _dtype: np.dtype

    def reset_parameters(self) -> None:
        """``weight`` 1 and ``bias`` 0: the identity affine map."""
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def _in_layer_dtype(self, x: Any) -> Tensor:
        # As Linear and BatchNorm do: uint8 images and float64 arrays run in the layer's dtype.
        x = as_tensor(x)
        dtype = self.weight.dtype if self.weight is not None else self._dtype
        return x if x.dtype == dtype else x.astype(dtype)


class LayerNorm(_AffineNorm):
    """Normalise each sample over its last ``len(normalized_shape)`` dimensions to mean 0 and
    variance 1, then scale and shift per element.

    Args:
        normalized_shape: the trailing shape to normalise over, e.g. ``128`` for ``(N, 128)``
            features or ``(C, H, W)`` for whole feature maps.
        eps: added to the variance for stability.
        elementwise_affine: learn ``weight`` (init 1) and ``bias`` (init 0) of shape
            ``normalized_shape``.
        bias: with ``elementwise_affine``, whether to learn the shift too.

    Shape: ``(*, *normalized_shape) -> (*, *normalized_shape)``. The same in training and
    evaluation (no running statistics), and a batch of one works.

    Example:
        >>> model = nn.Sequential(nn.Linear(784, 256), nn.LayerNorm(256), nn.ReLU())
    """

    def __init__(self, normalized_shape: Union[int, Sequence[int]], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        self.normalized_shape = normalized_shape_tuple("LayerNorm", normalized_shape)
        if not eps > 0:
            raise ValueError(f"LayerNorm: eps must be positive, got {eps}")
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        if self.elementwise_affine:
            self.weight = Parameter(np.empty(self.normalized_shape, dtype=dtype))
            if bias:
                self.bias = Parameter(np.empty(self.normalized_shape, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self._dtype = np.dtype(dtype)
        self.reset_parameters()

    def forward(self, x: Any) -> Tensor:
        x = self._in_layer_dtype(x)
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
