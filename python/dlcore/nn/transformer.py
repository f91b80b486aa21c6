"""``TransformerEncoderLayer`` and ``TransformerEncoder``, with PyTorch's submodule names."""

from __future__ import annotations

import copy
from typing import Any, Callable, Optional, Union

import numpy as np

from ..tensor import ArrayLike, Tensor
from . import functional as F
from .attention import MultiheadAttention, check_device, layer_dtype
from .container import ModuleList
from .dropout import Dropout
from .layernorm import LayerNorm
from .linear import Linear
from .module import Module

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def resolve_activation(op: str, activation: Union[str, Callable[[Tensor], Tensor]]
                       ) -> Callable[[Tensor], Tensor]:
    """``"relu"``/``"gelu"`` as the function; a callable (or module) as it is."""
    if isinstance(activation, str):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"{op}: activation must be 'relu', 'gelu' or a callable, got "
                             f"{activation!r}")
        return _ACTIVATIONS[activation]
    if not callable(activation):
        raise TypeError(f"{op}: activation must be 'relu', 'gelu' or a callable, got "
                        f"{type(activation).__name__}")
    return activation


class TransformerEncoderLayer(Module):
    """Self-attention then a position-wise feed-forward network, each wrapped in dropout, a
    residual connection and layer normalisation (Vaswani et al., 2017).

    Post-norm (default): ``x = norm1(x + SA(x)); x = norm2(x + FF(x))``.
    Pre-norm (``norm_first=True``): ``x = x + SA(norm1(x)); x = x + FF(norm2(x))``.
    ``SA(x) = dropout1(self_attn(x, x, x))``,
    ``FF(x) = dropout2(linear2(dropout(activation(linear1(x)))))``.

    Args:
        d_model: feature size ``E``.
        nhead: attention heads (must divide ``d_model``).
        dim_feedforward: hidden size of the feed-forward network.
        dropout: the probability of every dropout (attention weights included).
        activation: ``"relu"``, ``"gelu"`` or a callable (a module is registered).
        layer_norm_eps: ``eps`` of both layer norms.
        batch_first: ``(N, L, E)`` rather than ``(L, N, E)``.
        norm_first: pre-norm rather than post-norm.
        bias: biases in the linear layers, attention and layer norms.
        device, dtype: the CPU only; parameter dtype (float32 by default).

    Shape: ``src (L, N, E)`` (``(N, L, E)`` batch first, ``(L, E)`` unbatched) -> same.

    Example:
        >>> layer = nn.TransformerEncoderLayer(d_model=32, nhead=4, batch_first=True)
        >>> out = layer(dlcore.randn(8, 10, 32))  # (8, 10, 32)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1,
                 activation: Union[str, Callable[[Tensor], Tensor]] = F.relu,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        check_device("TransformerEncoderLayer", device)
        dt = layer_dtype(dtype)
        activation = resolve_activation("TransformerEncoderLayer", activation)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dt)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dt)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dt)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dt)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dt)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = activation

    def forward(self, src: ArrayLike, src_mask: Optional[ArrayLike] = None,
                src_key_padding_mask: Optional[ArrayLike] = None,
                is_causal: bool = False) -> Tensor:
        """``src_mask (L, S)`` / ``(N * nhead, L, S)`` and ``src_key_padding_mask (N, S)``
        as ``MultiheadAttention``'s ``attn_mask`` and ``key_padding_mask`` (bool ``True`` =
        may not attend). ``is_causal`` without ``src_mask`` applies the causal mask."""
        x = src if isinstance(src, Tensor) else Tensor(np.asarray(src))
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x: Tensor, attn_mask: Optional[ArrayLike],
                  key_padding_mask: Optional[ArrayLike], is_causal: bool) -> Tensor:
        out, _ = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                need_weights=False, is_causal=is_causal)
        return self.dropout1(out)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoder(Module):
    """A stack of ``num_layers`` copies of ``encoder_layer``, then an optional ``norm``.

    Each layer is a deep copy (``layers.0``, ``layers.1``, ...), so the layers start with the
    same parameters, as PyTorch's, and train independently; ``encoder_layer`` itself is not
    used. ``enable_nested_tensor`` and ``mask_check`` are accepted for ported code and have
    no effect.

    Shape: as ``encoder_layer``.

    Example:
        >>> layer = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, batch_first=True)
        >>> encoder = nn.TransformerEncoder(layer, num_layers=2)
        >>> out = encoder(dlcore.randn(8, 10, 32))  # (8, 10, 32)
    """

    def __init__(self, encoder_layer: Module, num_layers: int, norm: Optional[Module] = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        if not isinstance(num_layers, (int, np.integer)) or num_layers < 0:
            raise ValueError(f"TransformerEncoder: num_layers must be a non-negative int, got "
                             f"{num_layers!r}")
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = int(num_layers)
        self.norm = norm

    def forward(self, src: ArrayLike, mask: Optional[ArrayLike] = None,
                src_key_padding_mask: Optional[ArrayLike] = None,
                is_causal: Optional[bool] = None) -> Tensor:
        """Run the layers in order with the same masks (see ``TransformerEncoderLayer``)."""
        x = src if isinstance(src, Tensor) else Tensor(np.asarray(src))
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=bool(is_causal))
        return x if self.norm is None else self.norm(x)
