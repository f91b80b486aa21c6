"""One helper that checks an op's forward against a reference and its backward numerically."""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy as np

import dlcore
from dlcore.autograd import gradcheck


def check_op(
    op: Callable[..., dlcore.Tensor],
    reference: Optional[Callable[..., np.ndarray]],
    inputs: Sequence[Any],
    *,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    grad: bool = True,
    grad_atol: float = 1e-5,
    grad_rtol: float = 1e-3,
    eps: float = 1e-6,
    float32_rtol: Optional[float] = None,
    float32_atol: float = 1e-6,
) -> None:
    """Assert ``op(*inputs)`` matches ``reference(*arrays)`` and its gradients match finite
    differences (float64).

    ``op`` receives dlcore Tensors; ``reference`` receives float64 NumPy arrays. With
    ``float32_rtol`` the op is also run on float32 copies of the inputs, which must give
    float32 results within that tolerance of the float64 reference.
    """
    arrays = [np.asarray(x, dtype=np.float64) for x in inputs]
    if reference is not None:
        got = op(*[dlcore.tensor(a) for a in arrays])
        want = reference(*[a.copy() for a in arrays])
        np.testing.assert_allclose(np.asarray(got.data), want, rtol=rtol, atol=atol)
        if float32_rtol is not None:
            got32 = op(*[dlcore.tensor(a.astype(np.float32)) for a in arrays])
            assert got32.dtype == np.float32, f"float32 inputs gave {got32.dtype}"
            np.testing.assert_allclose(np.asarray(got32.data), want, rtol=float32_rtol,
                                       atol=float32_atol)
    if grad:
        assert gradcheck(op, arrays, eps=eps, atol=grad_atol, rtol=grad_rtol)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def away_from(x: np.ndarray, points: Sequence[float], gap: float = 1e-3) -> np.ndarray:
    """``x`` with entries within ``gap`` of a kink (e.g. 0 for ReLU) pushed ``2 * gap`` off
    it, so finite differences do not straddle the kink."""
    x = np.array(x, dtype=np.float64)
    for p in points:
        near = np.abs(x - p) < gap
        x[near] = p + np.where(x[near] >= p, gap, -gap) * 2
    return x
