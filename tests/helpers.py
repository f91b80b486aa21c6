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
) -> None:
    """Assert ``op(*inputs)`` matches ``reference(*arrays)`` and its gradients match finite
    differences (float64).

    ``op`` receives dlcore Tensors; ``reference`` receives float64 NumPy arrays.
    """
    arrays = [np.asarray(x, dtype=np.float64) for x in inputs]
    if reference is not None:
        got = op(*[dlcore.tensor(a) for a in arrays])
        want = reference(*arrays)
        np.testing.assert_allclose(np.asarray(got.data), want, rtol=rtol, atol=atol)
    if grad:
        assert gradcheck(op, arrays, eps=eps, atol=grad_atol, rtol=grad_rtol)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)
