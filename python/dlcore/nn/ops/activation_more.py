"""The rest of PyTorch's activations: hard (piecewise-linear) units, SELU/CELU, Mish, the
shrink functions, and the ones composed of other ops (GLU, Softmin).

The pointwise ones run forward and backward in the Rust elementwise kernel (``_core``), like
those in :mod:`.activation`. Every one maps any shape to the same shape (``glu`` halves
``dim``). Where the derivative jumps, the gradient at the jump is PyTorch's choice; each
docstring says which. Integer inputs are promoted to float32; NaN propagates.

Where PyTorch's formula gives NaN at an infinite input (``hardswish(-inf)``, ``mish(-inf)``,
``softsign(+-inf)``), these give the limit instead (0, 0, +-1).
"""

from __future__ import annotations

import numpy as np

from ...tensor import ArrayLike, Tensor, _activation, as_tensor
from ...tensor import softmax as _softmax
from .activation import _check_dim


def hardtanh(input: ArrayLike, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """``x`` clamped to ``[min_val, max_val]``.

    Gradient 1 strictly inside, 0 outside and, as in PyTorch, 0 at exactly ``min_val`` or
    ``max_val``. ``inplace`` (here and below) is accepted for ported code; the result is
    always a new tensor.

    Raises:
        ValueError: if ``min_val > max_val``.
    """
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not be greater than max_val "
                         f"({max_val})")
    return _activation(as_tensor(input), "hardtanh", float(min_val), float(max_val))


def relu6(input: ArrayLike, inplace: bool = False) -> Tensor:
    """``min(max(x, 0), 6)``, i.e. ``hardtanh(x, 0, 6)``: gradient 0 at 0 and at 6."""
    return _activation(as_tensor(input), "hardtanh", 0.0, 6.0)


def hardsigmoid(input: ArrayLike, inplace: bool = False) -> Tensor:
    """``relu6(x + 3) / 6``: 0 for ``x <= -3``, 1 for ``x >= 3``, linear between.

    Gradient ``1/6`` on the open interval ``(-3, 3)``, 0 elsewhere (also at -3 and 3, as in
    PyTorch).
    """
    return _activation(as_tensor(input), "hardsigmoid")


def hardswish(input: ArrayLike, inplace: bool = False) -> Tensor:
    """``x * relu6(x + 3) / 6`` (MobileNetV3): 0 for ``x <= -3``, ``x`` for ``x >= 3``.

    Gradient ``x/3 + 1/2`` on the closed interval ``[-3, 3]``, 0 below it and 1 above. So at
    the kinks it is PyTorch's: -0.5 at ``x = -3`` and 1.5 at ``x = 3``.
    """
    return _activation(as_tensor(input), "hardswish")


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: ArrayLike, inplace: bool = False) -> Tensor:
    """``scale * (max(0, x) + min(0, alpha * (exp(x) - 1)))`` with Klambauer et al.'s
    ``alpha = 1.6732632423543772...`` and ``scale = 1.0507009873554804...`` (``SELU_ALPHA``,
    ``SELU_SCALE``), self-normalising with LeCun-normal weights.

    ``exp(x) - 1`` is computed without cancellation near 0. Gradient ``scale`` for ``x > 0``,
    ``scale * alpha * exp(x)`` for ``x <= 0`` (so ``scale * alpha`` at 0, as in PyTorch).
    """
    return _activation(as_tensor(input), "selu")


