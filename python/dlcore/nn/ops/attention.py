"""``scaled_dot_product_attention``: ``softmax(Q K^T * scale + mask) V``, PyTorch's semantics.

Composed of differentiable dlcore ops (matmul, masked_fill, softmax, dropout), so its
gradient with respect to the query, key, value and a float mask comes from theirs.

A query whose keys are all masked out (every score ``-inf``) gets attention weights of 0 and
an output of 0, and no gradient flows through that row. Softmax would give 0/0 = NaN there
(as older PyTorch releases do, and PyTorch's ``MultiheadAttention`` still does), and a NaN in
one padded row poisons every gradient of the batch even when the loss ignores that row.
Zero is also the limit of the empty key sequence (``S = 0``): a query that sees nothing
reads nothing.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ...tensor import ArrayLike, Tensor, _raw, as_tensor, check_real_dtype
from .dropout import _check_p, dropout


def float_tensor(x: ArrayLike, op: str, name: str) -> Tensor:
    """``x`` as a Tensor with a float dtype (integers become float32, as other ops do)."""
    t = as_tensor(x)
    check_real_dtype(t.dtype, op, name)
    return t if t.dtype.kind == "f" else t.astype(np.float32)


def masked_softmax(scores: Tensor) -> Tensor:
    """Softmax over the last dimension, with rows that are all ``-inf`` (or empty) set to 0
    instead of NaN. Shape ``(..., L, S) -> (..., L, S)``."""
    dead = np.isneginf(scores.data).all(axis=-1, keepdims=True)
    if not dead.any():
        return scores.softmax(dim=-1)
    # Any finite value makes the softmax of a dead row finite; masked_fill then zeroes it
    # and stops its gradient.
    return scores.masked_fill(dead, 0.0).softmax(dim=-1).masked_fill(dead, 0.0)


def causal_allowed(L: int, S: int) -> np.ndarray:
    """``(L, S)`` bool, True where query ``i`` may see key ``j``: ``j <= i`` (top-left
    aligned, as PyTorch's ``is_causal``)."""
    return np.tril(np.ones((L, S), dtype=bool))


def _check_shapes(q: Tensor, k: Tensor, v: Tensor) -> None:
    op = "scaled_dot_product_attention"
    for name, t, dims in (("query", q, "(..., L, E)"), ("key", k, "(..., S, E)"),
                          ("value", v, "(..., S, Ev)")):
        if t.ndim < 2:
            raise ValueError(f"{op}: {name} must be {dims} with at least 2 dimensions, got "
                             f"shape {t.shape}")
    if k.shape[-1] != q.shape[-1]:
        raise ValueError(f"{op}: key {k.shape} has embedding size {k.shape[-1]} but query "
                         f"{q.shape} has {q.shape[-1]}; expected key (..., S, {q.shape[-1]})")
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(f"{op}: value {v.shape} has {v.shape[-2]} positions but key "
                         f"{k.shape} has {k.shape[-2]}; expected value (..., {k.shape[-2]}, Ev)")


def _apply_mask(scores: Tensor, attn_mask: ArrayLike) -> Tensor:
    op = "scaled_dot_product_attention"
    mask = attn_mask if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
    dtype = np.dtype(mask.dtype)
    if dtype != np.bool_ and dtype.kind != "f":
        raise TypeError(f"{op}: attn_mask must be bool (True = take part) or float (added to "
                        f"the scores), got dtype {dtype}")
    try:
        target = np.broadcast_shapes(tuple(mask.shape), scores.shape)
    except ValueError:
        target = None
    if target != scores.shape:
        raise ValueError(f"{op}: attn_mask of shape {tuple(mask.shape)} does not broadcast to "
                         f"the scores' shape (..., L, S) = {scores.shape}")
    if dtype == np.bool_:
        return scores.masked_fill(~np.asarray(_raw(mask)), -math.inf)
    bias = as_tensor(mask)
    return scores + (bias if bias.dtype == scores.dtype else bias.astype(scores.dtype))


def scaled_dot_product_attention(query: ArrayLike, key: ArrayLike, value: ArrayLike,
                                 attn_mask: Optional[ArrayLike] = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: Optional[float] = None
                                 ) -> Tensor:
    """Attention of each query over the keys: ``softmax(Q K^T * scale + bias) V``.

    Args:
        query, key, value: ``(..., L, E)``, ``(..., S, E)``, ``(..., S, Ev)``; the leading
            dimensions broadcast (``(N, H, L, E)`` against ``(N, 1, S, E)``, say).
        attn_mask: broadcastable to ``(..., L, S)``. A bool mask says which keys each query
            may attend to (``True`` = takes part, as PyTorch's SDPA; note that
            ``nn.MultiheadAttention`` uses the opposite convention). A float mask is added to
            the scores (and receives a gradient).
        dropout_p: dropout on the attention weights. Applied whenever it is positive: like
            PyTorch, this function has no training flag; pass ``0.0`` when evaluating.
        is_causal: query ``i`` sees keys ``0..i`` only (top-left aligned when ``L != S``).
            Cannot be combined with ``attn_mask``.
        scale: multiplies ``Q K^T``; ``1 / sqrt(E)`` by default.

    Shape: ``(..., L, E), (..., S, E), (..., S, Ev) -> (..., L, Ev)``.

    A query that may attend to no key at all gets an output of 0 (older PyTorch releases
    give NaN); see the module docstring.

    Example:
        >>> q = dlcore.randn(2, 4, 10, 16)  # (N, heads, L, E)
        >>> out = F.scaled_dot_product_attention(q, q, q, is_causal=True)  # (2, 4, 10, 16)
    """
    op = "scaled_dot_product_attention"
    p = _check_p(op, dropout_p)
    q, k, v = (float_tensor(x, op, name) for x, name in
               ((query, "query"), (key, "key"), (value, "value")))
    _check_shapes(q, k, v)
    if is_causal and attn_mask is not None:
        raise ValueError(f"{op}: pass either attn_mask or is_causal=True, not both")
    factor = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    scores = (q @ k.transpose(-2, -1)) * factor
    if is_causal:
        scores = scores.masked_fill(~causal_allowed(q.shape[-2], k.shape[-2]), -math.inf)
    if attn_mask is not None:
        scores = _apply_mask(scores, attn_mask)
    weights = masked_softmax(scores)
    if p > 0.0:
        weights = dropout(weights, p)
    return weights @ v
