"""PackedSequence's conversion methods (to, double, float, half, long, int, cpu, cuda,
is_cuda, detach), as PyTorch's: they convert ``data`` only, as Tensor.to converts a tensor,
keep ``batch_sizes`` and the indices as they are, and stay differentiable between floats."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import check_op

import dlcore
from dlcore import nn
from dlcore.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence


def packed(dtype=np.float32, sorted_batch: bool = False) -> PackedSequence:
    """Three sequences of lengths [2, 3, 1] (or sorted, [3, 2, 1]) with 2 features."""
    padded = np.arange(18, dtype=np.float64).reshape(3, 3, 2).astype(dtype)
    lengths = [3, 2, 1] if sorted_batch else [2, 3, 1]
    return pack_padded_sequence(dlcore.tensor(padded), lengths, enforce_sorted=sorted_batch)


def assert_same_bookkeeping(got: PackedSequence, original: PackedSequence) -> None:
    assert isinstance(got, PackedSequence)
    assert got.batch_sizes is original.batch_sizes
    assert got.sorted_indices is original.sorted_indices
    assert got.unsorted_indices is original.unsorted_indices
    assert got.batch_sizes.dtype == np.int64
    if got.sorted_indices is not None:
        assert got.sorted_indices.dtype == got.unsorted_indices.dtype == np.int64


@pytest.mark.parametrize("convert, dtype", [
    (lambda p: p.to(np.float64), np.float64),
    (lambda p: p.to(dlcore.float64), np.float64),
    (lambda p: p.to("float64"), np.float64),
    (lambda p: p.to(dtype=np.float64), np.float64),
    (lambda p: p.to("cpu", np.float64), np.float64),
    (lambda p: p.to(device="cpu", dtype=np.float16), np.float16),
    (lambda p: p.double(), np.float64),
    (lambda p: p.half(), np.float16),
    (lambda p: p.long(), np.int64),
    (lambda p: p.int(), np.int32),
])
@pytest.mark.parametrize("sorted_batch", [False, True])
def test_conversions_change_data_only(convert, dtype, sorted_batch):
    original = packed(np.float32, sorted_batch)
    got = convert(original)
    assert got is not original and got.data.dtype == dtype
    np.testing.assert_array_equal(got.data.data, original.data.data.astype(dtype))
    assert_same_bookkeeping(got, original)
    assert original.data.dtype == np.float32  # the original is left as it was


@pytest.mark.parametrize("convert", [
    lambda p: p.to("cpu"), lambda p: p.to(device="cpu"), lambda p: p.to("cpu:0"),
    lambda p: p.to(np.float32), lambda p: p.float(), lambda p: p.cpu(),
])
def test_a_conversion_that_changes_nothing_returns_the_sequence_itself(convert):
    original = packed(np.float32)
    assert convert(original) is original


def test_float_converts_doubles_and_is_cuda_is_false():
    original = packed(np.float64)
    got = original.float()
    assert got.data.dtype == np.float32
    np.testing.assert_array_equal(got.data.data, original.data.data.astype(np.float32))
    assert_same_bookkeeping(got, original)
    assert original.is_cuda is False and got.is_cuda is False


def test_conversion_is_differentiable_between_floats():
    rng = np.random.default_rng(0)
    lengths = [2, 3, 1]

    def through_float32(x):
        sequence = pack_padded_sequence(x, lengths, enforce_sorted=False)
        return pad_packed_sequence(sequence.float().double())[0] * 3

    # Linear in x, so a large eps is exact but for float32 rounding (about 1e-7 / eps).
    check_op(through_float32, None, [rng.standard_normal((3, 3, 2))], eps=1e-2,
             grad_atol=1e-4)
    x = dlcore.tensor(rng.standard_normal((3, 3, 2)).astype(np.float32), requires_grad=True)
    sequence = pack_padded_sequence(x, lengths, enforce_sorted=False).double()
    (sequence.data * 2).sum().backward()
    assert x.grad.dtype == np.float32
    for i, k in enumerate(lengths):
        np.testing.assert_array_equal(x.grad.data[:k, i], 2.0)
        np.testing.assert_array_equal(x.grad.data[k:, i], 0.0)


def test_detach_cuts_data_off_the_graph():
    x = dlcore.tensor(np.ones((3, 2, 2)), requires_grad=True)
    sequence = pack_padded_sequence(x, [3, 1])
    assert sequence.data.requires_grad
    detached = sequence.detach()
    assert not detached.data.requires_grad
    np.testing.assert_array_equal(detached.data.data, sequence.data.data)
    assert_same_bookkeeping(detached, sequence)


def test_a_converted_sequence_feeds_a_recurrent_layer():
    lstm = nn.LSTM(2, 3, dtype=np.float64)
    original = packed(np.float32)
    out, (h_n, _) = lstm(original.double())
    want, (want_h, _) = lstm(original)  # the layer casts float32 input to its float64 itself
    assert out.data.dtype == np.float64
    np.testing.assert_array_equal(out.data.data, want.data.data)
    np.testing.assert_array_equal(h_n.data, want_h.data)


def test_other_devices_and_bad_arguments_are_refused():
    sequence = packed()
    with pytest.raises(RuntimeError, match=r"PackedSequence.to\('cuda'\): dlcore runs on the "
                                            r"CPU only"):
        sequence.to("cuda")
    with pytest.raises(RuntimeError, match="CPU only"):
        sequence.to(device="cuda:0", dtype=np.float64)
    with pytest.raises(RuntimeError, match="CPU only"):
        sequence.cuda()
    with pytest.raises(TypeError, match="PackedSequence.to: expected a dtype and/or a device"):
        sequence.to(np.float64, np.float32)
    with pytest.raises(TypeError, match=r"PackedSequence.to: unexpected arguments \['memory'\]"):
        sequence.to(np.float64, memory="pinned")
