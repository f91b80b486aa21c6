"""Unfold / Fold (im2col / col2im): forward against naive loops, gradients, the adjoint
identity <unfold(x), y> == <x, fold(y)>, convolution as unfold + matmul, reprs and bad
input."""

import itertools

import numpy as np
import pytest
from helpers import check_op
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import dlcore
import dlcore.nn.functional as F
from dlcore import _core, nn
from dlcore.reference import fold as ref

RNG = np.random.default_rng(0)


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def reference_unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """Every block, element by element: row ``c * KH * KW + i * KW + j``, column
    ``bh * L_w + bw``."""
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = map(pair, (kernel_size, dilation, padding, stride))
    n, c, h, w = x.shape
    lh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    lw = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, c * kh * kw, lh * lw), dtype=x.dtype)
    for ch, i, j, bh, bw in itertools.product(range(c), range(kh), range(kw), range(lh),
                                              range(lw)):
        row, col = bh * sh - ph + i * dh, bw * sw - pw + j * dw
        if 0 <= row < h and 0 <= col < w:
            out[:, ch * kh * kw + i * kw + j, bh * lw + bw] = x[:, ch, row, col]
    return out


def reference_fold(cols, output_size, kernel_size, dilation=1, padding=0, stride=1):
    (h, w), (kh, kw) = pair(output_size), pair(kernel_size)
    (dh, dw), (ph, pw), (sh, sw) = map(pair, (dilation, padding, stride))
    n, rows, _ = cols.shape
    c = rows // (kh * kw)
    lh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    lw = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, c, h, w), dtype=cols.dtype)
    for ch, i, j, bh, bw in itertools.product(range(c), range(kh), range(kw), range(lh),
                                              range(lw)):
        row, col = bh * sh - ph + i * dh, bw * sw - pw + j * dw
        if 0 <= row < h and 0 <= col < w:
            out[:, ch, row, col] += cols[:, ch * kh * kw + i * kw + j, bh * lw + bw]
    return out


GEOMETRIES = [
    dict(kernel_size=3),
    dict(kernel_size=(2, 3), stride=(2, 1), padding=(1, 0)),
    dict(kernel_size=2, dilation=2, padding=1, stride=2),
    dict(kernel_size=(1, 2), dilation=(3, 1), padding=(2, 3), stride=(1, 3)),
]


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_unfold_and_fold_forward_and_gradients(geometry):
    x = RNG.normal(size=(2, 3, 5, 6))
    check_op(lambda x: F.unfold(x, **geometry), lambda x: reference_unfold(x, **geometry),
             [x], rtol=0, atol=0, float32_rtol=1e-6, float32_atol=1e-7)
    cols = RNG.normal(size=reference_unfold(x, **geometry).shape)
    check_op(lambda c: F.fold(c, (5, 6), **geometry),
             lambda c: reference_fold(c, (5, 6), **geometry), [cols], rtol=1e-12, atol=1e-12,
             float32_rtol=1e-5, float32_atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 2), st.integers(1, 3), st.integers(1, 7), st.integers(1, 7),
       st.integers(1, 3), st.integers(1, 3), st.integers(1, 2), st.integers(0, 3),
       st.integers(1, 3))
def test_fold_is_the_adjoint_of_unfold(n, c, h, w, kh, kw, dilation, padding, stride):
    geometry = dict(kernel_size=(kh, kw), dilation=dilation, padding=padding, stride=stride)
    blocks = [(size + 2 * padding - dilation * (k - 1) - 1) // stride + 1
              for size, k in ((h, kh), (w, kw))]
    rng = np.random.default_rng(n + 10 * c + 100 * h + 1000 * w)
    x = rng.normal(size=(n, c, h, w))
    if min(blocks) < 1:
        with pytest.raises(ValueError, match="block positions"):
            F.unfold(x, **geometry)
        return
    cols = F.unfold(x, **geometry).numpy()
    np.testing.assert_array_equal(cols, reference_unfold(x, **geometry))
    y = rng.normal(size=cols.shape)
    folded = F.fold(y, (h, w), **geometry).numpy()
    np.testing.assert_allclose((cols * y).sum(), (x * folded).sum(), rtol=1e-10, atol=1e-10)


