"""nn.LSTM(..., proj_size=P) (PyTorch's LSTM with projections, h_t = W_hr (o_t * tanh(c_t)))
against the NumPy reference, an LSTM without projection it must reduce to, finite
differences, packed batches (every sequence as if run alone), PyTorch's parameter names and
shapes, and the argument checks."""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
from dlcore import nn
from dlcore.autograd import gradcheck
from dlcore.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence
from dlcore.reference import recurrent as ref


def arrays(module: nn.Module) -> Dict[str, np.ndarray]:
    return dict(module.state_dict())


def use_params(module: nn.Module, tensors: Sequence[dlcore.Tensor]) -> None:
    """Put ``tensors`` in place of the module's parameters (in registration order), so
    gradcheck's leaves are what the forward pass reads."""
    for name, tensor in zip(list(module._parameters), tensors):
        module._parameters[name] = tensor


def run(layer: nn.LSTM, x: Any, h0: Optional[Any] = None, c0: Optional[Any] = None):
    output, (h_n, c_n) = layer(x, None if h0 is None else (h0, c0))
    return output, h_n, c_n


# ------------------------------------------------------------------ forward
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("given_state", [False, True])
def test_projected_lstm_matches_reference(num_layers, bidirectional, batch_first, given_state):
    rng = np.random.default_rng(3)
    seq_len, batch, input_size, hidden, proj = 4, 3, 5, 6, 2
    layer = nn.LSTM(input_size, hidden, num_layers=num_layers, bidirectional=bidirectional,
                    batch_first=batch_first, proj_size=proj).double()
    shape = (batch, seq_len, input_size) if batch_first else (seq_len, batch, input_size)
    x = rng.standard_normal(shape)
    layers = num_layers * (2 if bidirectional else 1)
    h0 = rng.standard_normal((layers, batch, proj)) if given_state else None
    c0 = rng.standard_normal((layers, batch, hidden)) if given_state else None
    output, h_n, c_n = run(layer, x, h0, c0)
    want_out, want_h, want_c = ref.rnn("LSTM", x, arrays(layer), hidden, num_layers,
                                       bidirectional, batch_first, h0, c0, proj_size=proj)
    directions = 2 if bidirectional else 1
    assert output.shape == shape[:2] + (directions * proj,)
    assert h_n.shape == (layers, batch, proj)
    assert c_n.shape == (layers, batch, hidden)
    np.testing.assert_allclose(output.data, want_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h_n.data, want_h, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c_n.data, want_c, rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(seq_len=st.integers(1, 4), batch=st.integers(1, 3), input_size=st.integers(1, 3),
       hidden=st.integers(2, 4), proj_fraction=st.floats(0, 0.99), num_layers=st.integers(1, 2),
       bidirectional=st.booleans(), batch_first=st.booleans(), bias=st.booleans(),
       seed=st.integers(0, 2**16))
def test_projected_lstm_matches_reference_for_any_sizes(seq_len, batch, input_size, hidden,
                                                        proj_fraction, num_layers,
                                                        bidirectional, batch_first, bias, seed):
    proj = 1 + int(proj_fraction * (hidden - 1))  # in [1, hidden)
    rng = np.random.default_rng(seed)
    layer = nn.LSTM(input_size, hidden, num_layers=num_layers, bias=bias,
                    bidirectional=bidirectional, batch_first=batch_first, proj_size=proj,
                    dtype=np.float64)
    shape = (batch, seq_len, input_size) if batch_first else (seq_len, batch, input_size)
    x = rng.standard_normal(shape)
    layers = num_layers * (2 if bidirectional else 1)
    h0 = rng.standard_normal((layers, batch, proj))
    c0 = rng.standard_normal((layers, batch, hidden))
    output, h_n, c_n = run(layer, x, h0, c0)
    want_out, want_h, want_c = ref.rnn("LSTM", x, arrays(layer), hidden, num_layers,
                                       bidirectional, batch_first, h0, c0, proj_size=proj)
    np.testing.assert_allclose(output.data, want_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h_n.data, want_h, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c_n.data, want_c, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_projection_onto_the_first_features_is_an_lstm_that_ignores_the_rest(bidirectional):
    # With W_hr = [I_P | 0], h_t = (o * tanh(c_t))[:, :P]. An LSTM without projection whose
    # W_hh reads only the first P features of h (the other columns zero) then computes the
    # same c_t, and its h_t's first P features are the projected LSTM's h_t. This ties the
    # projected path to the plain one, which test_recurrent.py checks on its own.
    rng = np.random.default_rng(12)
    hidden, proj = 5, 2
    plain = nn.LSTM(3, hidden, bidirectional=bidirectional).double()
    projected = nn.LSTM(3, hidden, bidirectional=bidirectional, proj_size=proj).double()
    plain_state = {k: v.copy() for k, v in arrays(plain).items()}
    projected_state = {}
    for name, value in plain_state.items():
        if name.startswith("weight_hh"):
            projected_state[name] = value[:, :proj].copy()
            value[:, proj:] = 0.0
        else:
            projected_state[name] = value
    for suffix in ["_l0", "_l0_reverse"][:2 if bidirectional else 1]:
        projected_state["weight_hr" + suffix] = np.eye(proj, hidden)
    plain.load_state_dict(plain_state)
    projected.load_state_dict(projected_state)
    x = rng.standard_normal((6, 2, 3))
    plain_out, plain_h, plain_c = run(plain, x)
    out, h_n, c_n = run(projected, x)
    directions = 2 if bidirectional else 1
    want_out = np.concatenate([plain_out.data[..., d * hidden:d * hidden + proj]
                               for d in range(directions)], axis=-1)
    np.testing.assert_allclose(out.data, want_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h_n.data, plain_h.data[..., :proj], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c_n.data, plain_c.data, rtol=1e-12, atol=1e-12)


def test_unbatched_input_equals_a_batch_of_one():
    rng = np.random.default_rng(4)
    layer = nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=3).double()
    x = rng.standard_normal((5, 3))
    h0, c0 = rng.standard_normal((4, 3)), rng.standard_normal((4, 4))
    output, h_n, c_n = run(layer, x, h0, c0)
    assert output.shape == (5, 6) and h_n.shape == (4, 3) and c_n.shape == (4, 4)
    want_out, want_h, want_c = ref.rnn("LSTM", x, arrays(layer), 4, 2, True, h0=h0, c0=c0,
                                       proj_size=3)
    np.testing.assert_allclose(output.data, want_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h_n.data, want_h, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c_n.data, want_c, rtol=1e-12, atol=1e-12)
    batched, h_b, c_b = run(layer, x[:, None], h0[:, None], c0[:, None])
    np.testing.assert_array_equal(output.data, batched.data[:, 0])
    np.testing.assert_array_equal(h_n.data, h_b.data[:, 0])
    np.testing.assert_array_equal(c_n.data, c_b.data[:, 0])


def test_dtypes_empty_batch_and_nan():
    layer = nn.LSTM(3, 4, proj_size=2)
    out, h_n, c_n = run(layer, np.ones((5, 2, 3), dtype=np.int64))  # ints into float32
    assert out.dtype == h_n.dtype == c_n.dtype == np.float32
    assert layer.weight_hr_l0.dtype == np.float32
    np.testing.assert_array_equal(out.data, run(layer, np.ones((5, 2, 3), np.float32))[0].data)
    out, h_n, c_n = run(layer, np.zeros((5, 0, 3)))
    assert out.shape == (5, 0, 2) and h_n.shape == (1, 0, 2) and c_n.shape == (1, 0, 4)
    x = np.random.default_rng(9).standard_normal((6, 1, 3))
    x[3, 0, 1] = np.nan
    out, h_n, _ = run(nn.LSTM(3, 4, proj_size=2).double(), x)
    assert np.all(np.isfinite(out.data[:3])) and np.all(np.isnan(out.data[3:]))
    assert np.all(np.isnan(h_n.data))


def test_non_contiguous_input_gives_the_same_result():
    layer = nn.LSTM(3, 4, proj_size=1, batch_first=True).double()
    x = np.random.default_rng(8).standard_normal((5, 2, 3))
    want = layer(np.ascontiguousarray(x))[0].data
    np.testing.assert_array_equal(layer(np.asfortranarray(x))[0].data, want)
    np.testing.assert_array_equal(layer(x.transpose(1, 0, 2).copy().transpose(1, 0, 2))[0].data,
                                  want)


def test_dropout_only_between_layers_and_only_while_training():
    dlcore.manual_seed(0)
    layer = nn.LSTM(3, 8, num_layers=2, dropout=0.9, proj_size=3).double()
    x = np.random.default_rng(10).standard_normal((6, 4, 3))
    layer.eval()
    eval_out, eval_h, _ = run(layer, x)
    want_out, _, _ = ref.rnn("LSTM", x, arrays(layer), 8, 2, proj_size=3)
    np.testing.assert_allclose(eval_out.data, want_out, rtol=1e-12, atol=1e-12)
    layer.train()
    train_out, train_h, _ = run(layer, x)
    np.testing.assert_allclose(train_h.data[0], eval_h.data[0], rtol=1e-12)
    assert not np.allclose(train_h.data[1], eval_h.data[1])
    assert np.count_nonzero(train_out.data == 0) == 0


# ------------------------------------------------------------------ gradients
def test_gradients_match_finite_differences_for_inputs_states_and_every_parameter():
    rng = np.random.default_rng(5)
    layer = nn.LSTM(2, 3, num_layers=2, bidirectional=True, proj_size=2).double()
    names = list(layer._parameters)
    assert sum(name.startswith("weight_hr") for name in names) == 4
    x = rng.standard_normal((3, 2, 2))
    h0 = rng.standard_normal((4, 2, 2))
    c0 = rng.standard_normal((4, 2, 3))
    params = [p.data.copy() for p in layer.parameters()]

    def f(x, h0, c0, *weights):
        use_params(layer, weights)
        output, h_n, c_n = run(layer, x, h0, c0)
        return dlcore.cat([output.reshape(-1), h_n.reshape(-1), c_n.reshape(-1)], 0)

    assert gradcheck(f, [x, h0, c0, *params])


def test_packed_gradients_match_finite_differences():
    rng = np.random.default_rng(6)
    lengths = [2, 3, 1]
    layer = nn.LSTM(2, 3, bidirectional=True, proj_size=1).double()
    x = rng.standard_normal((3, 3, 2))
    h0 = rng.standard_normal((2, 3, 1))
    c0 = rng.standard_normal((2, 3, 3))
    params = [p.data.copy() for p in layer.parameters()]

    def f(x, h0, c0, *weights):
        use_params(layer, weights)
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        out, h_n, c_n = run(layer, packed, h0, c0)
        padded, _ = pad_packed_sequence(out, total_length=3)
        return dlcore.cat([padded.reshape(-1), h_n.reshape(-1), c_n.reshape(-1)], 0)

    assert gradcheck(f, [x, h0, c0, *params])


def test_every_parameter_and_state_gets_a_gradient():
    layer = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True, proj_size=2)
    x = dlcore.randn(2, 5, 3, requires_grad=True)
    h0 = dlcore.randn(4, 2, 2, requires_grad=True)
    c0 = dlcore.randn(4, 2, 4, requires_grad=True)
    output, h_n, c_n = run(layer, x, h0, c0)
    (output.sum() + h_n.sum() + c_n.sum()).backward()
    for name, p in layer.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name
        assert np.all(np.isfinite(p.grad.data)) and np.any(p.grad.data != 0), name
    for t in (x, h0, c0):
        assert t.grad is not None and t.grad.shape == t.shape


