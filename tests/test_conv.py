"""conv2d, pad and nn.Conv2d against the NumPy reference (forward and every gradient), float64
gradcheck, hypothesis over geometries, and the error messages."""

import math

import numpy as np
import pytest
from helpers import check_op
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
import dlcore.nn.functional as F
from dlcore import nn
from dlcore.reference import conv as ref

R = np.random.default_rng(3)


def _sides(padding):
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    return ph, ph, pw, pw


def assert_conv_matches(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, rtol=1e-10,
                        atol=1e-10, atol_of_scale=False):
    """dlcore's forward and its input/weight/bias gradients equal the reference's. With
    `atol_of_scale`, each array's absolute tolerance is `atol` times its largest magnitude
    (at least one): for Winograd, whose rounding error follows the array's scale rather than
    each element's."""
    pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)  # noqa: E731
    geometry = dict(stride=pair(stride), padding=_sides(padding), dilation=pair(dilation),
                    groups=groups)

    def close(got, want):
        scale = max(1.0, float(np.abs(want).max(initial=0.0))) if atol_of_scale else 1.0
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * scale)

    xt = dlcore.tensor(x, requires_grad=True)
    wt = dlcore.tensor(w, requires_grad=True)
    bt = None if b is None else dlcore.tensor(b, requires_grad=True)
    y = F.conv2d(xt, wt, bt, stride, padding, dilation, groups)
    want = ref.conv2d(x, w, b, **geometry)
    close(y.data, want)
    g = R.standard_normal(want.shape).astype(x.dtype)
    (y * dlcore.tensor(g)).sum().backward()
    gx, gw, gb = ref.conv2d_backward(x, w, g, **geometry)
    close(xt.grad.data, gx)
    close(wt.grad.data, gw)
    if b is not None:
        close(bt.grad.data, gb)


# (input shape, weight shape, stride, padding, dilation, groups): every path of the kernel.
CONFIGS = [
    ((2, 3, 7, 6), (4, 3, 3, 3), 1, 1, 1, 1),  # 3x3 "same"-style
    ((2, 1, 12, 12), (6, 1, 5, 5), 1, 0, 1, 1),  # LeNet conv1 shape (direct path)
    ((2, 6, 8, 8), (16, 6, 5, 5), 1, 0, 1, 1),  # LeNet conv2 shape (GEMM path)
    ((2, 5, 6, 7), (7, 5, 1, 1), 1, 0, 1, 1),  # pointwise: no lowering
    ((1, 4, 9, 9), (6, 2, 3, 3), 2, 1, 2, 2),  # grouped, strided, dilated
    ((2, 6, 8, 8), (6, 1, 3, 3), 1, 1, 1, 6),  # depthwise
    ((2, 4, 5, 5), (8, 1, 3, 3), 2, 2, 1, 4),  # depthwise multiplier 2, padding > kernel/2
    ((2, 3, 10, 7), (5, 3, 2, 4), (3, 2), (0, 1), (1, 2), 1),  # rectangular everything
    ((1, 2, 4, 4), (3, 2, 1, 1), 2, 1, 1, 1),  # 1x1 with stride and padding
    ((1, 17, 5, 5), (19, 17, 3, 3), 1, 1, 1, 1),  # channels not a multiple of the SIMD width
    ((3, 1, 1, 1), (2, 1, 1, 1), 1, 0, 1, 1),  # single pixel
    ((1, 3, 3, 3), (2, 3, 3, 3), 1, 0, 1, 1),  # kernel as large as the input
    ((4, 16, 20, 20), (8, 16, 3, 3), 1, 1, 1, 1),  # enough work for both threads
    ((2, 32, 9, 8), (10, 32, 3, 3), 1, 1, 1, 1),  # 32+ channels: one GEMM per tap, in place
    ((2, 64, 7, 9), (6, 32, 3, 2), 1, (2, 1), (2, 1), 2),  # per-tap GEMMs, grouped, dilated
    ((3, 6, 8, 8), (16, 6, 5, 5), 1, 0, 1, 1),  # one vector of filters (f32): dW summed as dW^T
    ((2, 6, 7, 8), (16, 3, 3, 3), 1, 1, 2, 2),  # 8 filters per group (f64): dW summed as dW^T
]


