"""interpolate/Upsample (nearest) and unflatten/Unflatten."""

import numpy as np
import pytest
from helpers import check_op, rng
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
import dlcore.nn.functional as F
from dlcore import nn


def nearest(x, out_size):
    """Output position i copies input floor(i * in / out), per spatial axis."""
    for axis, out in enumerate(out_size, start=2):
        n = x.shape[axis]
        x = np.take(x, (np.arange(out) * n) // out, axis=axis)
    return x


@pytest.mark.parametrize("shape, kwargs, out_size", [
    ((2, 3, 5, 7), dict(scale_factor=2), (10, 14)),
    ((2, 3, 5, 7), dict(size=(9, 4)), (9, 4)),
    ((1, 2, 4, 4), dict(scale_factor=1.5), (6, 6)),
    ((2, 3, 6), dict(size=13), (13,)),
    ((1, 2, 2, 3, 4), dict(scale_factor=(2, 1, 3)), (4, 3, 12)),
])
def test_nearest_matches_the_index_formula_and_gradchecks(shape, kwargs, out_size):
    x = rng(0).standard_normal(shape)
    check_op(lambda t: F.interpolate(t, **kwargs), lambda a: nearest(a, out_size), [x])


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 6), w=st.integers(1, 6), oh=st.integers(1, 13), ow=st.integers(1, 13),
       seed=st.integers(0, 1000))
def test_random_sizes_and_the_gradient_counts_copies(h, w, oh, ow, seed):
    x = dlcore.tensor(rng(seed).standard_normal((1, 2, h, w)), requires_grad=True)
    y = F.interpolate(x, size=(oh, ow))
    np.testing.assert_array_equal(y.numpy(), nearest(x.numpy(), (oh, ow)))
    y.sum().backward()
    rows = np.bincount((np.arange(oh) * h) // oh, minlength=h)
    cols = np.bincount((np.arange(ow) * w) // ow, minlength=w)
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], np.outer(rows, cols))


def test_upsample_module_and_errors():
    layer = nn.Upsample(scale_factor=2)
    assert repr(layer) == "Upsample(scale_factor=2, mode='nearest')"
    x = np.arange(4, dtype=np.float32).reshape(1, 1, 2, 2)
    np.testing.assert_array_equal(layer(x).numpy()[0, 0], [[0, 0, 1, 1], [0, 0, 1, 1],
                                                            [2, 2, 3, 3], [2, 2, 3, 3]])
    assert layer(x).dtype == np.float32
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        nn.Upsample()
    with pytest.raises(ValueError, match="only mode='nearest'"):
        nn.Upsample(scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match="at least one spatial dimension"):
        F.interpolate(np.zeros((2, 3)), scale_factor=2)
    with pytest.raises(ValueError, match=r"size must be a positive int or 2 of them"):
        F.interpolate(x, size=(3,))
    with pytest.raises(ValueError, match="shrinks input"):
        F.interpolate(x, scale_factor=0.1)


def test_unflatten_inverts_flatten():
    x = rng(1).standard_normal((4, 2 * 3 * 5))
    check_op(lambda t: F.unflatten(t, 1, (2, 3, 5)), lambda a: a.reshape(4, 2, 3, 5), [x])
    t = dlcore.tensor(x)
    assert F.unflatten(t, -1, (2, -1, 5)).shape == (4, 2, 3, 5)
    model = nn.Sequential(nn.Unflatten(1, (2, 3, 5)), nn.Flatten())
    np.testing.assert_array_equal(model(x).numpy(), x)
    assert repr(nn.Unflatten(1, (16, 7, 7))) == "Unflatten(dim=1, unflattened_size=(16, 7, 7))"
    with pytest.raises(ValueError, match=r"sizes \(4, 4\) do not split dim 1 of size 30"):
        F.unflatten(t, 1, (4, 4))
    with pytest.raises(ValueError, match="do not split"):
        F.unflatten(t, 1, (-1, -1))
    with pytest.raises(ValueError, match="do not split"):
        F.unflatten(t, 1, (7, -1))
    with pytest.raises(ValueError, match="dim=2 is out of range"):
        F.unflatten(t, 2, (1,))


def test_a_dense_decoder_into_transposed_convolutions():
    decoder = nn.Sequential(nn.Linear(8, 16 * 7 * 7), nn.Unflatten(1, (16, 7, 7)),
                            nn.Upsample(scale_factor=2), nn.Conv2d(16, 4, 3, padding=1),
                            nn.ConvTranspose2d(4, 1, 2, stride=2))
    out = decoder(dlcore.randn(3, 8))
    assert out.shape == (3, 1, 28, 28)
    out.sum().backward()
    assert all(p.grad is not None for p in decoder.parameters())