def test_convolution_is_unfold_then_matmul():
    x = RNG.normal(size=(2, 3, 6, 5))
    weight = RNG.normal(size=(4, 3, 3, 2))
    cols = F.unfold(x, (3, 2), padding=1, stride=(2, 1))
    out = (dlcore.tensor(weight.reshape(4, -1)) @ cols).reshape(2, 4, 3, 6)
    want = F.conv2d(x, weight, padding=1, stride=(2, 1))
    np.testing.assert_allclose(out.numpy(), want.numpy(), rtol=1e-10, atol=1e-10)


def test_fold_of_unfold_counts_the_covering_blocks():
    x = np.ones((1, 1, 4, 4))
    covered = F.fold(F.unfold(x, 2, stride=1), 4, 2).numpy()[0, 0]
    np.testing.assert_array_equal(covered, [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2],
                                            [1, 2, 2, 1]])
    patches = RNG.normal(size=(2, 3, 4, 6))  # stride == kernel_size: exact inverse
    round_trip = nn.Fold((4, 6), 2, stride=2)(nn.Unfold(2, stride=2)(patches))
    np.testing.assert_array_equal(round_trip.numpy(), patches)


def test_unbatched_dtypes_and_non_contiguous_input():
    x = RNG.normal(size=(3, 4, 5))
    cols = F.unfold(x, 2)
    assert cols.shape == (12, 12)
    np.testing.assert_array_equal(cols.numpy(), reference_unfold(x[None], 2)[0])
    assert F.fold(cols, (4, 5), 2).shape == (3, 4, 5)
    check_op(lambda c: F.fold(c, (4, 5), 2), None, [cols.numpy()])
    assert F.unfold(np.arange(16).reshape(1, 1, 4, 4), 2).dtype == np.float32
    f32 = RNG.normal(size=(1, 2, 3, 3)).astype(np.float32).transpose(0, 1, 3, 2)
    out = F.unfold(f32, 2)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.numpy(), reference_unfold(f32, 2))
    assert F.unfold(np.zeros((0, 2, 3, 3)), 2).shape == (0, 8, 4)
    nan = np.ones((1, 1, 3, 3))
    nan[0, 0, 0, 0] = np.nan
    assert np.isnan(F.unfold(nan, 2).numpy()).sum() == 1


def test_modules_and_reprs():
    unfold = nn.Unfold(kernel_size=(2, 3), padding=1)
    assert repr(unfold) == "Unfold(kernel_size=(2, 3), dilation=1, padding=1, stride=1)"
    fold = nn.Fold(output_size=4, kernel_size=2, stride=2)
    assert repr(fold) == "Fold(output_size=4, kernel_size=2, dilation=1, padding=0, stride=2)"
    assert fold(np.zeros((1, 12, 4))).shape == (1, 3, 4, 4)


def test_bad_input_names_the_shapes():
    with pytest.raises(ValueError, match=r"unfold: input of spatial size \(2, 2\) with "
                                         r"kernel_size=\(3, 3\).*\(0, 0\) block positions"):
        F.unfold(np.zeros((1, 1, 2, 2)), 3)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\) or \(C, H, W\), got shape \(4, 4\)"):
        F.unfold(np.zeros((4, 4)), 2)
    with pytest.raises(ValueError, match=r"output_size=\(3, 3\).*\(2, 2\) block positions "
                                         r"\(4 in all\), but input \(1, 4, 5\) has L = 5"):
        F.fold(np.zeros((1, 4, 5)), 3, 2)
    with pytest.raises(ValueError, match=r"input \(1, 6, 4\) has 6 rows per block, not "
                                         r"divisible by KH \* KW = 4"):
        F.fold(np.zeros((1, 6, 4)), 3, 2)
    with pytest.raises(ValueError, match="stride must be positive, got \\(0, 0\\)"):
        nn.Unfold(2, stride=0)
    with pytest.raises(ValueError, match="padding must be non-negative"):
        nn.Fold(3, 2, padding=-1)
    with pytest.raises(ValueError, match="kernel_size must be an int or a pair of ints"):
        F.unfold(np.zeros((1, 1, 3, 3)), (1, 2, 3))


