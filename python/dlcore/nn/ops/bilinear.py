"""``bilinear``: ``y_o = x1^T A_o x2 + b_o``, one matrix ``A_o`` per output feature."""

from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np

from ...tensor import ArrayLike, Tensor, as_tensor


def _operand(value: ArrayLike, dtype: np.dtype) -> Tensor:
    t = as_tensor(value)
    if t.dtype.kind not in "fiub":
        raise TypeError(f"bilinear: inputs must be numeric, got dtype {t.dtype}")
    return t if t.dtype == dtype else t.astype(dtype)


def bilinear(input1: ArrayLike, input2: ArrayLike, weight: ArrayLike,
             bias: Optional[ArrayLike] = None) -> Tensor:
    """``out[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o]``.

    Shape:
        input1 ``(*, in1_features)``, input2 ``(*, in2_features)`` with the same leading
        dimensions, weight ``(out_features, in1_features, in2_features)``, bias
        ``(out_features,)`` -> ``(*, out_features)``.

    The inputs are cast to the weight's dtype. Gradients (rows ``m`` of the flattened batch):
    ``g1[m, i] = sum_oj g[m, o] W[o, i, j] x2[m, j]``, ``g2`` likewise,
    ``gW[o, i, j] = sum_m g[m, o] x1[m, i] x2[m, j]``, ``gb = sum_m g[m]``.
    """
    w = as_tensor(weight)
    if w.dtype.kind != "f":
        raise TypeError(f"bilinear: weight must be a float tensor, got dtype {w.dtype}")
    if w.ndim != 3:
        raise ValueError(f"bilinear: weight must be 3-D (out_features, in1_features, "
                         f"in2_features), got shape {w.shape}")
    out_features, in1, in2 = w.shape
    x1, x2 = _operand(input1, w.dtype), _operand(input2, w.dtype)
    if x1.ndim == 0 or x1.shape[-1] != in1:
        raise ValueError(f"bilinear: input1 has shape {x1.shape} but weight {w.shape} expects "
                         f"{in1} features in its last dimension")
    if x2.ndim == 0 or x2.shape[-1] != in2:
        raise ValueError(f"bilinear: input2 has shape {x2.shape} but weight {w.shape} expects "
                         f"{in2} features in its last dimension")
    if x1.shape[:-1] != x2.shape[:-1]:
        raise ValueError(f"bilinear: input1 {x1.shape} and input2 {x2.shape} must have the same "
                         f"leading (batch) dimensions")
    b = None
    if bias is not None:
        b = _operand(bias, w.dtype)
        if b.shape != (out_features,):
            raise ValueError(f"bilinear: bias has shape {b.shape} but expected ({out_features},)")
    lead = x1.shape[:-1]
    rows = math.prod(lead)
    a1, a2, wd = x1.data.reshape(rows, in1), x2.data.reshape(rows, in2), w.data
    # (x1 W_o) first: a (rows, out, in2) intermediate, then the dot with x2.
    left = np.einsum("mi,oij->moj", a1, wd)
    out = np.einsum("moj,mj->mo", left, a2)
    if b is not None:
        out = out + b.data
    parents: Tuple[Tensor, ...] = (x1, x2, w) if b is None else (x1, x2, w, b)

    def backward(g: np.ndarray) -> Tuple[Optional[np.ndarray], ...]:
        g2 = g.reshape(rows, out_features)
        g_x1 = g_x2 = g_w = g_b = None
        if x1.requires_grad:
            g_x1 = np.einsum("mo,oij,mj->mi", g2, wd, a2, optimize=True).reshape(x1.shape)
        if x2.requires_grad:
            g_x2 = np.einsum("mo,moj->mj", g2, left).reshape(x2.shape)
        if w.requires_grad:
            g_w = np.einsum("mo,mi,mj->oij", g2, a1, a2, optimize=True)
        if b is not None and b.requires_grad:
            g_b = g2.sum(axis=0)
        return (g_x1, g_x2, g_w) if b is None else (g_x1, g_x2, g_w, g_b)

    return Tensor._from_op(out.reshape(lead + (out_features,)).astype(w.dtype, copy=False),
                           parents, backward)
