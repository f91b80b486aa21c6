"""``linear``: the fused affine map of a dense layer, forward and backward."""

from __future__ import annotations

import math
from typing import Any, Optional, Tuple

import numpy as np

from ...tensor import ArrayLike, Tensor, _matmul_arrays, as_tensor


def _input_array(x: Tensor, dtype: np.dtype, op: str) -> np.ndarray:
    data = x.data
    if data.dtype.kind not in "fiub":
        raise TypeError(f"{op}: input must be numeric, got dtype {data.dtype}")
    return data if data.dtype == dtype else data.astype(dtype)


def linear(input: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike] = None) -> Tensor:
    """``input @ weight.T + bias``.

    Shape:
        input ``(*, in_features)``, weight ``(out_features, in_features)``,
        bias ``(out_features,)`` -> ``(*, out_features)``.

    The input is cast to the weight's dtype (uint8 images and float64 arrays work directly).
    The transposes in forward and backward are read in place by the GEMM, never copied.
    """
    w = as_tensor(weight)
    x = as_tensor(input)
    if w.dtype.kind != "f":
        # The input is cast to the weight's dtype: an integer weight would truncate it.
        raise TypeError(f"linear: weight must be a float tensor, got dtype {w.dtype}")
    if w.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape "
                         f"{w.shape}")
    out_features, in_features = w.shape
    if x.ndim == 0 or x.shape[-1] != in_features:
        raise ValueError(
            f"linear: input has shape {x.shape} but weight {w.shape} expects {in_features} "
            f"input features in the last dimension"
        )
    b = None if bias is None else as_tensor(bias)
    if b is not None and b.shape != (out_features,):
        raise ValueError(f"linear: bias has shape {b.shape} but expected ({out_features},)")
    xd = _input_array(x, w.dtype, "linear")
    lead = xd.shape[:-1]
    x2 = xd.reshape(math.prod(lead), in_features)  # not -1: in_features may be 0
    wd = w.data
    out = _matmul_arrays(x2, wd.T)
    if b is not None:
        out += b.data
    parents: Tuple[Tensor, ...] = (x, w) if b is None else (x, w, b)

    def backward(g: np.ndarray) -> Tuple[Any, ...]:
        g2 = g.reshape(x2.shape[0], out_features)
        gx = _matmul_arrays(g2, wd).reshape(lead + (in_features,)) if x.requires_grad else None
        gw = _matmul_arrays(g2.T, x2) if w.requires_grad else None
        if b is None:
            return gx, gw
        return gx, gw, (g2.sum(axis=0) if b.requires_grad else None)

    return Tensor._from_op(out.reshape(lead + (out_features,)), parents, backward)
