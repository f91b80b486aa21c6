"""PixelShuffle / PixelUnshuffle: forward against an index-by-index reference, gradients,
inverse of each other, extra batch dimensions, dtypes, reprs and bad input."""

import itertools

import numpy as np
import pytest
from helpers import check_op
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
import dlcore.nn.functional as F
from dlcore import nn

RNG = np.random.default_rng(0)


def reference_shuffle(x, r):
    """``out[..., c, h * r + i, w * r + j] = x[..., c * r * r + i * r + j, h, w]``."""
    *batch, cr2, h, w = x.shape
    c = cr2 // (r * r)
    out = np.empty((*batch, c, h * r, w * r), dtype=x.dtype)
    for ch, i, j, hh, ww in itertools.product(range(c), range(r), range(r), range(h),
                                              range(w)):
        out[..., ch, hh * r + i, ww * r + j] = x[..., ch * r * r + i * r + j, hh, ww]
    return out


def reference_unshuffle(x, r):
    *batch, c, hr, wr = x.shape
    out = np.empty((*batch, c * r * r, hr // r, wr // r), dtype=x.dtype)
    for ch, i, j, hh, ww in itertools.product(range(c), range(r), range(r), range(hr // r),
                                              range(wr // r)):
        out[..., ch * r * r + i * r + j, hh, ww] = x[..., ch, hh * r + i, ww * r + j]
    return out


@pytest.mark.parametrize("shape, r", [((2, 8, 3, 2), 2), ((1, 9, 2, 3), 3), ((3, 5, 2), 1),
                                      ((2, 1, 4, 3, 3), 2)])
def test_forward_and_gradients(shape, r):
    x = RNG.normal(size=shape)
    check_op(lambda x: F.pixel_shuffle(x, r), lambda x: reference_shuffle(x, r), [x],
             rtol=0, atol=0, float32_rtol=1e-6, float32_atol=1e-7)
    y = reference_shuffle(x, r)
    check_op(lambda y: F.pixel_unshuffle(y, r), lambda y: reference_unshuffle(y, r), [y],
             rtol=0, atol=0, float32_rtol=1e-6, float32_atol=1e-7)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2), st.integers(1, 3), st.integers(1, 3), st.integers(0, 4),
       st.integers(0, 5))
def test_random_shapes_round_trip(n, c, r, h, w):
    x = np.random.default_rng(n * 1000 + c * 100 + r * 10 + h).normal(size=(n, c * r * r, h, w))
    up = F.pixel_shuffle(x, r)
    assert up.shape == (n, c, h * r, w * r)
    np.testing.assert_array_equal(up.numpy(), reference_shuffle(x, r))
    np.testing.assert_array_equal(F.pixel_unshuffle(up, r).numpy(), x)


def test_modules_and_reprs():
    shuffle, unshuffle = nn.PixelShuffle(2), nn.PixelUnshuffle(2)
    assert repr(shuffle) == "PixelShuffle(upscale_factor=2)"
    assert repr(unshuffle) == "PixelUnshuffle(downscale_factor=2)"
    x = RNG.normal(size=(2, 4, 3, 3)).astype(np.float32)
    y = shuffle(x)
    assert y.shape == (2, 1, 6, 6) and y.dtype == np.float32
    np.testing.assert_array_equal(unshuffle(y).numpy(), x)
    assert list(shuffle.parameters()) == []


def test_learned_upsampling_trains():
    dlcore.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.PixelShuffle(2))
    out = model(RNG.normal(size=(1, 1, 4, 4)))
    assert out.shape == (1, 1, 8, 8)
    out.sum().backward()
    assert model[0].weight.grad is not None and np.abs(model[0].weight.grad.numpy()).sum() > 0


def test_dtypes_and_non_contiguous_input():
    ints = np.arange(16).reshape(1, 4, 2, 2)
    assert F.pixel_shuffle(ints, 2).dtype == ints.dtype  # a rearrangement keeps the dtype
    x = RNG.normal(size=(2, 2, 3, 4)).transpose(0, 3, 2, 1)  # (2, 4, 3, 2), non-contiguous
    np.testing.assert_array_equal(F.pixel_shuffle(x, 2).numpy(), reference_shuffle(x, 2))


def test_bad_input_names_the_shapes():
    with pytest.raises(ValueError, match=r"input \(1, 6, 2, 2\) has 6 channels, not divisible "
                                         r"by upscale_factor \*\* 2 = 4"):
        F.pixel_shuffle(np.zeros((1, 6, 2, 2)), 2)
    with pytest.raises(ValueError, match=r"height 3 and width 4; both must be divisible by "
                                         r"downscale_factor = 2"):
        F.pixel_unshuffle(np.zeros((1, 1, 3, 4)), 2)
    with pytest.raises(ValueError, match=r"at least 3 dimensions, got shape \(4, 4\)"):
        F.pixel_shuffle(np.zeros((4, 4)), 2)
    with pytest.raises(ValueError, match="upscale_factor must be a positive int, got 0"):
        nn.PixelShuffle(0)
    with pytest.raises(ValueError, match="downscale_factor must be a positive int, got 1.5"):
        F.pixel_unshuffle(np.zeros((1, 1, 3, 3)), 1.5)
