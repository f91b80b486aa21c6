"""Max, min, average and adaptive average pooling against the NumPy reference (values,
indices and gradients), float64 gradcheck, hypothesis over geometries, ties, NaN, ceil_mode
edge windows, the layers, and the error messages."""

import numpy as np
import pytest
from helpers import check_op
from hypothesis import example, given, settings
from hypothesis import strategies as st

import dlcore
import dlcore.nn.functional as F
from dlcore import nn
from dlcore.reference import pool as ref

R = np.random.default_rng(4)
POOLS = {"max": F.max_pool2d, "min": F.min_pool2d}


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def assert_extremum_matches(kind, x, kernel, stride=None, padding=0, dilation=1,
                            ceil_mode=False):
    """Values, int64 indices and the routed gradient all equal the reference's."""
    stride = kernel if stride is None else stride
    xt = dlcore.tensor(x, requires_grad=True)
    y, idx = POOLS[kind](xt, kernel, stride, padding, dilation, ceil_mode, return_indices=True)
    want, want_idx = ref.extremum_pool2d(x, kind, pair(kernel), pair(stride), pair(padding),
                                         pair(dilation), ceil_mode)
    np.testing.assert_array_equal(y.data, want)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx.data, want_idx)
    g = R.standard_normal(want.shape).astype(x.dtype)
    # backward(g) rather than (y * g).sum(): a window that dilation and padding leave with
    # padding only pools to -inf (as in PyTorch), and -inf * g would sum to NaN on the way.
    y.backward(g)
    want_grad = ref.extremum_pool2d_backward(g, want_idx, x.shape)
    np.testing.assert_allclose(xt.grad.data, want_grad, atol=1e-6)
    # Without return_indices the op keeps only what its backward needs (one-byte pick codes
    # for 2x2 windows): the same values and gradient.
    xt = dlcore.tensor(x, requires_grad=True)
    y = POOLS[kind](xt, kernel, stride, padding, dilation, ceil_mode)
    np.testing.assert_array_equal(y.data, want)
    y.backward(g)
    np.testing.assert_allclose(xt.grad.data, want_grad, atol=1e-6)


