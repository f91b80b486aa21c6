"""References for attention: scaled dot-product attention and multi-head attention.

Written from PyTorch's documented equations, one head and one batch element at a time, so
they share no reshaping tricks with dlcore's implementation. A query row whose keys are all
masked gets zero weights (and a zero output), as dlcore decides; PyTorch's math path gives NaN
there in older versions.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np


def masked_softmax(scores: np.ndarray) -> np.ndarray:
    """Softmax over the last axis; a row that is all ``-inf`` (or empty) becomes all 0."""
    top = scores.max(axis=-1, keepdims=True, initial=-np.inf)
    dead = np.isneginf(top)
    e = np.exp(scores - np.where(dead, 0.0, top))
    total = e.sum(axis=-1, keepdims=True)
    return np.where(dead, 0.0, e / np.where(dead, 1.0, total))


def attention_bias(L: int, S: int, attn_mask: Optional[np.ndarray], is_causal: bool
                   ) -> np.ndarray:
    """The additive bias of ``scaled_dot_product_attention``: 0 where a query may attend, -inf
    where it may not (a bool mask's False, or above the diagonal when causal), plus a float
    mask."""
    bias = np.zeros((L, S))
    if is_causal:
        bias = np.where(np.tril(np.ones((L, S), dtype=bool)), 0.0, -np.inf)
    if attn_mask is not None:
        if attn_mask.dtype == np.bool_:
            bias = np.where(attn_mask, bias, -np.inf)
        else:
            bias = bias + attn_mask
    return bias


def scaled_dot_product_attention(query: np.ndarray, key: np.ndarray, value: np.ndarray,
                                 attn_mask: Optional[np.ndarray] = None,
                                 is_causal: bool = False,
                                 scale: Optional[float] = None) -> np.ndarray:
    """``softmax(Q K^T * scale + bias) V`` for ``(..., L, E)``, ``(..., S, E)``,
    ``(..., S, Ev)`` -> ``(..., L, Ev)``; ``scale`` defaults to ``1 / sqrt(E)``."""
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    bias = attention_bias(L, S, attn_mask, is_causal)
    scores = np.matmul(query, np.swapaxes(key, -1, -2)) * scale + bias
    return np.matmul(masked_softmax(scores), value)


def multi_head_attention(query: np.ndarray, key: np.ndarray, value: np.ndarray,
                         num_heads: int, w_q: np.ndarray, w_k: np.ndarray, w_v: np.ndarray,
                         b_in: Optional[np.ndarray], w_out: np.ndarray,
                         b_out: Optional[np.ndarray],
                         key_padding_mask: Optional[np.ndarray] = None,
                         attn_mask: Optional[np.ndarray] = None,
                         bias_k: Optional[np.ndarray] = None,
                         bias_v: Optional[np.ndarray] = None,
                         add_zero_attn: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """``nn.MultiheadAttention`` on sequence-first inputs, without dropout.

    Shapes: query ``(L, N, E)``, key ``(S, N, kdim)``, value ``(S, N, vdim)``; ``w_q (E, E)``,
    ``w_k (E, kdim)``, ``w_v (E, vdim)``, ``b_in (3E,)``, ``w_out (E, E)``, ``b_out (E,)``;
    ``key_padding_mask (N, S)`` and ``attn_mask`` ``(L, S)`` or ``(N * H, L, S)``, where a
    bool ``True`` means "may not attend" and a float is added. ``bias_k``/``bias_v`` ``(E,)``
    are appended as one more key/value position, then ``add_zero_attn`` appends a zero one.
    Returns the output ``(L, N, E)`` and the per-head weights ``(N, H, L, S')``.
    """
    L, N, E = query.shape
    hd = E // num_heads
    b_q, b_k, b_v = (np.zeros(E),) * 3 if b_in is None else np.split(b_in, 3)
    out = np.zeros((L, N, E))
    weights = []
    for n in range(N):
        q = query[:, n] @ w_q.T + b_q
        k = key[:, n] @ w_k.T + b_k
        v = value[:, n] @ w_v.T + b_v
        S = k.shape[0]
        bias = np.zeros((num_heads, L, S))
        if attn_mask is not None:
            rows = slice(n * num_heads, (n + 1) * num_heads)
            mask = attn_mask if attn_mask.ndim == 2 else attn_mask[rows]
            bias = bias + (np.where(mask, -np.inf, 0.0) if mask.dtype == np.bool_ else mask)
        if key_padding_mask is not None:
            pad = key_padding_mask[n]
            bias = bias + (np.where(pad, -np.inf, 0.0) if pad.dtype == np.bool_ else pad)
        if bias_k is not None and bias_v is not None:
            k, v = np.vstack([k, bias_k]), np.vstack([v, bias_v])
            bias = np.concatenate([bias, np.zeros((num_heads, L, 1))], axis=-1)
        if add_zero_attn:
            k, v = np.vstack([k, np.zeros(E)]), np.vstack([v, np.zeros(E)])
            bias = np.concatenate([bias, np.zeros((num_heads, L, 1))], axis=-1)
        heads, head_weights = [], []
        for h in range(num_heads):
            cols = slice(h * hd, (h + 1) * hd)
            scores = q[:, cols] @ k[:, cols].T / math.sqrt(hd) + bias[h]
            w = masked_softmax(scores)
            head_weights.append(w)
            heads.append(w @ v[:, cols])
        out[:, n] = np.hstack(heads) @ w_out.T + (0.0 if b_out is None else b_out)
        weights.append(np.stack(head_weights))
    return out, np.stack(weights)
