"""Recurrent cells (Elman RNN, LSTM, GRU) and whole stacked sequences, built from
differentiable ops so autograd derives the backward pass (backpropagation through time).

Parameters use PyTorch's layouts: ``w_ih`` ``(G * H, H_in)``, ``w_hh`` ``(G * H, H)``,
biases ``(G * H,)``, the G gates stacked in PyTorch's order (LSTM ``i, f, g, o``; GRU
``r, z, n``). The input-to-hidden product does not depend on the hidden state, so a layer
computes it for every time step with one matrix product; only the hidden-to-hidden product
runs inside the loop over time, and each step's gates come from slicing one ``(N, G * H)``
product. Layers without a projection run that loop as one autograd node
(``recurrent_sequence``); the cells and projected LSTMs use the per-step ops here.
"""

from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from ... import _core
from ...tensor import ArrayLike, Tensor, as_tensor, cat, check_real_dtype, stack
from .dropout import dropout as _dropout
from .linear import linear
from .recurrent_proj import projected
from .recurrent_sequence import sequence

Weights = Tuple[Tensor, Tensor, Optional[Tensor], Optional[Tensor]]  # w_ih, w_hh, b_ih, b_hh
Step = Callable[[Tensor, Tensor, Optional[Tensor], Tensor, Optional[Tensor]],
                Tuple[Tensor, Optional[Tensor]]]

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# ------------------------------------------------------------------ one time step
# Each step takes ``gx = x W_ih^T + b_ih`` (N, G*H), already computed, and the state.
def _tanh_step(gx: Tensor, h: Tensor, c: Optional[Tensor], w_hh: Tensor,
               b_hh: Optional[Tensor]) -> Tuple[Tensor, Optional[Tensor]]:
    return (gx + linear(h, w_hh, b_hh)).tanh(), None


def _relu_step(gx: Tensor, h: Tensor, c: Optional[Tensor], w_hh: Tensor,
               b_hh: Optional[Tensor]) -> Tuple[Tensor, Optional[Tensor]]:
    return (gx + linear(h, w_hh, b_hh)).relu(), None


def _lstm_step(gx: Tensor, h: Tensor, c: Optional[Tensor], w_hh: Tensor,
               b_hh: Optional[Tensor]) -> Tuple[Tensor, Optional[Tensor]]:
    assert c is not None
    return _fused_lstm_cell(gx + linear(h, w_hh, b_hh), c)


