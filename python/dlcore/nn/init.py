"""Weight initialisation, in place, with PyTorch's names and formulas.

Every function overwrites ``tensor.data`` (a Parameter, a Tensor or a NumPy array) with draws
from ``dlcore.random.default_generator()`` — so ``dlcore.manual_seed`` makes them repeatable —
keeping its dtype, and returns the tensor. Gradients are not tracked.

The variance-preserving schemes pick the spread from the layer's fan:

* Xavier/Glorot (2010), for tanh/sigmoid nets: ``Var(w) = gain^2 * 2 / (fan_in + fan_out)``,
  which keeps activations and gradients at the same scale going forward and backward.
* Kaiming/He (2015), for ReLU nets: ``Var(w) = gain^2 / fan``, ``gain = sqrt(2)`` making up for
  ReLU zeroing half its inputs.

A uniform ``U(-a, a)`` has variance ``a^2 / 3``, hence the ``sqrt(3)`` in the uniform bounds.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Tuple, TypeVar

import numpy as np

from ..random import default_generator
from ..tensor import Tensor
from ..tensor_inplace import mark_all_written

T = TypeVar("T", Tensor, np.ndarray)

_LINEAR_LIKE = ("linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                "conv_transpose2d", "conv_transpose3d", "sigmoid")


def _array(tensor: Any, op: str) -> np.ndarray:
    array = tensor.data if isinstance(tensor, Tensor) else tensor
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{op}: expected a Tensor, Parameter or numpy array, got "
                        f"{type(tensor).__name__}")
    if array.dtype.kind != "f":
        raise TypeError(f"{op}: tensor must have a float dtype, got {array.dtype}")
    return array


def _fill(tensor: T, values: Any, op: str) -> T:
    array = _array(tensor, op)
    array[...] = values
    if isinstance(tensor, Tensor):
        mark_all_written((tensor,))
    return tensor


def calculate_gain(nonlinearity: str, param: Optional[float] = None) -> float:
    """The factor that scales weights so a layer followed by ``nonlinearity`` keeps unit
    variance: 1 for linear/conv/sigmoid, 5/3 for tanh, ``sqrt(2)`` for relu,
    ``sqrt(2 / (1 + slope^2))`` for leaky_relu (``param`` = slope, default 0.01), 3/4 for selu.
    """
    if nonlinearity in _LINEAR_LIKE:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Any) -> Tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight.

    Linear ``(out, in)``: ``(in, out)``. Conv ``(out, in / groups, kh, kw)``: each output sees
    ``in / groups * kh * kw`` inputs, each input feeds ``out * kh * kw`` outputs (per group).
    """
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out cannot be computed for a tensor with fewer than 2 "
                         f"dimensions, got shape {tuple(shape)}")
    receptive_field = 1
    for n in shape[2:]:
        receptive_field *= int(n)
    return int(shape[1]) * receptive_field, int(shape[0]) * receptive_field


def _calculate_correct_fan(tensor: Any, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: T, a: float = 0.0, b: float = 1.0) -> T:
    """Fill with ``U(a, b)``."""
    array = _array(tensor, "uniform_")
    if not a <= b:
        raise ValueError(f"uniform_: a must be <= b, got a={a}, b={b}")
    return _fill(tensor, default_generator().uniform(a, b, array.shape), "uniform_")


def normal_(tensor: T, mean: float = 0.0, std: float = 1.0) -> T:
    """Fill with ``N(mean, std^2)``."""
    array = _array(tensor, "normal_")
    if not std >= 0:
        raise ValueError(f"normal_: std must be non-negative, got {std}")
    return _fill(tensor, default_generator().normal(mean, std, array.shape), "normal_")


def constant_(tensor: T, val: float) -> T:
    """Fill with ``val``."""
    return _fill(tensor, val, "constant_")


def zeros_(tensor: T) -> T:
    """Fill with 0."""
    return _fill(tensor, 0, "zeros_")


def ones_(tensor: T) -> T:
    """Fill with 1."""
    return _fill(tensor, 1, "ones_")


def xavier_uniform_(tensor: T, gain: float = 1.0) -> T:
    """Glorot uniform: ``U(-a, a)``, ``a = gain * sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: T, gain: float = 1.0) -> T:
    """Glorot normal: ``N(0, std^2)``, ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std)


def kaiming_uniform_(tensor: T, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> T:
    """He uniform: ``U(-b, b)``, ``b = gain * sqrt(3 / fan)``.

    Args:
        a: negative slope of the leaky ReLU that follows (0: a ReLU).
        mode: ``'fan_in'`` keeps the forward activations' variance, ``'fan_out'`` the
            backward gradients'.
        nonlinearity: ``'relu'`` or ``'leaky_relu'`` (the defaults mean ReLU), or any name
            :func:`calculate_gain` knows.
    """
    fan = _calculate_correct_fan(tensor, mode)
    if fan == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: T, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> T:
    """He normal: ``N(0, std^2)``, ``std = gain / sqrt(fan)``; arguments as
    :func:`kaiming_uniform_`."""
    fan = _calculate_correct_fan(tensor, mode)
    if fan == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std)


__all__ = [
    "calculate_gain",
    "constant_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]
