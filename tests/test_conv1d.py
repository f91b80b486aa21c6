"""conv1d and 1-D pooling (functional and layers) against the direct NumPy 1-D reference
(forward and every gradient), float64 gradcheck, hypothesis over geometries, dtypes,
unbatched and non-contiguous input, errors in 1-D terms, and a tiny 1-D CNN that learns."""

import math

import numpy as np
import pytest
from helpers import check_op
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
import dlcore.nn.functional as F
from dlcore import nn
from dlcore.reference import conv1d as ref

R = np.random.default_rng(11)
POOLS = {"max": F.max_pool1d, "min": F.min_pool1d}


def sides(padding, kernel, dilation):
    """The (left, right) zero padding PyTorch applies for ``padding``."""
    if padding == "valid":
        return 0, 0
    if padding == "same":
        total = dilation * (kernel - 1)
        return total // 2, total - total // 2
    return padding, padding


def assert_conv1d_matches(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, tol=1e-10):
    """dlcore's forward and its input/weight/bias gradients equal the reference's."""
    pads = sides(padding, w.shape[2], dilation)
    xt = dlcore.tensor(x, requires_grad=True)
    wt = dlcore.tensor(w, requires_grad=True)
    bt = None if b is None else dlcore.tensor(b, requires_grad=True)
    y = F.conv1d(xt, wt, bt, stride, padding, dilation, groups)
    want = ref.conv1d(x, w, b, stride, pads, dilation, groups)
    assert y.shape == want.shape and y.dtype == x.dtype
    np.testing.assert_allclose(y.data, want, rtol=tol, atol=tol)
    g = R.standard_normal(want.shape).astype(x.dtype)
    y.backward(g)
    gx, gw, gb = ref.conv1d_backward(x, w, g, stride, pads, dilation, groups)
    np.testing.assert_allclose(xt.grad.data, gx, rtol=tol, atol=tol)
    np.testing.assert_allclose(wt.grad.data, gw, rtol=tol, atol=tol)
    if b is not None:
        np.testing.assert_allclose(bt.grad.data, gb, rtol=tol, atol=tol)


def assert_extremum_matches(kind, x, kernel, stride=None, padding=0, dilation=1,
                            ceil_mode=False):
    """Values, int64 positions along L and the routed gradient equal the reference's."""
    step = kernel if stride is None else stride
    xt = dlcore.tensor(x, requires_grad=True)
    y, idx = POOLS[kind](xt, kernel, stride, padding, dilation, ceil_mode, return_indices=True)
    want, want_idx = ref.extremum_pool1d(x, kind, kernel, step, padding, dilation, ceil_mode)
    np.testing.assert_array_equal(y.data, want)
    assert idx.dtype == np.int64 and idx.shape == want.shape
    np.testing.assert_array_equal(idx.data, want_idx)
    g = R.standard_normal(want.shape).astype(x.dtype)
    # backward(g), not (y * g).sum(): a window of padding only pools to -inf.
    y.backward(g)
    np.testing.assert_allclose(xt.grad.data, ref.extremum_pool1d_backward(g, want_idx, x.shape),
                               atol=1e-12)


def assert_avg_matches(x, kernel, stride=None, padding=0, ceil_mode=False,
                       count_include_pad=True, divisor_override=None, tol=1e-12):
    step = kernel if stride is None else stride
    args = (kernel, step, padding, ceil_mode, count_include_pad, divisor_override)
    xt = dlcore.tensor(x, requires_grad=True)
    y = F.avg_pool1d(xt, kernel, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)
    want = ref.avg_pool1d(x, *args)
    np.testing.assert_allclose(y.data, want, rtol=tol, atol=tol)
    g = R.standard_normal(want.shape).astype(x.dtype)
    y.backward(g)
    np.testing.assert_allclose(xt.grad.data, ref.avg_pool1d_backward(g, x.shape, *args),
                               rtol=tol, atol=tol)


def assert_speaks_1d(message, op):
    """An error from a 1-D op names that op and never the 2-D op or shapes underneath."""
    assert message.startswith(f"{op}:"), message
    for leak in ("2d", "(N, C, H, W)", "H_out", "pair"):
        assert leak not in message, message


# ------------------------------------------------------------------------------- conv1d

