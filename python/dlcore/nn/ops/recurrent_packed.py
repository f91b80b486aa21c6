"""Stacked, optionally bidirectional recurrent networks over a packed batch of
variable-length sequences (see :mod:`dlcore.nn.utils.rnn`).

The sequences are ranked longest first, so at step ``t`` the running ones are the first
``batch_sizes[t]`` rows of the state: a step advances that prefix and the state of the
sequences that already ended stays as it was, their final state. The backward direction
walks the steps in reverse, and a sequence joins (from its own initial state) at its own
last element. The non-packed path (``recurrent.recurrent``) stays free of this bookkeeping.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

from ...tensor import Tensor, cat
from .linear import linear
from .recurrent import Step, Weights, stacked, step_of
from .recurrent_sequence import packed_sequence


def _join(parts: List[Tensor]) -> Tensor:
    return parts[0] if len(parts) == 1 else cat(parts, 0)


def _forward_direction(step: Step, input_terms: Tensor, batch_sizes: Sequence[int],
                       h: Tensor, c: Optional[Tensor], w_hh: Tensor, b_hh: Optional[Tensor]
                       ) -> Tuple[List[Tensor], Tensor, Optional[Tensor]]:
    outputs: List[Tensor] = []
    ended_h: List[Tensor] = []  # final states of the sequences that ended, shortest last
    ended_c: List[Tensor] = []
    start = 0
    for size in batch_sizes:
        if size < h.shape[0]:
            ended_h.append(h[size:])
            h = h[:size]
            if c is not None:
                ended_c.append(c[size:])
                c = c[:size]
        h, c = step(input_terms[start:start + size], h, c, w_hh, b_hh)
        outputs.append(h)
        start += size
    h_n = _join([h] + ended_h[::-1])
    c_n = None if c is None else _join([c] + ended_c[::-1])
    return outputs, h_n, c_n


def _reverse_direction(step: Step, input_terms: Tensor, batch_sizes: Sequence[int],
                       h0: Tensor, c0: Optional[Tensor], w_hh: Tensor, b_hh: Optional[Tensor]
                       ) -> Tuple[List[Tensor], Tensor, Optional[Tensor]]:
    outputs: List[Tensor] = [h0] * len(batch_sizes)
    running = batch_sizes[-1]
    h = h0[:running]
    c = None if c0 is None else c0[:running]
    end = input_terms.shape[0]
    for t in range(len(batch_sizes) - 1, -1, -1):
        size = batch_sizes[t]
        if size > running:  # sequences whose last element is step t start here
            h = cat([h, h0[running:size]], 0)
            if c is not None and c0 is not None:
                c = cat([c, c0[running:size]], 0)
            running = size
        h, c = step(input_terms[end - size:end], h, c, w_hh, b_hh)
        outputs[t] = h
        end -= size
    return outputs, h, c


def recurrent_packed(mode: str, data: Tensor, batch_sizes: Sequence[int], hx: Tensor,
                     cx: Optional[Tensor], weights: Sequence[Weights], num_layers: int,
                     bidirectional: bool, dropout: float = 0.0, training: bool = False,
                     projections: Optional[Sequence[Tensor]] = None
                     ) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
    """``recurrent.recurrent`` over packed sequences.

    Args:
        mode, weights, num_layers, bidirectional, dropout, training, projections: as
            ``recurrent.recurrent``.
        data: ``(sum(lengths), H_in)`` packed input, of the weights' dtype.
        batch_sizes: the running sequences at each step, non-increasing, ``batch_sizes[0]
            = N``.
        hx, cx: ``(D * num_layers, N, H)`` initial states in ranked (sorted) order (``cx``
            for LSTM only, else None); with projections ``hx`` is ``(D * num_layers, N, P)``.

    Returns:
        ``(output, h_n, c_n)``: output ``(sum(lengths), D * H)`` packed like ``data``;
        ``h_n`` and ``c_n`` ``(D * num_layers, N, H)`` in ranked order, each sequence's
        state after its own last element (``c_n`` None except for LSTM); with projections,
        output ``(sum(lengths), D * P)`` and ``h_n`` ``(D * num_layers, N, P)``.
    """
    def run(layer_input: Tensor, index: int, reverse: bool
            ) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
        w_ih, w_hh, b_ih, b_hh = weights[index]
        input_terms = linear(layer_input, w_ih, b_ih)  # (sum(lengths), G*H), one product
        c0 = None if cx is None else cx[index]
        if projections is None:  # the whole sequence as one node
            return packed_sequence(mode, input_terms, batch_sizes, hx[index], c0, w_hh, b_hh,
                                   reverse)
        walk = _reverse_direction if reverse else _forward_direction
        step = step_of(mode, projections[index])
        steps, h, c = walk(step, input_terms, batch_sizes, hx[index], c0, w_hh, b_hh)
        return _join(steps), h, c

    return stacked(run, data, num_layers, bidirectional, dropout, training)
