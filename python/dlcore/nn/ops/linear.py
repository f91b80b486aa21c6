"""``linear``: the fused affine map of a dense layer, forward and backward."""

from __future__ import annotations

import math
from typing import Any, Optional, Tuple

import numpy as np

from ... import _core
from ...tensor import _RUST_DTYPES, ArrayLike, Tensor, as_tensor, check_real_dtype


def _input_array(x: Tensor, dtype: np.dtype, op: str) -> np.ndarray:
    data = x.data
    check_real_dtype(data.dtype, op, "input")
    return data if data.dtype == dtype else data.astype(dtype)


def linear(input: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike] = None) -> Tensor:
    """``input @ weight.T + bias``.

    Shape:
        input ``(*, in_features)``, weight ``(out_features, in_features)``,
        bias ``(out_features,)`` -> ``(*, out_features)``.

    The input is cast to the weight's dtype (uint8 images and float64 arrays work directly).
    The transposes in forward and backward are read in place by the GEMM, never copied.
    """
    # Every layer of every step comes through here: plain checks, no helper calls on the
    # common path (Tensors in, float32 everywhere).
    w = weight if isinstance(weight, Tensor) else as_tensor(weight)
    x = input if isinstance(input, Tensor) else as_tensor(input)
    wd = w.data
    if wd.dtype.kind != "f":
        # The input is cast to the weight's dtype: an integer weight would truncate it.
        raise TypeError(f"linear: weight must be a float tensor, got dtype {w.dtype}")
    if wd.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape "
                         f"{w.shape}")
    out_features, in_features = wd.shape
    xd = x.data
    if xd.ndim == 0 or xd.shape[-1] != in_features:
        raise ValueError(
            f"linear: input has shape {x.shape} but weight {w.shape} expects {in_features} "
            f"input features in the last dimension"
        )
    if bias is None:
        b = None
    else:
        b = bias if isinstance(bias, Tensor) else as_tensor(bias)
        if b.data.shape != (out_features,):
            raise ValueError(f"linear: bias has shape {b.shape} but expected ({out_features},)")
    if xd.dtype != wd.dtype:
        xd = _input_array(x, wd.dtype, "linear")
    lead = xd.shape[:-1]
    x2 = xd if xd.ndim == 2 else xd.reshape(math.prod(lead), in_features)  # in may be 0
    bd = None if b is None else b.data
    if wd.dtype not in _RUST_DTYPES:
        return _numpy_linear(x, w, b, x2, lead)
    if bd is not None and bd.dtype != wd.dtype:
        bd = bd.astype(wd.dtype)
    try:
        out = _core.linear_forward(x2, wd, bd)
    except ValueError:
        # Negative strides or a strided bias: the kernel wants plain layouts. (A real shape
        # error raises again from here.)
        x2, wd = np.ascontiguousarray(x2), np.ascontiguousarray(wd)
        bd = None if bd is None else np.ascontiguousarray(bd)
        out = _core.linear_forward(x2, wd, bd)
    parents: Tuple[Tensor, ...] = (x, w) if b is None else (x, w, b)

    def backward(g: np.ndarray) -> Tuple[Any, ...]:
        g2 = g if g.ndim == 2 else g.reshape(x2.shape[0], out_features)
        need_b = b is not None and b.requires_grad
        try:
            gx, gw, gb = _core.linear_backward(g2, x2, wd, x.requires_grad, w.requires_grad,
                                               need_b)
        except (TypeError, ValueError):  # a gradient of another dtype or layout
            g2 = np.ascontiguousarray(g2, dtype=wd.dtype)
            gx, gw, gb = _core.linear_backward(g2, x2, wd, x.requires_grad, w.requires_grad,
                                               need_b)
        if gx is not None and len(lead) != 1:
            gx = gx.reshape(lead + (in_features,))
        return gx, gw, gb

    if len(lead) != 1:
        out = out.reshape(lead + (out_features,))
    # The gradients are new arrays from the kernel: weight.grad can keep them as they are.
    return Tensor._from_op(out, parents, backward, True)


def _numpy_linear(x: Tensor, w: Tensor, b: Optional[Tensor], x2: np.ndarray,
                  lead: Tuple[int, ...]) -> Tensor:
    """``linear`` for dtypes the Rust kernels do not take (float16)."""
    wd = w.data
    out_features, in_features = wd.shape
    out = x2 @ wd.T
    if b is not None:
        out += b.data
    parents: Tuple[Tensor, ...] = (x, w) if b is None else (x, w, b)

    def backward(g: np.ndarray) -> Tuple[Any, ...]:
        g2 = g.reshape(x2.shape[0], out_features)
        gx = (g2 @ wd).reshape(lead + (in_features,)) if x.requires_grad else None
        gw = g2.T @ x2 if w.requires_grad else None
        gb = g2.sum(axis=0) if b is not None and b.requires_grad else None
        return gx, gw, gb

    return Tensor._from_op(out.reshape(lead + (out_features,)), parents, backward)