# (input shape, weight shape, stride, padding, dilation, groups)
CONFIGS = [
    ((2, 3, 10), (4, 3, 3), 1, 1, 1, 1),  # the usual 3-tap "same"-style filter
    ((1, 1, 1), (2, 1, 1), 1, 0, 1, 1),  # length 1, kernel 1
    ((2, 2, 1), (3, 2, 3), 1, 1, 1, 1),  # length 1, padded to fit a kernel of 3
    ((3, 2, 5), (2, 2, 5), 1, 0, 1, 1),  # kernel as long as the input: one output
    ((2, 4, 13), (6, 2, 4), 3, 2, 2, 2),  # grouped, strided, dilated, even kernel
    ((2, 6, 9), (6, 1, 3), 1, 1, 1, 6),  # depthwise
    ((1, 4, 7), (8, 1, 2), 2, 3, 1, 4),  # depthwise multiplier 2, padding > kernel / 2
    ((2, 5, 11), (7, 5, 1), 2, 1, 1, 1),  # pointwise with stride and padding
    ((2, 3, 12), (4, 3, 4), 1, "same", 1, 1),  # 'same' with an even kernel: extra on the right
    ((1, 2, 9), (3, 2, 3), 1, "same", 3, 1),  # 'same' with dilation
    ((2, 3, 8), (2, 3, 3), 2, "valid", 1, 1),
    ((4, 17, 31), (19, 17, 5), 1, 2, 1, 1),  # odd channel counts, a longer signal
]


@pytest.mark.parametrize("xs, ws, stride, padding, dilation, groups", CONFIGS)
@pytest.mark.parametrize("bias", [True, False])
def test_conv1d_matches_reference_forward_and_gradients(xs, ws, stride, padding, dilation,
                                                        groups, bias):
    x = R.standard_normal(xs)
    w = R.standard_normal(ws)
    b = R.standard_normal(ws[0]) if bias else None
    assert_conv1d_matches(x, w, b, stride, padding, dilation, groups)


@pytest.mark.parametrize("xs, ws, stride, padding, dilation, groups", CONFIGS)
def test_conv1d_float32(xs, ws, stride, padding, dilation, groups):
    x, w, b = R.standard_normal(xs), R.standard_normal(ws), R.standard_normal(ws[0])
    y = F.conv1d(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32), stride,
                 padding, dilation, groups)
    assert y.dtype == np.float32
    want = ref.conv1d(x, w, b, stride, sides(padding, ws[2], dilation), dilation, groups)
    np.testing.assert_allclose(y.data, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("xs, ws, stride, padding, dilation, groups", [
    ((2, 2, 7), (3, 2, 3), 1, 1, 1, 1),
    ((1, 4, 9), (4, 2, 2), 2, 1, 2, 2),
    ((2, 3, 6), (3, 1, 3), 1, "same", 1, 3),
    ((1, 2, 1), (2, 2, 1), 1, 0, 1, 1),
    ((3, 5), (2, 3, 2), 2, 0, 1, 1),  # unbatched
])
def test_conv1d_gradcheck(xs, ws, stride, padding, dilation, groups):
    check_op(lambda x, w, b: F.conv1d(x, w, b, stride, padding, dilation, groups), None,
             [R.standard_normal(xs), R.standard_normal(ws), R.standard_normal(ws[0])])


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(0, 3),
    groups=st.sampled_from([1, 1, 2, 3]),
    cin_g=st.integers(1, 3),
    cout_g=st.integers(1, 3),
    length=st.integers(1, 24),
    kernel=st.integers(1, 6),
    stride=st.integers(1, 4),
    padding=st.one_of(st.integers(0, 4), st.sampled_from(["same", "valid"])),
    dilation=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_conv1d_random_geometries(n, groups, cin_g, cout_g, length, kernel, stride, padding,
                                  dilation, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, cin_g * groups, length))
    w = rng.standard_normal((cout_g * groups, cin_g, kernel))
    b = rng.standard_normal(cout_g * groups)
    left, right = sides(padding, kernel, dilation)
    if padding == "same" and stride != 1:
        with pytest.raises(ValueError, match="padding='same' needs stride 1") as info:
            F.conv1d(x, w, b, stride, padding, dilation, groups)
        assert_speaks_1d(str(info.value), "conv1d")
    elif dilation * (kernel - 1) + 1 > length + left + right:
        with pytest.raises(ValueError, match="padded input") as info:
            F.conv1d(x, w, b, stride, padding, dilation, groups)
        assert_speaks_1d(str(info.value), "conv1d")
    else:
        assert_conv1d_matches(x, w, b, stride, padding, dilation, groups)
        # The unbatched signal gives the first example's output.
        if n:
            y = F.conv1d(x[0], w, b, stride, padding, dilation, groups)
            np.testing.assert_allclose(y.data, ref.conv1d(x[:1], w, b, stride, (left, right),
                                                          dilation, groups)[0], atol=1e-10)


