"""``dropout1d`` (whole channels of sequences) and ``alpha_dropout`` (for SELU networks).

Alpha dropout (Klambauer et al., 2017) keeps a SELU network's activations at mean 0 and
variance 1: a dropped unit is set to SELU's negative saturation value ``alpha' = -scale *
alpha`` rather than to 0, and the result is mapped by ``a * y + b`` with ``a = 1 / sqrt((1 -
p) * (1 + p * alpha'^2))`` and ``b = -a * p * alpha'``, the affine map that restores mean 0
and variance 1 for a standardised input.
"""

from __future__ import annotations

import math
from typing import Tuple

import numpy as np

from ...random import default_generator
from ...tensor import ArrayLike, Tensor, as_tensor, check_real_dtype
from .dropout import _check_p, _masked

# SELU's -scale * alpha, the value a dropped unit takes (PyTorch's constant).
ALPHA_PRIME = -1.7580993408473766


def dropout1d(input: ArrayLike, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of a sequence: each ``(n, c)`` row of length ``L`` is dropped with
    probability ``p``, the others scaled by ``1/(1-p)``. The identity when not ``training``.

    Shape: ``(N, C, L)`` or unbatched ``(C, L)`` (each channel drawn once). Seeded by
    ``dlcore.manual_seed``; ``inplace`` is accepted for PyTorch compatibility.
    """
    p = _check_p("dropout1d", p)
    x = as_tensor(input)
    if x.ndim not in (2, 3):
        raise ValueError(f"dropout1d: input must be (N, C, L) or (C, L), got shape {x.shape}")
    if not training or p == 0.0 or x.data.size == 0:
        return x
    return _masked(x, p, x.shape[-1])


def alpha_dropout(input: ArrayLike, p: float = 0.5, training: bool = False,
                  inplace: bool = False) -> Tensor:
    """Alpha dropout, PyTorch's ``F.alpha_dropout`` (note: ``training`` defaults to False).

    Each element is dropped with probability ``p``: ``y = a * x + b`` if kept, ``a * alpha'
    + b`` if dropped, with ``alpha' = -1.7580993408473766``, ``a = 1 / sqrt((1 - p) * (1 +
    p * alpha'^2))`` and ``b = -a * p * alpha'``. ``p == 1`` gives zeros; not ``training``
    (or ``p == 0``) gives the input. Integer input is promoted to float32. Computed as
    PyTorch does, ``x * noise + offset``, so a NaN stays NaN even where it is dropped.

    Shape: any -> same. Gradient: ``a`` where kept, 0 where dropped.

    Example:
        >>> model = nn.Sequential(nn.Linear(64, 64), nn.SELU(), nn.AlphaDropout(0.1))
    """
    p = _check_p("alpha_dropout", p)
    x = as_tensor(input)
    check_real_dtype(x.dtype, "alpha_dropout", "input")
    if not training or p == 0.0 or x.data.size == 0:
        return x
    data = x.data if x.dtype.kind == "f" else x.data.astype(np.float32)
    if p == 1.0:
        return Tensor._from_op(data * data.dtype.type(0), (x,), lambda g: (g * 0,))
    keep = default_generator().random(x.shape) >= p
    a = 1.0 / math.sqrt((1.0 - p) * (1.0 + p * ALPHA_PRIME ** 2))
    b = -a * p * ALPHA_PRIME
    # PyTorch's arithmetic, ``x * noise + offset``: a dropped NaN stays NaN (NaN * 0).
    noise = keep.astype(data.dtype) * data.dtype.type(a)
    offset = np.where(keep, data.dtype.type(b), data.dtype.type(a * ALPHA_PRIME + b))
    out = data * noise + offset

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        return (g * noise.astype(g.dtype, copy=False),)

    return Tensor._from_op(out, (x,), backward)