def celu(input: ArrayLike, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))`` (Barron, 2017); continuously
    differentiable, with gradient 1 for ``x > 0`` and ``exp(x / alpha)`` for ``x <= 0``.

    Raises:
        ValueError: if ``alpha == 0``.
    """
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (it divides x)")
    return _activation(as_tensor(input), "celu", float(alpha))


def mish(input: ArrayLike, inplace: bool = False) -> Tensor:
    """``x * tanh(softplus(x))`` (Misra, 2019).

    ``tanh(softplus(x))`` is evaluated as a ratio of polynomials in ``exp(-|x|)``, so it
    neither overflows for large ``x`` nor loses relative precision for very negative ``x``
    (where ``mish(x) ~ x e^x``). Gradient ``t + x (1 - t^2) sigmoid(x)``, ``t =
    tanh(softplus(x))``.
    """
    return _activation(as_tensor(input), "mish")


def softsign(input: ArrayLike) -> Tensor:
    """``x / (1 + |x|)``; gradient ``1 / (1 + |x|)^2``. ``+-inf`` give ``+-1``."""
    return _activation(as_tensor(input), "softsign")


def logsigmoid(input: ArrayLike) -> Tensor:
    """``log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))``: no overflow for large ``|x|``, and
    ``-exp(-x)`` keeps its relative precision for large ``x`` instead of rounding to 0.
    Gradient ``sigmoid(-x)``.
    """
    return _activation(as_tensor(input), "logsigmoid")


def tanhshrink(input: ArrayLike) -> Tensor:
    """``x - tanh(x)``; gradient ``tanh(x)^2``. Near 0 the result is about ``x^3 / 3`` and,
    as in PyTorch, carries the cancellation error of the subtraction (absolute, not relative
    precision)."""
    return _activation(as_tensor(input), "tanhshrink")


def _check_lambd(op: str, lambd: float) -> float:
    if not lambd >= 0:
        raise ValueError(f"{op}: lambd must be >= 0, got {lambd}")
    return float(lambd)


def softshrink(input: ArrayLike, lambd: float = 0.5) -> Tensor:
    """``x - lambd`` for ``x > lambd``, ``x + lambd`` for ``x < -lambd``, else 0.

    Gradient 1 outside ``[-lambd, lambd]`` and 0 on it, including its ends (PyTorch's choice).
    NaN propagates (PyTorch's CPU kernel maps it to 0).

    Raises:
        ValueError: if ``lambd < 0``.
    """
    return _activation(as_tensor(input), "softshrink", _check_lambd("softshrink", lambd))


def hardshrink(input: ArrayLike, lambd: float = 0.5) -> Tensor:
    """``x`` where ``|x| > lambd``, else 0; gradient 0 on ``[-lambd, lambd]`` (ends included).

    Raises:
        ValueError: if ``lambd < 0``.
    """
    return _activation(as_tensor(input), "hardshrink", _check_lambd("hardshrink", lambd))


def threshold(input: ArrayLike, threshold: float, value: float, inplace: bool = False
              ) -> Tensor:
    """``x`` where ``x > threshold``, else ``value``; gradient 1 where ``x > threshold`` and 0
    elsewhere (also at ``threshold``). NaN passes through, as in PyTorch."""
    return _activation(as_tensor(input), "threshold", float(threshold), float(value))


def glu(input: ArrayLike, dim: int = -1) -> Tensor:
    """Gated linear unit (Dauphin et al., 2017): ``a * sigmoid(b)``, where ``a`` and ``b`` are
    the first and second halves of ``input`` along ``dim``.

    Shape:
        ``(*, 2M, *) -> (*, M, *)``, halving dimension ``dim``.

    Raises:
        ValueError: if ``input`` is 0-d, ``dim`` is out of range or its size is odd.
    """
    x = as_tensor(input)
    _check_dim("glu", x, dim)
    size = x.shape[dim]
    if size % 2:
        raise ValueError(f"glu: dimension {dim} of input {x.shape} has odd size {size}; "
                         f"expected an even size to halve")
    if x.dtype.kind != "f":
        x = x.astype(np.float32)
    a, b = x.chunk(2, dim) if size else (x, x)
    return a * _activation(b, "sigmoid")


def softmin(input: ArrayLike, dim: int = -1) -> Tensor:
    """``softmax(-x)`` along ``dim``: weights that favour the smallest entries.

    ``dim`` defaults to the last dimension, as :func:`softmax` does here (PyTorch's
    ``dim=None`` picks a dimension from the rank, with a deprecation warning).
    """
    x = as_tensor(input)
    _check_dim("softmin", x, dim)
    if x.dtype.kind != "f":
        x = x.astype(np.float32)
    return _softmax(-x, dim)


__all__ = [
    "SELU_ALPHA",
    "SELU_SCALE",
    "celu",
    "glu",
    "hardshrink",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "logsigmoid",
    "mish",
    "relu6",
    "selu",
    "softmin",
    "softshrink",
    "softsign",
    "tanhshrink",
    "threshold",
]