def test_conv1d_unbatched_input_and_its_gradients():
    x, w, b = R.standard_normal((3, 9)), R.standard_normal((4, 3, 3)), R.standard_normal(4)
    xt, wt = dlcore.tensor(x, requires_grad=True), dlcore.tensor(w, requires_grad=True)
    y = F.conv1d(xt, wt, b, padding=1)
    assert y.shape == (4, 9)
    np.testing.assert_allclose(y.data, ref.conv1d(x[None], w, b, 1, (1, 1))[0], atol=1e-12)
    g = R.standard_normal((4, 9))
    y.backward(g)
    gx, gw, _ = ref.conv1d_backward(x[None], w, g[None], 1, (1, 1))
    assert xt.grad.shape == (3, 9)
    np.testing.assert_allclose(xt.grad.data, gx[0], atol=1e-12)
    np.testing.assert_allclose(wt.grad.data, gw, atol=1e-12)


def test_conv1d_integer_and_non_contiguous_input():
    w = R.standard_normal((2, 3, 3)).astype(np.float32)
    ints = R.integers(-50, 50, (2, 3, 12))
    y = F.conv1d(ints, w)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, ref.conv1d(ints.astype(np.float64), w), rtol=1e-5,
                               atol=1e-3)
    # A strided view and a transposed array: what matters is the values, not the layout.
    base = R.standard_normal((2, 3, 24))
    for x in (base[:, :, ::2], np.ascontiguousarray(base[:, :, :12].transpose(0, 2, 1)).
              transpose(0, 2, 1), base[::-1, ::-1, 3:15]):
        assert not x.flags.c_contiguous
        assert_conv1d_matches(x, w.astype(np.float64), None, 2, 1, 1, 1)


def test_conv1d_empty_batch_and_nan():
    w = R.standard_normal((4, 3, 3))
    assert F.conv1d(np.zeros((0, 3, 7)), w, padding=1).shape == (0, 4, 7)
    x = R.standard_normal((1, 3, 8))
    x[0, 1, 5] = np.nan
    y = F.conv1d(x, w).data
    # Output i reads positions i..i+2: exactly outputs 3, 4 and 5 see the NaN.
    assert np.isnan(y[0, :, 3:6]).all() and not np.isnan(y[0, :, :3]).any()
    assert not np.isnan(y[0, :, 6:]).any()


def test_conv1d_finds_where_a_signal_steps_up():
    """A difference filter marks a step in a 1-D signal, as a Sobel filter marks an edge."""
    signal = np.array([[[0, 0, 0, 1, 1, 1, 1]]], np.float32)
    out = F.conv1d(signal, np.array([[[-1, 0, 1]]], np.float32)).data
    np.testing.assert_array_equal(out, [[[0, 1, 1, 0, 0]]])