def _fused_lstm_cell(gates: Tensor, c: Tensor) -> Tuple[Tensor, Tensor]:
    """``(h', c')`` from the gate pre-activations ``(N, 4H)`` and ``c`` ``(N, H)``: the gate
    activations, products and sums of a step in one Rust kernel, forward and backward (as a
    dozen separate ops they cost a graph node and a pass over memory each)."""
    pre = np.ascontiguousarray(gates.data)
    c_prev = np.ascontiguousarray(c.data, dtype=pre.dtype)
    hc, act = _core.lstm_cell(pre, c_prev)

    def backward(g: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        g = np.ascontiguousarray(g, dtype=pre.dtype)
        return _core.lstm_cell_backward(act, c_prev, hc[1], g)

    both = Tensor._from_op(hc, (gates, c), backward, fresh_grads=True)  # (2, N, H): h', c'
    return both[0], both[1]


def _gru_step(gx: Tensor, h: Tensor, c: Optional[Tensor], w_hh: Tensor,
              b_hh: Optional[Tensor]) -> Tuple[Tensor, Optional[Tensor]]:
    return _fused_gru_cell(gx, linear(h, w_hh, b_hh), h), None


def _fused_gru_cell(gx: Tensor, gh: Tensor, h: Tensor) -> Tensor:
    """``h'`` from the input term ``gx`` and hidden term ``gh`` (``(N, 3H)`` each, biases
    included) and ``h`` ``(N, H)``, in one Rust kernel forward and backward; the reset gate
    scales ``W_hn h + b_hn``, as PyTorch's."""
    x = np.ascontiguousarray(gx.data)
    hidden_term = np.ascontiguousarray(gh.data, dtype=x.dtype)
    h_prev = np.ascontiguousarray(h.data, dtype=x.dtype)
    out, saved = _core.gru_cell(x, hidden_term, h_prev)

    def backward(g: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        g = np.ascontiguousarray(g, dtype=x.dtype)
        return _core.gru_cell_backward(saved, hidden_term, h_prev, g)

    return Tensor._from_op(out, (gx, gh, h), backward, fresh_grads=True)


STEPS = {"RNN_TANH": _tanh_step, "RNN_RELU": _relu_step, "LSTM": _lstm_step,
         "GRU": _gru_step}


def step_of(mode: str, w_hr: Optional[Tensor] = None) -> Step:
    """The step of ``mode``; with ``w_hr`` ``(P, H)`` (LSTM only) its hidden state is
    projected to P features (``proj_size``)."""
    return STEPS[mode] if w_hr is None else projected(STEPS[mode], w_hr)


# ------------------------------------------------------------------ cells
def _cell(op: str, mode: str, input: ArrayLike, hx: Tensor, cx: Optional[Tensor],
          w_ih: Tensor, w_hh: Tensor, b_ih: Optional[Tensor], b_hh: Optional[Tensor]
          ) -> Tuple[Tensor, Optional[Tensor]]:
    """One step of a cell on ``(N, H_in)`` input with ``(N, H)`` state, shapes checked."""
    x = _floats(op, "input", input, w_ih)
    size = w_hh.shape[-1]
    if x.ndim != 2 or x.shape[1] != w_ih.shape[1]:
        raise ValueError(f"{op}: input has shape {x.shape} but expected (N, {w_ih.shape[1]}) "
                         f"(batch, input_size)")
    for name, state in (("hx", hx), ("cx", cx)):
        if state is not None and state.shape != (x.shape[0], size):
            raise ValueError(f"{op}: {name} has shape {state.shape} but expected "
                             f"({x.shape[0]}, {size}) (batch, hidden_size) for input of shape "
                             f"{x.shape}")
    return STEPS[mode](linear(x, w_ih, b_ih), hx, cx, w_hh, b_hh)


def rnn_tanh_cell(input: ArrayLike, hx: ArrayLike, w_ih: Tensor, w_hh: Tensor,
                  b_ih: Optional[Tensor] = None, b_hh: Optional[Tensor] = None) -> Tensor:
    """``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)``.

    Shape: input ``(N, H_in)``, hx ``(N, H)`` -> ``(N, H)``.
    """
    h = _floats("rnn_tanh_cell", "hx", hx, w_ih)
    return _cell("rnn_tanh_cell", "RNN_TANH", input, h, None, w_ih, w_hh, b_ih, b_hh)[0]


def rnn_relu_cell(input: ArrayLike, hx: ArrayLike, w_ih: Tensor, w_hh: Tensor,
                  b_ih: Optional[Tensor] = None, b_hh: Optional[Tensor] = None) -> Tensor:
    """``h' = relu(x W_ih^T + b_ih + h W_hh^T + b_hh)``.

    Shape: input ``(N, H_in)``, hx ``(N, H)`` -> ``(N, H)``.
    """
    h = _floats("rnn_relu_cell", "hx", hx, w_ih)
    return _cell("rnn_relu_cell", "RNN_RELU", input, h, None, w_ih, w_hh, b_ih, b_hh)[0]


def lstm_cell(input: ArrayLike, hx: Sequence[ArrayLike], w_ih: Tensor, w_hh: Tensor,
              b_ih: Optional[Tensor] = None, b_hh: Optional[Tensor] = None
              ) -> Tuple[Tensor, Tensor]:
    """One LSTM step; ``hx`` is ``(h, c)`` and so is the result::

        i, f, g, o = σ, σ, tanh, σ of the four H-wide slices of x W_ih^T + b_ih + h W_hh^T + b_hh
        c' = f * c + i * g,   h' = o * tanh(c')

    Shape: input ``(N, H_in)``, h and c ``(N, H)`` -> ``((N, H), (N, H))``.
    """
    if len(hx) != 2:
        raise TypeError(f"lstm_cell: hx must be a pair (h, c), got {len(hx)} items")
    h0, c0 = (_floats("lstm_cell", name, s, w_ih) for name, s in zip(("hx", "cx"), hx))
    h, c = _cell("lstm_cell", "LSTM", input, h0, c0, w_ih, w_hh, b_ih, b_hh)
    assert c is not None
    return h, c


def gru_cell(input: ArrayLike, hx: ArrayLike, w_ih: Tensor, w_hh: Tensor,
             b_ih: Optional[Tensor] = None, b_hh: Optional[Tensor] = None) -> Tensor:
    """One GRU step::

        r, z = σ of the first two H-wide slices of x W_ih^T + b_ih + h W_hh^T + b_hh
        n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn)),   h' = (1 - z) * n + z * h

    Shape: input ``(N, H_in)``, hx ``(N, H)`` -> ``(N, H)``.
    """
    h = _floats("gru_cell", "hx", hx, w_ih)
    return _cell("gru_cell", "GRU", input, h, None, w_ih, w_hh, b_ih, b_hh)[0]


# ------------------------------------------------------------------ whole sequences
def _direction(step: Step, x: Tensor, h: Tensor, c: Optional[Tensor], weights: Weights,
               reverse: bool) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
    """Run one layer in one direction over ``x`` ``(L, N, H_in)``: ``(L, N, H)`` outputs in
    time order (``(L, N, P)`` with a projection) and the final state."""
    w_ih, w_hh, b_ih, b_hh = weights
    input_terms = linear(x, w_ih, b_ih)  # (L, N, G*H): every step's input term at once
    seq_len = x.shape[0]
    outputs: List[Tensor] = [h] * seq_len
    for t in (range(seq_len - 1, -1, -1) if reverse else range(seq_len)):
        h, c = step(input_terms[t], h, c, w_hh, b_hh)
        outputs[t] = h
    return stack(outputs, 0), h, c


def recurrent(mode: str, input: Tensor, hx: Tensor, cx: Optional[Tensor],
              weights: Sequence[Weights], num_layers: int, bidirectional: bool,
              dropout: float = 0.0, training: bool = False,
              projections: Optional[Sequence[Tensor]] = None
              ) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
    """A stacked, optionally bidirectional recurrent network over a whole sequence.

    Args:
        mode: ``'RNN_TANH'``, ``'RNN_RELU'``, ``'LSTM'`` or ``'GRU'``.
        input: ``(L, N, H_in)``, time first, of the weights' dtype.
        hx, cx: ``(D * num_layers, N, H)`` initial states (``cx`` for LSTM only, else None);
            with projections ``hx`` is ``(D * num_layers, N, P)``.
        weights: ``(w_ih, w_hh, b_ih, b_hh)`` for layer 0 forward, layer 0 backward (when
            bidirectional), layer 1 forward, ...
        dropout: probability of zeroing each output of every layer but the last, applied
            only when ``training``.
        projections: LSTM only: ``w_hr`` ``(P, H)`` for each entry of ``weights``, which
            project every hidden state to P features (``proj_size``); None for none.

    Returns:
        ``(output, h_n, c_n)``: output ``(L, N, D * H)`` of the last layer, ``h_n`` and
        ``c_n`` ``(D * num_layers, N, H)`` (``c_n`` None except for LSTM); with
        projections, output ``(L, N, D * P)`` and ``h_n`` ``(D * num_layers, N, P)``.

    The caller checks the shapes (the modules do).
    """
    def run(layer_input: Tensor, index: int, reverse: bool
            ) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
        c0 = None if cx is None else cx[index]
        if projections is None:  # the whole sequence as one node
            w_ih, w_hh, b_ih, b_hh = weights[index]
            return sequence(mode, linear(layer_input, w_ih, b_ih), hx[index], c0, w_hh, b_hh,
                            reverse)
        step = step_of(mode, projections[index])
        return _direction(step, layer_input, hx[index], c0, weights[index], reverse)

    return stacked(run, input, num_layers, bidirectional, dropout, training)


Direction = Callable[[Tensor, int, bool], Tuple[Tensor, Tensor, Optional[Tensor]]]


def stacked(run: Direction, input: Tensor, num_layers: int, bidirectional: bool,
            dropout: float, training: bool) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
    """The loop over layers and directions that padded and packed sequences share:
    ``run(layer_input, index, reverse)`` runs direction ``index`` (layer 0 forward, layer 0
    backward, layer 1 forward, ...) and returns its outputs and final ``h`` and ``c``."""
    directions = 2 if bidirectional else 1
    layer_input = input
    last_h: List[Tensor] = []
    last_c: List[Tensor] = []
    for layer in range(num_layers):
        if layer > 0 and training and dropout > 0:
            layer_input = _dropout(layer_input, dropout, True)
        outputs = []
        for direction in range(directions):
            out, h, c = run(layer_input, layer * directions + direction, direction == 1)
            outputs.append(out)
            last_h.append(h)
            if c is not None:
                last_c.append(c)
        layer_input = outputs[0] if directions == 1 else cat(outputs, -1)
    c_n = stack(last_c, 0) if last_c else None
    return layer_input, stack(last_h, 0), c_n


def _floats(op: str, name: str, value: ArrayLike, weight: Tensor) -> Tensor:
    """``value`` as a Tensor of the weight's dtype (integers are converted too)."""
    t = as_tensor(value)
    check_real_dtype(t.dtype, op, name)
    return t if t.dtype == weight.dtype else t.astype(weight.dtype)
