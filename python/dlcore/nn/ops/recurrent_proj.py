"""LSTM with projections (PyTorch's ``proj_size``): each step's hidden state is
``h_t = (o_t * tanh(c_t)) W_hr^T``, ``W_hr`` ``(P, H)``, so the state that is fed back, and
output, is P wide while the cell state stays H wide (Sak et al., 2014, "LSTM-based deep
recurrent neural network architectures for large vocabulary speech recognition").

The fused Rust cell computes ``c_t`` and ``o_t * tanh(c_t)``; the projection is one more
matrix product after it, so its backward pass comes from ``linear``'s.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Optional, Tuple

from ...tensor import Tensor
from .linear import linear

Step = Callable[[Tensor, Tensor, Optional[Tensor], Tensor, Optional[Tensor]],
                Tuple[Tensor, Optional[Tensor]]]


def projected(step: Step, w_hr: Tensor) -> Step:
    """``step`` (an LSTM step: ``(gx, h, c, w_hh, b_hh) -> (h', c')``) with ``h'`` projected
    by ``w_hr`` ``(P, H)``: ``(N, H) -> (N, P)``; ``c'`` stays ``(N, H)``."""
    def projected_step(gx: Tensor, h: Tensor, c: Optional[Tensor], w_hh: Tensor,
                       b_hh: Optional[Tensor]) -> Tuple[Tensor, Optional[Tensor]]:
        h_full, c_next = step(gx, h, c, w_hh, b_hh)
        return linear(h_full, w_hr), c_next

    return projected_step


def check_proj_size(owner: str, mode: str, proj_size: Any, hidden_size: int) -> int:
    """``proj_size`` as an int after PyTorch's checks: 0 (no projection) or in
    ``[1, hidden_size)``, and only for LSTM."""
    if isinstance(proj_size, bool) or not isinstance(proj_size, numbers.Integral) \
            or int(proj_size) < 0:
        raise ValueError(f"{owner}: proj_size must be a non-negative int (0 turns the "
                         f"projection off), got {proj_size!r}")
    size = int(proj_size)
    if size > 0 and mode != "LSTM":
        raise ValueError(f"{owner}: proj_size is only supported for LSTM, got "
                         f"proj_size={size} for mode {mode!r}")
    if size >= hidden_size:
        raise ValueError(f"{owner}: proj_size {size} must be smaller than hidden_size "
                         f"{hidden_size}")
    return size