# ------------------------------------------------------------------ packed input
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("given_state", [False, True])
def test_each_packed_sequence_runs_as_if_alone(num_layers, bidirectional, given_state):
    rng = np.random.default_rng(7)
    lengths = [3, 5, 1, 5, 2]
    steps, n, hidden, proj = max(lengths), len(lengths), 4, 3
    layer = nn.LSTM(3, hidden, num_layers=num_layers, bidirectional=bidirectional,
                    proj_size=proj, dtype=np.float64)
    padded = rng.standard_normal((steps, n, 3))
    layers = num_layers * (2 if bidirectional else 1)
    h0 = rng.standard_normal((layers, n, proj)) if given_state else None
    c0 = rng.standard_normal((layers, n, hidden)) if given_state else None
    packed = pack_padded_sequence(padded, lengths, enforce_sorted=False)
    out, h_n, c_n = run(layer, packed, h0, c0)
    assert isinstance(out, PackedSequence) and out.batch_sizes is packed.batch_sizes
    assert out.data.shape == (sum(lengths), proj * (2 if bidirectional else 1))
    assert h_n.shape == (layers, n, proj) and c_n.shape == (layers, n, hidden)
    padded_out, _ = pad_packed_sequence(out)
    for i, k in enumerate(lengths):
        alone_h0 = None if h0 is None else h0[:, i:i + 1]
        alone_c0 = None if c0 is None else c0[:, i:i + 1]
        want_out, want_h, want_c = run(layer, padded[:k, i:i + 1], alone_h0, alone_c0)
        np.testing.assert_allclose(padded_out.data[:k, i], want_out.data[:, 0], atol=1e-12)
        np.testing.assert_array_equal(padded_out.data[k:, i], 0.0)
        np.testing.assert_allclose(h_n.data[:, i], want_h.data[:, 0], atol=1e-12)
        np.testing.assert_allclose(c_n.data[:, i], want_c.data[:, 0], atol=1e-12)


