"""``multi_head_attention_forward``: the computation behind ``nn.MultiheadAttention``.

PyTorch's signature and layout: inputs are sequence-first ``(L, N, E)`` (or unbatched
``(L, E)``); heads are split as ``(N * H, L, head_dim)``. Bool masks here mean "may NOT
attend" (``True`` = masked), the opposite of ``scaled_dot_product_attention``'s; float
masks are added to the scores. A query with every key masked gets zero weights and a zero
attention output (see ``attention.py``).
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np

from ...tensor import ArrayLike, Tensor, as_tensor, cat, zeros
from .attention import causal_allowed, float_tensor, masked_softmax
from .dropout import _check_p, dropout
from .linear import linear

OP = "multi_head_attention_forward"


def _check_inputs(q: Tensor, k: Tensor, v: Tensor) -> bool:
    """Whether the inputs are batched (3-D) rather than unbatched (2-D)."""
    if q.ndim not in (2, 3):
        raise ValueError(f"{OP}: query must be (L, N, E) or unbatched (L, E), got shape "
                         f"{q.shape}")
    for name, t in (("key", k), ("value", v)):
        if t.ndim != q.ndim:
            raise ValueError(f"{OP}: {name} must have {q.ndim} dimensions like query "
                             f"{q.shape}, got shape {t.shape}")
    if k.shape[:-1] != v.shape[:-1]:
        raise ValueError(f"{OP}: key {k.shape} and value {v.shape} must agree in all but the "
                         f"last dimension")
    if q.ndim == 3 and k.shape[1] != q.shape[1]:
        raise ValueError(f"{OP}: key {k.shape} has batch size {k.shape[1]} but query "
                         f"{q.shape} has {q.shape[1]}")
    return q.ndim == 3


def _mask_bias(mask: ArrayLike, name: str, dtype: np.dtype) -> Tensor:
    """A mask as an additive bias: a bool mask's True becomes -inf, a float mask stays."""
    raw = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if raw.dtype == np.bool_:
        return Tensor(np.where(raw, -math.inf, 0.0).astype(dtype))
    if raw.dtype.kind != "f":
        raise TypeError(f"{OP}: {name} must be bool (True = masked) or float (added to the "
                        f"scores), got dtype {raw.dtype}")
    t = as_tensor(mask)
    return t if t.dtype == dtype else t.astype(dtype)


def _attn_bias(attn_mask: Optional[ArrayLike], is_causal: bool, L: int, S: int, NH: int,
               dtype: np.dtype) -> Optional[Tensor]:
    """``attn_mask`` as a ``(1 or N * H, L, S)`` bias; ``is_causal`` alone builds the mask."""
    if attn_mask is None:
        if not is_causal:
            return None
        return Tensor(np.where(causal_allowed(L, S), 0.0, -math.inf).astype(dtype)[None])
    bias = _mask_bias(attn_mask, "attn_mask", dtype)
    if bias.shape == (L, S):
        return bias.unsqueeze(0)
    if bias.shape != (NH, L, S):
        raise ValueError(f"{OP}: attn_mask has shape {bias.shape} but expected (L, S) = "
                         f"{(L, S)} or (N * num_heads, L, S) = {(NH, L, S)}")
    return bias


def _padding_bias(key_padding_mask: ArrayLike, N: int, S: int, H: int, dtype: np.dtype
                  ) -> Tensor:
    """``key_padding_mask (N, S)`` as an ``(N * H, 1, S)`` bias."""
    bias = _mask_bias(key_padding_mask, "key_padding_mask", dtype)
    if bias.shape != (N, S):
        raise ValueError(f"{OP}: key_padding_mask has shape {bias.shape} but expected (N, S) "
                         f"= {(N, S)}")
    return bias.unsqueeze(1).expand(N, H, S).reshape(N * H, 1, S)


def _pad_column(bias: Optional[Tensor]) -> Optional[Tensor]:
    """One more key position that every query may attend to."""
    if bias is None:
        return None
    return cat([bias, zeros(*bias.shape[:-1], 1, dtype=bias.dtype)], dim=-1)


def _heads(x: Tensor, N: int, H: int, hd: int) -> Tensor:
    """``(T, N, H * hd) -> (N * H, T, hd)``."""
    return x.reshape(x.shape[0], N * H, hd).transpose(0, 1)


