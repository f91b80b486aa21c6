"""dlcore's recurrent layers against a hand-derived NumPy backpropagation through time
(`dlcore.reference.recurrent_bptt`): forward results and the gradients of the input, the
initial states and every parameter, at realistic sizes and over random small ones. The
reference itself is checked against central finite differences, and the comparison is shown
to notice a small error."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
from dlcore import nn
from dlcore.reference import recurrent as ref
from dlcore.reference import recurrent_bptt as bptt

MODES = ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]
PARAMS = {"w_ih": "weight_ih_l0", "w_hh": "weight_hh_l0", "b_ih": "bias_ih_l0",
          "b_hh": "bias_hh_l0"}
Arrays = Dict[str, np.ndarray]


def make_layer(mode: str, input_size: int, hidden_size: int) -> nn.RNNBase:
    if mode == "LSTM":
        return nn.LSTM(input_size, hidden_size, dtype=np.float64)
    if mode == "GRU":
        return nn.GRU(input_size, hidden_size, dtype=np.float64)
    nonlinearity = "tanh" if mode == "RNN_TANH" else "relu"
    return nn.RNN(input_size, hidden_size, nonlinearity=nonlinearity, dtype=np.float64)


def problem(mode: str, steps: int, batch: int, input_size: int, hidden: int, seed: int
            ) -> Tuple[nn.RNNBase, Arrays]:
    """A float64 layer and random inputs, initial states and upstream gradients."""
    rng = np.random.default_rng(seed)
    layer = make_layer(mode, input_size, hidden)
    state = (batch, hidden)
    data = {"x": rng.standard_normal((steps, batch, input_size)),
            "h0": rng.standard_normal(state), "c0": rng.standard_normal(state),
            "d_output": rng.standard_normal((steps, batch, hidden)),
            "d_h_n": rng.standard_normal(state), "d_c_n": rng.standard_normal(state)}
    return layer, data


def weights(layer: nn.RNNBase) -> Arrays:
    state = layer.state_dict()
    return {short: np.array(state[name]) for short, name in PARAMS.items()}


def run_reference(mode: str, w: Arrays, data: Arrays) -> Tuple[Arrays, Arrays]:
    """``(results, gradients)`` of the NumPy reference."""
    lstm = mode == "LSTM"
    output, h_n, c_n, cache = bptt.layer_forward(mode, data["x"], data["h0"], data["c0"],
                                                 w["w_ih"], w["w_hh"], w["b_ih"], w["b_hh"])
    grads = bptt.layer_backward(mode, cache, data["d_output"], data["d_h_n"],
                                data["d_c_n"] if lstm else None)
    results = {"output": output, "h_n": h_n}
    if lstm:
        results["c_n"] = c_n
    return results, grads


def run_dlcore(mode: str, layer: nn.RNNBase, data: Arrays) -> Tuple[Arrays, Arrays]:
    """``(results, gradients)`` of dlcore's layer, the loss being
    ``sum(output * d_output) + sum(h_n * d_h_n) [+ sum(c_n * d_c_n)]``."""
    x = dlcore.tensor(data["x"], requires_grad=True)
    h0 = dlcore.tensor(data["h0"][None], requires_grad=True)
    c0 = dlcore.tensor(data["c0"][None], requires_grad=True)
    c_n: Optional[Any] = None
    if mode == "LSTM":
        output, (h_n, c_n) = layer(x, (h0, c0))
    else:
        output, h_n = layer(x, h0)
    loss = (output * data["d_output"]).sum() + (h_n * data["d_h_n"][None]).sum()
    if c_n is not None:
        loss = loss + (c_n * data["d_c_n"][None]).sum()
    layer.zero_grad()
    loss.backward()
    results = {"output": output.data, "h_n": h_n.data[0]}
    grads = {"x": x.grad.data, "h0": h0.grad.data[0]}
    grads.update({short: getattr(layer, name).grad.data for short, name in PARAMS.items()})
    if c_n is not None:
        results["c_n"] = c_n.data[0]
        grads["c0"] = c0.grad.data[0]
    return results, grads


def assert_close(got: Arrays, want: Arrays) -> None:
    """Every array equal to float64 round-off: the gradients of these sizes are O(1 to 10)
    and the two sides differ by ~1e-14, so rtol 1e-10 leaves room only for summation order."""
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name].shape == want[name].shape, name
        assert got[name].dtype == np.float64, name
        np.testing.assert_allclose(got[name], want[name], rtol=1e-10, atol=1e-12, err_msg=name)


# ------------------------------------------------------------------ dlcore against the oracle
@pytest.mark.parametrize("mode", MODES)
def test_dlcore_layer_matches_the_hand_derived_bptt(mode):
    layer, data = problem(mode, steps=7, batch=5, input_size=6, hidden=8, seed=0)
    want_results, want_grads = run_reference(mode, weights(layer), data)
    got_results, got_grads = run_dlcore(mode, layer, data)
    assert_close(got_results, want_results)
    assert_close(got_grads, want_grads)
    expected = {"x", "h0", "w_ih", "w_hh", "b_ih", "b_hh"} | ({"c0"} if mode == "LSTM" else set())
    assert set(want_grads) == expected
    for name, grad in want_grads.items():  # every gradient carries signal, none is trivially 0
        assert np.abs(grad).max() > 1e-3, name


@pytest.mark.parametrize("mode", MODES)
def test_a_long_sequence_still_matches(mode):
    # 40 steps: errors in the recursion compound, so an off-by-one in time would show.
    layer, data = problem(mode, steps=40, batch=3, input_size=4, hidden=5, seed=1)
    want_results, want_grads = run_reference(mode, weights(layer), data)
    got_results, got_grads = run_dlcore(mode, layer, data)
    assert_close(got_results, want_results)
    assert_close(got_grads, want_grads)


@settings(max_examples=40, deadline=None)
@given(mode=st.sampled_from(MODES), steps=st.integers(1, 5), batch=st.integers(1, 4),
       input_size=st.integers(1, 5), hidden=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_dlcore_matches_the_bptt_for_any_sizes(mode, steps, batch, input_size, hidden, seed):
    layer, data = problem(mode, steps, batch, input_size, hidden, seed)
    want_results, want_grads = run_reference(mode, weights(layer), data)
    got_results, got_grads = run_dlcore(mode, layer, data)
    assert_close(got_results, want_results)
    assert_close(got_grads, want_grads)


@pytest.mark.parametrize("mode", MODES)
def test_the_comparison_catches_a_small_error(mode):
    # A reference run from a w_hh changed by 1e-7 in one entry differs from dlcore by far less
    # than any derivation mistake would, and the comparison still refuses it.
    layer, data = problem(mode, steps=7, batch=5, input_size=6, hidden=8, seed=2)
    w = weights(layer)
    got_results, got_grads = run_dlcore(mode, layer, data)
    w["w_hh"][1, 2] += 1e-7
    want_results, want_grads = run_reference(mode, w, data)
    with pytest.raises(AssertionError):
        assert_close(got_grads, want_grads)


def test_float32_stays_float32_and_agrees_with_dlcore_float32():
    layer, data = problem("LSTM", steps=6, batch=4, input_size=5, hidden=7, seed=3)
    w64 = weights(layer)
    w32 = {k: v.astype(np.float32) for k, v in w64.items()}
    data32 = {k: v.astype(np.float32) for k, v in data.items()}
    results, grads = run_reference("LSTM", w32, data32)
    _, grads64 = run_reference("LSTM", w64, data)
    for name, grad in grads.items():
        assert grad.dtype == np.float32, name
        np.testing.assert_allclose(grad, grads64[name], rtol=1e-4, atol=1e-5, err_msg=name)
    assert all(r.dtype == np.float32 for r in results.values())


# ------------------------------------------------------------------ the oracle itself
def loss_of(mode: str, w: Arrays, data: Arrays) -> float:
    """The scalar whose gradient the reference computes."""
    output, h_n, c_n, _ = bptt.layer_forward(mode, data["x"], data["h0"], data["c0"],
                                             w["w_ih"], w["w_hh"], w["b_ih"], w["b_hh"])
    loss = np.sum(output * data["d_output"]) + np.sum(h_n * data["d_h_n"])
    if mode == "LSTM":
        loss += np.sum(c_n * data["d_c_n"])
    return float(loss)


def central_differences(mode: str, w: Arrays, data: Arrays, eps: float = 1e-6) -> Arrays:
    """``(f(a + eps) - f(a - eps)) / (2 eps)`` for every entry of every input."""
    grads = {}
    inputs = {**w, "x": data["x"], "h0": data["h0"]}
    if mode == "LSTM":
        inputs["c0"] = data["c0"]
    for name, array in inputs.items():
        grad = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + eps
            plus = loss_of(mode, w, data)
            array[index] = saved - eps
            minus = loss_of(mode, w, data)
            array[index] = saved
            grad[index] = (plus - minus) / (2 * eps)
        grads[name] = grad
    return grads


@pytest.mark.parametrize("mode", MODES)
def test_the_reference_gradients_match_finite_differences(mode):
    layer, data = problem(mode, steps=3, batch=2, input_size=3, hidden=2, seed=4)
    w = weights(layer)
    if mode == "RNN_RELU":  # keep the pre-activations away from ReLU's kink
        data["x"] *= 3
        data["h0"] *= 3
    numeric = central_differences(mode, w, data)
    _, analytic = run_reference(mode, w, data)
    assert sorted(numeric) == sorted(analytic)
    for name in numeric:
        np.testing.assert_allclose(analytic[name], numeric[name], rtol=1e-6, atol=1e-8,
                                   err_msg=name)


@pytest.mark.parametrize("mode", MODES)
def test_the_reference_forward_is_the_forward_reference(mode):
    layer, data = problem(mode, steps=5, batch=3, input_size=4, hidden=6, seed=5)
    w = weights(layer)
    results, _ = run_reference(mode, w, data)
    h0 = data["h0"][None]
    c0 = data["c0"][None] if mode == "LSTM" else None
    output, h_n, c_n = ref.rnn(mode, data["x"], dict(layer.state_dict()), 6, h0=h0, c0=c0)
    np.testing.assert_allclose(results["output"], output, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(results["h_n"], h_n[0], rtol=1e-13, atol=1e-14)
    if mode == "LSTM":
        np.testing.assert_allclose(results["c_n"], c_n[0], rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("mode", MODES)
def test_missing_states_and_upstream_gradients_are_zeros(mode):
    layer, data = problem(mode, steps=4, batch=2, input_size=3, hidden=3, seed=6)
    w = weights(layer)
    args = (w["w_ih"], w["w_hh"], w["b_ih"], w["b_hh"])
    output, h_n, c_n, cache = bptt.layer_forward(mode, data["x"], None, None, *args)
    zeros = np.zeros((2, 3))
    output0, h_n0, _, cache0 = bptt.layer_forward(mode, data["x"], zeros, zeros, *args)
    np.testing.assert_array_equal(output, output0)
    np.testing.assert_array_equal(h_n, h_n0)
    assert (c_n is None) == (mode != "LSTM")
    grads = bptt.layer_backward(mode, cache, data["d_output"])
    grads0 = bptt.layer_backward(mode, cache0, data["d_output"], zeros, zeros)
    for name in grads0:
        np.testing.assert_array_equal(grads[name], grads0[name], err_msg=name)


def test_an_empty_sequence_passes_the_states_through():
    layer, data = problem("LSTM", steps=0, batch=2, input_size=3, hidden=4, seed=7)
    w = weights(layer)
    results, grads = run_reference("LSTM", w, data)
    assert results["output"].shape == (0, 2, 4)
    np.testing.assert_array_equal(results["h_n"], data["h0"])
    np.testing.assert_array_equal(results["c_n"], data["c0"])
    np.testing.assert_array_equal(grads["h0"], data["d_h_n"])
    np.testing.assert_array_equal(grads["c0"], data["d_c_n"])
    assert grads["x"].shape == (0, 2, 3)
    for name in PARAMS:
        assert grads[name].shape == w[name].shape and not grads[name].any(), name


def test_bad_arguments_are_refused_with_the_shapes():
    layer, data = problem("GRU", steps=3, batch=2, input_size=3, hidden=4, seed=8)
    w = weights(layer)
    args = (w["w_ih"], w["w_hh"], w["b_ih"], w["b_hh"])
    with pytest.raises(ValueError, match="mode must be one of"):
        bptt.layer_forward("LSTMX", data["x"], None, None, *args)
    with pytest.raises(ValueError, match=r"x must be \(L, N, H_in\), got shape \(2, 3\)"):
        bptt.layer_forward("GRU", data["x"][0], None, None, *args)
    with pytest.raises(ValueError, match=r"w_ih is \(12, 3\), expected \(16, 3\)"):
        bptt.layer_forward("LSTM", data["x"], None, None, *args)
    with pytest.raises(ValueError, match=r"h0 is \(3, 4\), expected \(N, H\) = \(2, 4\)"):
        bptt.layer_forward("GRU", data["x"], np.zeros((3, 4)), None, *args)
    _, _, _, cache = bptt.layer_forward("GRU", data["x"], None, None, *args)
    with pytest.raises(ValueError, match="cache was made by a 'GRU'"):
        bptt.layer_backward("LSTM", cache, data["d_output"])
    with pytest.raises(ValueError, match=r"d_output is \(3, 2, 5\), expected .*\(3, 2, 4\)"):
        bptt.layer_backward("GRU", cache, np.zeros((3, 2, 5)))
