"""dlcore.nn.utils.rnn (PackedSequence, pack/pad of variable-length sequences) against
loop-by-loop NumPy references, finite differences, and nn.RNN / LSTM / GRU on packed batches:
every sequence of a packed batch must come out exactly as if run alone, unpadded."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import pytest
from helpers import check_op
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
from dlcore import nn
from dlcore.autograd import gradcheck
from dlcore.nn.utils.rnn import (
    PackedSequence,
    invert_permutation,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
    unpack_sequence,
    unpad_sequence,
)

MODES = ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]


# ------------------------------------------------------------------ NumPy references
def ref_order(lengths: Sequence[int]) -> List[int]:
    """Batch positions longest first, ties in batch order."""
    return sorted(range(len(lengths)), key=lambda i: -lengths[i])


def ref_pack(padded: np.ndarray, lengths: Sequence[int], batch_first: bool
             ) -> Tuple[np.ndarray, List[int]]:
    """Packed data and batch sizes, one element at a time."""
    x = np.swapaxes(padded, 0, 1) if batch_first else padded  # (L, N, *)
    order = ref_order(lengths)
    rows, sizes = [], []
    for t in range(max(lengths)):
        running = [i for i in order if lengths[i] > t]
        sizes.append(len(running))
        rows += [x[t, i] for i in running]
    return np.stack(rows), sizes


def ref_pad(sequences: Sequence[np.ndarray], batch_first: bool, value: float, side: str,
            total: Optional[int] = None) -> np.ndarray:
    steps = total or max(len(s) for s in sequences)
    out = np.full((steps, len(sequences)) + sequences[0].shape[1:], value,
                  dtype=np.result_type(*sequences))
    for i, s in enumerate(sequences):
        for t in range(len(s)):
            out[t if side == "right" else steps - len(s) + t, i] = s[t]
    return np.swapaxes(out, 0, 1) if batch_first else out


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


def use_params(module: nn.Module, tensors: Sequence[dlcore.Tensor]) -> None:
    for name, tensor in zip(list(module._parameters), tensors):
        module._parameters[name] = tensor


batches = st.integers(1, 4).flatmap(lambda n: st.tuples(
    st.integers(1, 5).flatmap(lambda steps: st.tuples(
        st.just(steps), st.lists(st.integers(1, steps), min_size=n, max_size=n))),
    st.sampled_from([(), (2,), (2, 3)]),
    st.booleans()))


# ------------------------------------------------------------------ pack / pad
@settings(max_examples=60, deadline=None)
@given(batch=batches, batch_first=st.booleans(), extra=st.integers(0, 2))
def test_pack_and_pad_match_numpy_and_round_trip(batch, batch_first, extra):
    (steps, lengths), features, descending = batch
    if descending:
        lengths = sorted(lengths, reverse=True)
    n = len(lengths)
    rng = np.random.default_rng(len(lengths) * 7 + steps)
    shape = ((n, steps) if batch_first else (steps, n)) + features
    padded = rng.standard_normal(shape)
    packed = pack_padded_sequence(dlcore.tensor(padded), lengths, batch_first=batch_first,
                                  enforce_sorted=descending)
    want_data, want_sizes = ref_pack(padded, lengths, batch_first)
    np.testing.assert_array_equal(packed.data.data, want_data)
    np.testing.assert_array_equal(packed.batch_sizes.data, want_sizes)
    assert packed.batch_sizes.dtype == np.int64
    if descending:
        assert packed.sorted_indices is None and packed.unsorted_indices is None
    else:
        np.testing.assert_array_equal(packed.sorted_indices.data, ref_order(lengths))
        np.testing.assert_array_equal(packed.sorted_indices.data[packed.unsorted_indices.data],
                                      np.arange(n))

    total = max(lengths) + extra
    out, got_lengths = pad_packed_sequence(packed, batch_first=batch_first,
                                           padding_value=-7.0, total_length=total)
    x = np.swapaxes(padded, 0, 1) if batch_first else padded
    want = ref_pad([x[:k, i] for i, k in enumerate(lengths)], batch_first, -7.0, "right",
                   total)
    np.testing.assert_array_equal(out.data, want)
    np.testing.assert_array_equal(got_lengths.data, lengths)
    assert got_lengths.dtype == np.int64

    back = unpack_sequence(packed)
    for i, k in enumerate(lengths):
        np.testing.assert_array_equal(back[i].data, x[:k, i])


@settings(max_examples=40, deadline=None)
@given(lengths=st.lists(st.integers(0, 4), min_size=1, max_size=4),
       features=st.sampled_from([(), (3,)]), batch_first=st.booleans(),
       side=st.sampled_from(["right", "left"]), value=st.sampled_from([0.0, -1.5, np.nan]))
def test_pad_sequence_matches_numpy(lengths, features, batch_first, side, value):
    rng = np.random.default_rng(sum(lengths))
    seqs = [rng.standard_normal((k,) + features) for k in lengths]
    out = pad_sequence([dlcore.tensor(s) for s in seqs], batch_first=batch_first,
                       padding_value=value, padding_side=side)
    np.testing.assert_array_equal(out.data, ref_pad(seqs, batch_first, value, side))
    if side == "right" and min(lengths) > 0:
        got = unpad_sequence(out, lengths, batch_first=batch_first)
        for g, s in zip(got, seqs):
            np.testing.assert_array_equal(g.data, s)


def test_pad_sequence_keeps_ints_and_promotes_mixed_dtypes():
    ints = pad_sequence([np.array([1, 2, 3]), np.array([4])], padding_value=-1)
    assert ints.dtype == np.int64
    np.testing.assert_array_equal(ints.data, [[1, 4], [2, -1], [3, -1]])
    mixed = pad_sequence([np.array([1.5], dtype=np.float32), np.array([2, 3])])
    assert mixed.dtype == np.result_type(np.float32, np.int64)
    np.testing.assert_array_equal(mixed.data, [[1.5, 2.0], [0.0, 3.0]])


def test_packing_keeps_dtype_and_reads_non_contiguous_input():
    base = np.arange(24).reshape(3, 4, 2)           # ints: packing is pure indexing
    view = base.transpose(1, 0, 2)[:, ::1]           # (4, 3, 2), not C-contiguous
    assert not view.flags.c_contiguous
    packed = pack_padded_sequence(view, [4, 2, 1])
    assert packed.data.dtype == base.dtype
    np.testing.assert_array_equal(packed.data.data, ref_pack(view, [4, 2, 1], False)[0])
    f32 = pack_sequence([np.ones((2, 3), np.float32), np.ones((1, 3), np.float32)])
    assert f32.data.dtype == np.float32


def test_pack_sequence_equals_pack_of_pad_sequence():
    rng = np.random.default_rng(3)
    seqs = [rng.standard_normal((k, 2)) for k in (2, 4, 1)]
    packed = pack_sequence(seqs, enforce_sorted=False)
    want_data, want_sizes = ref_pack(ref_pad(seqs, False, 0.0, "right"), [2, 4, 1], False)
    np.testing.assert_array_equal(packed.data.data, want_data)
    np.testing.assert_array_equal(packed.batch_sizes.data, want_sizes)
    np.testing.assert_array_equal(packed.sorted_indices.data, [1, 0, 2])


def test_packed_sequence_fields_and_inverse():
    packed = PackedSequence(np.zeros((3, 2)), [2, 1], sorted_indices=[1, 0])
    assert isinstance(packed, tuple) and len(packed) == 4
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    np.testing.assert_array_equal(unsorted_indices.data, [1, 0])
    np.testing.assert_array_equal(invert_permutation(dlcore.tensor([2, 0, 1])).data,
                                  [1, 2, 0])
    assert invert_permutation(None) is None


# ------------------------------------------------------------------ gradients
def test_pack_and_pad_gradients_match_finite_differences():
    lengths = [2, 3, 1]
    rng = np.random.default_rng(4)

    def pack_then(x):
        return pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False).data

    check_op(pack_then, None, [rng.standard_normal((3, 3, 2))])

    def pad_then(data):
        packed = PackedSequence(data, [3, 2, 1], [1, 0, 2])
        return pad_packed_sequence(packed, padding_value=2.0, total_length=4)[0]

    check_op(pad_then, None, [rng.standard_normal((6, 2))])
    check_op(lambda a, b: pad_sequence([a, b], padding_side="left"), None,
             [rng.standard_normal((3, 2)), rng.standard_normal((1, 2))])


def test_padding_gets_zero_gradient_and_never_reaches_the_output():
    padded = np.random.default_rng(5).standard_normal((4, 3, 2)).astype(np.float32)
    lengths = [2, 4, 3]
    for i, k in enumerate(lengths):
        padded[k:, i] = np.nan                        # padding is never read
    x = dlcore.tensor(padded, requires_grad=True)
    lstm = nn.LSTM(2, 3, bidirectional=True)
    out, (h_n, c_n) = lstm(pack_padded_sequence(x, lengths, enforce_sorted=False))
    padded_out, _ = pad_packed_sequence(out)
    assert np.isfinite(padded_out.data).all() and np.isfinite(h_n.data).all()
    (padded_out.sum() + h_n.sum() + c_n.sum()).backward()
    for i, k in enumerate(lengths):
        assert np.all(x.grad.data[k:, i] == 0)
        assert np.all(x.grad.data[:k, i] != 0)
        assert np.all(padded_out.data[k:, i] == 0)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_on_packed_input_gradients_match_finite_differences(bidirectional):
    rng = np.random.default_rng(6)
    lengths = [2, 3, 1]
    lstm = nn.LSTM(2, 2, num_layers=2, bidirectional=bidirectional).double()
    layers = 2 * (2 if bidirectional else 1)
    x = rng.standard_normal((3, 3, 2))
    h0 = rng.standard_normal((layers, 3, 2))
    c0 = rng.standard_normal((layers, 3, 2))
    params = [p.data.copy() for p in lstm.parameters()]

    def f(x, h0, c0, *weights):
        use_params(lstm, weights)
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        out, (h_n, c_n) = lstm(packed, (h0, c0))
        padded, _ = pad_packed_sequence(out, total_length=3)
        return dlcore.cat([padded.reshape(-1), h_n.reshape(-1), c_n.reshape(-1)], 0)

    assert gradcheck(f, [x, h0, c0, *params])


# ------------------------------------------------------------------ recurrent layers
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("given_state", [False, True])
def test_each_packed_sequence_runs_as_if_alone(mode, num_layers, bidirectional, given_state):
    rng = np.random.default_rng(7)
    lengths = [3, 5, 1, 5, 2]
    steps, n = max(lengths), len(lengths)
    layer = make_layer(mode, 3, 4, num_layers=num_layers, bidirectional=bidirectional,
                       dtype=np.float64)
    layer.eval()
    padded = rng.standard_normal((steps, n, 3))
    states = (num_layers * (2 if bidirectional else 1), n, 4)
    h0 = rng.standard_normal(states) if given_state else None
    c0 = rng.standard_normal(states) if given_state and mode == "LSTM" else None
    if mode == "LSTM" and not given_state:
        c0 = None
    packed = pack_padded_sequence(padded, lengths, enforce_sorted=False)
    out, h_n, c_n = run_layer(layer, packed, h0, c0)
    assert isinstance(out, PackedSequence)
    assert out.batch_sizes is packed.batch_sizes
    assert out.sorted_indices is packed.sorted_indices
    assert out.data.shape == (sum(lengths), 4 * (2 if bidirectional else 1))
    padded_out, got_lengths = pad_packed_sequence(out)
    np.testing.assert_array_equal(got_lengths.data, lengths)
    for i, k in enumerate(lengths):
        alone_h0 = None if h0 is None else h0[:, i:i + 1]
        alone_c0 = None if c0 is None else c0[:, i:i + 1]
        want_out, want_h, want_c = run_layer(layer, padded[:k, i:i + 1], alone_h0, alone_c0)
        np.testing.assert_allclose(padded_out.data[:k, i], want_out.data[:, 0], atol=1e-12)
        np.testing.assert_array_equal(padded_out.data[k:, i], 0.0)
        np.testing.assert_allclose(h_n.data[:, i], want_h.data[:, 0], atol=1e-12)
        if mode == "LSTM":
            np.testing.assert_allclose(c_n.data[:, i], want_c.data[:, 0], atol=1e-12)


def test_packed_input_ignores_batch_first_and_matches_sorted_packing():
    rng = np.random.default_rng(8)
    padded = rng.standard_normal((4, 3, 2)).astype(np.float32)
    gru = nn.GRU(2, 3, batch_first=True)
    sorted_out, sorted_h = gru(pack_padded_sequence(padded, [4, 3, 1]))
    plain = nn.GRU(2, 3)
    plain.load_state_dict(gru.state_dict())
    plain_out, plain_h = plain(pack_padded_sequence(padded, [4, 3, 1]))
    np.testing.assert_array_equal(sorted_out.data.data, plain_out.data.data)
    np.testing.assert_array_equal(sorted_h.data, plain_h.data)
    # A batch that is already sorted gives the same whether or not sorting is enforced.
    loose_out, loose_h = gru(pack_padded_sequence(padded, [4, 3, 1], enforce_sorted=False))
    np.testing.assert_array_equal(loose_out.data.data, sorted_out.data.data)
    np.testing.assert_array_equal(loose_h.data, sorted_h.data)
    assert sorted_out.data.dtype == np.float32


def test_packed_int_data_is_promoted_and_dropout_runs_in_training():
    packed = pack_sequence([np.array([[1, 2], [3, 4]]), np.array([[5, 6]])])
    rnn = nn.RNN(2, 3, num_layers=2, dropout=0.5)
    out, h_n = rnn(packed)
    assert out.data.dtype == np.float32 and h_n.shape == (2, 2, 3)
    rnn.eval()
    again, _ = rnn(packed)
    np.testing.assert_array_equal(rnn(packed)[0].data.data, again.data.data)


# ------------------------------------------------------------------ bad input
def test_unsorted_lengths_with_enforce_sorted_name_the_lengths():
    with pytest.raises(ValueError, match=r"lengths \[2, 3\].*enforce_sorted=False"):
        pack_padded_sequence(np.zeros((3, 2, 1)), [2, 3])
    with pytest.raises(ValueError, match=r"lengths \[1, 2\].*enforce_sorted=False"):
        pack_sequence([np.zeros((1, 2)), np.zeros((2, 2))])


@pytest.mark.parametrize("lengths, bad", [([3, 0], r"\[0\] at positions \[1\]"),
                                           ([4, 2], r"\[4\] at positions \[0\]"),
                                           ([-1, 2], r"\[-1\] at positions \[0\]")])
def test_lengths_out_of_range_are_refused_with_the_values(lengths, bad):
    with pytest.raises(ValueError, match=r"\[1, 3\].*shape \(3, 2, 1\).*" + bad):
        pack_padded_sequence(np.zeros((3, 2, 1)), lengths, enforce_sorted=False)


def test_other_bad_input_is_refused_with_shapes():
    x = np.zeros((3, 2, 1))
    with pytest.raises(ValueError, match=r"lengths has shape \(3,\).*\(2,\)"):
        pack_padded_sequence(x, [3, 2, 1])
    with pytest.raises(TypeError, match="lengths must hold integers, got dtype float64"):
        pack_padded_sequence(x, [3.0, 2.0])
    with pytest.raises(ValueError, match=r"input has shape \(3,\)"):
        pack_padded_sequence(np.zeros(3), [3])
    with pytest.raises(ValueError, match="holds no sequences"):
        pack_padded_sequence(np.zeros((3, 0, 1)), [])
    packed = pack_padded_sequence(x, [3, 2])
    with pytest.raises(ValueError, match="total_length 2 is less than .* length 3"):
        pad_packed_sequence(packed, total_length=2)
    with pytest.raises(TypeError, match="must be a PackedSequence, got ndarray"):
        pad_packed_sequence(x)
    with pytest.raises(ValueError, match=r"sequences\[1\] has shape \(2, 3\).*\(2, 2\)"):
        pad_sequence([np.zeros((2, 2)), np.zeros((2, 3))])
    with pytest.raises(ValueError, match="sequences is empty"):
        pad_sequence([])
    with pytest.raises(ValueError, match="padding_side must be 'left' or 'right'"):
        pad_sequence([np.zeros(2)], padding_side="middle")
    with pytest.raises(ValueError, match="padding_value nan cannot be stored"):
        pad_sequence([np.zeros(2, dtype=np.int64)], padding_value=float("nan"))
    with pytest.raises(ValueError, match=r"data has shape \(2, 1\).*sum to 3"):
        PackedSequence(np.zeros((2, 1)), [2, 1])
    with pytest.raises(ValueError, match=r"positive, non-increasing.*\[1, 2\]"):
        PackedSequence(np.zeros((3, 1)), [1, 2])
    with pytest.raises(ValueError, match=r"sorted_indices must be a permutation of 0..1"):
        PackedSequence(np.zeros((3, 1)), [2, 1], sorted_indices=[0, 0])


def test_recurrent_layers_check_packed_input_and_states():
    packed = pack_padded_sequence(np.zeros((3, 2, 4)), [3, 2])
    with pytest.raises(ValueError, match=r"LSTM: packed input data has shape \(5, 4\).*5\)"):
        nn.LSTM(5, 2)(packed)
    with pytest.raises(ValueError, match=r"GRU: h_0 has shape \(1, 3, 2\).*\(1, 2, 2\)"):
        nn.GRU(4, 2)(packed, np.zeros((1, 3, 2)))


def test_import_paths():
    import dlcore.nn.utils as utils

    assert nn.utils.rnn.pad_sequence is pad_sequence
    assert utils.rnn.PackedSequence is PackedSequence
    assert utils.clip_grad_norm_ is nn.utils.clip_grad_norm_  # the old module's names stay
