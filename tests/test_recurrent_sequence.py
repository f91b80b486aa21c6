"""A layer's recurrence as one autograd node (``nn.ops.recurrent_sequence``): equal, forward
and in every gradient, to the same recurrence built step by step from differentiable ops
(whose own gradients the other recurrent tests check), padded and packed."""

from typing import List, Optional, Sequence, Tuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
from dlcore.autograd import gradcheck
from dlcore.nn.ops import recurrent, recurrent_packed
from dlcore.nn.ops.recurrent_sequence import packed_sequence, sequence

MODES = ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]
GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def make_inputs(mode: str, rows: int, batch: int, hidden: int, bias: bool, seed: int
                ) -> List[Optional[dlcore.Tensor]]:
    """``[input_terms (rows, G*H), h0, c0 or None, w_hh, b_hh or None]``, float64."""
    rng = np.random.default_rng(seed)
    width = GATES[mode] * hidden
    # ReLU's pre-activations are kept away from its kink for the finite differences.
    scale = 3.0 if mode == "RNN_RELU" else 1.0
    arrays = [rng.standard_normal((rows, width)) * scale, rng.standard_normal((batch, hidden)),
              rng.standard_normal((batch, hidden)) if mode == "LSTM" else None,
              rng.standard_normal((width, hidden)) * 0.5,
              rng.standard_normal(width) if bias else None]
    return [None if a is None else dlcore.tensor(a, requires_grad=True) for a in arrays]


def stepwise(mode: str, terms: dlcore.Tensor, batch_sizes: Sequence[int], h0: dlcore.Tensor,
             c0: Optional[dlcore.Tensor], w_hh: dlcore.Tensor, b_hh: Optional[dlcore.Tensor],
             reverse: bool) -> Tuple[dlcore.Tensor, dlcore.Tensor, Optional[dlcore.Tensor]]:
    """The same recurrence through the per-step ops (the path projected LSTMs take)."""
    walk = recurrent_packed._reverse_direction if reverse else recurrent_packed._forward_direction
    outputs, h_n, c_n = walk(recurrent.STEPS[mode], terms, batch_sizes, h0, c0, w_hh, b_hh)
    return dlcore.cat(outputs, 0), h_n, c_n


def outputs_and_grads(run, inputs: List[Optional[dlcore.Tensor]], seed: int):
    """Forward values and the gradient of a random weighting of every output."""
    for t in inputs:
        if t is not None:
            t.grad = None
    results = [r for r in run(*inputs) if r is not None]
    rng = np.random.default_rng(seed)
    loss = sum((r * dlcore.tensor(rng.standard_normal(r.shape))).sum() for r in results)
    loss.backward()
    return [r.data for r in results], [t.grad.data for t in inputs if t is not None]


def assert_same_as_stepwise(mode: str, batch_sizes: List[int], hidden: int, bias: bool,
                            reverse: bool, seed: int) -> None:
    inputs = make_inputs(mode, sum(batch_sizes), batch_sizes[0], hidden, bias, seed)
    got = outputs_and_grads(
        lambda *a: packed_sequence(mode, a[0], batch_sizes, *a[1:], reverse), inputs, seed)
    want = outputs_and_grads(
        lambda *a: stepwise(mode, a[0], batch_sizes, *a[1:], reverse), inputs, seed)
    for g, w in zip(got[0] + got[1], want[0] + want[1]):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch_sizes", [[3, 3, 3, 3], [4, 3, 3, 1], [1]])
def test_one_node_equals_the_stepwise_recurrence(mode, reverse, bias, batch_sizes):
    assert_same_as_stepwise(mode, batch_sizes, 3, bias, reverse, seed=len(batch_sizes))


@settings(max_examples=30, deadline=None)
@given(mode=st.sampled_from(MODES), reverse=st.booleans(), bias=st.booleans(),
       sizes=st.lists(st.integers(1, 5), min_size=1, max_size=6), hidden=st.integers(1, 5),
       seed=st.integers(0, 1000))
def test_one_node_equals_the_stepwise_recurrence_for_any_sizes(mode, reverse, bias, sizes,
                                                               hidden, seed):
    batch_sizes = sorted(sizes, reverse=True)  # packed batches shrink over time
    assert_same_as_stepwise(mode, batch_sizes, hidden, bias, reverse, seed)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reverse", [False, True])
def test_packed_gradients_match_finite_differences(mode, reverse):
    batch_sizes = [3, 2, 2, 1]
    inputs = [t for t in make_inputs(mode, 8, 3, 2, True, seed=9) if t is not None]
    lstm = mode == "LSTM"

    def f(*a):
        terms, h0 = a[0], a[1]
        c0, rest = (a[2], a[3:]) if lstm else (None, a[2:])
        out, h_n, c_n = packed_sequence(mode, terms, batch_sizes, h0, c0, *rest, reverse)
        parts = [out.reshape(-1), h_n.reshape(-1)] + ([c_n.reshape(-1)] if lstm else [])
        return dlcore.cat(parts, 0)

    assert gradcheck(f, [t.data for t in inputs])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reverse", [False, True])
def test_padded_sequence_is_packed_steps_of_the_whole_batch(mode, reverse):
    inputs = make_inputs(mode, 12, 3, 2, True, seed=4)
    terms = inputs[0].reshape(4, 3, inputs[0].shape[1])
    out, h_n, c_n = sequence(mode, terms, *inputs[1:], reverse)
    flat_out, flat_h, flat_c = packed_sequence(mode, inputs[0], [3] * 4, *inputs[1:], reverse)
    assert out.shape == (4, 3, 2) and h_n.shape == (3, 2)
    np.testing.assert_array_equal(out.data.reshape(12, 2), flat_out.data)
    np.testing.assert_array_equal(h_n.data, flat_h.data)
    # The final state is the last step's output (the first's, in reverse).
    np.testing.assert_array_equal(h_n.data, out.data[0 if reverse else 3])
    if mode == "LSTM":
        np.testing.assert_array_equal(c_n.data, flat_c.data)
    else:
        assert c_n is None


def test_float32_stays_float32_and_state_inputs_are_not_written():
    inputs = make_inputs("LSTM", 6, 2, 3, True, seed=1)
    f32 = [dlcore.tensor(t.data.astype(np.float32), requires_grad=True) for t in inputs]
    before = [t.data.copy() for t in f32]
    out, h_n, c_n = packed_sequence("LSTM", f32[0], [2, 2, 2], *f32[1:], False)
    (out.sum() + h_n.sum() + c_n.sum()).backward()
    assert out.dtype == np.float32 and h_n.dtype == np.float32
    assert all(t.grad.dtype == np.float32 for t in f32)
    for t, b in zip(f32, before):
        np.testing.assert_array_equal(t.data, b)


def test_backward_twice_needs_retain_graph_and_then_accumulates():
    inputs = make_inputs("GRU", 6, 2, 3, True, seed=2)
    out, h_n, _ = packed_sequence("GRU", inputs[0], [2, 2, 2], *inputs[1:], False)
    loss = out.sum() + h_n.sum()
    loss.backward(retain_graph=True)
    first = inputs[3].grad.data.copy()
    loss.backward()
    np.testing.assert_allclose(inputs[3].grad.data, 2 * first)
    with pytest.raises(RuntimeError):
        loss.backward()


def test_no_grad_records_nothing():
    inputs = make_inputs("LSTM", 4, 2, 2, True, seed=3)
    with dlcore.no_grad():
        out, h_n, c_n = packed_sequence("LSTM", inputs[0], [2, 2], *inputs[1:], False)
    assert not out.requires_grad and not h_n.requires_grad and not c_n.requires_grad