BAD_CONV_CALLS = [
    # (input shape, weight shape, keyword arguments, exception, message regex)
    ((10,), (1, 1, 3), {}, ValueError,
     r"^conv1d: input must be \(N, C, L\) or \(C, L\), got shape \(10,\)$"),
    ((1, 2, 3, 10), (1, 2, 3), {}, ValueError,
     r"input must be \(N, C, L\) or \(C, L\), got shape \(1, 2, 3, 10\)"),
    ((2, 3, 10), (8, 4, 3), {}, ValueError,
     r"^conv1d: input \(2, 3, 10\) has 3 channels but weight \(8, 4, 3\) expects 4$"),
    ((2, 6, 10), (8, 2, 3), {"groups": 2}, ValueError,
     r"input \(2, 6, 10\) has 6 channels but weight \(8, 2, 3\) with groups=2 expects 4"),
    ((2, 3, 10), (8, 3, 3), {"groups": 2}, ValueError, "groups=2 does not divide"),
    ((2, 4, 10), (3, 2, 3), {"groups": 2}, ValueError,
     r"weight \(3, 2, 3\) has 3 output channels, which groups=2 does not divide"),
    ((2, 3, 4), (8, 3, 7), {"padding": 1}, ValueError,
     r"kernel 7 with dilation 1 spans 7 but the padded input \(2, 3, 4\) is only 6 long"),
    ((2, 3, 4), (8, 3, 3), {"dilation": 3}, ValueError, "spans 7"),
    ((2, 3, 0), (8, 3, 1), {}, ValueError, r"input \(2, 3, 0\) has length L = 0"),
    ((2, 3, 10), (8, 3, 3, 1), {}, ValueError,
     r"weight must be 3-D \(C_out, C_in/groups, K\), got shape \(8, 3, 3, 1\)"),
    ((2, 3, 10), (8, 3, 3), {"stride": 0}, ValueError, "stride must be positive, got 0"),
    ((2, 3, 10), (8, 3, 3), {"stride": (1, 2)}, ValueError,
     r"stride must be an int or a 1-tuple of one, got \(1, 2\)"),
    ((2, 3, 10), (8, 3, 3), {"dilation": -1}, ValueError, "dilation must be positive"),
    ((2, 3, 10), (8, 3, 3), {"stride": 2**70}, ValueError, r"stride must be at most 2\*\*63 - 1"),
    ((2, 3, 10), (8, 3, 3), {"padding": -1}, ValueError, "padding must be non-negative"),
    ((2, 3, 10), (8, 3, 3), {"padding": "full"}, ValueError,
     "padding must be an int, 'valid' or 'same', got 'full'"),
    ((2, 3, 10), (8, 3, 3), {"padding": "same", "stride": 2}, ValueError,
     "padding='same' needs stride 1, got stride 2"),
    ((2, 3, 10), (8, 3, 3), {"groups": 0}, ValueError, "groups must be a positive int"),
    ((2, 3, 10), (8, 3, 3), {"bias": np.zeros(3)}, ValueError,
     r"bias has shape \(3,\) but weight \(8, 3, 3\) needs \(8,\)"),
]


@pytest.mark.parametrize("xs, ws, kwargs, error, message", BAD_CONV_CALLS)
def test_conv1d_errors_speak_in_1d_terms(xs, ws, kwargs, error, message):
    with pytest.raises(error, match=message) as info:
        F.conv1d(np.zeros(xs), np.zeros(ws), **kwargs)
    assert_speaks_1d(str(info.value), "conv1d")


def test_conv1d_dtype_errors():
    with pytest.raises(TypeError, match="conv1d: weight must be float32 or float64, got int32"):
        F.conv1d(np.zeros((1, 1, 5)), np.zeros((1, 1, 3), np.int32))
    with pytest.raises(TypeError, match="must be numeric"):
        F.conv1d(np.array([[["a", "b"]]]), np.zeros((1, 1, 1)))
    with pytest.raises(TypeError, match="must be real"):
        F.conv1d(np.zeros((1, 1, 5), complex), np.zeros((1, 1, 3)))


# ------------------------------------------------------------------------------- pooling


@pytest.mark.parametrize("kind", ["max", "min"])
@pytest.mark.parametrize("shape, kernel, stride, padding, dilation, ceil", [
    ((2, 3, 10), 2, None, 0, 1, False),
    ((2, 3, 11), 3, 2, 1, 1, True),  # ceil mode adds a last, partial window
    ((1, 2, 1), 1, None, 0, 1, False),  # length 1
    ((1, 2, 2), 3, 3, 1, 1, False),  # a window larger than the input, thanks to padding
    ((2, 2, 13), 3, 2, 1, 3, True),  # dilated: some windows hold padding only
    ((1, 1, 7), 7, 1, 3, 1, False),  # kernel as long as the input, padded
])
def test_extremum_pool1d_matches_reference(kind, shape, kernel, stride, padding, dilation,
                                           ceil):
    assert_extremum_matches(kind, R.standard_normal(shape), kernel, stride, padding, dilation,
                            ceil)


