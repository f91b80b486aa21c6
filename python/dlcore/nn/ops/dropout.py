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

from ... import _core
from ...random import default_generator
from ...tensor import ArrayLike, Tensor, as_tensor

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _check_p(op: str, p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability p must be in [0, 1], got {p}")
    return float(p)


def _masked(x: Tensor, p: float, group: int) -> Tensor:
    """``x * mask``, the mask holding 0 or ``1/(1-p)``, one draw per ``group`` consecutive
    elements.

    The mask is a hash of ``(seed, index)`` computed in Rust (``_core.dropout``), with the seed
    drawn from dlcore's generator: the backward pass regenerates it from the seed instead of
    keeping it, and it does not depend on the number of threads.
    """
    data = x.data if x.dtype in _KERNEL_DTYPES else x.data.astype(np.float32)
    data = np.ascontiguousarray(data)
    seed = int(default_generator().integers(0, 2**63))
    out = _core.dropout(data, p, seed, group)

    def backward(g: np.ndarray) -> Tuple[np.ndarray]:
        return (_core.dropout(np.ascontiguousarray(g, dtype=data.dtype), p, seed, group),)

    return Tensor._from_op(out, (x,), backward)


def dropout(input: ArrayLike, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the others by ``1/(1-p)``.

    The identity when ``training`` is False or ``p == 0``. Each call draws one seed from
    ``dlcore.random.default_generator()``, so ``dlcore.manual_seed`` makes the masks
    repeatable.
    ``inplace`` is accepted for PyTorch compatibility; the result is always a new tensor.
    Gradient: the same mask times the incoming gradient.
    """
    p = _check_p("dropout", p)
    x = as_tensor(input)
    if not training or p == 0.0:
        return x
    return _masked(x, p, 1)


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
    feature_map = int(np.prod(x.shape[2:]))
    return _masked(x, p, max(feature_map, 1))