@pytest.mark.parametrize("xs, ws, stride, padding, dilation, groups", CONFIGS)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_matches_reference_forward_and_gradients(xs, ws, stride, padding, dilation,
                                                        groups, bias):
    x = R.standard_normal(xs)
    w = R.standard_normal(ws)
    b = R.standard_normal(ws[0]) if bias else None
    assert_conv_matches(x, w, b, stride, padding, dilation, groups)


@pytest.mark.parametrize("xs, ws, stride, padding, dilation, groups", CONFIGS[:8] + CONFIGS[-2:])
def test_conv2d_float32_matches_reference(xs, ws, stride, padding, dilation, groups):
    x = R.standard_normal(xs).astype(np.float32)
    w = R.standard_normal(ws).astype(np.float32)
    b = R.standard_normal(ws[0]).astype(np.float32)
    assert_conv_matches(x, w, b, stride, padding, dilation, groups, rtol=1e-4, atol=1e-4)
    y = F.conv2d(x, w, b, stride, padding, dilation, groups)
    assert y.dtype == np.float32


@pytest.mark.parametrize("xs, ws, stride, padding, dilation, groups", [
    ((1, 2, 5, 4), (3, 2, 3, 2), 1, 1, 1, 1),
    ((2, 4, 5, 5), (4, 2, 2, 3), 2, (1, 0), (2, 1), 2),
    ((1, 3, 4, 4), (3, 1, 3, 3), 1, 1, 1, 3),
    ((1, 3, 3, 3), (2, 3, 1, 1), 1, 0, 1, 1),
])
def test_conv2d_gradcheck(xs, ws, stride, padding, dilation, groups):
    check_op(lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups), None,
             [R.standard_normal(xs), R.standard_normal(ws), R.standard_normal(ws[0])])


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 2),
    groups=st.sampled_from([1, 1, 2, 3]),
    cin_g=st.integers(1, 3),
    cout_g=st.integers(1, 3),
    size=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    seed=st.integers(0, 2**32 - 1),
)
def test_conv2d_random_geometries(n, groups, cin_g, cout_g, size, kernel, stride, padding,
                                  dilation, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, cin_g * groups) + size)
    w = rng.standard_normal((cout_g * groups, cin_g) + kernel)
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if any(s > h + 2 * p for s, h, p in zip(spans, size, padding)):
        with pytest.raises(ValueError, match="padded input"):
            F.conv2d(x, w, None, stride, padding, dilation, groups)
        return
    assert_conv_matches(x, w, rng.standard_normal(w.shape[0]), stride, padding, dilation, groups)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 2),
    groups=st.sampled_from([1, 2]),
    cin_g=st.integers(1, 2),
    cout_g=st.integers(1, 3),
    size=st.tuples(st.integers(4, 12), st.integers(16, 45)),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 5)),
    stride=st.tuples(st.integers(1, 3), st.integers(2, 4)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    seed=st.integers(0, 2**32 - 1),
)
def test_conv2d_strided_wide_rows(n, groups, cin_g, cout_g, size, kernel, stride, padding,
                                  dilation, seed):
    """Output rows of 8 and more pixels at column strides above 1: the lowering that splits
    input rows into phases (and its adjoint, from 12 pixels)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, cin_g * groups) + size)
    w = rng.standard_normal((cout_g * groups, cin_g) + kernel)
    if dilation[0] * (kernel[0] - 1) + 1 > size[0] + 2 * padding[0]:
        return
    assert_conv_matches(x, w, rng.standard_normal(w.shape[0]), stride, padding, dilation, groups)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(3, 13),
    groups=st.sampled_from([1, 2]),
    cin_g=st.integers(1, 3),
    cout_g=st.integers(1, 9),
    size=st.tuples(st.integers(3, 11), st.integers(3, 11)),
    kernel=st.integers(2, 4),
    padding=st.integers(0, 2),
    dilation=st.integers(1, 2),
    dtype=st.sampled_from([np.float64, np.float32]),
    seed=st.integers(0, 2**32 - 1),
)
def test_conv2d_batches_of_small_images(n, groups, cin_g, cout_g, size, kernel, padding,
                                        dilation, dtype, seed):
    # Unit stride on small images (the shifted-row lowering) in batches that do not divide
    # into the threads' runs of images.
    _check_unit_stride(seed, n, groups, cin_g, cout_g, size, (kernel, kernel), (padding,) * 2,
                       (dilation,) * 2, dtype, f32_tol=1e-4)


def _check_unit_stride(seed, n, groups, cin_g, cout_g, size, kernel, padding, dilation, dtype,
                       f32_tol, fan_in_scaled=False):
    """A random unit-stride convolution of this geometry against the reference (skipped if
    the kernel does not fit the padded input). With `fan_in_scaled`, weights have the scale
    of a trained layer's (std 1/sqrt(fan_in)) and tolerances follow each array's scale."""
    rng = np.random.default_rng(seed)
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if any(s > h + 2 * p for s, h, p in zip(spans, size, padding)):
        return
    x = rng.standard_normal((n, cin_g * groups) + size).astype(dtype)
    w = rng.standard_normal((cout_g * groups, cin_g) + tuple(kernel))
    if fan_in_scaled:
        w /= np.sqrt(cin_g * np.prod(kernel))
    w = w.astype(dtype)
    b = rng.standard_normal(w.shape[0]).astype(dtype)
    tol = 1e-10 if dtype == np.float64 else f32_tol
    assert_conv_matches(x, w, b, 1, tuple(padding), tuple(dilation), groups, rtol=tol, atol=tol,
                        atol_of_scale=fan_in_scaled)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 5),
    groups=st.sampled_from([1, 2]),
    cin_g=st.integers(32, 70),
    cout_g=st.integers(1, 20),
    size=st.tuples(st.integers(2, 12), st.integers(2, 12)),
    kernel=st.tuples(st.integers(1, 4), st.integers(2, 4)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    dtype=st.sampled_from([np.float64, np.float32]),
    seed=st.integers(0, 2**32 - 1),
)
def test_conv2d_many_channels(n, groups, cin_g, cout_g, size, kernel, padding, dilation, dtype,
                              seed):
    # From 32 input channels per group, unit-stride convolutions run one GEMM per kernel tap
    # on the padded input in place (input and weight gradients likewise); channel counts
    # that are not multiples of the SIMD width, odd sizes and batches that split unevenly.
    _check_unit_stride(seed, n, groups, cin_g, cout_g, size, kernel, padding, dilation, dtype,
                       f32_tol=2e-4)


def _check_winograd(n, cin, cout, size, padding, dtype, seed, wide):
    """A 3x3 unit-stride convolution that Winograd computes, on two threads whatever the
    machine has, so tasks (blocks of one image's tiles, or groups of small images) run in
    parallel even for a single image."""
    before = dlcore.get_num_threads()
    dlcore.set_num_threads(2)
    try:
        _check_unit_stride(seed, n, 1, cin, cout, size, (3, 3), padding, (1, 1), dtype,
                           f32_tol=2e-4, fan_in_scaled=wide)
    finally:
        dlcore.set_num_threads(before)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 4),
    cin=st.sampled_from([64, 67]),
    cout=st.sampled_from([64, 70, 128]),
    size=st.tuples(st.integers(1, 11), st.integers(1, 11)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dtype=st.sampled_from([np.float64, np.float32]),
    seed=st.integers(0, 2**32 - 1),
)
def test_conv2d_winograd(n, cin, cout, size, padding, dtype, seed):
    # 3x3 unit-stride convolutions on narrow images with at least 64 channels on each side
    # compute the forward pass and both gradients by Winograd's F(2x2, 3x3): odd sizes leave
    # partial tiles, tiny images are smaller than a tile.
    _check_winograd(n, cin, cout, size, padding, dtype, seed, wide=False)


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(1, 3),
    cin=st.sampled_from([33, 64]),
    cout=st.sampled_from([32, 70]),
    size=st.tuples(st.integers(1, 9), st.integers(31, 45)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dtype=st.sampled_from([np.float64, np.float32]),
    seed=st.integers(0, 2**32 - 1),
)
def test_conv2d_winograd_wide_images(n, cin, cout, size, padding, dtype, seed):
    # Outputs at least 29 pixels wide with at least 32 channels on each side take F(4x4, 3x3),
    # whose transforms run across 8 tiles of a row at once: widths that are not a multiple of
    # 4 or of 32 leave partial tiles and a short last run of tiles. Its float32 error follows
    # each array's magnitude (about 6e-6 of it, 20x the direct sum's), so weights have a
    # trained layer's scale and the tolerance follows the scale too: the weight gradient sums
    # thousands of products.
    _check_winograd(n, cin, cout, size, padding, dtype, seed, wide=True)


@pytest.mark.parametrize("shape", [(2, 64, 8, 9), (2, 32, 6, 33)])
def test_conv2d_winograd_shape_with_nan_and_inf_matches_the_direct_sums(shape):
    # Winograd's transforms would spread a NaN or an infinity over its whole tile of outputs
    # (2x2, or 4x4 on wide images); such inputs take the exact path, so only the windows that
    # hold them are hit.
    x = R.standard_normal(shape).astype(np.float32)
    w = R.standard_normal((64, shape[1], 3, 3)).astype(np.float32)
    x[0, 3, 2, 5] = np.nan
    x[1, 7, 4, 0] = np.inf
    y = F.conv2d(dlcore.tensor(x), dlcore.tensor(w), None, 1, 1).data
    want = ref.conv2d(x.astype(np.float64), w.astype(np.float64), padding=(1, 1, 1, 1))
    np.testing.assert_array_equal(np.isnan(y), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(y), np.isinf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(y[finite], want[finite], rtol=2e-4, atol=2e-4)
    assert np.isnan(y).sum() == 64 * 9  # every output channel, the 3x3 window around it


@pytest.mark.parametrize("xs, ws", [((64, 1, 28, 28), (6, 1, 5, 5)),
                                    ((37, 6, 12, 12), (16, 6, 5, 5))])
def test_conv2d_lenet_layers_at_training_batch_sizes(xs, ws):
    x = R.standard_normal(xs)
    w = R.standard_normal(ws)
    assert_conv_matches(x, w, R.standard_normal(ws[0]))


@settings(max_examples=40, deadline=None)
@given(
    mode=st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
    size=st.tuples(st.integers(3, 8), st.integers(3, 8)),
    kernel=st.integers(1, 3),
    padding=st.integers(0, 2),
    stride=st.integers(1, 2),
    seed=st.integers(0, 2**32 - 1),
)
def test_conv2d_layer_padding_modes(mode, size, kernel, padding, stride, seed):
    """nn.Conv2d with a padding mode equals padding by the reference, then a plain conv."""
    rng = np.random.default_rng(seed)
    dlcore.manual_seed(seed % 1000)
    layer = nn.Conv2d(2, 3, kernel, stride=stride, padding=padding, padding_mode=mode,
                      dtype=np.float64)
    x = rng.standard_normal((2, 2) + size)
    xt = dlcore.tensor(x, requires_grad=True)
    y = layer(xt)
    ref_mode = "constant" if mode == "zeros" else mode
    sides = (padding,) * 4
    xp = ref.pad2d(x, sides, ref_mode)
    w, b = layer.weight.data, layer.bias.data
    want = ref.conv2d(xp, w, b, stride=(stride, stride))
    np.testing.assert_allclose(y.data, want, rtol=1e-10, atol=1e-10)
    g = rng.standard_normal(want.shape)
    (y * dlcore.tensor(g)).sum().backward()
    gxp, gw, gb = ref.conv2d_backward(xp, w, g, stride=(stride, stride))
    np.testing.assert_allclose(xt.grad.data, ref.pad2d_backward(gxp, sides, ref_mode),
                               rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(layer.weight.grad.data, gw, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(layer.bias.grad.data, gb, rtol=1e-10, atol=1e-10)


def test_padding_same_and_valid():
    x = R.standard_normal((1, 2, 7, 6))
    for k, d in [((3, 3), 1), ((4, 2), 1), ((3, 2), 2)]:
        w = R.standard_normal((3, 2) + k)
        y = F.conv2d(x, w, padding="same", dilation=d)
        assert y.shape == (1, 3, 7, 6)
        # PyTorch puts the odd extra padding at the bottom/right.
        total = [d * (kk - 1) for kk in k]
        sides = (total[0] // 2, total[0] - total[0] // 2, total[1] // 2, total[1] - total[1] // 2)
        np.testing.assert_allclose(y.data, ref.conv2d(x, w, padding=sides, dilation=(d, d)),
                                   atol=1e-12)
    w = R.standard_normal((3, 2, 3, 3))
    np.testing.assert_allclose(F.conv2d(x, w, padding="valid").data, ref.conv2d(x, w))
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        F.conv2d(x, w, padding="same", stride=2)
    with pytest.raises(ValueError, match="'valid' or 'same'"):
        F.conv2d(x, w, padding="full")


def test_unbatched_input_and_dtype_casting():
    w = R.standard_normal((4, 3, 3, 3)).astype(np.float32)
    x = R.integers(0, 256, (3, 8, 8)).astype(np.uint8)
    y = F.conv2d(x, w, padding=1)
    assert y.shape == (4, 8, 8) and y.dtype == np.float32
    np.testing.assert_allclose(y.data, ref.conv2d(x[None].astype(np.float64), w,
                                                  padding=(1, 1, 1, 1))[0], rtol=1e-5, atol=1e-3)
    xt = dlcore.tensor(x.astype(np.float32), requires_grad=True)
    F.conv2d(xt, w).sum().backward()
    assert xt.grad.shape == (3, 8, 8)


def test_gradients_only_for_what_requires_them():
    x = dlcore.tensor(R.standard_normal((2, 3, 5, 5)).astype(np.float32))
    layer = nn.Conv2d(3, 4, 3)
    layer(x).sum().backward()
    assert x.grad is None
    assert layer.weight.grad.shape == (4, 3, 3, 3) and layer.bias.grad.shape == (4,)
    np.testing.assert_allclose(layer.bias.grad.data, np.full(4, 2 * 3 * 3), rtol=1e-6)
    with dlcore.no_grad():
        assert not layer(x).requires_grad


def test_sobel_filter_finds_a_vertical_edge():
    """The textbook example: a vertical Sobel filter responds to a dark-to-bright edge."""
    img = np.zeros((1, 1, 5, 6), np.float32)
    img[..., 3:] = 1.0
    sobel = np.array([[[[1, 0, -1], [2, 0, -2], [1, 0, -1]]]], np.float32)
    out = F.conv2d(img, sobel).data[0, 0]
    np.testing.assert_array_equal(out, [[0, -4, -4, 0]] * 3)


def test_conv2d_layer_init_and_repr():
    dlcore.manual_seed(0)
    layer = nn.Conv2d(6, 16, 5, groups=2)
    bound = 1 / math.sqrt(3 * 5 * 5)
    assert layer.weight.shape == (16, 3, 5, 5) and layer.bias.shape == (16,)
    for p in (layer.weight, layer.bias):
        assert np.abs(p.data).max() <= bound and np.abs(p.data).max() > 0.9 * bound
        assert p.dtype == np.float32
    assert abs(layer.weight.data.std() - bound / math.sqrt(3)) < 0.1 * bound
    assert repr(layer) == "Conv2d(6, 16, kernel_size=(5, 5), stride=(1, 1), groups=2)"
    assert len(list(nn.Conv2d(1, 2, 3, bias=False).parameters())) == 1
    assert "padding_mode='reflect'" in repr(nn.Conv2d(1, 2, 3, padding=1,
                                                      padding_mode="reflect"))


def test_conv2d_reset_parameters_redraws_through_nn_init():
    # As in PyTorch: the constructor calls reset_parameters(), which nn.init implements, so a
    # seed reproduces a layer and re-initialising draws fresh weights on the same bounds.
    dlcore.manual_seed(5)
    layer = nn.Conv2d(4, 8, (3, 2), dtype=np.float64)
    first = layer.weight.data.copy(), layer.bias.data.copy()
    dlcore.manual_seed(5)
    again = nn.Conv2d(4, 8, (3, 2), dtype=np.float64)
    np.testing.assert_array_equal(again.weight.data, first[0])
    np.testing.assert_array_equal(again.bias.data, first[1])
    layer.reset_parameters()
    assert not np.array_equal(layer.weight.data, first[0])
    bound = 1 / math.sqrt(4 * 3 * 2)
    for p in (layer.weight, layer.bias):
        assert p.dtype == np.float64 and np.abs(p.data).max() <= bound
    dlcore.manual_seed(5)
    weight = np.empty((8, 4, 3, 2))
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
    np.testing.assert_array_equal(weight, first[0])


def test_conv2d_layer_rejects_bad_hyperparameters():
    with pytest.raises(ValueError, match="in_channels=3 is not divisible by groups=2"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="out_channels=3 is not divisible by groups=2"):
        nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(1, 1, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="kernel_size must be positive"):
        nn.Conv2d(1, 1, 0)
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="in_channels must be a positive int"):
        nn.Conv2d(0, 1, 3)


def test_conv2d_errors_name_the_shapes():
    x = np.zeros((2, 3, 32, 32), np.float32)
    with pytest.raises(ValueError, match=r"^conv2d: input \(2, 3, 32, 32\) has 3 channels but "
                                         r"weight \(8, 4, 3, 3\) expects 4$"):
        F.conv2d(x, np.zeros((8, 4, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"input \(2, 6, 5, 5\) has 6 channels but weight "
                                         r"\(8, 2, 3, 3\) with groups=2 expects 4"):
        F.conv2d(np.zeros((2, 6, 5, 5)), np.zeros((8, 2, 3, 3)), groups=2)
    with pytest.raises(ValueError, match=r"kernel \(7, 7\).*padded input.*\(6, 6\)"):
        F.conv2d(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 7, 7)), padding=1)
    with pytest.raises(ValueError, match=r"stride must be positive, got \(0, 1\)"):
        F.conv2d(x, np.zeros((8, 3, 3, 3), np.float32), stride=(0, 1))
    with pytest.raises(ValueError, match="dilation must be positive"):
        F.conv2d(x, np.zeros((8, 3, 3, 3), np.float32), dilation=-1)
    with pytest.raises(ValueError, match="padding must be non-negative"):
        F.conv2d(x, np.zeros((8, 3, 3, 3), np.float32), padding=-1)
    with pytest.raises(ValueError, match="groups=2 does not divide"):
        F.conv2d(x, np.zeros((8, 3, 3, 3), np.float32), groups=2)
    with pytest.raises(ValueError, match=r"bias has shape \(3,\).*needs \(8,\)"):
        F.conv2d(x, np.zeros((8, 3, 3, 3), np.float32), np.zeros(3, np.float32))
    with pytest.raises(ValueError, match=r"input must be \(N, C, H, W\) or \(C, H, W\), got "
                                         r"shape \(32, 32\)"):
        F.conv2d(x[0, 0], np.zeros((8, 3, 3, 3), np.float32))
    with pytest.raises(ValueError, match="weight must be 4-D"):
        F.conv2d(x, np.zeros((8, 3, 3), np.float32))
    with pytest.raises(TypeError, match="weight must be float32 or float64"):
        F.conv2d(x, np.zeros((8, 3, 3, 3), np.int32))
    with pytest.raises(ValueError, match="stride must be an int or a pair"):
        F.conv2d(x, np.zeros((8, 3, 3, 3), np.float32), stride=(1, 2, 3))


# ----------------------------------------------------------------------------- pad
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pads", [(1, 2, 0, 3), (2, 0), (0, 0, 1, 1)])
def test_pad_matches_reference(mode, pads):
    x = R.standard_normal((2, 3, 4, 5))
    full = tuple(pads) + (0,) * (4 - len(pads))
    sides = (full[2], full[3], full[0], full[1])  # PyTorch order -> (top, bottom, left, right)
    value = 0.5 if mode == "constant" else None
    xt = dlcore.tensor(x, requires_grad=True)
    y = F.pad(xt, pads, mode=mode, value=value)
    np.testing.assert_allclose(y.data, ref.pad2d(x, sides, mode, value or 0.0))
    g = R.standard_normal(y.shape)
    (y * dlcore.tensor(g)).sum().backward()
    np.testing.assert_allclose(xt.grad.data, ref.pad2d_backward(g, sides, mode), atol=1e-12)
    check_op(lambda t: F.pad(t, pads, mode=mode), None, [R.standard_normal((1, 2, 4, 5))])


def test_pad_constant_any_rank_and_cropping():
    x = R.standard_normal((2, 3, 4))
    y = F.pad(x, (1, -1, 0, 2, 1, 0), value=-1.0)
    want = np.pad(x[:, :, :-1], ((1, 0), (0, 2), (1, 0)), constant_values=-1.0)
    np.testing.assert_allclose(y.data, want)
    check_op(lambda t: F.pad(t, (1, -1, 0, 2)), None, [x])


def test_pad_errors():
    x = np.zeros((1, 1, 3, 3))
    with pytest.raises(ValueError, match=r"reflect padding \(3, 0\).*must be smaller than its "
                                         r"size 3"):
        F.pad(x, (0, 0, 3, 0), mode="reflect")
    with pytest.raises(ValueError, match="circular padding .* at most its size"):
        F.pad(x, (4, 0), mode="circular")
    with pytest.raises(ValueError, match="mode must be one of"):
        F.pad(x, (1, 1), mode="wrap")
    with pytest.raises(ValueError, match="even length"):
        F.pad(x, (1, 1, 1))
    with pytest.raises(ValueError, match="last one or two dimensions"):
        F.pad(x, (1, 1, 1, 1, 1, 1), mode="replicate")
    with pytest.raises(ValueError, match="non-negative"):
        F.pad(x, (-1, 1), mode="replicate")
