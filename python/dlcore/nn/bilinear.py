"""``Bilinear``: a learned bilinear form of two inputs, ``y = x1^T A x2 + b``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter


class Bilinear(Module):
    """``y[..., o] = x1^T A_o x2 + b_o``.

    Args:
        in1_features: size of each ``input1`` sample.
        in2_features: size of each ``input2`` sample.
        out_features: size of each output sample.
        bias: learn an additive bias.
        dtype: parameter dtype (float32 by default). Inputs are cast to it.

    Shape:
        ``(*, in1_features), (*, in2_features) -> (*, out_features)``; weight
        ``(out_features, in1_features, in2_features)``, bias ``(out_features,)``.

    Weight and bias start as PyTorch's do: ``U(-1/sqrt(in1_features), 1/sqrt(in1_features))``.

    Example:
        >>> layer = nn.Bilinear(20, 30, 40)
        >>> layer(np.ones((128, 20)), np.ones((128, 30))).shape
        (128, 40)
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int,
                 bias: bool = True, dtype: Any = np.float32) -> None:
        super().__init__()
        for name, value in (("in1_features", in1_features), ("in2_features", in2_features),
                            ("out_features", out_features)):
            if not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"Bilinear: {name} must be a non-negative int, got {value!r}")
        if np.dtype(dtype).kind != "f":
            raise TypeError(f"Bilinear: dtype must be a float dtype, got {np.dtype(dtype)}")
        self.in1_features = int(in1_features)
        self.in2_features = int(in2_features)
        self.out_features = int(out_features)
        self.weight = Parameter(np.empty((out_features, in1_features, in2_features), dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: weight and bias from ``U(-b, b)``, ``b = 1/sqrt(in1_features)``."""
        bound = 1.0 / math.sqrt(self.in1_features) if self.in1_features > 0 else 0.0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Any, input2: Any) -> Tensor:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
