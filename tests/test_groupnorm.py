"""GroupNorm: forward against a NumPy formula, gradients against finite differences, the
special cases it reduces to, and bad input."""

import numpy as np
import pytest
from helpers import check_op
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
import dlcore.nn.functional as F
from dlcore import nn

RNG = np.random.default_rng(0)


def reference(x, groups, weight=None, bias=None, eps=1e-5):
    """Group normalisation written out: statistics of each sample's group, biased variance."""
    n, c = x.shape[:2]
    g = x.reshape(n, groups, -1)
    mean = g.mean(axis=2, keepdims=True)
    var = ((g - mean) ** 2).mean(axis=2, keepdims=True)
    y = ((g - mean) / np.sqrt(var + eps)).reshape(x.shape)
    per_channel = (1, c) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(per_channel)
    if bias is not None:
        y = y + bias.reshape(per_channel)
    return y


@pytest.mark.parametrize("shape, groups", [
    ((2, 4, 3, 3), 1), ((2, 4, 3, 3), 2), ((2, 4, 3, 3), 4), ((3, 6), 3), ((2, 6, 5), 2),
    ((1, 8, 2, 2), 4),
])
def test_forward_and_gradients(shape, groups):
    c = shape[1]
    x = RNG.normal(size=shape) * 3 + 1
    w, b = RNG.normal(size=c), RNG.normal(size=c)
    check_op(lambda x, w, b: F.group_norm(x, groups, w, b), lambda x, w, b: reference(
        x, groups, w, b), [x, w, b], rtol=1e-10, atol=1e-10, float32_rtol=1e-4,
        float32_atol=1e-4)
    check_op(lambda x: F.group_norm(x, groups), lambda x: reference(x, groups), [x],
             rtol=1e-10, atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 3), st.integers(1, 5),
       st.integers(1, 5), st.integers(0, 2**31))
def test_random_shapes_match_the_formula(n, groups, per_group, h, w, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, groups * per_group, h, w))
    np.testing.assert_allclose(F.group_norm(x, groups).numpy(), reference(x, groups),
                               rtol=1e-9, atol=1e-9)


def test_one_group_is_layer_norm_and_one_channel_per_group_is_instance_norm():
    x = RNG.normal(size=(3, 4, 5, 5))
    np.testing.assert_allclose(F.group_norm(x, 1).numpy(),
                               F.layer_norm(x, (4, 5, 5)).numpy(), rtol=1e-10, atol=1e-12)
    mean = x.mean(axis=(2, 3), keepdims=True)
    instance = (x - mean) / np.sqrt(x.var(axis=(2, 3), keepdims=True) + 1e-5)
    np.testing.assert_allclose(F.group_norm(x, 4).numpy(), instance, rtol=1e-10, atol=1e-12)


def test_module_parameters_dtype_and_small_batches():
    layer = nn.GroupNorm(2, 4)
    assert repr(layer) == "GroupNorm(2, 4, eps=1e-05, affine=True)"
    assert list(layer.state_dict()) == ["weight", "bias"]
    x = RNG.normal(size=(1, 4, 3, 3))  # float64 in, the layer's float32 out; batch of one
    y = layer(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), reference(x, 2), rtol=1e-4, atol=1e-4)
    y.sum().backward()
    assert layer.weight.grad.shape == (4,) and layer.bias.grad.shape == (4,)
    np.testing.assert_allclose(layer.bias.grad.numpy(), np.full(4, 9.0))
    bare = nn.GroupNorm(4, 4, affine=False)
    assert list(bare.parameters()) == []
    layer.eval()
    np.testing.assert_allclose(layer(x).numpy(), y.numpy())  # no running statistics
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.GroupNorm(2, 4), nn.ReLU())
    assert model(np.zeros((2, 1, 6, 6), np.float32)).shape == (2, 4, 6, 6)


def test_bad_input_names_the_shapes():
    with pytest.raises(ValueError, match="num_channels=6 is not divisible by num_groups=4"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="num_groups must be a positive int"):
        nn.GroupNorm(0, 6)
    with pytest.raises(ValueError, match=r"input has shape \(2, 3, 4\); expected \(N, 4, \*\)"):
        nn.GroupNorm(2, 4)(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"6 channels of input \(2, 6, 3\).*num_groups=4"):
        F.group_norm(np.zeros((2, 6, 3)), 4)
    with pytest.raises(ValueError, match=r"weight has shape \(3,\); expected \(6,\)"):
        F.group_norm(np.zeros((2, 6, 3)), 2, weight=np.ones(3))
    with pytest.raises(ValueError, match=r"\(N, C, \*\), got shape \(6,\)"):
        F.group_norm(np.zeros(6), 2)
    assert F.group_norm(np.zeros((0, 4, 3)), 2).shape == (0, 4, 3)
    assert dlcore.nn.GroupNorm(2, 4)(np.zeros((2, 4, 0, 0))).shape == (2, 4, 0, 0)