# ------------------------------------------------------------------ parameters
def test_state_dict_names_and_shapes_are_pytorchs():
    # From PyTorch's nn.LSTM documentation: with proj_size > 0, weight_hh_l[k] is
    # (4*hidden_size, proj_size), weight_ih_l[k] for k > 0 is (4*hidden_size,
    # num_directions*proj_size), and weight_hr_l[k] (proj_size, hidden_size) follows the
    # biases of each layer and direction.
    layer = nn.LSTM(10, 20, num_layers=2, bidirectional=True, proj_size=5)
    expected = []
    for layer_index, layer_in in ((0, 10), (1, 10)):
        for suffix in (f"_l{layer_index}", f"_l{layer_index}_reverse"):
            expected += [(f"weight_ih{suffix}", (80, layer_in)), (f"weight_hh{suffix}", (80, 5)),
                         (f"bias_ih{suffix}", (80,)), (f"bias_hh{suffix}", (80,)),
                         (f"weight_hr{suffix}", (5, 20))]
    assert [(k, v.shape) for k, v in layer.state_dict().items()] == expected
    no_bias = nn.LSTM(10, 20, bias=False, proj_size=5)
    assert [(k, v.shape) for k, v in no_bias.state_dict().items()] == [
        ("weight_ih_l0", (80, 10)), ("weight_hh_l0", (80, 5)), ("weight_hr_l0", (5, 20))]


