"""Backpropagation through time for one recurrent layer, derived by hand, in plain NumPy.

One layer, one direction (first step to last), PyTorch's parameter layout and gate order, as
in :mod:`dlcore.reference.recurrent`: ``w_ih`` ``(G * H, H_in)``, ``w_hh`` ``(G * H, H)``,
``b_ih`` and ``b_hh`` ``(G * H,)``, the G gate blocks of H rows stacked as LSTM ``i, f, g, o``
and GRU ``r, z, n``; G = 1 for a plain RNN. Arrays keep their dtype (float32 or float64).

How the backward pass is organised (the same for every mode). Every step ``t`` reads the
input through one product and the previous state through another::

    a_t = (x_t W_ih^T + b_ih) + (h_{t-1} W_hh^T + b_hh)    the gate pre-activations (N, G*H)
          \\______ gx_t ______/   \\________ gh_t ________/

and then applies the cell's elementwise equations. The loss L reaches ``h_t`` two ways: through
``output[t]`` directly and through step ``t + 1``, which read ``h_t`` as its previous state.
So, walking back from the last step with ``dh = dL/dh_t`` (and, for LSTM, ``dc = dL/dc_t``):

1. ``dh += d_output[t]`` (the direct route; the route through step t+1 is already in dh).
2. The cell's own chain rule gives ``d gx_t`` and ``d gh_t`` (equal except for GRU, where
   ``r`` multiplies ``gh``'s n block), plus what reaches ``h_{t-1}`` (and ``c_{t-1}``)
   without going through ``W_hh``.
3. ``dh_{t-1} = (that direct part) + d gh_t W_hh``  (the gradient of ``h_{t-1} W_hh^T``).

The weights are shared by every step, so their gradients are sums over the steps; they are
taken at the end, each as one product over all steps at once::

    dW_hh = sum_t d gh_t^T h_{t-1}    db_hh = sum_t,n d gh_t
    dW_ih = sum_t d gx_t^T x_t        db_ih = sum_t,n d gx_t      dx_t = d gx_t W_ih

Derivatives used: ``σ'(a) = σ(a)(1 - σ(a))``, ``tanh'(a) = 1 - tanh(a)^2``,
``relu'(a) = [a > 0]`` — each written through the function's output, which the forward pass
keeps, so no pre-activation needs storing.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Union

import numpy as np

from .recurrent import GATES, sigmoid

Cache = Dict[str, Any]


def layer_forward(mode: str, x: np.ndarray, h0: Optional[np.ndarray], c0: Optional[np.ndarray],
                  w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray, b_hh: np.ndarray
                  ) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray], Cache]:
    """Run one layer over a sequence, keeping what :func:`layer_backward` needs.

    Args:
        mode: ``'RNN_TANH'``, ``'RNN_RELU'``, ``'LSTM'`` or ``'GRU'``.
        x: ``(L, N, H_in)``.
        h0: ``(N, H)``, or None for zeros. c0: ``(N, H)`` or None for zeros (LSTM only;
            ignored otherwise).
        w_ih: ``(G * H, H_in)``; w_hh: ``(G * H, H)``; b_ih, b_hh: ``(G * H,)``.

    Returns:
        ``(output, h_n, c_n, cache)``: output ``(L, N, H)`` (every step's h), ``h_n`` and
        ``c_n`` ``(N, H)`` (``c_n`` None unless LSTM), and the cache for the backward pass.
    """
    steps, batch, hidden = _check(mode, x, w_ih, w_hh, b_ih, b_hh)
    dtype = np.result_type(x, w_ih, w_hh, b_ih, b_hh, np.float32)  # integers become floats
    h = np.zeros((batch, hidden), dtype) if h0 is None else np.asarray(h0, dtype)
    c = np.zeros((batch, hidden), dtype) if c0 is None else np.asarray(c0, dtype)
    _check_state("h0", h, batch, hidden)
    if mode == "LSTM":
        _check_state("c0", c, batch, hidden)
    # hs[t + 1] is h after step t, hs[0] = h0: step t reads hs[t] and writes hs[t + 1].
    hs = np.empty((steps + 1, batch, hidden), dtype)
    hs[0] = h
    cs = np.empty((steps + 1, batch, hidden), dtype)  # the same for LSTM's c
    cs[0] = c
    gates = np.empty((steps, batch, GATES[mode] * hidden), dtype)  # the activated gates
    gh_n = np.empty((steps, batch, hidden), dtype)  # GRU: h_{t-1} W_hn^T + b_hn
    # The input side does not depend on the recurrence: one product for every step.
    gx = (x @ w_ih.T + b_ih).astype(dtype, copy=False)
    for t in range(steps):
        gh = hs[t] @ w_hh.T + b_hh
        if mode == "LSTM":
            hs[t + 1], cs[t + 1] = _lstm_step(gx[t] + gh, cs[t], gates[t])
        elif mode == "GRU":
            gh_n[t] = gh[:, 2 * hidden:]
            hs[t + 1] = _gru_step(gx[t], gh, hs[t], gates[t])
        else:
            gates[t] = np.tanh(gx[t] + gh) if mode == "RNN_TANH" else np.maximum(gx[t] + gh, 0)
            hs[t + 1] = gates[t]
    cache = {"mode": mode, "x": x, "hs": hs, "cs": cs, "gates": gates, "gh_n": gh_n,
             "w_ih": w_ih, "w_hh": w_hh}
    return hs[1:].copy(), hs[steps].copy(), (cs[steps].copy() if mode == "LSTM" else None), cache


def _lstm_step(a: np.ndarray, c: np.ndarray, out_gates: np.ndarray
               ) -> Tuple[np.ndarray, np.ndarray]:
    """``i, f, o = σ(a_i, a_f, a_o)``, ``g = tanh(a_g)``, ``c' = f c + i g``,
    ``h' = o tanh(c')``; the gates are written into ``out_gates`` ``(N, 4H)``."""
    hidden = c.shape[1]
    i = sigmoid(a[:, :hidden])
    f = sigmoid(a[:, hidden:2 * hidden])
    g = np.tanh(a[:, 2 * hidden:3 * hidden])
    o = sigmoid(a[:, 3 * hidden:])
    out_gates[:] = np.concatenate([i, f, g, o], axis=1)
    c_next = f * c + i * g
    return o * np.tanh(c_next), c_next


def _gru_step(gx: np.ndarray, gh: np.ndarray, h: np.ndarray, out_gates: np.ndarray
              ) -> np.ndarray:
    """``r, z = σ(gx + gh)`` (first two blocks), ``n = tanh(gx_n + r gh_n)``,
    ``h' = (1 - z) n + z h``; the gates r, z, n are written into ``out_gates`` ``(N, 3H)``."""
    hidden = h.shape[1]
    r = sigmoid(gx[:, :hidden] + gh[:, :hidden])
    z = sigmoid(gx[:, hidden:2 * hidden] + gh[:, hidden:2 * hidden])
    n = np.tanh(gx[:, 2 * hidden:] + r * gh[:, 2 * hidden:])
    out_gates[:] = np.concatenate([r, z, n], axis=1)
    return (1 - z) * n + z * h