def test_max_pool1d_indices_are_positions_along_l():
    x = np.array([[[3.0, 1, 4, 1, 5, 9, 2, 6]], [[2.0, 7, 1, 8, 2, 8, 1, 8]]])
    y, idx = F.max_pool1d(x, 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(y.data, [[[3, 4, 9, 9]], [[7, 8, 8, 8]]])
    # Ties go to the first maximum: the 8 at position 3 wins the window over positions 3..5
    # and the one at 5 the window over 5..7.
    np.testing.assert_array_equal(idx.data, [[[0, 2, 5, 5]], [[1, 3, 3, 5]]])
    np.testing.assert_array_equal(np.take_along_axis(x, idx.data, axis=-1), y.data)
    y, idx = F.min_pool1d(x[0], 4, return_indices=True)  # unbatched (C, L)
    np.testing.assert_array_equal(y.data, [[1, 2]])
    np.testing.assert_array_equal(idx.data, [[1, 6]])


@pytest.mark.parametrize("kind", ["max", "min"])
def test_extremum_pool1d_nan_and_ties(kind):
    x = np.array([[[1.0, np.nan, 2.0, 2.0, 2.0, -1.0]]])
    y, idx = POOLS[kind](x, 3, return_indices=True)
    assert np.isnan(y.data[0, 0, 0]) and idx.data[0, 0, 0] == 1
    want = 2.0 if kind == "max" else -1.0
    assert y.data[0, 0, 1] == want and idx.data[0, 0, 1] == (3 if kind == "max" else 5)
    xt = dlcore.tensor(np.array([[[5.0, 5.0, 5.0]]]), requires_grad=True)
    POOLS[kind](xt, 3).sum().backward()
    np.testing.assert_array_equal(xt.grad.data, [[[1, 0, 0]]])


@pytest.mark.parametrize("shape, kernel, stride, padding, ceil, count_include_pad, divisor", [
    ((2, 3, 10), 2, None, 0, False, True, None),
    ((2, 3, 11), 3, 2, 1, True, True, None),
    ((2, 3, 11), 3, 2, 1, True, False, None),
    ((1, 2, 1), 1, None, 0, False, True, None),
    ((1, 1, 9), 4, 3, 2, True, True, 5),
])
def test_avg_pool1d_matches_reference(shape, kernel, stride, padding, ceil, count_include_pad,
                                      divisor):
    assert_avg_matches(R.standard_normal(shape), kernel, stride, padding, ceil,
                       count_include_pad, divisor)


@pytest.mark.parametrize("length, size", [(10, 3), (7, 7), (5, 8), (1, 1), (13, 1), (9, 4)])
def test_adaptive_avg_pool1d_matches_reference(length, size):
    x = R.standard_normal((2, 3, length))
    xt = dlcore.tensor(x, requires_grad=True)
    y = F.adaptive_avg_pool1d(xt, size)
    np.testing.assert_allclose(y.data, ref.adaptive_avg_pool1d(x, size), atol=1e-12)
    g = R.standard_normal((2, 3, size))
    y.backward(g)
    np.testing.assert_allclose(xt.grad.data, ref.adaptive_avg_pool1d_backward(g, x.shape),
                               atol=1e-12)
    np.testing.assert_allclose(F.adaptive_avg_pool1d(x, (1,)).data, x.mean(-1, keepdims=True),
                               atol=1e-12)


@pytest.mark.parametrize("op", [
    lambda x: F.max_pool1d(x, 3, 2, 1),
    lambda x: F.min_pool1d(x, 2, 1, 0, 2, True),
    lambda x: F.avg_pool1d(x, 3, 2, 1, True, False),
    lambda x: F.avg_pool1d(x, 4, 1, 2),
    lambda x: F.adaptive_avg_pool1d(x, 4),
    lambda x: F.max_pool1d(x[0], 3),  # unbatched
])
def test_pool1d_gradcheck(op):
    # Distinct, well-separated values: finite differences never swap a window's maximum.
    x = R.permutation(2 * 3 * 11).reshape(2, 3, 11) * 0.1
    check_op(op, None, [x])


@settings(max_examples=80, deadline=None)
@given(
    kind=st.sampled_from(["max", "min", "avg"]),
    n=st.integers(0, 2),
    channels=st.integers(1, 3),
    length=st.integers(1, 20),
    kernel=st.integers(1, 6),
    stride=st.one_of(st.none(), st.integers(1, 4)),
    padding=st.integers(0, 3),
    dilation=st.integers(1, 3),
    ceil_mode=st.booleans(),
    count_include_pad=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_pool1d_random_geometries(kind, n, channels, length, kernel, stride, padding, dilation,
                                  ceil_mode, count_include_pad, seed):
    x = np.random.default_rng(seed).standard_normal((n, channels, length))
    dilation = 1 if kind == "avg" else dilation
    step = kernel if stride is None else stride
    room = length + 2 * padding - dilation * (kernel - 1) - 1 + (step - 1 if ceil_mode else 0)
    op = f"{kind}_pool1d"
    if padding > kernel // 2 or room < 0:
        match = "at most half the kernel" if padding > kernel // 2 else "does not fit"
        with pytest.raises(ValueError, match=match) as info:
            if kind == "avg":
                F.avg_pool1d(x, kernel, stride, padding, ceil_mode)
            else:
                POOLS[kind](x, kernel, stride, padding, dilation, ceil_mode)
        assert_speaks_1d(str(info.value), op)
    elif kind == "avg":
        assert_avg_matches(x, kernel, stride, padding, ceil_mode, count_include_pad)
    else:
        assert_extremum_matches(kind, x, kernel, stride, padding, dilation, ceil_mode)


def test_pool1d_integer_non_contiguous_and_float32_input():
    ints = R.integers(0, 256, (2, 3, 12)).astype(np.uint8)
    y = F.max_pool1d(ints, 3)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.data, ints.reshape(2, 3, 4, 3).max(-1))
    assert F.avg_pool1d(ints, 4).dtype == np.float32
    assert F.adaptive_avg_pool1d(ints, 2).dtype == np.float32
    x = R.standard_normal((3, 2, 20))[:, ::-1, ::2]
    assert not x.flags.c_contiguous
    assert_extremum_matches("min", x, 2, 1, 1)
    assert_avg_matches(x, 3, 2, 1, True, False)
    x32 = x.astype(np.float32)
    np.testing.assert_allclose(F.avg_pool1d(x32, 3).data, ref.avg_pool1d(x, 3, 3), rtol=1e-5,
                               atol=1e-6)
    assert F.max_pool1d(x32, 3).dtype == np.float32


BAD_POOL_CALLS = [
    # (function, positional arguments, message regex)
    (F.max_pool1d, (np.zeros((4, 4, 4, 4)), 2),
     r"^max_pool1d: input must be \(N, C, L\) or \(C, L\), got shape \(4, 4, 4, 4\)$"),
    (F.min_pool1d, (np.zeros(4), 2), r"input must be \(N, C, L\) or \(C, L\)"),
    (F.max_pool1d, (np.zeros((1, 1, 4)), 5),
     r"^max_pool1d: kernel 5 with dilation 1 does not fit in input \(1, 1, 4\) of length 4 "
     r"with padding 0$"),
    (F.max_pool1d, (np.zeros((1, 1, 4)), 3, 1, 2), "padding 2 must be at most half the kernel "
                                                    "size 3"),
    (F.min_pool1d, (np.zeros((1, 1, 4)), 2, 0), "stride must be positive, got 0"),
    (F.max_pool1d, (np.zeros((1, 1, 4)), (2, 2)),
     r"kernel_size must be an int or a 1-tuple of one, got \(2, 2\)"),
    (F.max_pool1d, (np.zeros((1, 1, 8)), 2, 2, 0, 8), "kernel 2 with dilation 8 does not fit"),
    (F.avg_pool1d, (np.zeros((1, 1, 4)), 0), "kernel_size must be positive, got 0"),
    (F.avg_pool1d, (np.zeros((1, 1, 4)), 2, None, 0, False, True, 0),
     "divisor_override must be a positive int"),
    (F.avg_pool1d, (np.zeros((1, 1, 0)), 1), r"input \(1, 1, 0\) has length L = 0"),
    (F.adaptive_avg_pool1d, (np.zeros((1, 1, 4)), 0), "output_size must be positive, got 0"),
    (F.adaptive_avg_pool1d, (np.zeros((1, 1, 4)), (2, 2)),
     r"output_size must be an int or a 1-tuple of one"),
    (F.adaptive_avg_pool1d, (np.zeros((1, 1, 1, 4)), 2), r"input must be \(N, C, L\)"),
]


@pytest.mark.parametrize("function, args, message", BAD_POOL_CALLS)
def test_pool1d_errors_speak_in_1d_terms(function, args, message):
    with pytest.raises(ValueError, match=message) as info:
        function(*args)
    assert_speaks_1d(str(info.value), function.__name__)


# ------------------------------------------------------------------------------- layers


def test_conv1d_layer_shapes_init_and_repr():
    dlcore.manual_seed(0)
    layer = nn.Conv1d(6, 16, 5, groups=2)
    assert layer.weight.shape == (16, 3, 5) and layer.bias.shape == (16,)
    assert dict((k, v.shape) for k, v in layer.state_dict().items()) == {
        "weight": (16, 3, 5), "bias": (16,)}
    bound = 1 / math.sqrt(3 * 5)
    for p in (layer.weight, layer.bias):
        assert p.dtype == np.float32
        assert np.abs(p.data).max() <= bound and np.abs(p.data).max() > 0.9 * bound
    assert abs(layer.weight.data.std() - bound / math.sqrt(3)) < 0.1 * bound
    assert layer.kernel_size == (5,) and layer.stride == (1,) and layer.padding == (0,)
    assert repr(layer) == "Conv1d(6, 16, kernel_size=(5,), stride=(1,), groups=2)"
    assert repr(nn.Conv1d(1, 2, 3, 2, 1, 2, bias=False, padding_mode="circular")) == (
        "Conv1d(1, 2, kernel_size=(3,), stride=(2,), padding=(1,), dilation=(2,), bias=False, "
        "padding_mode='circular')")
    assert "padding='same'" in repr(nn.Conv1d(1, 2, 4, padding="same"))
    assert len(list(nn.Conv1d(1, 2, 3, bias=False).parameters())) == 1
    dlcore.manual_seed(7)
    again = nn.Conv1d(4, 8, 3, dtype=np.float64)
    dlcore.manual_seed(7)
    weight = np.empty((8, 4, 3))
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
    np.testing.assert_array_equal(again.weight.data, weight)


def test_conv1d_layer_loads_a_pytorch_shaped_state_dict():
    """PyTorch's Conv1d stores weight (C_out, C_in/groups, K) and bias (C_out,): the same
    arrays load and compute the reference convolution."""
    state = {"weight": R.standard_normal((4, 1, 3)), "bias": R.standard_normal(4)}
    layer = nn.Conv1d(2, 4, 3, stride=2, padding=1, groups=2, dtype=np.float64)
    layer.load_state_dict(state)
    x = R.standard_normal((3, 2, 9))
    np.testing.assert_allclose(layer(x).data, ref.conv1d(x, state["weight"], state["bias"], 2,
                                                         (1, 1), 1, 2), atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    mode=st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
    length=st.integers(4, 12),
    kernel=st.integers(1, 4),
    padding=st.one_of(st.integers(0, 3), st.just("same")),
    stride=st.integers(1, 2),
    seed=st.integers(0, 2**32 - 1),
)
def test_conv1d_layer_padding_modes(mode, length, kernel, padding, stride, seed):
    """nn.Conv1d with a padding mode equals padding with NumPy, then a plain convolution."""
    stride = 1 if padding == "same" else stride
    rng = np.random.default_rng(seed)
    dlcore.manual_seed(seed % 1000)
    layer = nn.Conv1d(2, 3, kernel, stride=stride, padding=padding, padding_mode=mode,
                      dtype=np.float64)
    x = rng.standard_normal((2, 2, length))
    left, right = sides(padding, kernel, 1)
    numpy_mode = {"zeros": "constant", "reflect": "reflect", "replicate": "edge",
                  "circular": "wrap"}[mode]
    xp = np.pad(x, ((0, 0), (0, 0), (left, right)), mode=numpy_mode)
    want = ref.conv1d(xp, layer.weight.data, layer.bias.data, stride)
    np.testing.assert_allclose(layer(x).data, want, atol=1e-12)
    assert layer(x[0]).shape == want.shape[1:]
    if seed % 4 == 0:  # the gradients through the padding, now and then (gradcheck is slow)
        w, b = layer.weight.data, layer.bias.data
        check_op(lambda t: F.conv1d(F.pad(t, (left, right), mode=mode if mode != "zeros"
                                          else "constant"), w, b, stride), None, [x])


def test_conv1d_layer_rejects_bad_hyperparameters():
    with pytest.raises(ValueError, match="Conv1d: in_channels=3 is not divisible by groups=2"):
        nn.Conv1d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="Conv1d: out_channels=3 is not divisible by groups=2"):
        nn.Conv1d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match="Conv1d: padding_mode"):
        nn.Conv1d(1, 1, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="Conv1d: kernel_size must be positive"):
        nn.Conv1d(1, 1, 0)
    with pytest.raises(ValueError, match=r"Conv1d: kernel_size must be an int or a 1-tuple"):
        nn.Conv1d(1, 1, (3, 3))
    with pytest.raises(ValueError, match="Conv1d: padding='same' needs stride 1"):
        nn.Conv1d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="Conv1d: padding must be non-negative"):
        nn.Conv1d(1, 1, 3, padding=-1)
    with pytest.raises(ValueError, match="Conv1d: in_channels must be a positive int"):
        nn.Conv1d(0, 1, 3)
    with pytest.raises(ValueError, match=r"^conv1d: input \(2, 3, 8\) has 3 channels but "
                                         r"weight \(4, 2, 3\) expects 2$"):
        nn.Conv1d(2, 4, 3)(np.zeros((2, 3, 8), np.float32))