def test_a_foreign_state_dict_loads_unchanged_and_sets_the_computation():
    # Arrays as a PyTorch LSTM(3, 4, bidirectional=True, proj_size=2) state_dict gives them.
    rng = np.random.default_rng(6)
    shapes = {"weight_ih_l0": (16, 3), "weight_hh_l0": (16, 2), "bias_ih_l0": (16,),
              "bias_hh_l0": (16,), "weight_hr_l0": (2, 4)}
    shapes |= {k + "_reverse": s for k, s in shapes.items()}
    foreign = {k: rng.standard_normal(s) for k, s in shapes.items()}
    layer = nn.LSTM(3, 4, bidirectional=True, proj_size=2).double()
    layer.load_state_dict(foreign)
    np.testing.assert_array_equal(layer.weight_hr_l0_reverse.data, foreign["weight_hr_l0_reverse"])
    x = rng.standard_normal((6, 2, 3))
    output, h_n, c_n = run(layer, x)
    want_out, want_h, want_c = ref.rnn("LSTM", x, foreign, 4, 1, True, proj_size=2)
    np.testing.assert_allclose(output.data, want_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h_n.data, want_h, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c_n.data, want_c, rtol=1e-12, atol=1e-12)
    with pytest.raises(Exception, match="weight_hr_l0"):  # a plain LSTM's dict lacks it
        layer.load_state_dict({k: v for k, v in foreign.items() if "weight_hr" not in k})