def assert_avg_matches(x, kernel, stride=None, padding=0, ceil_mode=False,
                       count_include_pad=True, divisor_override=None, tol=1e-12):
    stride = kernel if stride is None else stride
    args = (pair(kernel), pair(stride), pair(padding), ceil_mode, count_include_pad,
            divisor_override)
    xt = dlcore.tensor(x, requires_grad=True)
    y = F.avg_pool2d(xt, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
    want = ref.avg_pool2d(x, *args)
    np.testing.assert_allclose(y.data, want, rtol=tol, atol=tol)
    g = R.standard_normal(want.shape).astype(x.dtype)
    (y * dlcore.tensor(g)).sum().backward()
    np.testing.assert_allclose(xt.grad.data, ref.avg_pool2d_backward(g, x.shape, *args),
                               rtol=tol, atol=tol)


# (input shape, kernel, stride, padding, dilation, ceil_mode)
WINDOWS = [
    ((2, 3, 8, 8), 2, None, 0, 1, False),  # the common 2x2 case (vectorised path)
    ((2, 3, 7, 9), 2, None, 0, 1, True),  # ceil mode: partial windows on the edges
    ((1, 2, 9, 9), 3, 2, 1, 1, False),  # overlapping windows with padding
    ((1, 2, 10, 10), 3, 2, 1, 1, True),  # ceil mode with padding
    ((1, 2, 6, 6), 3, 2, 1, 1, True),  # the last ceil window would start in the padding
    ((2, 1, 9, 7), (3, 2), (2, 1), (1, 0), (2, 1), False),  # rectangular and dilated
    ((1, 1, 5, 5), 2, 2, 0, 2, True),  # dilated 2x2
    ((1, 17, 5, 5), 5, 1, 2, 1, False),  # channels not a multiple of the SIMD width
    ((1, 1, 1, 1), 1, 1, 0, 1, False),
    ((64, 4, 16, 16), 2, 2, 0, 1, False),  # enough work for both threads
]


@pytest.mark.parametrize("kind", ["max", "min"])
@pytest.mark.parametrize("shape, kernel, stride, padding, dilation, ceil", WINDOWS)
def test_extremum_pool_matches_reference(kind, shape, kernel, stride, padding, dilation, ceil):
    x = R.standard_normal(shape)
    assert_extremum_matches(kind, x, kernel, stride, padding, dilation, ceil)
    assert_extremum_matches(kind, x.astype(np.float32), kernel, stride, padding, dilation, ceil)


@pytest.mark.parametrize("kind", ["max", "min"])
def test_ties_negative_values_and_nan(kind):
    # Few distinct values, all negative: many ties, and -inf padding must never win a max.
    x = R.integers(-4, -1, (2, 3, 9, 9)).astype(np.float64)
    for kernel, stride, padding, ceil in [(2, 2, 0, False), (3, 2, 1, True), (3, 1, 1, False)]:
        assert_extremum_matches(kind, x, kernel, stride, padding, 1, ceil)
    x[0, 0, 1, 1] = np.nan
    x[0, 0, 1, 2] = np.nan
    assert_extremum_matches(kind, x, 3, 1, 1)
    y = POOLS[kind](x, 2)
    assert np.isnan(y.data[0, 0, 0, 0]) and np.isnan(y.data[0, 0, 0, 1])


def test_ties_route_the_gradient_to_the_first_element():
    x = dlcore.tensor([[[[1.0, 3.0], [3.0, 2.0]]]], requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data[0, 0], [[0, 1], [0, 0]])
    x = dlcore.tensor([[[[-1.0, -3.0], [-3.0, 2.0]]]], requires_grad=True)
    y, idx = F.min_pool2d(x, 2, return_indices=True)
    y.sum().backward()
    assert y.item() == -3.0 and idx.item() == 1
    np.testing.assert_array_equal(x.grad.data[0, 0], [[0, 1], [0, 0]])


def test_ceil_mode_edge_windows():
    x = np.arange(25, dtype=np.float64).reshape(1, 1, 5, 5)
    y = F.max_pool2d(x, 2, ceil_mode=True)
    np.testing.assert_array_equal(y.data[0, 0], [[6, 8, 9], [16, 18, 19], [21, 23, 24]])
    assert F.max_pool2d(x, 2).shape == (1, 1, 2, 2)
    # Size 5, kernel 2, stride 2, padding 1: rounding up gives 4 windows, but the fourth
    # would start at 6 = H + padding, in the right padding only: PyTorch drops it.
    assert F.max_pool2d(np.zeros((1, 1, 5, 5)), 2, 2, 1, ceil_mode=True).shape == (1, 1, 3, 3)
    assert F.max_pool2d(np.zeros((1, 1, 6, 6)), 3, 2, 1, ceil_mode=True).shape == (1, 1, 4, 4)
    a = F.avg_pool2d(x, 2, ceil_mode=True).data[0, 0]
    assert a[2, 2] == 24.0 and a[0, 2] == (4 + 9) / 2  # clipped windows divide by what is in


@pytest.mark.parametrize("shape, kernel, stride, padding, _, ceil", WINDOWS[:5] + WINDOWS[7:])
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool_matches_reference(shape, kernel, stride, padding, _, ceil, count_include_pad):
    x = R.standard_normal(shape)
    assert_avg_matches(x, kernel, stride, padding, ceil, count_include_pad)
    assert_avg_matches(x.astype(np.float32), kernel, stride, padding, ceil, count_include_pad,
                       tol=1e-5)


def test_avg_pool_divisor_override():
    x = R.standard_normal((1, 2, 6, 6))
    assert_avg_matches(x, 3, 2, 1, divisor_override=4)
    np.testing.assert_allclose(F.avg_pool2d(x, 2, divisor_override=1).data,
                               4 * F.avg_pool2d(x, 2).data)


@pytest.mark.parametrize("size", [1, 3, (2, 5), (7, 9), (5, None), (4, 4)])
def test_adaptive_avg_pool_matches_reference(size):
    x = R.standard_normal((2, 3, 7, 9))
    out = (size, size) if isinstance(size, int) else (size[0], 9 if size[1] is None else size[1])
    xt = dlcore.tensor(x, requires_grad=True)
    y = F.adaptive_avg_pool2d(xt, size)
    np.testing.assert_allclose(y.data, ref.adaptive_avg_pool2d(x, out), atol=1e-12)
    g = R.standard_normal(y.shape)
    (y * dlcore.tensor(g)).sum().backward()
    np.testing.assert_allclose(xt.grad.data, ref.adaptive_avg_pool2d_backward(g, x.shape),
                               atol=1e-12)


def test_global_average_pooling_is_the_mean():
    x = R.standard_normal((3, 4, 5, 6)).astype(np.float32)
    y = nn.AdaptiveAvgPool2d(1)(x)
    np.testing.assert_allclose(y.data[..., 0, 0], x.mean(axis=(2, 3)), rtol=1e-5)


def distinct(shape):
    """Values far enough apart that finite differences never swap a window's extremum."""
    return R.permutation(np.prod(shape)).reshape(shape) * 0.1


@pytest.mark.parametrize("op", [
    lambda x: F.max_pool2d(x, 2),
    lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True),
    lambda x: F.min_pool2d(x, (2, 3), (1, 2), (1, 1), dilation=(2, 1)),
    lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True),
    lambda x: F.avg_pool2d(x, 2, 1, 1, count_include_pad=False),
    lambda x: F.adaptive_avg_pool2d(x, (2, 3)),
])
def test_pooling_gradcheck(op):
    check_op(op, None, [distinct((2, 2, 5, 6))])


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(["max", "min", "avg"]),
    shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 10),
                    st.integers(1, 10)),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    ceil_mode=st.booleans(),
    ties=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
