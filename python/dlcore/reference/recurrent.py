"""Recurrent cells and layers in plain NumPy, written from PyTorch's documented equations.

Parameters are a dict keyed by PyTorch's names (``weight_ih_l0``, ``bias_hh_l1_reverse``,
...) holding PyTorch's layouts: ``weight_ih`` is ``(G * H, H_in)`` and ``weight_hh``
``(G * H, H)`` with the gates stacked in PyTorch's order (LSTM ``i, f, g, o``; GRU
``r, z, n``; G = 1 for a plain RNN). A missing bias counts as zero. An LSTM with
``proj_size`` P has ``weight_hr`` ``(P, H)`` too, and its hidden state is P wide.

One explicit loop over time per layer and direction, no dropout (evaluation mode).
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np

Params = Dict[str, np.ndarray]

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def rnn_cell(x: np.ndarray, h: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray,
             b_ih: np.ndarray, b_hh: np.ndarray, nonlinearity: str = "tanh") -> np.ndarray:
    """``h' = act(W_ih x + b_ih + W_hh h + b_hh)`` for ``x`` ``(N, H_in)``, ``h`` ``(N, H)``."""
    pre = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    return np.tanh(pre) if nonlinearity == "tanh" else np.maximum(pre, 0.0)


def lstm_cell(x: np.ndarray, h: np.ndarray, c: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray,
              b_ih: np.ndarray, b_hh: np.ndarray, w_hr: Optional[np.ndarray] = None
              ) -> Tuple[np.ndarray, np.ndarray]:
    """One LSTM step; returns ``(h', c')``::

        i = σ(W_ii x + b_ii + W_hi h + b_hi)      f = σ(W_if x + b_if + W_hf h + b_hf)
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)   o = σ(W_io x + b_io + W_ho h + b_ho)
        c' = f ⊙ c + i ⊙ g                        h' = o ⊙ tanh(c')

    With a projection ``w_hr`` ``(P, H)``, ``h' = W_hr (o ⊙ tanh(c'))`` and ``h`` is
    ``(N, P)``; ``c`` stays ``(N, H)``.
    """
    hidden = c.shape[-1]
    w_ii, w_if, w_ig, w_io = (w_ih[k * hidden:(k + 1) * hidden] for k in range(4))
    w_hi, w_hf, w_hg, w_ho = (w_hh[k * hidden:(k + 1) * hidden] for k in range(4))
    b_ii, b_if, b_ig, b_io = (b_ih[k * hidden:(k + 1) * hidden] for k in range(4))
    b_hi, b_hf, b_hg, b_ho = (b_hh[k * hidden:(k + 1) * hidden] for k in range(4))
    i = sigmoid(x @ w_ii.T + b_ii + h @ w_hi.T + b_hi)
    f = sigmoid(x @ w_if.T + b_if + h @ w_hf.T + b_hf)
    g = np.tanh(x @ w_ig.T + b_ig + h @ w_hg.T + b_hg)
    o = sigmoid(x @ w_io.T + b_io + h @ w_ho.T + b_ho)
    c_next = f * c + i * g
    h_next = o * np.tanh(c_next)
    return (h_next if w_hr is None else h_next @ w_hr.T), c_next


def gru_cell(x: np.ndarray, h: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray,
             b_ih: np.ndarray, b_hh: np.ndarray) -> np.ndarray:
    """One GRU step::

        r = σ(W_ir x + b_ir + W_hr h + b_hr)      z = σ(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
        h' = (1 - z) ⊙ n + z ⊙ h
    """
    hidden = h.shape[-1]
    w_ir, w_iz, w_in = (w_ih[k * hidden:(k + 1) * hidden] for k in range(3))
    w_hr, w_hz, w_hn = (w_hh[k * hidden:(k + 1) * hidden] for k in range(3))
    b_ir, b_iz, b_in = (b_ih[k * hidden:(k + 1) * hidden] for k in range(3))
    b_hr, b_hz, b_hn = (b_hh[k * hidden:(k + 1) * hidden] for k in range(3))
    r = sigmoid(x @ w_ir.T + b_ir + h @ w_hr.T + b_hr)
    z = sigmoid(x @ w_iz.T + b_iz + h @ w_hz.T + b_hz)
    n = np.tanh(x @ w_in.T + b_in + r * (h @ w_hn.T + b_hn))
    return (1 - z) * n + z * h