def _projections(q: Tensor, k: Tensor, v: Tensor, in_proj_weight: Optional[ArrayLike],
                 in_proj_bias: Optional[ArrayLike], use_separate_proj_weight: bool,
                 q_proj_weight: Optional[ArrayLike], k_proj_weight: Optional[ArrayLike],
                 v_proj_weight: Optional[ArrayLike], E: int, same_qkv: bool = False,
                 same_kv: bool = False) -> Tuple[Tensor, Tensor, Tensor]:
    """The projected ``q (L, N, E)``, ``k (S, N, E)``, ``v (S, N, E)``.

    ``same_qkv`` (query, key and value were one tensor) and ``same_kv`` (key and value were)
    let the packed ``in_proj_weight`` project shared inputs in one GEMM, as PyTorch does.
    """
    if use_separate_proj_weight:
        weights = [q_proj_weight, k_proj_weight, v_proj_weight]
        if any(w is None for w in weights):
            raise ValueError(f"{OP}: use_separate_proj_weight needs q_proj_weight, "
                             "k_proj_weight and v_proj_weight")
        ws = [as_tensor(w) for w in weights]
        b = _in_proj_bias(in_proj_bias, E)
        bs = [None] * 3 if b is None else [b[:E], b[E:2 * E], b[2 * E:]]
        return linear(q, ws[0], bs[0]), linear(k, ws[1], bs[1]), linear(v, ws[2], bs[2])
    if in_proj_weight is None:
        raise ValueError(f"{OP}: in_proj_weight is required unless "
                         "use_separate_proj_weight=True")
    w = as_tensor(in_proj_weight)
    if w.shape != (3 * E, E):
        raise ValueError(f"{OP}: in_proj_weight has shape {w.shape} but expected "
                         f"(3 * embed_dim, embed_dim) = {(3 * E, E)}")
    b = _in_proj_bias(in_proj_bias, E)
    return _packed_projections(q, k, v, w, b, E, same_qkv, same_kv)


def _in_proj_bias(in_proj_bias: Optional[ArrayLike], E: int) -> Optional[Tensor]:
    if in_proj_bias is None:
        return None
    b = as_tensor(in_proj_bias)
    if b.shape != (3 * E,):
        raise ValueError(f"{OP}: in_proj_bias has shape {b.shape} but expected "
                         f"(3 * embed_dim,) = {(3 * E,)}")
    return b


def _packed_projections(q: Tensor, k: Tensor, v: Tensor, w: Tensor, b: Optional[Tensor],
                        E: int, same_qkv: bool, same_kv: bool
                        ) -> Tuple[Tensor, Tensor, Tensor]:
    """``in_proj_weight (3E, E)`` applied with as few GEMMs as the shared inputs allow.

    The fused output is cut with ``chunk`` (basic slices): in the backward the engine adds
    the pieces' gradients into one zeroed buffer of the fused shape, which the fused linear
    then takes whole, so the weight gradient is again one GEMM.
    """
    if same_qkv:
        q_p, k_p, v_p = linear(q, w, b).chunk(3, dim=-1)  # (L, N, 3E) -> 3 x (L, N, E)
        return q_p, k_p, v_p

    def rows(lo: int, hi: int) -> Tuple[Tensor, Optional[Tensor]]:
        """Rows ``lo:hi`` of the packed weight and bias."""
        return w[lo:hi], (None if b is None else b[lo:hi])

    q_p = linear(q, *rows(0, E))
    if same_kv:
        k_p, v_p = linear(k, *rows(E, 3 * E)).chunk(2, dim=-1)  # (S, N, 2E) -> 2 x (S, N, E)
        return q_p, k_p, v_p
    return q_p, linear(k, *rows(E, 2 * E)), linear(v, *rows(2 * E, 3 * E))