def test_init_is_uniform_within_one_over_sqrt_hidden_and_seeded():
    dlcore.manual_seed(0)  # the spread checks below are statistical: keep them deterministic
    layer = nn.LSTM(3, 16, num_layers=2, bidirectional=True, proj_size=4)
    bound = 1 / math.sqrt(16)
    for name, p in layer.named_parameters():
        assert np.all(np.abs(p.data) <= bound), name
        assert np.ptp(p.data) > bound, name
    hr = np.concatenate([layer.weight_hr_l0.data.ravel(), layer.weight_hr_l1_reverse.data.ravel()])
    assert hr.max() > 0.8 * bound and hr.min() < -0.8 * bound
    dlcore.manual_seed(3)
    a = nn.LSTM(3, 4, proj_size=2).state_dict()
    dlcore.manual_seed(3)
    b = nn.LSTM(3, 4, proj_size=2).state_dict()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_attributes_all_weights_and_repr():
    layer = nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    assert layer.proj_size == 2 and nn.LSTM(3, 4).proj_size == 0
    assert nn.GRU(3, 4).proj_size == 0
    assert len(layer.all_weights) == 4 and all(len(g) == 5 for g in layer.all_weights)
    assert layer.all_weights[3][4] is layer.weight_hr_l1_reverse
    assert len(nn.LSTM(3, 4, bias=False, proj_size=1).all_weights[0]) == 3
    assert repr(nn.LSTM(10, 20, proj_size=5)) == "LSTM(10, 20, proj_size=5)"
    assert repr(layer) == "LSTM(3, 4, proj_size=2, num_layers=2, bidirectional=True)"
    assert repr(nn.LSTM(10, 20, proj_size=0)) == "LSTM(10, 20)"


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("proj_size, message", [
    (-1, r"LSTM: proj_size must be a non-negative int \(0 turns the projection off\), got -1"),
    (20, "LSTM: proj_size 20 must be smaller than hidden_size 20"),
    (21, "LSTM: proj_size 21 must be smaller than hidden_size 20"),
    (2.5, "LSTM: proj_size must be a non-negative int.*got 2.5"),
    (True, "LSTM: proj_size must be a non-negative int.*got True"),
])
def test_bad_proj_size_is_refused(proj_size, message):
    with pytest.raises(ValueError, match=message):
        nn.LSTM(10, 20, proj_size=proj_size)


def test_proj_size_is_for_lstm_only():
    for mode, owner in (("GRU", "GRU"), ("RNN_TANH", "RNN"), ("RNN_RELU", "RNN")):
        with pytest.raises(ValueError, match=f"{owner}: proj_size is only supported for LSTM"):
            nn.RNNBase(mode, 10, 20, proj_size=5)
    assert nn.RNNBase("GRU", 10, 20, proj_size=0).proj_size == 0
    with pytest.raises(TypeError, match="proj_size"):
        nn.GRU(10, 20, proj_size=5)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="proj_size"):
        nn.RNN(10, 20, proj_size=5)  # type: ignore[call-arg]


def test_bad_states_name_the_expected_shapes():
    layer = nn.LSTM(10, 20, num_layers=2, proj_size=5)
    x = np.zeros((5, 3, 10))
    with pytest.raises(ValueError, match=r"h_0 has shape \(2, 3, 20\) but expected \(2, 3, 5\) "
                                         r"\(num_layers \* num_directions, batch, proj_size\)"):
        layer(x, (np.zeros((2, 3, 20)), np.zeros((2, 3, 20))))
    with pytest.raises(ValueError, match=r"c_0 has shape \(2, 3, 5\) but expected \(2, 3, 20\) "
                                         r"\(num_layers \* num_directions, batch, hidden_size\)"):
        layer(x, (np.zeros((2, 3, 5)), np.zeros((2, 3, 5))))
    with pytest.raises(ValueError, match=r"h_0 has shape \(2, 20\) but expected \(2, 5\)"):
        layer(np.zeros((5, 10)), (np.zeros((2, 20)), np.zeros((2, 20))))
    packed = pack_padded_sequence(np.zeros((3, 2, 10)), [3, 2])
    with pytest.raises(ValueError, match=r"h_0 has shape \(2, 2, 20\) but expected \(2, 2, 5\)"):
        layer(packed, (np.zeros((2, 2, 20)), np.zeros((2, 2, 20))))
    with pytest.raises(ValueError, match=r"input has shape \(5, 3, 5\).*input_size is 10"):
        layer(np.zeros((5, 3, 5)))  # proj_size features are no input


def test_proj_size_passed_in_pytorchs_position_is_a_clear_type_error() -> None:
    # PyTorch's 8th positional argument is proj_size; dlcore's is dtype.
    with pytest.raises(TypeError, match=r"proj_size=4"):
        nn.LSTM(3, 8, 1, True, False, 0.0, False, 4)