# A window with padding only: taps at -1 and +1 of a one-pixel-wide image.
@example(kind="max", shape=(1, 2, 1, 1), kernel=(1, 2), stride=(1, 1), padding=(0, 1),
         dilation=(1, 2), ceil_mode=False, ties=False, seed=0)
def test_pooling_random_geometries(kind, shape, kernel, stride, padding, dilation, ceil_mode,
                                   ties, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 3, shape).astype(np.float64) if ties else rng.standard_normal(shape)
    if kind == "avg":
        dilation = (1, 1)
    padding = tuple(min(p, k // 2) for p, k in zip(padding, kernel))
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if any(s > n + 2 * p for s, n, p in zip(spans, shape[2:], padding)):
        with pytest.raises(ValueError, match="does not fit"):
            (F.avg_pool2d(x, kernel, stride, padding) if kind == "avg"
             else POOLS[kind](x, kernel, stride, padding, dilation))
        return
    if kind == "avg":
        assert_avg_matches(x, kernel, stride, padding, ceil_mode, bool(seed % 2))
    else:
        assert_extremum_matches(kind, x, kernel, stride, padding, dilation, ceil_mode)


def test_unbatched_input_and_integer_images():
    img = R.integers(0, 256, (3, 8, 8)).astype(np.uint8)
    y = F.max_pool2d(img, 2)
    assert y.shape == (3, 4, 4) and y.dtype == np.float32
    np.testing.assert_array_equal(y.data, img.reshape(3, 4, 2, 4, 2).max(axis=(2, 4)))
    x = dlcore.tensor(img.astype(np.float64), requires_grad=True)
    F.avg_pool2d(x, 2).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.full((3, 8, 8), 0.25))
    assert F.adaptive_avg_pool2d(img, 1).shape == (3, 1, 1)


def test_no_indices_are_kept_without_a_gradient():
    x = R.standard_normal((2, 3, 8, 8)).astype(np.float32)
    y = F.max_pool2d(x, 2)
    assert not y.requires_grad
    np.testing.assert_array_equal(y.data, ref.extremum_pool2d(x, "max", (2, 2), (2, 2))[0])


def test_layers():
    x = dlcore.tensor(R.standard_normal((2, 3, 8, 8)), requires_grad=True)
    pool = nn.MaxPool2d(2)
    assert pool.stride == 2 and "kernel_size=2" in repr(pool)
    np.testing.assert_array_equal(pool(x).data, F.max_pool2d(x, 2).data)
    out, idx = nn.MinPool2d(3, 1, 1, return_indices=True)(x)
    np.testing.assert_array_equal(out.data, F.min_pool2d(x, 3, 1, 1).data)
    assert idx.shape == out.shape
    avg = nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)
    np.testing.assert_array_equal(avg(x).data, F.avg_pool2d(x, 3, 2, 1, True, False).data)
    assert nn.AdaptiveAvgPool2d((2, None))(x).shape == (2, 3, 2, 8)
    model = nn.Sequential(nn.MaxPool2d(2), nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(1))
    model(x).sum().backward()
    assert x.grad.shape == x.shape
    assert list(model.parameters()) == []


def test_layers_reject_bad_hyperparameters():
    with pytest.raises(ValueError, match="MaxPool2d: kernel_size must be positive"):
        nn.MaxPool2d(0)
    with pytest.raises(ValueError, match="MinPool2d: stride must be positive"):
        nn.MinPool2d(2, stride=0)
    with pytest.raises(ValueError, match="AvgPool2d: padding must be non-negative"):
        nn.AvgPool2d(2, padding=-1)


def test_pooling_errors_name_the_problem():
    x = np.zeros((1, 1, 4, 4), np.float32)
    with pytest.raises(ValueError, match=r"max_pool2d: kernel \(5, 5\) with dilation \(1, 1\) "
                                         r"does not fit in input \(1, 1, 4, 4\)"):
        F.max_pool2d(x, 5)
    with pytest.raises(ValueError, match=r"min_pool2d: stride must be positive, got \(0, 0\)"):
        F.min_pool2d(x, 2, 0)
    with pytest.raises(ValueError, match=r"padding \(2, 2\) must be at most half the kernel "
                                         r"size \(3, 3\)"):
        F.max_pool2d(x, 3, 1, 2)
    with pytest.raises(ValueError, match="avg_pool2d: kernel_size must be positive"):
        F.avg_pool2d(x, (2, 0))
    with pytest.raises(ValueError, match="divisor_override must be a positive int"):
        F.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(ValueError, match="output_size must be positive"):
        F.adaptive_avg_pool2d(x, 0)
    with pytest.raises(ValueError, match=r"input must be \(N, C, H, W\) or \(C, H, W\), got "
                                         r"shape \(4, 4\)"):
        F.max_pool2d(x[0, 0], 2)
    with pytest.raises(TypeError, match="must be numeric"):
        F.max_pool2d(np.array([[["a"]]]), 1)
