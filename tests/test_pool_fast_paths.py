"""The pooling kernels' fast paths: 2x2 max/min with one-byte pick codes (forward, and a
backward that writes every input gradient once), the row-gathering average-pool backward and
the write-once backward of tiling adaptive pooling, each against the NumPy reference."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
import dlcore.nn.functional as F
from dlcore import _core
from dlcore.reference import pool as ref

R = np.random.default_rng(11)
POOLS = {"max": F.max_pool2d, "min": F.min_pool2d}
W2 = ((2, 2), (2, 2), (0, 0), (1, 1))


def codes_and_indices(x, kind, ceil_mode=False):
    """The kernel's compact and flat forms for the same 2x2 pooling."""
    out_c, codes = _core.extremum_pool2d(x, kind, *W2, ceil_mode, True, True)
    out_i, idx = _core.extremum_pool2d(x, kind, *W2, ceil_mode, True, False)
    np.testing.assert_array_equal(out_c, out_i)
    return out_c, codes, idx


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["max", "min"])
@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (1, 2, 7, 9), (3, 1, 2, 2), (1, 1, 5, 3),
                                   (64, 4, 16, 16), (1, 33, 6, 34)])
def test_codes_match_flat_indices_and_the_reference(dtype, kind, shape):
    x = R.standard_normal(shape).astype(dtype)
    out, codes, idx = codes_and_indices(x, kind)
    assert codes.dtype == np.uint8 and idx.dtype == np.int32
    assert codes.max() <= 3
    want, want_idx = ref.extremum_pool2d(x, kind, (2, 2), (2, 2))
    np.testing.assert_array_equal(out, want)
    # A code is the place in the window: row (code // 2), column (code % 2).
    oh, ow = want.shape[2:]
    rows = 2 * np.arange(oh)[:, None] + codes // 2
    cols = 2 * np.arange(ow)[None, :] + codes % 2
    np.testing.assert_array_equal(rows * shape[3] + cols, want_idx)
    g = R.standard_normal(want.shape).astype(dtype)
    from_codes = _core.extremum_pool2d_backward(g, codes, x.shape, kind, *W2)
    from_idx = _core.extremum_pool2d_backward(g, idx, x.shape, kind, *W2)
    assert from_codes.dtype == dtype
    np.testing.assert_array_equal(from_codes, from_idx)
    np.testing.assert_array_equal(from_codes, ref.extremum_pool2d_backward(g, want_idx, x.shape))


def test_odd_edges_get_zero_gradient_even_in_a_recycled_buffer():
    # The backward writes into cached buffers that held other values before: the last row
    # and column, which no 2x2 window covers, must still come back zero.
    x = R.standard_normal((4, 3, 9, 7)).astype(np.float32)
    _core.extremum_pool2d_backward(np.full((4, 3, 5, 4), 7.0, np.float32),
                                   np.zeros((4, 3, 5, 4), np.uint8), (4, 3, 10, 8), "max", *W2)
    xt = dlcore.tensor(x, requires_grad=True)
    F.max_pool2d(xt, 2).backward(np.ones((4, 3, 4, 3), np.float32))
    grad = xt.grad.data
    assert (grad[:, :, 8, :] == 0).all() and (grad[:, :, :, 6] == 0).all()
    assert grad.sum() == 4 * 3 * 4 * 3


@pytest.mark.parametrize("kind", ["max", "min"])
def test_codes_keep_ties_first_and_propagate_nan(kind):
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan  # two NaNs in one window: the last one wins
    x[0, 0, 2:, 2:] = 5.0  # a four-way tie
    x[0, 0, 3, 0] = np.nan  # a NaN in the last place of its window beats everything
    _, codes, idx = codes_and_indices(x, kind)
    _, want_idx = ref.extremum_pool2d(x, kind, (2, 2), (2, 2))
    np.testing.assert_array_equal(idx, want_idx)
    assert codes[0, 0, 0, 0] == 2  # the later of two NaNs
    assert codes[0, 0, 1, 1] == 0  # tie: the first element
    assert codes[0, 0, 1, 0] == 2  # the NaN at (3, 0)
    y = POOLS[kind](dlcore.tensor(x, requires_grad=True), 2)
    assert np.isnan(y.data[0, 0, 0, 0]) and np.isnan(y.data[0, 0, 1, 0])


def test_codes_are_used_only_for_tiling_2x2_windows():
    x = R.standard_normal((1, 2, 7, 7))
    # Ceil mode on odd sizes makes partial windows: flat indices are kept.
    _, idx = _core.extremum_pool2d(x, "max", *W2, True, True, True)
    assert idx.dtype == np.int32
    _, idx = _core.extremum_pool2d(x, "max", (3, 3), (2, 2), (1, 1), (1, 1), False, True, True)
    assert idx.dtype == np.int32
    _, idx = _core.extremum_pool2d(x, "max", *W2, False, False, True)
    assert idx is None