def layer_backward(mode: str, cache: Cache, d_output: np.ndarray,
                   d_h_n: Optional[np.ndarray] = None, d_c_n: Optional[np.ndarray] = None
                   ) -> Dict[str, np.ndarray]:
    """The gradients of a loss through :func:`layer_forward`, given the loss's gradients
    with respect to that pass's results.

    Args:
        mode: the mode the cache was made with.
        cache: the last result of :func:`layer_forward`.
        d_output: ``(L, N, H)``, dLoss/d output. d_h_n, d_c_n: ``(N, H)`` or None (zero): the
            gradients reaching the final states from elsewhere (``d_c_n`` LSTM only).

    Returns:
        ``{'x': (L, N, H_in), 'h0': (N, H), 'c0': (N, H), 'w_ih': (G*H, H_in),
        'w_hh': (G*H, H), 'b_ih': (G*H,), 'b_hh': (G*H,)}``; ``'c0'`` only for LSTM.
    """
    if cache["mode"] != mode:
        raise ValueError(f"layer_backward: mode is {mode!r} but the cache was made by a "
                         f"{cache['mode']!r} forward pass")
    x, hs, cs, gates = cache["x"], cache["hs"], cache["cs"], cache["gates"]
    w_ih, w_hh = cache["w_ih"], cache["w_hh"]
    steps, batch, hidden = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
    if d_output.shape != (steps, batch, hidden):
        raise ValueError(f"layer_backward: d_output is {d_output.shape}, expected the output's "
                         f"shape {(steps, batch, hidden)}")
    dtype = hs.dtype
    # dh, dc: dLoss/dh_t and dLoss/dc_t by every route through later steps; at the end of the
    # sequence only the final states' own gradients reach them.
    dh = np.zeros((batch, hidden), dtype) if d_h_n is None else np.array(d_h_n, dtype)
    dc = np.zeros((batch, hidden), dtype) if d_c_n is None else np.array(d_c_n, dtype)
    d_gx = np.empty_like(gates)  # dLoss/d(x_t W_ih^T + b_ih), every step
    d_gh = np.empty_like(gates)  # dLoss/d(h_{t-1} W_hh^T + b_hh), every step
    dh_direct: Union[float, np.ndarray]  # the part of dLoss/dh_{t-1} that bypasses W_hh
    for t in range(steps - 1, -1, -1):
        dh = dh + d_output[t]  # step 1: add the direct route from output[t]
        # step 2: the cell's own chain rule, into d_gx[t] and d_gh[t]
        if mode == "LSTM":
            dc = _lstm_step_backward(dh, dc, gates[t], cs[t], cs[t + 1], d_gx[t])
            d_gh[t] = d_gx[t]
            dh_direct = 0.0  # h_{t-1} enters an LSTM step only through W_hh
        elif mode == "GRU":
            dh_direct = _gru_step_backward(dh, gates[t], hs[t], cache["gh_n"][t], d_gx[t],
                                           d_gh[t])
        else:
            # h_t = act(a_t): da = dh act'(a_t); tanh' = 1 - h_t^2, relu' = [h_t > 0].
            slope = 1 - gates[t] ** 2 if mode == "RNN_TANH" else (gates[t] > 0)
            d_gx[t] = dh * slope
            d_gh[t] = d_gx[t]
            dh_direct = 0.0
        dh = dh_direct + d_gh[t] @ w_hh  # step 3: h_{t-1} also reached the loss via W_hh
    rows = steps * batch  # the weight gradients sum over every step and every sample
    flat_gx = d_gx.reshape(rows, gates.shape[2])
    flat_gh = d_gh.reshape(rows, gates.shape[2])
    grads = {
        "x": d_gx @ w_ih,
        "h0": dh,
        "w_ih": flat_gx.T @ x.reshape(rows, x.shape[2]),
        "w_hh": flat_gh.T @ hs[:-1].reshape(rows, hidden),
        "b_ih": flat_gx.sum(axis=0),
        "b_hh": flat_gh.sum(axis=0),
    }
    if mode == "LSTM":
        grads["c0"] = dc
    return grads


