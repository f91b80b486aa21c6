"""One layer's recurrence over a whole sequence as a single autograd node.

Built from per-step ops, a layer of L steps records four or five graph nodes a step and its
weight gradient ``dW_hh`` is L products of depth N, each summed into the last. Here the
forward pass runs the steps on arrays (one product ``h W_hh^T`` and one fused cell kernel a
step), and the backward pass walks back through time computing only what the recursion
needs, the gradient of the gate pre-activations and of the state, a step at a time; the
weight and bias gradients then come from one product of depth L * N over all steps at once,
as cuDNN computes them.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from ... import _core
from ...tensor import Tensor


def sequence(mode: str, input_terms: Tensor, h0: Tensor, c0: Optional[Tensor], w_hh: Tensor,
             b_hh: Optional[Tensor], reverse: bool) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
    """Run the recurrence of ``mode`` over every step of one direction of one layer.

    Args:
        mode: ``'RNN_TANH'``, ``'RNN_RELU'``, ``'LSTM'`` or ``'GRU'``.
        input_terms: ``(L, N, G * H)``, every step's ``x W_ih^T + b_ih``.
        h0, c0: ``(N, H)`` initial states (``c0`` for LSTM only, else None).
        w_hh: ``(G * H, H)``; b_hh: ``(G * H,)`` or None.
        reverse: run from the last step to the first.

    Returns:
        ``(output, h_n, c_n)``: output ``(L, N, H)`` in time order, the final ``h`` and (LSTM)
        ``c``, ``(N, H)`` each; ``c_n`` is None for the other modes.
    """
    steps, batch = input_terms.shape[0], input_terms.shape[1]
    flat = input_terms.reshape(steps * batch, input_terms.shape[2])
    output, h_n, c_n = packed_sequence(mode, flat, [batch] * steps, h0, c0, w_hh, b_hh, reverse)
    return output.reshape(steps, batch, output.shape[1]), h_n, c_n


def packed_sequence(mode: str, input_terms: Tensor, batch_sizes: Sequence[int], h0: Tensor,
                    c0: Optional[Tensor], w_hh: Tensor, b_hh: Optional[Tensor], reverse: bool
                    ) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
    """:func:`sequence` over packed steps: step ``t`` advances the first ``batch_sizes[t]``
    rows of the ``(N, H)`` state, and its input terms are the next ``batch_sizes[t]`` rows of
    ``input_terms`` ``(sum(batch_sizes), G * H)``. The other rows keep their state: in time
    order those sequences have ended, in reverse they have not begun (they join from their
    initial state). Returns the output packed like ``input_terms``, ``(sum(batch_sizes),
    H)``, and the final states ``(N, H)``."""
    gx = np.ascontiguousarray(input_terms.data)
    dtype = gx.dtype
    weight = np.ascontiguousarray(w_hh.data, dtype=dtype)
    # Row-major W_hh^T for the forward products: packing it is then a plain copy.
    weight_t = np.ascontiguousarray(weight.T)
    total, batch, hidden = gx.shape[0], h0.shape[0], weight.shape[1]
    starts = np.concatenate(([0], np.cumsum(batch_sizes[:-1], dtype=np.int64)))
    walk = [(int(start), int(size)) for start, size in zip(starts, batch_sizes)]
    if reverse:
        walk.reverse()
    lstm, gru = mode == "LSTM", mode == "GRU"
    activation = "tanh" if mode == "RNN_TANH" else "relu"
    h = np.array(h0.data, dtype=dtype)  # the running state, updated in place
    c = None if c0 is None else np.array(c0.data, dtype=dtype)
    # The node's one output: every step's h (packed), then the final h and (LSTM) c.
    out = np.empty((total + batch * (1 + int(lstm)), hidden), dtype=dtype)
    # What the backward pass reads: the h and c each step started from, the hidden term
    # W_hh h + b_hh (added to the input term, except in a GRU, whose reset gate scales it),
    # and the cell kernels' saved values.
    h_before = np.empty((total, hidden), dtype=dtype)
    c_before = np.empty((total, hidden), dtype=dtype) if lstm else h_before
    terms = np.zeros_like(gx) if gru else gx.copy()
    if b_hh is not None:
        terms += np.asarray(b_hh.data, dtype=dtype)
    saved: List[Tuple[np.ndarray, ...]] = []
    for start, size in walk:
        rows = slice(start, start + size)
        h_before[rows] = h[:size]
        _core.matmul(h_before[rows], weight_t, out=terms[rows], accumulate=True)
        if lstm:
            assert c is not None
            c_before[rows] = c[:size]
            both, act = _core.lstm_cell(terms[rows], c_before[rows])
            saved.append((act, both[1]))
            h[:size], c[:size] = both
        elif gru:
            h_new, cell = _core.gru_cell(gx[rows], terms[rows], h_before[rows])
            saved.append((cell,))
            h[:size] = h_new
        else:
            h[:size] = _core.activation_forward(activation, terms[rows])
            saved.append(())
        out[rows] = h[:size]
    out[total:total + batch] = h
    if lstm:
        out[total + batch:] = c

    def backward(grad: np.ndarray) -> Tuple[np.ndarray, ...]:
        grad = np.asarray(grad, dtype=dtype)
        d_terms = np.empty_like(gx)  # the gradient of each step's (hidden) term
        d_gx = np.empty_like(gx) if gru else d_terms
        dh = grad[total:total + batch].copy()  # the gradient of the running state
        dc = grad[total + batch:].copy() if lstm else None
        pairs = np.empty(2 * batch * hidden, dtype=dtype)  # holds an LSTM step's (dh, dc)
        for (start, size), kept in zip(reversed(walk), reversed(saved)):
            rows = slice(start, start + size)
            dh_step = grad[rows] + dh[:size]
            if lstm:
                assert dc is not None
                act, c_after = kept
                pair = pairs[:2 * size * hidden].reshape(2, size, hidden)
                pair[0], pair[1] = dh_step, dc[:size]
                d_terms[rows], dc[:size] = _core.lstm_cell_backward(act, c_before[rows], c_after,
                                                                    pair)
                dh[:size] = _core.matmul(d_terms[rows], weight)
            elif gru:
                d_gx[rows], d_terms[rows], dh_direct = _core.gru_cell_backward(
                    kept[0], terms[rows], h_before[rows], dh_step)
                _core.matmul(d_terms[rows], weight, out=dh_direct, accumulate=True)
                dh[:size] = dh_direct
            else:
                _core.activation_backward(activation, terms[rows], out[rows], dh_step,
                                          out=d_terms[rows])
                dh[:size] = _core.matmul(d_terms[rows], weight)
        grads = [d_gx, dh] + ([dc] if dc is not None and c0 is not None else [])
        grads.append(_core.matmul(d_terms.T, h_before))
        if b_hh is not None:
            grads.append(d_terms.sum(0))
        return tuple(grads)

    parents = tuple(p for p in (input_terms, h0, c0, w_hh, b_hh) if p is not None)
    node = Tensor._from_op(out, parents, backward, fresh_grads=True)
    c_n = node[total + batch:] if lstm else None
    return node[:total], node[total:total + batch], c_n
