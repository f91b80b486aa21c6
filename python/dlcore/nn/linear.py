"""Fully connected layers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter


class Identity(Module):
    """Returns its input unchanged (e.g. the linear output of a regression head)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x


class Linear(Module):
    """``y = x W^T + b``.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: learn an additive bias.
        dtype: parameter dtype (float32 by default). Inputs of another dtype are cast to it.

    Shape:
        ``(*, in_features) -> (*, out_features)``.

    Weights and bias start as PyTorch's do: ``U(-1/sqrt(in_features), 1/sqrt(in_features))``
    (Kaiming-uniform with ``a = sqrt(5)``).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"Linear: {name} must be a non-negative int, got {value!r}")
        if np.dtype(dtype).kind != "f":
            raise TypeError(f"Linear: dtype must be a float dtype, got {np.dtype(dtype)}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: Kaiming-uniform with ``a = sqrt(5)``, which works out to
        ``U(-1/sqrt(in_features), 1/sqrt(in_features))``, and the bias on the same bounds."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Any) -> Tensor:
        # Read the registered parameters from their registry: ``self.weight`` first fails
        # the normal attribute lookup, which costs a few microseconds per call.
        params = self._parameters
        weight = params["weight"] if "weight" in params else self.weight
        bias = params["bias"] if "bias" in params else self.bias
        return F.linear(x, weight, bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
