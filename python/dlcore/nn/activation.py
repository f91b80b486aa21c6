"""Activation layers: thin modules over ``dlcore.nn.functional``.

Every layer maps any shape to the same shape, elementwise (``Softmax``/``LogSoftmax`` along
``dim``; ``PReLU`` per channel of dim 1). Each is stable for large ``|x|``: no overflow, no NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from . import functional as F
from .module import Module, Parameter


class Step(Module):
    """Heaviside step ``1 if x > 0 else 0``: the perceptron's threshold unit.

    Its gradient is 0 almost everywhere (and undefined at 0), so nothing upstream of it can be
    trained by backpropagation; see :class:`dlcore.nn.Perceptron` for Rosenblatt's rule.
    """

    def forward(self, x: Any) -> Tensor:
        return F.step(x)


class _MaybeInPlace(Module):
    """An activation that takes PyTorch's ``inplace`` flag: kept and shown, so ported models
    build and print as they did, but the output is always a new tensor with the same values
    (autograd needs the input kept anyway)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = bool(inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU(_MaybeInPlace):
    """``max(x, 0)`` elementwise. Shape: any -> same."""

    def forward(self, x: Any) -> Tensor:
        return F.relu(x)


class LeakyReLU(_MaybeInPlace):
    """``x`` where ``x > 0``, else ``negative_slope * x``. Shape: any -> same."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__(inplace)
        self.negative_slope = float(negative_slope)

    def forward(self, x: Any) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return ", ".join(filter(None, [f"negative_slope={self.negative_slope}",
                                       super().extra_repr()]))


class PReLU(Module):
    """Leaky ReLU whose negative slope is learned.

    Args:
        num_parameters: 1 (one slope shared by all inputs) or the number of channels ``C``
            (one slope per channel, dim 1 of the input).
        init: the slopes' initial value.

    Shape:
        ``(N, C, *) -> (N, C, *)``; any shape when ``num_parameters == 1``.

    Example:
        >>> act = nn.PReLU(16)       # after a Conv2d with 16 output channels
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype: Any = np.float32
                 ) -> None:
        super().__init__()
        if not isinstance(num_parameters, (int, np.integer)) or num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be a positive int, got "
                             f"{num_parameters!r}")
        self.num_parameters = int(num_parameters)
        self.weight = Parameter(np.full(self.num_parameters, init, dtype=dtype))

    def forward(self, x: Any) -> Tensor:
        return F.prelu(x, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class ELU(_MaybeInPlace):
    """``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``. Shape: any -> same."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__(inplace)
        self.alpha = float(alpha)

    def forward(self, x: Any) -> Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return ", ".join(filter(None, [f"alpha={self.alpha}", super().extra_repr()]))


class Softplus(Module):
    """``log(1 + exp(beta x)) / beta``, a smooth ReLU; linear where ``beta x > threshold``.
    Shape: any -> same. See :func:`dlcore.nn.functional.softplus`."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        if not beta > 0:
            raise ValueError(f"Softplus: beta must be positive, got {beta}")
        self.beta, self.threshold = float(beta), float(threshold)

    def forward(self, x: Any) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Sigmoid(Module):
    """``1 / (1 + exp(-x))`` elementwise. Shape: any -> same."""

    def forward(self, x: Any) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    """``tanh(x)`` elementwise. Shape: any -> same."""

    def forward(self, x: Any) -> Tensor:
        return F.tanh(x)


class GELU(Module):
    """``x * Phi(x)`` (``approximate='none'``) or its tanh approximation
    (``approximate='tanh'``). Shape: any -> same. See :func:`dlcore.nn.functional.gelu`."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Any) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(_MaybeInPlace):
    """``x * sigmoid(x)`` (swish) elementwise. Shape: any -> same."""

    def forward(self, x: Any) -> Tensor:
        return F.silu(x)


class Softmax(Module):
    """Softmax along ``dim`` (default: the last dimension). Shape: any -> same."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Any) -> Tensor:
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """Log-softmax along ``dim`` (default: the last dimension). Shape: any -> same."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Any) -> Tensor:
        return F.log_softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