def _lstm_step_backward(dh: np.ndarray, dc: np.ndarray, step_gates: np.ndarray,
                        c_prev: np.ndarray, c: np.ndarray, d_a: np.ndarray) -> np.ndarray:
    """One LSTM step back: from ``dh = dL/dh_t`` and ``dc = dL/dc_t`` (later steps only),
    write ``dL/da_t`` into ``d_a`` ``(N, 4H)`` and return ``dL/dc_{t-1}`` ``(N, H)``."""
    hidden = c.shape[1]
    i, f = step_gates[:, :hidden], step_gates[:, hidden:2 * hidden]
    g, o = step_gates[:, 2 * hidden:3 * hidden], step_gates[:, 3 * hidden:]
    tanh_c = np.tanh(c)
    # h_t = o tanh(c_t): dL/do = dh tanh(c_t), and c_t gets dh o tanh'(c_t) on top of
    # what step t+1 sent back through c_t (dc).
    d_o = dh * tanh_c
    dc = dc + dh * o * (1 - tanh_c ** 2)
    # c_t = f c_{t-1} + i g: each factor's gradient is dc times the other factor.
    d_i, d_f, d_g = dc * g, dc * c_prev, dc * i
    # Through the activations to the pre-activations: σ' = σ(1 - σ), tanh' = 1 - tanh^2.
    d_a[:, :hidden] = d_i * i * (1 - i)
    d_a[:, hidden:2 * hidden] = d_f * f * (1 - f)
    d_a[:, 2 * hidden:3 * hidden] = d_g * (1 - g ** 2)
    d_a[:, 3 * hidden:] = d_o * o * (1 - o)
    return dc * f  # c_t = f c_{t-1} + ...: dL/dc_{t-1} = dc f


