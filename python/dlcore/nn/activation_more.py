"""The rest of PyTorch's activation layers, thin modules over
:mod:`dlcore.nn.ops.activation_more` (see there for formulas and gradients at the kinks).

Every layer maps any shape to the same shape elementwise, except ``GLU`` (halves ``dim``) and
``Softmin`` (along ``dim``).
"""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from .activation import _MaybeInPlace
from .module import Module
from .ops import activation_more as A


class Hardtanh(_MaybeInPlace):
    """``x`` clamped to ``[min_val, max_val]``. Shape: any -> same.

    Raises:
        ValueError: if ``min_val > max_val``.
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
                 ) -> None:
        super().__init__(inplace)
        if min_val > max_val:
            raise ValueError(f"{type(self).__name__}: min_val ({min_val}) must not be greater "
                             f"than max_val ({max_val})")
        self.min_val, self.max_val = float(min_val), float(max_val)

    def forward(self, x: Any) -> Tensor:
        return A.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return ", ".join(filter(None, [f"min_val={self.min_val}, max_val={self.max_val}",
                                       super().extra_repr()]))


class ReLU6(Hardtanh):
    """``min(max(x, 0), 6)``: ``Hardtanh(0, 6)``, as in PyTorch. Shape: any -> same."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return _MaybeInPlace.extra_repr(self)


class Hardsigmoid(_MaybeInPlace):
    """``relu6(x + 3) / 6``. Shape: any -> same."""

    def forward(self, x: Any) -> Tensor:
        return A.hardsigmoid(x)


class Hardswish(_MaybeInPlace):
    """``x * relu6(x + 3) / 6``. Shape: any -> same."""

    def forward(self, x: Any) -> Tensor:
        return A.hardswish(x)


class SELU(_MaybeInPlace):
    """``scale * elu(x, alpha)`` with SELU's fixed ``alpha`` and ``scale``. Shape: any -> same."""

    def forward(self, x: Any) -> Tensor:
        return A.selu(x)


class CELU(_MaybeInPlace):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``. Shape: any -> same.

    Raises:
        ValueError: if ``alpha == 0``.
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__(inplace)
        if alpha == 0:
            raise ValueError("CELU: alpha must not be 0 (it divides x)")
        self.alpha = float(alpha)

    def forward(self, x: Any) -> Tensor:
        return A.celu(x, self.alpha)

    def extra_repr(self) -> str:
        return ", ".join(filter(None, [f"alpha={self.alpha}", super().extra_repr()]))


class Mish(_MaybeInPlace):
    """``x * tanh(softplus(x))``. Shape: any -> same."""

    def forward(self, x: Any) -> Tensor:
        return A.mish(x)


class Softsign(Module):
    """``x / (1 + |x|)``. Shape: any -> same."""

    def forward(self, x: Any) -> Tensor:
        return A.softsign(x)


class LogSigmoid(Module):
    """``log(sigmoid(x))``, stable for large ``|x|``. Shape: any -> same."""

    def forward(self, x: Any) -> Tensor:
        return A.logsigmoid(x)


class Tanhshrink(Module):
    """``x - tanh(x)``. Shape: any -> same."""

    def forward(self, x: Any) -> Tensor:
        return A.tanhshrink(x)


class _Shrink(Module):
    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        if not lambd >= 0:
            raise ValueError(f"{type(self).__name__}: lambd must be >= 0, got {lambd}")
        self.lambd = float(lambd)

    def extra_repr(self) -> str:
        return str(self.lambd)  # PyTorch shows Softshrink(0.5)


class Softshrink(_Shrink):
    """``x -+ lambd`` outside ``[-lambd, lambd]``, 0 on it. Shape: any -> same."""

    def forward(self, x: Any) -> Tensor:
        return A.softshrink(x, self.lambd)


class Hardshrink(_Shrink):
    """``x`` outside ``[-lambd, lambd]``, 0 on it. Shape: any -> same."""

    def forward(self, x: Any) -> Tensor:
        return A.hardshrink(x, self.lambd)


class Threshold(_MaybeInPlace):
    """``x`` where ``x > threshold``, else ``value``. Shape: any -> same.

    Example:
        >>> act = nn.Threshold(0.1, 20.0)
    """

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__(inplace)
        self.threshold, self.value = float(threshold), float(value)

    def forward(self, x: Any) -> Tensor:
        return A.threshold(x, self.threshold, self.value)

    def extra_repr(self) -> str:
        return ", ".join(filter(None, [f"threshold={self.threshold}, value={self.value}",
                                       super().extra_repr()]))


class GLU(Module):
    """Gated linear unit ``a * sigmoid(b)``, ``a``, ``b`` the halves of the input along ``dim``.

    Shape:
        ``(*, 2M, *) -> (*, M, *)``, halving dimension ``dim`` (default: the last).
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Any) -> Tensor:
        return A.glu(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(Module):
    """``softmax(-x)`` along ``dim`` (default: the last dimension). Shape: any -> same."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Any) -> Tensor:
        return A.softmin(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
