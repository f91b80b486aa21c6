"""Shared test helper: check an op's forward against a NumPy reference and its backward
against float64 finite differences (``dlcore.autograd.gradcheck``)."""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import dlcore
import numpy as np
from dlcore.autograd import gradcheck


def check_op(
    fn: Callable[..., dlcore.Tensor],
    reference_fn: Optional[Callable[..., np.ndarray]],
    inputs: Sequence[Any],
    *,
    atol: float = 1e-10,
    rtol: float = 1e-10,
    float32_rtol: float = 1e-5,
    float32_atol: float = 1e-6,
    check_float32: bool = True,
    check_grad: bool = True,
    grad_eps: float = 1e-6,
    grad_atol: float = 1e-5,
    grad_rtol: float = 1e-3,
) -> None:
    """Compare ``fn(*inputs)`` with ``reference_fn(*inputs)`` and check its gradients.

    ``inputs`` are arrays; every one is differentiated (close over constants such as targets).
    The forward pass is compared in float64 (tight) and float32 (loose, against the float64
    reference); the gradient of every input is checked with ``gradcheck`` in float64.
    """
    arrays = [np.asarray(a, dtype=np.float64) for a in inputs]
    if reference_fn is not None:
        expected = np.asarray(reference_fn(*[a.copy() for a in arrays]))
        out = fn(*[dlcore.tensor(a) for a in arrays])
        assert out.dtype == np.float64, f"float64 inputs gave {out.dtype}"
        np.testing.assert_allclose(out.numpy(), expected, rtol=rtol, atol=atol)
        if check_float32:
            out32 = fn(*[dlcore.tensor(a.astype(np.float32)) for a in arrays])
            assert out32.dtype == np.float32, f"float32 inputs gave {out32.dtype}"
            np.testing.assert_allclose(out32.numpy(), expected, rtol=float32_rtol,
                                       atol=float32_atol)
    if check_grad:
        gradcheck(fn, arrays, eps=grad_eps, atol=grad_atol, rtol=grad_rtol)


def away_from(x: np.ndarray, points: Sequence[float], gap: float = 1e-3) -> np.ndarray:
    """``x`` with entries within ``gap`` of a kink (e.g. 0 for ReLU) pushed off it, so that
    finite differences do not straddle the kink."""
    x = np.array(x, dtype=np.float64)
    for p in points:
        near = np.abs(x - p) < gap
        x[near] = p + np.where(x[near] >= p, gap, -gap) * 2
    return x