def _weights(params: Params, suffix: str, gates: int, hidden: int
             ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    zeros = np.zeros(gates * hidden)
    return (params[f"weight_ih{suffix}"], params[f"weight_hh{suffix}"],
            params.get(f"bias_ih{suffix}", zeros), params.get(f"bias_hh{suffix}", zeros))


def rnn(mode: str, x: np.ndarray, params: Params, hidden_size: int, num_layers: int = 1,
        bidirectional: bool = False, batch_first: bool = False,
        h0: Optional[np.ndarray] = None, c0: Optional[np.ndarray] = None,
        proj_size: int = 0) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """A stacked (and optionally bidirectional) RNN over a whole sequence.

    Args:
        mode: ``'RNN_TANH'``, ``'RNN_RELU'``, ``'LSTM'`` or ``'GRU'``.
        x: ``(L, N, H_in)`` (``(N, L, H_in)`` with ``batch_first``) or unbatched
            ``(L, H_in)``.
        h0, c0: ``(D * num_layers, N, H)`` (``(D * num_layers, H)`` unbatched); zeros when
            None. ``c0`` only for LSTM.
        proj_size: LSTM only: P > 0 projects each hidden state with ``weight_hr`` ``(P, H)``;
            then ``h0`` is ``(D * num_layers, N, P)``.

    Returns:
        ``(output, h_n, c_n)``: output ``(L, N, D * H)`` (batch first if asked), ``h_n``
        and ``c_n`` ``(D * num_layers, N, H)``; ``c_n`` is None except for LSTM. Unbatched
        input gives results without the N dimension. With ``proj_size`` P, output is
        ``(L, N, D * P)`` and ``h_n`` ``(D * num_layers, N, P)``.
    """
    unbatched = x.ndim == 2
    if unbatched:
        x = x[:, None]
        h0 = None if h0 is None else h0[:, None]
        c0 = None if c0 is None else c0[:, None]
    elif batch_first:
        x = x.transpose(1, 0, 2)
    seq_len, batch = x.shape[:2]
    directions = 2 if bidirectional else 1
    out_size = proj_size if proj_size > 0 else hidden_size
    h0 = np.zeros((num_layers * directions, batch, out_size)) if h0 is None else h0
    c0 = np.zeros((num_layers * directions, batch, hidden_size)) if c0 is None else c0
    gates = GATES[mode]
    h_n, c_n = [], []
    layer_input = x
    for layer in range(num_layers):
        outputs = []
        for direction in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
            w_ih, w_hh, b_ih, b_hh = _weights(params, suffix, gates, hidden_size)
            index = layer * directions + direction
            h, c = h0[index], c0[index]
            w_hr = params[f"weight_hr{suffix}"] if proj_size > 0 else None
            out = np.zeros((seq_len, batch, out_size))
            times = range(seq_len - 1, -1, -1) if direction == 1 else range(seq_len)
            for t in times:
                if mode == "LSTM":
                    h, c = lstm_cell(layer_input[t], h, c, w_ih, w_hh, b_ih, b_hh, w_hr)
                elif mode == "GRU":
                    h = gru_cell(layer_input[t], h, w_ih, w_hh, b_ih, b_hh)
                else:
                    act = "tanh" if mode == "RNN_TANH" else "relu"
                    h = rnn_cell(layer_input[t], h, w_ih, w_hh, b_ih, b_hh, act)
                out[t] = h
            outputs.append(out)
            h_n.append(h)
            c_n.append(c)
        layer_input = np.concatenate(outputs, axis=-1)
    output, hn, cn = layer_input, np.stack(h_n), np.stack(c_n)
    if unbatched:
        output, hn, cn = output[:, 0], hn[:, 0], cn[:, 0]
    elif batch_first:
        output = output.transpose(1, 0, 2)
    return output, hn, (cn if mode == "LSTM" else None)