def multi_head_attention_forward(
    query: ArrayLike, key: ArrayLike, value: ArrayLike, embed_dim_to_check: int,
    num_heads: int, in_proj_weight: Optional[ArrayLike], in_proj_bias: Optional[ArrayLike],
    bias_k: Optional[ArrayLike], bias_v: Optional[ArrayLike], add_zero_attn: bool,
    dropout_p: float, out_proj_weight: ArrayLike, out_proj_bias: Optional[ArrayLike],
    training: bool = True, key_padding_mask: Optional[ArrayLike] = None,
    need_weights: bool = True, attn_mask: Optional[ArrayLike] = None,
    use_separate_proj_weight: bool = False, q_proj_weight: Optional[ArrayLike] = None,
    k_proj_weight: Optional[ArrayLike] = None, v_proj_weight: Optional[ArrayLike] = None,
    static_k: Optional[ArrayLike] = None, static_v: Optional[ArrayLike] = None,
    average_attn_weights: bool = True, is_causal: bool = False,
) -> Tuple[Tensor, Optional[Tensor]]:
    """Multi-head attention with explicit weights (``nn.MultiheadAttention`` calls this).

    Shape:
        query ``(L, N, E)``, key ``(S, N, kdim)``, value ``(S, N, vdim)`` (or the unbatched
        ``(L, E)``, ``(S, kdim)``, ``(S, vdim)``); ``key_padding_mask (N, S)`` (``(S,)``);
        ``attn_mask (L, S)`` or ``(N * num_heads, L, S)``; ``static_k``/``static_v``
        ``(N * num_heads, S, head_dim)`` replace the projected keys/values.
        Returns ``attn_output (L, N, E)`` (``(L, E)``) and, when ``need_weights``, the
        weights ``(N, L, S)`` averaged over heads or ``(N, num_heads, L, S)`` (unbatched:
        without ``N``); ``S`` counts the ``bias_k`` and ``add_zero_attn`` positions.

    ``is_causal`` with no ``attn_mask`` makes the causal mask (PyTorch raises and wants the
    mask too); with a mask it is only a hint and the mask is used as given.
    The weights returned are those applied to the values, dropout included, as PyTorch's.
    As in PyTorch, ``query is key is value`` (self-attention) is projected by one GEMM with
    ``in_proj_weight`` and ``key is value`` by one for the query and one for key and value;
    equal but distinct objects take three projections, with the same result up to rounding.
    """
    p = _check_p(OP, dropout_p) if training else 0.0
    # Shared inputs are projected together (one GEMM); the identity is that of the objects
    # passed, as PyTorch's ``query is key`` / ``key is value``.
    same_kv = key is value
    same_qkv = same_kv and query is key
    q = float_tensor(query, OP, "query")
    k = q if key is query else float_tensor(key, OP, "key")
    v = k if same_kv else float_tensor(value, OP, "value")
    batched = _check_inputs(q, k, v)
    if not batched:
        q, k, v = q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = as_tensor(key_padding_mask).unsqueeze(0)
    L, N, E = q.shape
    if E != embed_dim_to_check:
        raise ValueError(f"{OP}: query {q.shape} has embedding size {E} but embed_dim is "
                         f"{embed_dim_to_check}")
    H = int(num_heads)
    if H <= 0 or E % H:
        raise ValueError(f"{OP}: embed_dim {E} must be divisible by num_heads {num_heads}")
    hd = E // H
    q, k, v = _projections(q, k, v, in_proj_weight, in_proj_bias, use_separate_proj_weight,
                           q_proj_weight, k_proj_weight, v_proj_weight, E, same_qkv, same_kv)
    dtype = q.dtype
    S = k.shape[0] if static_k is None else as_tensor(static_k).shape[1]
    bias = _attn_bias(attn_mask, is_causal, L, S, N * H, dtype)
    if key_padding_mask is not None:
        padding = _padding_bias(key_padding_mask, N, S, H, dtype)
        bias = padding if bias is None else bias + padding
    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise ValueError(f"{OP}: bias_k/bias_v cannot be added to static_k/static_v")
        k = cat([k, as_tensor(bias_k).reshape(1, 1, E).expand(1, N, E)], dim=0)
        v = cat([v, as_tensor(bias_v).reshape(1, 1, E).expand(1, N, E)], dim=0)
        bias = _pad_column(bias)
    q = _heads(q, N, H, hd)
    k = _heads(k, N, H, hd) if static_k is None else _static(static_k, "static_k", N * H, hd)
    v = _heads(v, N, H, hd) if static_v is None else _static(static_v, "static_v", N * H, hd)
    if add_zero_attn:
        k = cat([k, zeros(N * H, 1, hd, dtype=dtype)], dim=1)
        v = cat([v, zeros(N * H, 1, hd, dtype=dtype)], dim=1)
        bias = _pad_column(bias)
    if k.shape[1] != v.shape[1]:
        raise ValueError(f"{OP}: keys (N * H, S, head_dim) {k.shape} and values {v.shape} "
                         "have different lengths")
    scores = (q * (1.0 / math.sqrt(hd))) @ k.transpose(1, 2)
    if bias is not None:
        scores = scores + bias
    weights = masked_softmax(scores)
    if p > 0.0:
        weights = dropout(weights, p)
    heads = weights @ v
    out = heads.transpose(0, 1).reshape(L, N, E)
    out = linear(out, out_proj_weight, out_proj_bias)
    if not batched:
        out = out.squeeze(1)
    if not need_weights:
        return out, None
    weights = weights.reshape(N, H, L, weights.shape[-1])
    if average_attn_weights:
        weights = weights.mean(dim=1)
    return out, (weights if batched else weights.squeeze(0))


def _static(x: ArrayLike, name: str, NH: int, hd: int) -> Tensor:
    t = as_tensor(x)
    if t.ndim != 3 or t.shape[0] != NH or t.shape[2] != hd:
        raise ValueError(f"{OP}: {name} has shape {t.shape} but expected (N * num_heads, S, "
                         f"head_dim) = ({NH}, S, {hd})")
    return t