def _gru_step_backward(dh: np.ndarray, step_gates: np.ndarray, h_prev: np.ndarray,
                       gh_n: np.ndarray, d_gx: np.ndarray, d_gh: np.ndarray) -> np.ndarray:
    """One GRU step back from ``dh = dL/dh_t``: write ``dL/d gx_t`` and ``dL/d gh_t``
    ``(N, 3H)`` into ``d_gx`` and ``d_gh``, and return the part of ``dL/dh_{t-1}`` that
    does not go through ``W_hh`` (the ``z h_{t-1}`` term)."""
    hidden = h_prev.shape[1]
    r, z, n = step_gates[:, :hidden], step_gates[:, hidden:2 * hidden], step_gates[:, 2 * hidden:]
    # h_t = (1 - z) n + z h_{t-1}.
    d_n = dh * (1 - z)
    d_z = dh * (h_prev - n)
    dh_direct = dh * z
    # n = tanh(a_n) with a_n = gx_n + r gh_n: da_n = d_n (1 - n^2); then a_n's two terms.
    d_a_n = d_n * (1 - n ** 2)
    d_r = d_a_n * gh_n
    # r and z are σ of gx + gh, so both sides get the same gradient for those blocks...
    d_gx[:, :hidden] = d_r * r * (1 - r)
    d_gx[:, hidden:2 * hidden] = d_z * z * (1 - z)
    d_gh[:, :2 * hidden] = d_gx[:, :2 * hidden]
    # ... but in the n block gh_n is scaled by r, and gx_n is not.
    d_gx[:, 2 * hidden:] = d_a_n
    d_gh[:, 2 * hidden:] = d_a_n * r
    return dh_direct


def _check(mode: str, x: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray,
           b_hh: np.ndarray) -> Tuple[int, int, int]:
    """``(L, N, H)`` after checking the mode and every shape against PyTorch's layout."""
    if mode not in GATES:
        raise ValueError(f"layer_forward: mode must be one of {sorted(GATES)}, got {mode!r}")
    if x.ndim != 3:
        raise ValueError(f"layer_forward: x must be (L, N, H_in), got shape {x.shape}")
    hidden = w_hh.shape[-1]  # H is read from w_hh's columns; everything else must agree
    rows = GATES[mode] * hidden
    expected = {"w_ih": (rows, x.shape[2]), "w_hh": (rows, hidden), "b_ih": (rows,),
                "b_hh": (rows,)}
    for name, array in (("w_ih", w_ih), ("w_hh", w_hh), ("b_ih", b_ih), ("b_hh", b_hh)):
        if array.shape != expected[name]:
            raise ValueError(f"layer_forward: {name} is {array.shape}, expected "
                             f"{expected[name]} for {mode} with H={hidden} and "
                             f"H_in={x.shape[2]}")
    return x.shape[0], x.shape[1], hidden


def _check_state(name: str, state: np.ndarray, batch: int, hidden: int) -> None:
    if state.shape != (batch, hidden):
        raise ValueError(f"layer_forward: {name} is {state.shape}, expected (N, H) = "
                         f"{(batch, hidden)}")
