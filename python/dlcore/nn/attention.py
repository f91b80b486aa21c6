"""``MultiheadAttention``: PyTorch's layer, parameters and all."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np

from ..tensor import _NO_GPU, ArrayLike, Tensor, as_tensor
from . import init
from .linear import Linear
from .module import Module, Parameter
from .ops.multihead import multi_head_attention_forward


def check_device(op: str, device: Any) -> None:
    """Accept the ``device`` argument of ported code when it names the CPU."""
    if device is not None and str(device).split(":")[0] != "cpu":
        raise RuntimeError(f"{op}(device={device!r}): " + _NO_GPU)


def layer_dtype(dtype: Any) -> np.dtype:
    """The parameter dtype: float32 unless a float dtype is given."""
    dt = np.dtype(np.float32 if dtype is None else dtype)
    if dt.kind != "f":
        raise TypeError(f"dtype must be a float dtype, got {dt}")
    return dt


def _seq_first(*inputs: ArrayLike) -> Tuple[Tensor, ...]:
    """``(N, T, E) -> (T, N, E)`` for each input, transposing a repeated object once so that
    ``query is key is value`` still holds after (the projections are fused on it)."""
    done: Dict[int, Tensor] = {}
    for x in inputs:
        if id(x) not in done:
            done[id(x)] = as_tensor(x).transpose(0, 1)
    return tuple(done[id(x)] for x in inputs)


class MultiheadAttention(Module):
    """Attention from each query position to all key positions, in ``num_heads`` parallel
    heads of size ``embed_dim // num_heads`` (Vaswani et al., 2017).

    ``MultiHead(Q, K, V) = Concat(head_1, ..., head_H) W_O^T + b_O`` with
    ``head_i = softmax((Q W_Qi^T)(K W_Ki^T)^T / sqrt(head_dim)) (V W_Vi^T)``.

    Args:
        embed_dim: model size ``E`` (of queries and outputs).
        num_heads: number of heads; must divide ``embed_dim``.
        dropout: dropout on the attention weights while training.
        bias: learn ``in_proj_bias`` and ``out_proj.bias``.
        add_bias_kv: learn ``bias_k``, ``bias_v`` ``(1, 1, E)``, appended to the projected
            keys and values as one extra position every query can attend to.
        add_zero_attn: append a zero key and value position after the projection.
        kdim, vdim: feature sizes of key and value (``embed_dim`` by default). When either
            differs, the projections are ``q_proj_weight (E, E)``, ``k_proj_weight
            (E, kdim)``, ``v_proj_weight (E, vdim)`` instead of ``in_proj_weight (3E, E)``.
        batch_first: inputs and output are ``(N, L, E)`` rather than ``(L, N, E)``.
        device, dtype: the CPU only; parameter dtype (float32 by default).

    Parameters start as PyTorch's: ``xavier_uniform_`` for the input projections, zeros for
    ``in_proj_bias`` and ``out_proj.bias``, ``out_proj.weight`` as ``Linear``'s default and
    ``xavier_normal_`` for ``bias_k``/``bias_v``. Passing the same tensor as query, key and
    value (or as key and value) projects it with one fused GEMM, as PyTorch does.

    Shape (``forward``):
        query ``(L, N, E)``, key ``(S, N, kdim)``, value ``(S, N, vdim)`` (batch first:
        ``(N, L, E)`` ...; unbatched: ``(L, E)``, ``(S, kdim)``, ``(S, vdim)``) ->
        ``attn_output`` like query, and ``attn_weights (N, L, S)`` (averaged over heads) or
        ``(N, num_heads, L, S)`` (unbatched: without ``N``), or None.

    Example:
        >>> mha = nn.MultiheadAttention(64, 8, batch_first=True)
        >>> x = dlcore.randn(2, 10, 64)
        >>> out, weights = mha(x, x, x)  # (2, 10, 64), (2, 10, 10)
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False,
                 kdim: Optional[int] = None, vdim: Optional[int] = None,
                 batch_first: bool = False, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        name = "MultiheadAttention"
        check_device(name, device)
        for arg, value in (("embed_dim", embed_dim), ("num_heads", num_heads),
                           ("kdim", kdim), ("vdim", vdim)):
            if value is not None and (not isinstance(value, (int, np.integer)) or value <= 0):
                raise ValueError(f"{name}: {arg} must be a positive int, got {value!r}")
        if embed_dim % num_heads:
            raise ValueError(f"{name}: embed_dim {embed_dim} must be divisible by num_heads "
                             f"{num_heads}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1], got {dropout}")
        dt = layer_dtype(dtype)
        self.embed_dim = int(embed_dim)
        self.kdim = self.embed_dim if kdim is None else int(kdim)
        self.vdim = self.embed_dim if vdim is None else int(vdim)
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        self.num_heads = int(num_heads)
        self.dropout = float(dropout)
        self.batch_first = bool(batch_first)
        self.head_dim = self.embed_dim // self.num_heads
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * E, E), dtype=dt))
            for unused in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(unused, None)
        else:
            self.q_proj_weight = Parameter(np.empty((E, E), dtype=dt))
            self.k_proj_weight = Parameter(np.empty((E, self.kdim), dtype=dt))
            self.v_proj_weight = Parameter(np.empty((E, self.vdim), dtype=dt))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(np.empty(3 * E, dtype=dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(E, E, bias=bias, dtype=dt)
        if add_bias_kv:
            self.bias_k = Parameter(np.empty((1, 1, E), dtype=dt))
            self.bias_v = Parameter(np.empty((1, 1, E), dtype=dt))
        else:
            self.register_parameter("bias_k", None)
            self.register_parameter("bias_v", None)
        self.add_zero_attn = bool(add_zero_attn)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(self, query: ArrayLike, key: ArrayLike, value: ArrayLike,
                key_padding_mask: Optional[ArrayLike] = None, need_weights: bool = True,
                attn_mask: Optional[ArrayLike] = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> Tuple[Tensor, Optional[Tensor]]:
        """Attend from ``query`` to ``key``/``value``.

        ``key_padding_mask (N, S)`` and ``attn_mask (L, S)`` / ``(N * num_heads, L, S)``: a
        bool ``True`` marks a key that may NOT be attended to; a float mask is added to the
        scores. ``is_causal`` without ``attn_mask`` applies the causal mask (PyTorch asks for
        the mask as well). A query with no key left gets a zero output and zero weights.
        """
        transpose = self.batch_first and as_tensor(query).ndim == 3
        if transpose:
            query, key, value = _seq_first(query, key, value)
        out, weights = multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
            self.out_proj.weight, self.out_proj.bias, training=self.training,
            key_padding_mask=key_padding_mask, need_weights=need_weights, attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight, average_attn_weights=average_attn_weights,
            is_causal=is_causal)
        return (out.transpose(0, 1) if transpose else out), weights

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"dropout={self.dropout}, batch_first={self.batch_first}")