def test_bad_codes_are_errors_not_wrong_gradients():
    g = np.ones((1, 1, 2, 2), np.float32)
    bad = np.array([[[[0, 1], [4, 3]]]], np.uint8)
    with pytest.raises(ValueError, match=r"max_pool2d: 2x2 pick codes must lie in 0..=3"):
        _core.extremum_pool2d_backward(g, bad, (1, 1, 4, 4), "max", *W2)
    codes = np.zeros((1, 1, 2, 2), np.uint8)
    with pytest.raises(ValueError, match=r"min_pool2d: 2x2 pick codes need kernel 2, stride 2.*"
                                         r"got kernel \(3, 3\)"):
        _core.extremum_pool2d_backward(g, codes, (1, 1, 5, 5), "min", (3, 3), (2, 2))
    with pytest.raises(ValueError, match=r"indices has shape \(1, 1, 2, 1\) but grad_output "
                                         r"has shape \(1, 1, 2, 2\)"):
        _core.extremum_pool2d_backward(g, codes[..., :1].copy(), (1, 1, 4, 4), "max", *W2)


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(["max", "min"]),
    shape=st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(2, 13),
                    st.integers(2, 13)),
    ties=st.booleans(),
    nans=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**32 - 1),
)
def test_2x2_autograd_matches_reference(kind, shape, ties, nans, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 2, shape) if ties else rng.standard_normal(shape)
    x = x.astype(dtype)
    if nans:
        x.flat[rng.integers(0, x.size, max(1, x.size // 10))] = np.nan
    want, want_idx = ref.extremum_pool2d(x, kind, (2, 2), (2, 2))
    xt = dlcore.tensor(x, requires_grad=True)
    y = POOLS[kind](xt, 2)
    np.testing.assert_array_equal(y.data, want)
    g = rng.standard_normal(want.shape).astype(dtype)
    y.backward(g)
    assert xt.grad.dtype == dtype
    np.testing.assert_array_equal(xt.grad.data, ref.extremum_pool2d_backward(g, want_idx, x.shape))


@settings(max_examples=40, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 12),
                    st.integers(1, 12)),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    ceil_mode=st.booleans(),
    count_include_pad=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**32 - 1),
)
def test_avg_pool_backward_gather_matches_reference(shape, kernel, stride, padding, ceil_mode,
                                                     count_include_pad, dtype, seed):
    rng = np.random.default_rng(seed)
    padding = tuple(min(p, k // 2) for p, k in zip(padding, kernel))
    if any(k > n + 2 * p for k, n, p in zip(kernel, shape[2:], padding)):
        return
    x = rng.standard_normal(shape).astype(dtype)
    args = (kernel, stride, padding, ceil_mode, count_include_pad, None)
    want = ref.avg_pool2d(x, *args)
    g = rng.standard_normal(want.shape).astype(dtype)
    # Recycled output buffers: fill one with garbage first, so an unwritten cell shows.
    _core.avg_pool2d_backward(np.full(want.shape, 9.0, dtype), x.shape, *args)
    xt = dlcore.tensor(x, requires_grad=True)
    y = F.avg_pool2d(xt, kernel, stride, padding, ceil_mode, count_include_pad)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y.data, want, rtol=tol, atol=tol)
    y.backward(g)
    np.testing.assert_allclose(xt.grad.data, ref.avg_pool2d_backward(g, x.shape, *args),
                               rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, size", [((2, 3, 8, 8), 1), ((2, 3, 8, 6), (4, 3)),
                                         ((1, 2, 7, 5), 1), ((1, 2, 7, 5), (7, 5)),
                                         ((1, 2, 9, 9), (2, 4)), ((1, 1, 3, 3), (6, 6))])
def test_adaptive_backward_tiling_and_overlapping(dtype, shape, size):
    x = R.standard_normal(shape).astype(dtype)
    pair = (size, size) if isinstance(size, int) else size
    want = ref.adaptive_avg_pool2d(x, pair)
    g = R.standard_normal(want.shape).astype(dtype)
    _core.adaptive_avg_pool2d_backward(np.full(want.shape, 9.0, dtype), shape)
    xt = dlcore.tensor(x, requires_grad=True)
    y = F.adaptive_avg_pool2d(xt, size)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y.data, want, rtol=tol, atol=tol)
    y.backward(g)
    np.testing.assert_allclose(xt.grad.data, ref.adaptive_avg_pool2d_backward(g, shape),
                               rtol=tol, atol=tol)


def test_pool_gradient_is_not_shared_between_calls():
    # x.grad takes the backward's array without a copy: a second call must not overwrite it.
    x = R.standard_normal((2, 3, 8, 8)).astype(np.float32)
    a, b = dlcore.tensor(x, requires_grad=True), dlcore.tensor(x, requires_grad=True)
    F.max_pool2d(a, 2).backward(np.ones((2, 3, 4, 4), np.float32))
    first = a.grad.data.copy()
    F.max_pool2d(b, 2).backward(np.full((2, 3, 4, 4), 2.0, np.float32))
    np.testing.assert_array_equal(a.grad.data, first)
    np.testing.assert_array_equal(b.grad.data, 2 * first)
    F.max_pool2d(a, 2).backward(np.ones((2, 3, 4, 4), np.float32))
    np.testing.assert_array_equal(a.grad.data, 2 * first)
