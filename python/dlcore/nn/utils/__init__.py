"""Helpers around layers, as ``torch.nn.utils``: gradient clipping (``clip_grad_norm_``,
``clip_grad_value_``) and, in :mod:`dlcore.nn.utils.rnn`, variable-length sequences for the
recurrent layers (``pack_padded_sequence``, ``pad_packed_sequence``, ``pad_sequence``, ...).
"""

from __future__ import annotations

from . import rnn
from .clip_grad import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_", "rnn"]