def test_pool1d_layers():
    x = dlcore.tensor(R.standard_normal((2, 3, 12)), requires_grad=True)
    pool = nn.MaxPool1d(2)
    assert pool.stride == 2
    assert repr(pool) == "MaxPool1d(kernel_size=2, stride=2, padding=0, dilation=1, " \
                         "ceil_mode=False)"
    np.testing.assert_array_equal(pool(x).data, F.max_pool1d(x, 2).data)
    out, idx = nn.MinPool1d(3, 1, 1, return_indices=True)(x)
    np.testing.assert_array_equal(out.data, F.min_pool1d(x, 3, 1, 1).data)
    np.testing.assert_array_equal(np.take_along_axis(x.data, idx.data, -1), out.data)
    avg = nn.AvgPool1d(3, 2, 1, ceil_mode=True, count_include_pad=False)
    assert repr(avg) == "AvgPool1d(kernel_size=(3,), stride=(2,), padding=(1,))"
    np.testing.assert_array_equal(avg(x).data, F.avg_pool1d(x, 3, 2, 1, True, False).data)
    adaptive = nn.AdaptiveAvgPool1d(5)
    assert repr(adaptive) == "AdaptiveAvgPool1d(output_size=5)"
    assert adaptive(x).shape == (2, 3, 5) and adaptive(x[0]).shape == (3, 5)
    model = nn.Sequential(nn.MaxPool1d(2), nn.AvgPool1d(2), nn.AdaptiveAvgPool1d(1))
    model(x).sum().backward()
    assert x.grad.shape == x.shape and np.abs(x.grad.data).sum() > 0
    assert list(model.parameters()) == []


