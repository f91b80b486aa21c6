"""Adaptive max and min pooling against the NumPy reference: values, indices (ties, NaN,
windows that overlap or repeat when the output is larger than the input), gradients routed
through the indices, float64 gradcheck, layers, and errors."""

import numpy as np
import pytest
from helpers import check_op
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
import dlcore.nn.functional as F
from dlcore import _core, nn
from dlcore.reference import pool as ref

R = np.random.default_rng(0)
POOLS = {"max": F.adaptive_max_pool2d, "min": F.adaptive_min_pool2d}


def assert_matches(kind, x, size):
    """Forward values and indices, and the backward, against the reference."""
    want, want_idx = ref.adaptive_extremum_pool2d(x, kind, size)
    xt = dlcore.tensor(x, requires_grad=True)
    y, idx = POOLS[kind](xt, size, return_indices=True)
    assert y.dtype == x.dtype and idx.dtype == np.int64
    np.testing.assert_array_equal(idx.data, want_idx)
    np.testing.assert_array_equal(y.data, want)  # NaN == NaN for assert_array_equal
    g = R.standard_normal(y.shape).astype(x.dtype)
    (y * dlcore.tensor(g)).sum().backward()
    want_grad = ref.extremum_pool2d_backward(g, want_idx, x.shape)
    np.testing.assert_allclose(xt.grad.data, want_grad, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", ["max", "min"])
@pytest.mark.parametrize("size", [1, 3, (2, 5), (7, 9), (5, 4), (10, 13), (1, 9)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_reference(kind, size, dtype):
    # (10, 13) is larger than the 7 x 9 input: windows of one or two cells, repeated.
    assert_matches(kind, R.standard_normal((2, 3, 7, 9)).astype(dtype),
                   (size, size) if isinstance(size, int) else size)


@settings(max_examples=80, deadline=None)
@given(
    kind=st.sampled_from(["max", "min"]),
    shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 11),
                    st.integers(1, 11)),
    size=st.tuples(st.integers(1, 13), st.integers(1, 13)),
    values=st.sampled_from(["distinct", "ties", "nan"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_geometries(kind, shape, size, values, seed):
    rng = np.random.default_rng(seed)
    if values == "distinct":
        x = rng.standard_normal(shape)
    else:
        x = rng.integers(-2, 2, shape).astype(np.float64)
        if values == "nan":
            x[rng.random(shape) < 0.2] = np.nan
    assert_matches(kind, x, size)


def test_ties_pick_the_first_and_nan_wins():
    x = np.array([[[[1.0, 3.0, 3.0], [0.0, np.nan, 3.0], [np.nan, 3.0, 2.0]]]])
    y, idx = F.adaptive_max_pool2d(x, 1, return_indices=True)
    assert np.isnan(y.item()) and idx.item() == 6  # the last NaN, as PyTorch's CPU kernel
    y, idx = F.adaptive_max_pool2d(x[..., :1, :], (1, 1), return_indices=True)
    assert y.item() == 3.0 and idx.item() == 1  # the first of the tied maxima
    y, idx = F.adaptive_min_pool2d(x[..., :1, :], (1, 1), return_indices=True)
    assert y.item() == 1.0 and idx.item() == 0


def test_global_max_pooling_is_the_max():
    x = R.standard_normal((3, 4, 5, 6)).astype(np.float32)
    np.testing.assert_array_equal(nn.AdaptiveMaxPool2d(1)(x).data[..., 0, 0],
                                  x.max(axis=(2, 3)))
    np.testing.assert_array_equal(nn.AdaptiveMinPool2d(1)(x).data[..., 0, 0],
                                  x.min(axis=(2, 3)))


def test_tiling_sizes_equal_windowed_max_pooling():
    x = R.standard_normal((2, 3, 8, 12))
    np.testing.assert_array_equal(F.adaptive_max_pool2d(x, (4, 3)).data,
                                  F.max_pool2d(x, (2, 4)).data)


def distinct(shape):
    """Values far enough apart that finite differences never swap a window's pick."""
    return R.permutation(np.prod(shape)).reshape(shape) * 0.1


@pytest.mark.parametrize("op", [
    lambda x: F.adaptive_max_pool2d(x, (2, 3)),
    lambda x: F.adaptive_min_pool2d(x, (4, 4)),
    lambda x: F.adaptive_max_pool2d(x, (7, 8)),  # more outputs than inputs: shared picks
])
def test_gradcheck(op):
    check_op(op, None, [distinct((2, 2, 5, 6))])


def test_overlapping_windows_sum_their_gradients():
    # 3 cells pooled to 2: windows [0, 2) and [1, 3) share cell 1, the maximum of both.
    x = dlcore.tensor(np.array([[[[0.0, 5.0, 1.0]]]]), requires_grad=True)
    F.adaptive_max_pool2d(x, (1, 2)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[[[0.0, 2.0, 0.0]]]])


def test_unbatched_integer_and_non_contiguous_inputs():
    img = R.integers(0, 256, (3, 9, 7)).astype(np.uint8)
    y, idx = F.adaptive_max_pool2d(img, (3, None), return_indices=True)
    assert y.shape == idx.shape == (3, 3, 7) and y.dtype == np.float32
    want, want_idx = ref.adaptive_extremum_pool2d(img[None].astype(np.float32), "max", (3, 7))
    np.testing.assert_array_equal(y.data, want[0])
    np.testing.assert_array_equal(idx.data, want_idx[0])
    x = R.standard_normal((2, 3, 10, 12))[:, :, ::2, ::-2]
    np.testing.assert_array_equal(F.adaptive_min_pool2d(x, 2).data,
                                  ref.adaptive_extremum_pool2d(x.copy(), "min", (2, 2))[0])


def test_empty_batch():
    y = F.adaptive_max_pool2d(np.zeros((0, 3, 4, 4), np.float32), 2)
    assert y.shape == (0, 3, 2, 2)


def test_layers():
    x = dlcore.tensor(R.standard_normal((2, 3, 8, 8)), requires_grad=True)
    pool = nn.AdaptiveMaxPool2d((2, None))
    assert repr(pool) == "AdaptiveMaxPool2d(output_size=(2, None))"
    assert pool(x).shape == (2, 3, 2, 8)
    out, idx = nn.AdaptiveMinPool2d(3, return_indices=True)(x)
    np.testing.assert_array_equal(out.data, F.adaptive_min_pool2d(x, 3).data)
    assert idx.shape == out.shape
    model = nn.Sequential(nn.AdaptiveMaxPool2d(4), nn.Flatten(), nn.Linear(48, 2))
    model(x).sum().backward()
    assert x.grad.shape == x.shape


def test_errors_name_the_problem():
    x = np.zeros((1, 1, 4, 4), np.float32)
    with pytest.raises(ValueError, match=r"adaptive_max_pool2d: output_size must be positive, "
                                         r"got \(0, 2\)"):
        F.adaptive_max_pool2d(x, (0, 2))
    with pytest.raises(ValueError, match=r"adaptive_min_pool2d: input must be \(N, C, H, W\) "
                                         r"or \(C, H, W\), got shape \(4, 4\)"):
        F.adaptive_min_pool2d(x[0, 0], 2)
    with pytest.raises(ValueError, match=r"adaptive_max_pool2d: input \(1, 1, 0, 4\) has an "
                                         r"empty spatial size"):
        F.adaptive_max_pool2d(np.zeros((1, 1, 0, 4)), 2)
    with pytest.raises(TypeError, match="must be numeric"):
        F.adaptive_max_pool2d(np.array([[["a"]]]), 1)
    out, idx = _core.adaptive_extremum_pool2d(x, "max", (2, 2))
    with pytest.raises(ValueError, match=r"adaptive_max_pool2d: indices must lie in \[0, 16\)"):
        _core.adaptive_extremum_pool2d_backward(out, idx + 16, x.shape, "max")
    with pytest.raises(ValueError, match="kind must be 'max' or 'min'"):
        _core.adaptive_extremum_pool2d(x, "avg", (2, 2))


@pytest.mark.parametrize("kind", ["max", "min"])
@pytest.mark.parametrize("length, size", [(9, 1), (9, 4), (7, 7), (5, 8), (1, 3)])
def test_one_dimensional_forms_match_the_reference(kind, length, size):
    x = R.integers(-2, 3, (2, 3, length)).astype(np.float64)  # ties
    x[0, 0, 0] = np.nan
    pool = F.adaptive_max_pool1d if kind == "max" else F.adaptive_min_pool1d
    xt = dlcore.tensor(x, requires_grad=True)
    y, idx = pool(xt, size, return_indices=True)
    want, want_idx = ref.adaptive_extremum_pool2d(x[:, :, None, :], kind, (1, size))
    np.testing.assert_array_equal(y.data, want[:, :, 0])
    np.testing.assert_array_equal(idx.data, want_idx[:, :, 0])  # positions along L
    g = R.standard_normal(y.shape)
    (y * dlcore.tensor(g)).sum().backward()
    want_grad = ref.extremum_pool2d_backward(g[:, :, None], want_idx, (2, 3, 1, length))
    np.testing.assert_allclose(xt.grad.data, want_grad[:, :, 0], atol=1e-12)
    assert pool(x[0], size).shape == (3, size)  # unbatched


def test_one_dimensional_gradcheck_layers_and_errors():
    check_op(lambda x: F.adaptive_max_pool1d(x, 3), None, [distinct((2, 3, 7))])
    layer = nn.AdaptiveMaxPool1d(2, return_indices=True)
    assert repr(layer) == "AdaptiveMaxPool1d(output_size=2)"
    out, idx = layer(np.arange(8.0).reshape(1, 1, 8))
    np.testing.assert_array_equal(out.data, [[[3.0, 7.0]]])
    np.testing.assert_array_equal(idx.data, [[[3, 7]]])
    np.testing.assert_array_equal(nn.AdaptiveMinPool1d(1)(np.arange(8.0).reshape(1, 1, 8)).data,
                                  [[[0.0]]])
    with pytest.raises(ValueError, match="adaptive_max_pool1d: output_size must be positive"):
        F.adaptive_max_pool1d(np.zeros((1, 1, 4)), 0)
    with pytest.raises(ValueError, match=r"adaptive_min_pool1d: input must be \(N, C, L\)"):
        F.adaptive_min_pool1d(np.zeros((1, 1, 1, 4)), 2)
    with pytest.raises(ValueError, match="AdaptiveMaxPool1d: output_size must be positive"):
        nn.AdaptiveMaxPool1d(0)
