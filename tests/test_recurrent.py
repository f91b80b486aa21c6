"""nn.RNNCell / LSTMCell / GRUCell and nn.RNN / LSTM / GRU against the NumPy reference
(written from PyTorch's documented equations), finite differences, PyTorch's parameter names,
and a small LSTM that learns to read MNIST digits row by row."""

from __future__ import annotations

import math
import runpy
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
from dlcore import nn
from dlcore.autograd import gradcheck
from dlcore.reference import recurrent as ref

MODES = ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]


def make_layer(mode: str, input_size: int, hidden_size: int, **kwargs: Any) -> nn.RNNBase:
    if mode == "LSTM":
        return nn.LSTM(input_size, hidden_size, **kwargs)
    if mode == "GRU":
        return nn.GRU(input_size, hidden_size, **kwargs)
    nonlinearity = "tanh" if mode == "RNN_TANH" else "relu"
    return nn.RNN(input_size, hidden_size, nonlinearity=nonlinearity, **kwargs)


def run_layer(layer: nn.RNNBase, x: Any, h0: Any = None, c0: Any = None):
    """``(output, h_n, c_n)`` whatever the layer type (c_n None unless LSTM)."""
    if isinstance(layer, nn.LSTM):
        output, (h_n, c_n) = layer(x, None if h0 is None else (h0, c0))
        return output, h_n, c_n
    output, h_n = layer(x, h0)
    return output, h_n, None


def arrays(module: nn.Module) -> Dict[str, np.ndarray]:
    return dict(module.state_dict())


def use_params(module: nn.Module, tensors: Sequence[dlcore.Tensor]) -> None:
    """Put ``tensors`` in place of the module's parameters (in registration order), so
    gradcheck's leaves are what the forward pass reads."""
    for name, tensor in zip(list(module._parameters), tensors):
        module._parameters[name] = tensor


# ------------------------------------------------------------------ cells
CELLS = {
    "rnn_tanh": (lambda i, h, b: nn.RNNCell(i, h, bias=b), 1),
    "rnn_relu": (lambda i, h, b: nn.RNNCell(i, h, bias=b, nonlinearity="relu"), 1),
    "lstm": (lambda i, h, b: nn.LSTMCell(i, h, bias=b), 4),
    "gru": (lambda i, h, b: nn.GRUCell(i, h, bias=b), 3),
}


def cell_reference(kind: str, x: np.ndarray, h: np.ndarray, c: np.ndarray,
                   p: Dict[str, np.ndarray]) -> List[np.ndarray]:
    gates = p["weight_ih"].shape[0]
    b_ih = p.get("bias_ih", np.zeros(gates))
    b_hh = p.get("bias_hh", np.zeros(gates))
    args = (p["weight_ih"], p["weight_hh"], b_ih, b_hh)
    if kind == "lstm":
        return list(ref.lstm_cell(x, h, c, *args))
    if kind == "gru":
        return [ref.gru_cell(x, h, *args)]
    return [ref.rnn_cell(x, h, *args, nonlinearity="tanh" if kind == "rnn_tanh" else "relu")]