def test_pool1d_layers_reject_bad_hyperparameters():
    with pytest.raises(ValueError, match="MaxPool1d: kernel_size must be positive"):
        nn.MaxPool1d(0)
    with pytest.raises(ValueError, match="MinPool1d: stride must be positive"):
        nn.MinPool1d(2, stride=0)
    with pytest.raises(ValueError, match="AvgPool1d: padding must be non-negative"):
        nn.AvgPool1d(2, padding=-1)
    with pytest.raises(ValueError, match="MaxPool1d: padding 2 must be at most half"):
        nn.MaxPool1d(3, padding=2)
    with pytest.raises(ValueError, match="AdaptiveAvgPool1d: output_size must be positive"):
        nn.AdaptiveAvgPool1d(0)


# ------------------------------------------------------------------------------- learning

MOTIF = np.array([1.0, -1.0, 1.0, -1.0])
DECOY = np.array([1.0, 1.0, -1.0, -1.0])  # the same values in another order


def motif_data(n, length, rng):
    """Noisy sequences holding the motif (label 1) or the decoy (label 0) somewhere: telling
    them apart takes the shape of a pattern wherever it occurs, not its energy."""
    x = 0.4 * rng.standard_normal((n, 1, length))
    y = rng.integers(0, 2, n)
    starts = rng.integers(0, length - len(MOTIF) + 1, n)
    for i in range(n):
        x[i, 0, starts[i]:starts[i] + len(MOTIF)] += 1.5 * (MOTIF if y[i] else DECOY)
    return x.astype(np.float32), y


def test_tiny_1d_cnn_learns_to_detect_a_pattern():
    rng = np.random.default_rng(0)
    dlcore.manual_seed(0)
    x_train, y_train = motif_data(512, 32, rng)
    x_test, y_test = motif_data(256, 32, rng)
    model = nn.Sequential(nn.Conv1d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool1d(8),
                          nn.Flatten(), nn.Linear(8 * 4, 2))
    optimizer = dlcore.optim.Adam(model.parameters(), lr=0.02)
    loss_fn = nn.CrossEntropyLoss()

    def accuracy():
        with dlcore.no_grad():
            return float((model(x_test).data.argmax(axis=1) == y_test).mean())

    before = accuracy()
    for _ in range(10):
        order = rng.permutation(len(x_train))
        for start in range(0, len(order), 64):
            batch = order[start:start + 64]
            optimizer.zero_grad()
            loss_fn(model(x_train[batch]), dlcore.tensor(y_train[batch])).backward()
            optimizer.step()
    assert before < 0.75
    assert accuracy() >= 0.97
