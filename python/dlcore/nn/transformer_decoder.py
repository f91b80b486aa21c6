"""``TransformerDecoderLayer``, ``TransformerDecoder`` and the full encoder-decoder
``Transformer``, with PyTorch's submodule names (so ``state_dict`` keys match)."""

from __future__ import annotations

import copy
from typing import Any, Callable, Optional, Union

import numpy as np

from ..tensor import ArrayLike, Tensor, as_tensor
from . import functional as F
from . import init
from .attention import MultiheadAttention, check_device, layer_dtype
from .container import ModuleList
from .dropout import Dropout
from .layernorm import LayerNorm
from .linear import Linear
from .module import Module
from .transformer import TransformerEncoder, TransformerEncoderLayer, resolve_activation

Activation = Union[str, Callable[[Tensor], Tensor]]


class TransformerDecoderLayer(Module):
    """Self-attention over the target, attention from the target to the encoder's output
    (``memory``), then a position-wise feed-forward network; each block is wrapped in
    dropout, a residual connection and layer normalisation (Vaswani et al., 2017).

    Post-norm (default): ``x = norm1(x + SA(x)); x = norm2(x + MHA(x, mem));
    x = norm3(x + FF(x))``. Pre-norm (``norm_first=True``): ``x = x + SA(norm1(x));
    x = x + MHA(norm2(x), mem); x = x + FF(norm3(x))``. ``SA(x) = dropout1(self_attn(x, x,
    x))``, ``MHA(x, mem) = dropout2(multihead_attn(x, mem, mem))``,
    ``FF(x) = dropout3(linear2(dropout(activation(linear1(x)))))``.

    Args:
        d_model: feature size ``E``.
        nhead: attention heads (must divide ``d_model``).
        dim_feedforward: hidden size of the feed-forward network.
        dropout: the probability of every dropout (attention weights included).
        activation: ``"relu"``, ``"gelu"`` or a callable (a module is registered).
        layer_norm_eps: ``eps`` of the three layer norms.
        batch_first: ``(N, T, E)`` rather than ``(T, N, E)``.
        norm_first: pre-norm rather than post-norm.
        bias: biases in the linear layers, attention and layer norms.
        device, dtype: the CPU only; parameter dtype (float32 by default).

    Shape: ``tgt (T, N, E)``, ``memory (S, N, E)`` (batch first ``(N, T, E)``, ``(N, S, E)``;
    unbatched ``(T, E)``, ``(S, E)``) -> like ``tgt``.

    Example:
        >>> layer = nn.TransformerDecoderLayer(d_model=32, nhead=4, batch_first=True)
        >>> out = layer(dlcore.randn(8, 7, 32), dlcore.randn(8, 10, 32))  # (8, 7, 32)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: Activation = F.relu,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        check_device("TransformerDecoderLayer", device)
        dt = layer_dtype(dtype)
        activation = resolve_activation("TransformerDecoderLayer", activation)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dt)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, dtype=dt)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dt)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dt)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dt)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dt)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dt)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = activation

    def forward(self, tgt: ArrayLike, memory: ArrayLike, tgt_mask: Optional[ArrayLike] = None,
                memory_mask: Optional[ArrayLike] = None,
                tgt_key_padding_mask: Optional[ArrayLike] = None,
                memory_key_padding_mask: Optional[ArrayLike] = None,
                tgt_is_causal: bool = False, memory_is_causal: bool = False) -> Tensor:
        """Masks as ``MultiheadAttention``'s (bool ``True`` = may not attend, float = added):
        ``tgt_mask (T, T)`` / ``(N * nhead, T, T)``, ``memory_mask (T, S)`` /
        ``(N * nhead, T, S)``, ``tgt_key_padding_mask (N, T)``, ``memory_key_padding_mask
        (N, S)``. ``tgt_is_causal``/``memory_is_causal`` without the matching mask apply the
        causal mask; with it they are only hints."""
        x, mem = as_tensor(tgt), as_tensor(memory)
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask,
                                   tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), mem, memory_mask, memory_key_padding_mask,
                                    memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask,
                                              tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, mem, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x: Tensor, attn_mask: Optional[ArrayLike],
                  key_padding_mask: Optional[ArrayLike], is_causal: bool) -> Tensor:
        out, _ = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                need_weights=False, is_causal=is_causal)
        return self.dropout1(out)

    def _mha_block(self, x: Tensor, mem: Tensor, attn_mask: Optional[ArrayLike],
                   key_padding_mask: Optional[ArrayLike], is_causal: bool) -> Tensor:
        out, _ = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                     key_padding_mask=key_padding_mask, need_weights=False,
                                     is_causal=is_causal)
        return self.dropout2(out)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoder(Module):
    """A stack of ``num_layers`` copies of ``decoder_layer``, then an optional ``norm``.

    Each layer is a deep copy (``layers.0``, ``layers.1``, ...) that trains independently;
    ``decoder_layer`` itself is not used. Every layer receives the same ``memory`` and masks.

    Shape: as ``decoder_layer``.

    Example:
        >>> layer = nn.TransformerDecoderLayer(32, 4, dim_feedforward=64, batch_first=True)
        >>> decoder = nn.TransformerDecoder(layer, num_layers=2)
        >>> out = decoder(dlcore.randn(8, 7, 32), dlcore.randn(8, 10, 32))  # (8, 7, 32)
    """

    def __init__(self, decoder_layer: Module, num_layers: int,
                 norm: Optional[Module] = None) -> None:
        super().__init__()
        if not isinstance(num_layers, (int, np.integer)) or num_layers < 0:
            raise ValueError(f"TransformerDecoder: num_layers must be a non-negative int, got "
                             f"{num_layers!r}")
        self.layers = ModuleList([copy.deepcopy(decoder_layer) for _ in range(num_layers)])
        self.num_layers = int(num_layers)
        self.norm = norm

    def forward(self, tgt: ArrayLike, memory: ArrayLike, tgt_mask: Optional[ArrayLike] = None,
                memory_mask: Optional[ArrayLike] = None,
                tgt_key_padding_mask: Optional[ArrayLike] = None,
                memory_key_padding_mask: Optional[ArrayLike] = None,
                tgt_is_causal: Optional[bool] = None,
                memory_is_causal: bool = False) -> Tensor:
        """Run the layers in order (see ``TransformerDecoderLayer`` for the masks)."""
        x, mem = as_tensor(tgt), as_tensor(memory)
        for layer in self.layers:
            x = layer(x, mem, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return x if self.norm is None else self.norm(x)


class Transformer(Module):
    """The encoder-decoder Transformer (Vaswani et al., 2017): ``encoder`` (a
    ``TransformerEncoder`` with a final ``LayerNorm``) reads ``src``; ``decoder`` (a
    ``TransformerDecoder`` with a final ``LayerNorm``) reads ``tgt`` and attends to the
    encoder's output. Embeddings, positional encodings and the output projection are the
    caller's, as in PyTorch.

    Every parameter with more than one dimension (custom encoders and decoders included) is
    re-initialised with ``xavier_uniform_``, as PyTorch does.

    Args:
        d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first,
            norm_first, bias: passed to every encoder and decoder layer (see
            ``TransformerEncoderLayer``).
        num_encoder_layers, num_decoder_layers: depth of each stack.
        custom_encoder, custom_decoder: modules used instead of the default stacks.
        device, dtype: the CPU only; parameter dtype (float32 by default).

    Shape (``forward``): ``src (S, N, E)``, ``tgt (T, N, E)`` (batch first ``(N, S, E)``,
    ``(N, T, E)``; unbatched ``(S, E)``, ``(T, E)``) -> like ``tgt``. Masks as
    ``TransformerDecoderLayer``'s, plus ``src_mask (S, S)`` and ``src_key_padding_mask
    (N, S)`` for the encoder.

    Example:
        >>> model = nn.Transformer(d_model=32, nhead=4, num_encoder_layers=2,
        ...                        num_decoder_layers=2, dim_feedforward=64, batch_first=True)
        >>> tgt_mask = nn.Transformer.generate_square_subsequent_mask(7)
        >>> out = model(dlcore.randn(8, 10, 32), dlcore.randn(8, 7, 32), tgt_mask=tgt_mask)
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: Activation = F.relu,
                 custom_encoder: Optional[Module] = None,
                 custom_decoder: Optional[Module] = None, layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        check_device("Transformer", device)
        dt = layer_dtype(dtype)
        layer_args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                      batch_first, norm_first, bias)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(*layer_args, dtype=dt), num_encoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dt))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(*layer_args, dtype=dt), num_decoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dt))
        self._reset_parameters()
        self.d_model = int(d_model)
        self.nhead = int(nhead)
        self.batch_first = bool(batch_first)

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(self, src: ArrayLike, tgt: ArrayLike, src_mask: Optional[ArrayLike] = None,
                tgt_mask: Optional[ArrayLike] = None, memory_mask: Optional[ArrayLike] = None,
                src_key_padding_mask: Optional[ArrayLike] = None,
                tgt_key_padding_mask: Optional[ArrayLike] = None,
                memory_key_padding_mask: Optional[ArrayLike] = None,
                src_is_causal: Optional[bool] = None, tgt_is_causal: Optional[bool] = None,
                memory_is_causal: bool = False) -> Tensor:
        """Encode ``src``, then decode ``tgt`` against it. For autoregressive training pass
        ``tgt_mask=Transformer.generate_square_subsequent_mask(T)`` (or
        ``tgt_is_causal=True``)."""
        s, t = as_tensor(src), as_tensor(tgt)
        if s.ndim != t.ndim or s.ndim not in (2, 3):
            raise ValueError(f"Transformer: src {s.shape} and tgt {t.shape} must both be "
                             f"batched (3-D) or both unbatched (2-D)")
        batch_dim = 0 if self.batch_first else 1
        if s.ndim == 3 and s.shape[batch_dim] != t.shape[batch_dim]:
            raise ValueError(f"Transformer: src {s.shape} and tgt {t.shape} must have the same "
                             f"batch size in dimension {batch_dim} (batch_first="
                             f"{self.batch_first})")
        if s.shape[-1] != self.d_model or t.shape[-1] != self.d_model:
            raise ValueError(f"Transformer: src {s.shape} and tgt {t.shape} must have "
                             f"d_model = {self.d_model} features in the last dimension")
        memory = self.encoder(s, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(t, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None,
                                        dtype: Any = None) -> Tensor:
        """The causal mask ``(sz, sz)``: ``-inf`` above the diagonal (a position may not see
        later ones), ``0.0`` elsewhere; float32 unless ``dtype`` is given."""
        check_device("generate_square_subsequent_mask", device)
        if not isinstance(sz, (int, np.integer)) or isinstance(sz, bool) or sz < 0:
            raise ValueError(f"generate_square_subsequent_mask: sz must be a non-negative "
                             f"int, got {sz!r}")
        dt = layer_dtype(dtype)
        above = np.triu(np.ones((sz, sz), dtype=bool), k=1)
        return as_tensor(np.where(above, -np.inf, 0.0).astype(dt))