@pytest.mark.parametrize("kind", sorted(CELLS))
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("given_state", [True, False])
@pytest.mark.parametrize("batched", [True, False])
def test_cell_matches_reference(kind, bias, given_state, batched):
    rng = np.random.default_rng(1)
    cell = CELLS[kind][0](3, 4, bias).double()
    batch = 5 if batched else 1
    x = rng.standard_normal((batch, 3))
    h = rng.standard_normal((batch, 4)) if given_state else np.zeros((batch, 4))
    c = rng.standard_normal((batch, 4)) if given_state else np.zeros((batch, 4))
    want = cell_reference(kind, x, h, c, arrays(cell))
    xin, hin, cin = (x, h, c) if batched else (x[0], h[0], c[0])
    state = None
    if given_state:
        state = (hin, cin) if kind == "lstm" else hin
    got = cell(xin, state)
    got = list(got) if kind == "lstm" else [got]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == np.float64
        np.testing.assert_allclose(g.data, w if batched else w[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_cell_gradients_match_finite_differences(kind):
    rng = np.random.default_rng(2)
    cell = CELLS[kind][0](3, 2, True).double()
    x = rng.standard_normal((2, 3))
    h = rng.standard_normal((2, 2))
    c = rng.standard_normal((2, 2))
    params = [p.data.copy() for p in cell.parameters()]

    def f(x, h, c, *weights):
        use_params(cell, weights)
        if kind == "lstm":
            h_next, c_next = cell(x, (h, c))
            return dlcore.cat([h_next, c_next], 1)
        return cell(x, h)

    if kind == "rnn_relu":  # keep the pre-activations off ReLU's kink
        x, h = x * 3, h * 3
    assert gradcheck(f, [x, h, c, *params])


def test_cell_default_state_is_zeros_and_unbatched_drops_the_batch_dim():
    cell = nn.LSTMCell(3, 4)
    x = np.random.default_rng(0).standard_normal(3).astype(np.float32)
    h, c = cell(x)
    h0, c0 = cell(x[None], (np.zeros((1, 4)), np.zeros((1, 4))))
    assert h.shape == (4,) and c.shape == (4,)
    np.testing.assert_allclose(h.data, h0.data[0], rtol=1e-6)
    np.testing.assert_allclose(c.data, c0.data[0], rtol=1e-6)


def test_functional_cells_match_the_reference_and_check_shapes():
    from dlcore.nn.ops import recurrent as R

    rng = np.random.default_rng(11)
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    w_ih, w_hh = rng.standard_normal((16, 3)), rng.standard_normal((16, 4))
    b_ih, b_hh = rng.standard_normal(16), rng.standard_normal(16)
    got_h, got_c = R.lstm_cell(x, (h, c), *map(dlcore.tensor, (w_ih, w_hh, b_ih, b_hh)))
    want_h, want_c = ref.lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh)
    np.testing.assert_allclose(got_h.data, want_h, rtol=1e-12)
    np.testing.assert_allclose(got_c.data, want_c, rtol=1e-12)
    gru = R.gru_cell(x, h, dlcore.tensor(w_ih[:12]), dlcore.tensor(w_hh[:12]))
    np.testing.assert_allclose(gru.data, ref.gru_cell(x, h, w_ih[:12], w_hh[:12],
                                                      np.zeros(12), np.zeros(12)), rtol=1e-12)
    relu = R.rnn_relu_cell(x, h, dlcore.tensor(w_ih[:4]), dlcore.tensor(w_hh[:4]))
    np.testing.assert_allclose(relu.data, ref.rnn_cell(x, h, w_ih[:4], w_hh[:4], 0, 0, "relu"))
    with pytest.raises(ValueError, match=r"hx has shape \(2, 5\) but expected \(2, 4\)"):
        R.rnn_tanh_cell(x, np.zeros((2, 5)), dlcore.tensor(w_ih[:4]), dlcore.tensor(w_hh[:4]))
    with pytest.raises(ValueError, match=r"input has shape \(2, 2\) but expected \(N, 3\)"):
        R.gru_cell(x[:, :2], h, dlcore.tensor(w_ih[:12]), dlcore.tensor(w_hh[:12]))


# ------------------------------------------------------------------ layers
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("given_state", [False, True])
def test_layer_matches_reference(mode, num_layers, bidirectional, batch_first, given_state):
    rng = np.random.default_rng(3)
    seq_len, batch, input_size, hidden = 4, 3, 5, 6
    layer = make_layer(mode, input_size, hidden, num_layers=num_layers,
                       bidirectional=bidirectional, batch_first=batch_first).double()
    shape = (batch, seq_len, input_size) if batch_first else (seq_len, batch, input_size)
    x = rng.standard_normal(shape)
    states = (num_layers * (2 if bidirectional else 1), batch, hidden)
    h0 = rng.standard_normal(states) if given_state else None
    c0 = rng.standard_normal(states) if given_state and mode == "LSTM" else None
    output, h_n, c_n = run_layer(layer, x, h0, c0)
    want_out, want_h, want_c = ref.rnn(mode, x, arrays(layer), hidden, num_layers,
                                       bidirectional, batch_first, h0, c0)
    directions = 2 if bidirectional else 1
    assert output.shape == shape[:2] + (directions * hidden,)
    assert h_n.shape == states
    np.testing.assert_allclose(output.data, want_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h_n.data, want_h, rtol=1e-12, atol=1e-12)
    if mode == "LSTM":
        np.testing.assert_allclose(c_n.data, want_c, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_unbatched_input(mode, bidirectional):
    rng = np.random.default_rng(4)
    layer = make_layer(mode, 3, 4, num_layers=2, bidirectional=bidirectional).double()
    x = rng.standard_normal((5, 3))
    states = 2 * (2 if bidirectional else 1)
    h0 = rng.standard_normal((states, 4))
    c0 = rng.standard_normal((states, 4)) if mode == "LSTM" else None
    output, h_n, c_n = run_layer(layer, x, h0, c0)
    want_out, want_h, want_c = ref.rnn(mode, x, arrays(layer), 4, 2, bidirectional,
                                       h0=h0, c0=c0)
    assert output.shape == (5, 4 * (2 if bidirectional else 1))
    assert h_n.shape == (states, 4)
    np.testing.assert_allclose(output.data, want_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h_n.data, want_h, rtol=1e-12, atol=1e-12)
    if mode == "LSTM":
        np.testing.assert_allclose(c_n.data, want_c, rtol=1e-12, atol=1e-12)
    # ... and the same as a batch of one
    batched, h_b, _ = run_layer(layer, x[:, None], h0[:, None],
                                None if c0 is None else c0[:, None])
    np.testing.assert_array_equal(output.data, batched.data[:, 0])
    np.testing.assert_array_equal(h_n.data, h_b.data[:, 0])


@settings(max_examples=40, deadline=None)
@given(mode=st.sampled_from(MODES), seq_len=st.integers(1, 4), batch=st.integers(1, 3),
       input_size=st.integers(1, 3), hidden=st.integers(1, 3), num_layers=st.integers(1, 2),
       bidirectional=st.booleans(), batch_first=st.booleans(), bias=st.booleans(),
       seed=st.integers(0, 2**16))
def test_layer_matches_reference_for_any_sizes(mode, seq_len, batch, input_size, hidden,
                                              num_layers, bidirectional, batch_first, bias,
                                              seed):
    rng = np.random.default_rng(seed)
    layer = make_layer(mode, input_size, hidden, num_layers=num_layers, bias=bias,
                       bidirectional=bidirectional, batch_first=batch_first).double()
    shape = (batch, seq_len, input_size) if batch_first else (seq_len, batch, input_size)
    x = rng.standard_normal(shape)
    states = (num_layers * (2 if bidirectional else 1), batch, hidden)
    h0 = rng.standard_normal(states)
    c0 = rng.standard_normal(states) if mode == "LSTM" else None
    output, h_n, c_n = run_layer(layer, x, h0, c0)
    want_out, want_h, want_c = ref.rnn(mode, x, arrays(layer), hidden, num_layers,
                                       bidirectional, batch_first, h0, c0)
    np.testing.assert_allclose(output.data, want_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h_n.data, want_h, rtol=1e-12, atol=1e-12)
    if mode == "LSTM":
        np.testing.assert_allclose(c_n.data, want_c, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode, num_layers, bidirectional", [
    ("LSTM", 2, True), ("GRU", 2, True), ("RNN_TANH", 2, False), ("RNN_RELU", 1, True)])
def test_layer_gradients_match_finite_differences(mode, num_layers, bidirectional):
    rng = np.random.default_rng(5)
    layer = make_layer(mode, 2, 2, num_layers=num_layers, bidirectional=bidirectional).double()
    scale = 3.0 if mode == "RNN_RELU" else 1.0  # keep the pre-activations off ReLU's kink
    x = rng.standard_normal((3, 2, 2)) * scale
    states = (num_layers * (2 if bidirectional else 1), 2, 2)
    h0 = rng.standard_normal(states)
    c0 = rng.standard_normal(states)
    params = [p.data.copy() for p in layer.parameters()]

    def f(x, h0, c0, *weights):
        use_params(layer, weights)
        output, h_n, c_n = run_layer(layer, x, h0, c0 if mode == "LSTM" else None)
        parts = [output.reshape(-1), h_n.reshape(-1)]
        if c_n is not None:
            parts.append(c_n.reshape(-1))
        return dlcore.cat(parts, 0)

    assert gradcheck(f, [x, h0, c0, *params])


def test_every_parameter_and_state_gets_a_gradient():
    layer = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    x = dlcore.randn(2, 5, 3, requires_grad=True)
    h0 = dlcore.randn(4, 2, 4, requires_grad=True)
    c0 = dlcore.randn(4, 2, 4, requires_grad=True)
    output, (h_n, c_n) = layer(x, (h0, c0))
    (output.sum() + h_n.sum() + c_n.sum()).backward()
    for name, p in layer.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name
        assert np.all(np.isfinite(p.grad.data)) and np.any(p.grad.data != 0), name
    for t in (x, h0, c0):
        assert t.grad is not None and t.grad.shape == t.shape


# ------------------------------------------------------------------ parameters
def test_lstm_state_dict_names_and_shapes_are_pytorchs():
    # From PyTorch's nn.LSTM documentation: weight_ih_l[k] (4*hidden_size, input_size) for
    # k = 0, else (4*hidden_size, num_directions*hidden_size); weight_hh_l[k]
    # (4*hidden_size, hidden_size); biases (4*hidden_size,); "_reverse" for the backward
    # direction; per layer and direction in the order w_ih, w_hh, b_ih, b_hh.
    layer = nn.LSTM(10, 20, num_layers=2, bidirectional=True)
    expected = [
        ("weight_ih_l0", (80, 10)), ("weight_hh_l0", (80, 20)),
        ("bias_ih_l0", (80,)), ("bias_hh_l0", (80,)),
        ("weight_ih_l0_reverse", (80, 10)), ("weight_hh_l0_reverse", (80, 20)),
        ("bias_ih_l0_reverse", (80,)), ("bias_hh_l0_reverse", (80,)),
        ("weight_ih_l1", (80, 40)), ("weight_hh_l1", (80, 20)),
        ("bias_ih_l1", (80,)), ("bias_hh_l1", (80,)),
        ("weight_ih_l1_reverse", (80, 40)), ("weight_hh_l1_reverse", (80, 20)),
        ("bias_ih_l1_reverse", (80,)), ("bias_hh_l1_reverse", (80,)),
    ]
    assert [(k, v.shape) for k, v in layer.state_dict().items()] == expected


def test_gru_rnn_and_cell_state_dicts():
    gru = nn.GRU(7, 5, num_layers=2, bias=False)
    assert [(k, v.shape) for k, v in gru.state_dict().items()] == [
        ("weight_ih_l0", (15, 7)), ("weight_hh_l0", (15, 5)),
        ("weight_ih_l1", (15, 5)), ("weight_hh_l1", (15, 5))]
    rnn = nn.RNN(7, 5, bidirectional=True)
    assert [(k, v.shape) for k, v in rnn.state_dict().items()] == [
        ("weight_ih_l0", (5, 7)), ("weight_hh_l0", (5, 5)),
        ("bias_ih_l0", (5,)), ("bias_hh_l0", (5,)),
        ("weight_ih_l0_reverse", (5, 7)), ("weight_hh_l0_reverse", (5, 5)),
        ("bias_ih_l0_reverse", (5,)), ("bias_hh_l0_reverse", (5,))]
    for cell, gates in ((nn.RNNCell(7, 5), 1), (nn.LSTMCell(7, 5), 4), (nn.GRUCell(7, 5), 3)):
        assert [(k, v.shape) for k, v in cell.state_dict().items()] == [
            ("weight_ih", (gates * 5, 7)), ("weight_hh", (gates * 5, 5)),
            ("bias_ih", (gates * 5,)), ("bias_hh", (gates * 5,))]
    assert list(nn.GRUCell(7, 5, bias=False).state_dict()) == ["weight_ih", "weight_hh"]


def test_a_foreign_state_dict_loads_unchanged_and_sets_the_computation():
    # Arrays as a PyTorch model's state_dict() would give them (by name and layout).
    rng = np.random.default_rng(6)
    shapes = {k: v.shape for k, v in nn.GRU(3, 4, num_layers=2).state_dict().items()}
    foreign = {k: rng.standard_normal(s) for k, s in shapes.items()}
    layer = nn.GRU(3, 4, num_layers=2).double()
    layer.load_state_dict(foreign)
    x = rng.standard_normal((6, 2, 3))
    output, h_n = layer(x)
    want_out, want_h, _ = ref.rnn("GRU", x, foreign, 4, 2)
    np.testing.assert_allclose(output.data, want_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h_n.data, want_h, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("make", [lambda: nn.LSTM(3, 16, num_layers=2, bidirectional=True),
                                  lambda: nn.GRUCell(3, 16), lambda: nn.RNN(3, 16)])
def test_init_is_uniform_within_one_over_sqrt_hidden(make):
    # Seeded: built at collection time from whatever state the global generator was in, a
    # 16-value bias spanned less than half its range about once in 4,000 runs.
    dlcore.manual_seed(0)
    module = make()
    bound = 1 / math.sqrt(16)
    values = np.concatenate([p.data.ravel() for p in module.parameters()])
    assert values.dtype == np.float32
    assert np.all(np.abs(values) <= bound)
    assert values.max() > 0.9 * bound and values.min() < -0.9 * bound
    assert abs(values.mean()) < 0.1 * bound
    # every bias too, not only the weights
    for name, p in module.named_parameters():
        assert np.ptp(p.data) > bound, name


def test_init_is_seeded():
    dlcore.manual_seed(3)
    a = nn.LSTM(3, 4).state_dict()
    dlcore.manual_seed(3)
    b = nn.LSTM(3, 4).state_dict()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_reprs_are_pytorchs():
    assert repr(nn.RNNCell(10, 20)) == "RNNCell(10, 20)"
    assert repr(nn.RNNCell(10, 20, bias=False, nonlinearity="relu")) == \
        "RNNCell(10, 20, bias=False, nonlinearity=relu)"
    assert repr(nn.LSTMCell(10, 20)) == "LSTMCell(10, 20)"
    assert repr(nn.GRUCell(10, 20, bias=False)) == "GRUCell(10, 20, bias=False)"
    assert repr(nn.LSTM(10, 20)) == "LSTM(10, 20)"
    assert repr(nn.RNN(10, 20, nonlinearity="relu")) == "RNN(10, 20)"
    assert repr(nn.GRU(10, 20, num_layers=2, bias=False, batch_first=True, dropout=0.5,
                       bidirectional=True)) == \
        "GRU(10, 20, num_layers=2, bias=False, batch_first=True, dropout=0.5, bidirectional=True)"
    model = nn.Sequential(nn.LSTM(28, 64, batch_first=True), nn.Linear(64, 10))
    assert "(0): LSTM(28, 64, batch_first=True)" in repr(model)


def test_attributes_and_all_weights():
    layer = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    assert (layer.input_size, layer.hidden_size, layer.num_layers) == (3, 4, 2)
    assert layer.bidirectional is True and layer.batch_first is False
    assert layer.dropout == 0.0 and layer.bias is True
    assert len(layer.all_weights) == 4 and all(len(g) == 4 for g in layer.all_weights)
    assert layer.all_weights[3][0] is layer.weight_ih_l1_reverse
    assert nn.RNN(3, 4, nonlinearity="relu").nonlinearity == "relu"


# ------------------------------------------------------------------ dtypes, layouts, NaN
def test_float32_by_default_and_other_inputs_are_cast():
    layer = nn.GRU(3, 4)
    x = np.random.default_rng(7).standard_normal((5, 2, 3))
    out64, h64 = layer(x)  # float64 input into float32 weights
    assert out64.dtype == np.float32 and h64.dtype == np.float32
    out_int, _ = layer(np.ones((5, 2, 3), dtype=np.int64))
    out_float, _ = layer(np.ones((5, 2, 3), dtype=np.float32))
    assert out_int.dtype == np.float32
    np.testing.assert_array_equal(out_int.data, out_float.data)
    double = nn.GRU(3, 4, dtype=np.float64)
    assert double(x)[0].dtype == np.float64


def test_non_contiguous_input_gives_the_same_result():
    rng = np.random.default_rng(8)
    layer = nn.LSTM(3, 4, batch_first=True).double()
    x = rng.standard_normal((5, 2, 3))
    strided = np.asfortranarray(x)[:, :, :]
    flipped = x[::-1].copy()[::-1]  # negative strides
    want = layer(np.ascontiguousarray(x))[0].data
    for view in (strided, flipped, x.transpose(1, 0, 2).copy().transpose(1, 0, 2)):
        np.testing.assert_array_equal(layer(view)[0].data, want)


def test_nan_flows_forward_in_time_only():
    layer = nn.RNN(2, 3).double()
    x = np.random.default_rng(9).standard_normal((6, 1, 2))
    x[3, 0, 0] = np.nan
    output, h_n = layer(x)
    assert np.all(np.isfinite(output.data[:3])) and np.all(np.isnan(output.data[3:]))
    assert np.all(np.isnan(h_n.data))
    backward = nn.RNN(2, 3, bidirectional=True).double()
    output, _ = backward(x)
    assert np.all(np.isnan(output.data[:4, :, 3:])) and np.all(np.isfinite(output.data[4:, :, 3:]))


def test_empty_batch():
    output, (h_n, c_n) = nn.LSTM(3, 4, num_layers=2)(np.zeros((5, 0, 3)))
    assert output.shape == (5, 0, 4) and h_n.shape == (2, 0, 4) and c_n.shape == (2, 0, 4)


# ------------------------------------------------------------------ bad input
def test_bad_input_names_the_shapes():
    layer = nn.LSTM(10, 20, num_layers=2)
    with pytest.raises(ValueError, match=r"\(5, 3, 7\).*input_size is 10"):
        layer(np.zeros((5, 3, 7)))
    with pytest.raises(ValueError, match=r"\(2, 5, 3, 10\)"):
        layer(np.zeros((2, 5, 3, 10)))
    with pytest.raises(ValueError, match=r"h_0 has shape \(1, 3, 20\) but expected \(2, 3, 20\)"):
        layer(np.zeros((5, 3, 10)), (np.zeros((1, 3, 20)), np.zeros((2, 3, 20))))
    with pytest.raises(ValueError, match=r"c_0 has shape \(2, 3, 2\) but expected \(2, 3, 20\)"):
        layer(np.zeros((5, 3, 10)), (np.zeros((2, 3, 20)), np.zeros((2, 3, 2))))
    with pytest.raises(ValueError, match=r"h_0 has shape \(2, 20\) but expected \(2, 3, 20\)"):
        layer(np.zeros((5, 3, 10)), (np.zeros((2, 20)), np.zeros((2, 20))))
    with pytest.raises(ValueError, match=r"h_0 has shape \(2, 1, 20\) but expected \(2, 20\)"):
        nn.GRU(10, 20, num_layers=2)(np.zeros((5, 10)), np.zeros((2, 1, 20)))
    with pytest.raises(ValueError, match=r"expected \(4, 3, 20\)"):  # bidirectional doubles it
        nn.RNN(10, 20, num_layers=2, bidirectional=True)(np.zeros((5, 3, 10)),
                                                         np.zeros((2, 3, 20)))
    with pytest.raises(ValueError, match=r"\(0, 3, 10\).*empty sequence"):
        layer(np.zeros((0, 3, 10)))
    with pytest.raises(TypeError, match="tuple"):
        layer(np.zeros((5, 3, 10)), np.zeros((2, 3, 20)))
    with pytest.raises(TypeError, match="complex"):
        layer(np.zeros((5, 3, 10), dtype=complex))


def test_bad_cell_input_names_the_shapes():
    cell = nn.GRUCell(10, 20)
    with pytest.raises(ValueError, match=r"\(3, 7\) but input_size is 10"):
        cell(np.zeros((3, 7)))
    with pytest.raises(ValueError, match=r"\(2, 3, 10\)"):
        cell(np.zeros((2, 3, 10)))
    with pytest.raises(ValueError, match=r"hx has shape \(3, 5\) but expected \(3, 20\)"):
        cell(np.zeros((3, 10)), np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"hx has shape \(1, 20\) but expected \(20,\)"):
        cell(np.zeros(10), np.zeros((1, 20)))
    with pytest.raises(ValueError, match=r"cx has shape \(3, 2\) but expected \(3, 20\)"):
        nn.LSTMCell(10, 20)(np.zeros((3, 10)), (np.zeros((3, 20)), np.zeros((3, 2))))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="nonlinearity 'sigmoid'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="nonlinearity 'gelu'"):
        nn.RNNCell(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="hidden_size must be a positive int, got 0"):
        nn.LSTM(3, 0)
    with pytest.raises(ValueError, match="num_layers must be a positive int, got 0"):
        nn.GRU(3, 4, num_layers=0)
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\].*1.5"):
        nn.LSTM(3, 4, num_layers=2, dropout=1.5)
    with pytest.raises(TypeError, match="float dtype"):
        nn.GRU(3, 4, dtype=np.int32)
    with pytest.warns(UserWarning, match="num_layers=1"):
        nn.LSTM(3, 4, dropout=0.2)


# ------------------------------------------------------------------ dropout between layers
def test_dropout_only_between_layers_and_only_while_training():
    dlcore.manual_seed(0)
    layer = nn.LSTM(3, 8, num_layers=2, dropout=0.9).double()
    x = np.random.default_rng(10).standard_normal((6, 4, 3))
    layer.eval()
    eval_out, (eval_h, _) = layer(x)
    again, _ = layer(x)
    np.testing.assert_array_equal(eval_out.data, again.data)  # no randomness in eval
    want_out, want_h, _ = ref.rnn("LSTM", x, arrays(layer), 8, 2)
    np.testing.assert_allclose(eval_out.data, want_out, rtol=1e-12, atol=1e-12)
    layer.train()
    train_out, (train_h, _) = layer(x)
    # The first layer's final state sees no dropout; the second layer's input is dropped.
    np.testing.assert_allclose(train_h.data[0], eval_h.data[0], rtol=1e-12)
    assert not np.allclose(train_h.data[1], eval_h.data[1])
    # No dropout after the last layer: the output has no dropped (zeroed) entries.
    assert np.count_nonzero(train_out.data == 0) == 0


# ------------------------------------------------------------------ learning a real task
def test_lstm_learns_to_read_mnist_digits_row_by_row(capsys):
    # examples/mnist_lstm.py: an LSTM(28, 64) reads each image as 28 rows of 28 pixels and a
    # linear layer classifies its last hidden state. One epoch on 4,000 digits (about 3 s)
    # measured 0.79-0.82 validation accuracy over seeds; chance is 0.10.
    path = Path(__file__).resolve().parent.parent / "examples" / "mnist_lstm.py"
    main = runpy.run_path(str(path), run_name="example")["main"]
    accuracy = main(epochs=1)
    assert accuracy > 0.6
    assert "validation accuracy" in capsys.readouterr().out
