"""Dropout: zero random elements (or whole channels) while training, rescaling the rest.

Inverted dropout. Training multiplies each kept element by ``1 / (1 - p)``; evaluation is the
identity. The textbook form (Srivastava et al., 2014, whose ``p`` is the *keep* probability
``q = 1 - p``) instead leaves training unscaled and multiplies the outgoing weights by ``q``
at test time. Both make the test-time network output the training-time expectation: for the
next layer's pre-activation ``W (m * x)`` with ``m ~ Bernoulli(q)``, ``E[W (m * x)] = q W x``,
which the textbook matches by using ``q W`` at test time, and inverted dropout by training on
``W (m * x) / q`` (expectation ``W x``) and using ``W`` itself. A network trained one way is
the other with its weights rescaled by ``q``: the same functions at train and test time, the
gradient steps differing only by that constant factor (a learning-rate rescaling). Inverted
dropout puts the scaling where the randomness is, so inference code needs no change at all.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from ...random import default_generator
from ...tensor import ArrayLike, Tensor, as_tensor


def _check_p(op: str, p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability p must be in [0, 1], got {p}")
    return float(p)


def _masked(x: Tensor, mask_shape: Tuple[int, ...], p: float) -> Tensor:
    """``x * mask``, the mask (broadcast to ``x``) holding 0 or ``1/(1-p)``."""
    data = x.data if x.dtype.kind == "f" else x.data.astype(np.float32)
    dtype = data.dtype
    if p == 1.0:
        mask = np.zeros(mask_shape, dtype=dtype)
    else:
        # Uniform draws in [0, 1) are kept with probability 1 - p. Drawing float32 halves the
        # random bits needed; the resolution (2^-24) is far below any meaningful p.
        uniform = default_generator().random(mask_shape, dtype=np.float32)
        mask = (uniform >= p).astype(dtype)
        mask *= dtype.type(1.0 / (1.0 - p))
    return Tensor._from_op(data * mask, (x,), lambda g: (g * mask,))


def dropout(input: ArrayLike, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the others by ``1/(1-p)``.

    The identity when ``training`` is False or ``p == 0``. Random draws come from
    ``dlcore.random.default_generator()``, so ``dlcore.manual_seed`` makes them repeatable.
    ``inplace`` is accepted for PyTorch compatibility; the result is always a new tensor.
    Gradient: the same mask times the incoming gradient.
    """
    p = _check_p("dropout", p)
    x = as_tensor(input)
    if not training or p == 0.0:
        return x
    return _masked(x, x.shape, p)


def dropout2d(input: ArrayLike, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels: each ``(n, c)`` feature map is dropped with probability ``p``.

    Shape: ``(N, C, H, W)``; more generally ``(N, C, *)`` with one draw per ``(n, c)`` (a 3-D
    input is taken as ``(N, C, L)``, as PyTorch does today). Neighbouring pixels of a feature
    map are strongly correlated, so dropping single pixels barely regularises a conv net;
    dropping maps does.
    """
    p = _check_p("dropout2d", p)
    x = as_tensor(input)
    if x.ndim < 3:
        raise ValueError(f"dropout2d: input must be (N, C, H, W), got shape {x.shape}")
    if not training or p == 0.0:
        return x
    return _masked(x, x.shape[:2] + (1,) * (x.ndim - 2), p)
