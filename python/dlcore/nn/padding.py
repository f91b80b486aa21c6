"""Padding layers with PyTorch's names: thin modules over :func:`dlcore.nn.functional.pad`.

``padding`` is an int (the same on every side) or a tuple in PyTorch's order, last dimension
first: ``(left, right)`` for the 1-d layers, ``(left, right, top, bottom)`` for the 2-d ones.
"""

from __future__ import annotations

from typing import Any, Sequence, Tuple, Union

import numpy as np

from ..tensor import Tensor, as_tensor
from . import functional as F
from .module import Module


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _padding_tuple(owner: str, padding: Any, sides: int) -> Tuple[int, ...]:
    """An int repeated ``sides`` times, or a tuple of ``sides`` ints."""
    if _is_int(padding):
        return (int(padding),) * sides
    if isinstance(padding, (tuple, list)) and len(padding) == sides and all(
            _is_int(p) for p in padding):
        return tuple(int(p) for p in padding)
    order = "(left, right)" if sides == 2 else "(left, right, top, bottom)"
    raise ValueError(f"{owner}: padding must be an int or a tuple of {sides} ints {order}, "
                     f"got {padding!r}")


class _PadNd(Module):
    """A padding mode, a padding tuple and, for the non-constant modes, the input ranks that
    PyTorch accepts (batched and unbatched)."""

    _mode = "constant"
    _sides = 2

    def __init__(self, padding: Union[int, Sequence[int]]) -> None:
        super().__init__()
        self.padding = _padding_tuple(type(self).__name__, padding, self._sides)

    def _check_rank(self, x: Tensor) -> None:
        ranks = (2, 3) if self._sides == 2 else (3, 4)
        if x.ndim not in ranks:
            raise ValueError(f"{type(self).__name__}: expected {ranks[0]}-D or {ranks[1]}-D "
                             f"input, got shape {x.shape}")

    def forward(self, x: Any) -> Tensor:
        x = as_tensor(x)
        self._check_rank(x)
        return F.pad(x, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding: Union[int, Sequence[int]], value: float) -> None:
        super().__init__(padding)
        self.value = float(value)

    def forward(self, x: Any) -> Tensor:
        # As F.pad in constant mode: any input with enough dimensions; negative pads crop.
        return F.pad(x, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dimension with ``value``.

    Args:
        padding: int, or ``(left, right)``; negative values crop.
        value: the fill.

    Shape: ``(*, W) -> (*, W + left + right)``.

    Example:
        >>> nn.ConstantPad1d((1, 2), 3.5)(dlcore.ones(1, 2, 3)).shape
        (1, 2, 6)
    """


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dimensions with ``value``.

    Args:
        padding: int, or ``(left, right, top, bottom)``; negative values crop.
        value: the fill.

    Shape: ``(*, H, W) -> (*, H + top + bottom, W + left + right)``.
    """

    _sides = 4


class ZeroPad1d(ConstantPad1d):
    """Pad the last dimension with zeros. ``padding``: int or ``(left, right)``.

    Shape: ``(*, W) -> (*, W + left + right)``.
    """

    def __init__(self, padding: Union[int, Sequence[int]]) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """Pad the last two dimensions with zeros. ``padding``: int or ``(left, right, top,
    bottom)``.

    Shape: ``(*, H, W) -> (*, H + top + bottom, W + left + right)``.

    Example:
        >>> nn.ZeroPad2d((1, 1, 2, 0))(dlcore.ones(1, 1, 3, 3)).shape
        (1, 1, 5, 5)
    """

    def __init__(self, padding: Union[int, Sequence[int]]) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    """Mirror the last dimension at its edges without repeating the edge value:
    ``[0, 1, 2, 3]`` padded by 2 on the left gives ``[2, 1, 0, 1, 2, 3]``.

    Args:
        padding: int or ``(left, right)``, each smaller than ``W``.

    Shape: ``(N, C, W)`` or ``(C, W)`` -> the same with ``W + left + right``.
    """

    _mode = "reflect"


class ReflectionPad2d(ReflectionPad1d):
    """Mirror the last two dimensions. ``padding``: int or ``(left, right, top, bottom)``,
    each smaller than the dimension it pads.

    Shape: ``(N, C, H, W)`` or ``(C, H, W)`` -> ``H + top + bottom``, ``W + left + right``.
    """

    _sides = 4


class ReplicationPad1d(_PadNd):
    """Repeat the edge value of the last dimension: ``[0, 1, 2]`` padded by 2 on the left
    gives ``[0, 0, 0, 1, 2]``. ``padding``: int or ``(left, right)``, any size.

    Shape: ``(N, C, W)`` or ``(C, W)`` -> the same with ``W + left + right``.
    """

    _mode = "replicate"


class ReplicationPad2d(ReplicationPad1d):
    """Repeat the edge values of the last two dimensions. ``padding``: int or ``(left,
    right, top, bottom)``.

    Shape: ``(N, C, H, W)`` or ``(C, H, W)`` -> ``H + top + bottom``, ``W + left + right``.
    """

    _sides = 4


class CircularPad1d(_PadNd):
    """Wrap the last dimension around: ``[0, 1, 2]`` padded by 2 on the left gives
    ``[1, 2, 0, 1, 2]``. ``padding``: int or ``(left, right)``, each at most ``W``.

    Shape: ``(N, C, W)`` or ``(C, W)`` -> the same with ``W + left + right``.
    """

    _mode = "circular"


class CircularPad2d(CircularPad1d):
    """Wrap the last two dimensions around (a torus). ``padding``: int or ``(left, right,
    top, bottom)``, each at most the dimension it pads.

    Shape: ``(N, C, H, W)`` or ``(C, H, W)`` -> ``H + top + bottom``, ``W + left + right``.
    """

    _sides = 4