@st.composite
def geometries(draw, max_size=9, max_batch=2):
    """An image shape and a geometry with at least one block position: (rows, cols) pairs
    drawn independently, so odd, asymmetric, dilated, padded and strided cases all come up."""
    def two(lo, hi):
        return draw(st.integers(lo, hi)), draw(st.integers(lo, hi))
    image = (draw(st.integers(0, max_batch)), draw(st.integers(1, 3))) + two(1, max_size)
    kernel, dilation, padding, stride = two(1, 3), two(1, 3), two(0, 3), two(1, 3)
    blocks = ref.blocks(image[2:], kernel, dilation, padding, stride)
    assume(min(blocks) >= 1)
    return image, dict(kernel=kernel, dilation=dilation, padding=padding, stride=stride)


def torch_style(geometry):
    """The reference's pair arguments under F.unfold / F.fold's keyword names."""
    return dict(kernel_size=geometry["kernel"], dilation=geometry["dilation"],
                padding=geometry["padding"], stride=geometry["stride"])


@settings(max_examples=80, deadline=None)
@given(geometries(), st.sampled_from([np.float32, np.float64]))
def test_rust_unfold_and_fold_match_the_numpy_reference(case, dtype):
    """Forward both ways and each one's gradient (the other one applied to g) against
    dlcore.reference.fold, in the input's dtype."""
    image, geometry = case
    rng = np.random.default_rng(sum(image))
    x = dlcore.tensor(rng.normal(size=image).astype(dtype), requires_grad=True)
    cols = F.unfold(x, **torch_style(geometry))
    assert cols.dtype == dtype
    np.testing.assert_array_equal(cols.numpy(), ref.unfold(x.numpy(), **geometry))
    g = rng.normal(size=cols.shape).astype(dtype)
    cols.backward(g)
    tol = dict(rtol=1e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    want = ref.fold(g, image[2:], **geometry)
    assert x.grad.dtype == dtype
    np.testing.assert_allclose(x.grad, want, **tol)

    c = dlcore.tensor(g, requires_grad=True)
    folded = F.fold(c, image[2:], **torch_style(geometry))
    assert folded.dtype == dtype
    np.testing.assert_allclose(folded.numpy(), want, **tol)
    gi = rng.normal(size=image).astype(dtype)
    folded.backward(gi)
    np.testing.assert_array_equal(c.grad, ref.unfold(gi, **geometry))


@settings(max_examples=25, deadline=None)
@given(geometries(max_size=6, max_batch=1))
def test_gradcheck_both_ways(case):
    image, geometry = case
    assume(image[0] > 0)
    rng = np.random.default_rng(sum(image) + 1)
    x = rng.normal(size=image)
    kwargs = torch_style(geometry)
    check_op(lambda t: F.unfold(t, **kwargs), lambda a: ref.unfold(a, **geometry), [x],
             rtol=0, atol=0)
    cols = rng.normal(size=ref.unfold(x, **geometry).shape)
    check_op(lambda t: F.fold(t, image[2:], **kwargs),
             lambda a: ref.fold(a, image[2:], **geometry), [cols], rtol=1e-12, atol=1e-12)


def test_large_batches_split_across_threads_match_the_reference():
    """Enough planes for the kernel to split the batch into several tasks, with runs of
    planes that cross image boundaries; stride 2 on wide rows takes the phase-plane path."""
    for shape, geometry in [((5, 7, 20, 18), dict(kernel=(3, 3), dilation=(1, 1),
                                                  padding=(1, 1), stride=(1, 1))),
                            ((3, 6, 17, 40), dict(kernel=(3, 2), dilation=(2, 1),
                                                  padding=(2, 1), stride=(2, 2)))]:
        x = RNG.normal(size=shape)
        cols = _core.unfold2d(x, **torch_style(geometry))
        np.testing.assert_array_equal(cols, ref.unfold(x, **geometry))
        np.testing.assert_allclose(_core.fold2d(cols, shape[2:], **torch_style(geometry)),
                                   ref.fold(cols, shape[2:], **geometry), rtol=1e-12,
                                   atol=1e-12)


def test_float16_non_contiguous_and_empty_images():
    x16 = RNG.normal(size=(2, 3, 5, 4)).astype(np.float16)
    out = F.unfold(x16, 2, padding=1)
    assert out.dtype == np.float16
    np.testing.assert_array_equal(out.numpy(), ref.unfold(x16, (2, 2), padding=(1, 1)))
    cols = RNG.normal(size=(2, 12, 12)).transpose(0, 2, 1)  # (2, 12, 12), not C-contiguous
    assert not cols.flags.c_contiguous
    np.testing.assert_allclose(F.fold(cols, (4, 5), 2).numpy(),
                               ref.fold(np.ascontiguousarray(cols), (4, 5), (2, 2)),
                               rtol=1e-12, atol=1e-12)
    # H = 0 with padding: every block lies in the padding.
    zeros = F.unfold(np.zeros((1, 2, 0, 3)), 1, padding=1)
    assert zeros.shape == (1, 2, 2 * 5)
    assert not zeros.numpy().any()
    assert F.fold(np.ones((1, 2, 10)), (0, 3), 1, padding=1).shape == (1, 2, 0, 3)
    assert F.fold(np.zeros((0, 4, 4)), 3, 2).shape == (0, 1, 3, 3)
    nan = np.ones((1, 4, 4))
    nan[0, 1, 2] = np.nan
    assert np.isnan(F.fold(nan, 3, 2).numpy()).sum() == 1


def test_core_functions_refuse_bad_arrays_by_name():
    x = np.zeros((1, 2, 4, 4))
    with pytest.raises(TypeError, match="unfold2d: input must be a float32 or float64 numpy "
                                        "array, got int64"):
        _core.unfold2d(x.astype(np.int64), (2, 2))
    with pytest.raises(ValueError, match="unfold2d: input must be C-contiguous"):
        _core.unfold2d(x.transpose(0, 1, 3, 2), (2, 2))
    with pytest.raises(ValueError, match=r"unfold2d: input must be 4-D \(N, C, H, W\), got "
                                         r"shape \(2, 4, 4\)"):
        _core.unfold2d(x[0], (2, 2))
    with pytest.raises(ValueError, match=r"unfold2d: kernel_size must be positive, got \(0, 2\)"):
        _core.unfold2d(x, (0, 2))
    with pytest.raises(ValueError, match=r"unfold2d: images of spatial size \(4, 4\) with "
                                         r"kernel_size=\(5, 5\).*no block positions"):
        _core.unfold2d(x, (5, 5))
    with pytest.raises(ValueError, match=r"fold2d: output_size=\(3, 3\).*but input "
                                         r"\(1, 8, 5\) has L = 5; expected shape \(1, 8, 4\)"):
        _core.fold2d(np.zeros((1, 8, 5)), (3, 3), (2, 2))
    with pytest.raises(ValueError, match=r"fold2d: input must be 3-D \(N, C\*KH\*KW, L\)"):
        _core.fold2d(np.zeros((8, 4)), (3, 3), (2, 2))
    with pytest.raises(ValueError, match=r"fold2d: output_size must be non-negative, got "
                                         r"\(-1, 3\)"):
        _core.fold2d(np.zeros((1, 4, 4)), (-1, 3), (2, 2))
    with pytest.raises(ValueError, match=r"fold: output_size must be non-negative, got "
                                         r"\(-1, 3\)"):
        F.fold(np.zeros((1, 4, 4)), (-1, 3), 2)
