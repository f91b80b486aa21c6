"""InstanceNorm1d/2d and F.instance_norm: forward against a NumPy formula, gradients against
finite differences, PyTorch's running-statistics rule, unbatched input, dtypes, bad input."""

import numpy as np
import pytest
from helpers import check_op
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
import dlcore.nn.functional as F
from dlcore import nn

RNG = np.random.default_rng(0)


def reference(x, weight=None, bias=None, eps=1e-5):
    """Each (n, c) slice normalised over its own pixels, biased variance."""
    axes = tuple(range(2, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    per_channel = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(per_channel)
    if bias is not None:
        y = y + bias.reshape(per_channel)
    return y


def reference_running(x, running_mean, running_var, momentum):
    """PyTorch's update: the per-instance mean and unbiased variance, averaged over N."""
    axes = tuple(range(2, x.ndim))
    mean = x.mean(axis=axes).mean(axis=0)
    var = x.var(axis=axes, ddof=1).mean(axis=0)
    return ((1 - momentum) * running_mean + momentum * mean,
            (1 - momentum) * running_var + momentum * var)


@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 4, 3, 3), (1, 2, 7, 2), (3, 1, 2),
                                   (2, 2, 2, 3, 2)])
def test_forward_and_gradients(shape):
    c = shape[1]
    x = RNG.normal(size=shape) * 3 + 1
    w, b = RNG.normal(size=c), RNG.normal(size=c)
    check_op(lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
             lambda x, w, b: reference(x, w, b), [x, w, b], rtol=1e-10, atol=1e-10,
             float32_rtol=1e-4, float32_atol=1e-4)
    check_op(F.instance_norm, reference, [x], rtol=1e-10, atol=1e-10)


def test_equals_group_norm_with_one_channel_per_group():
    x = RNG.normal(size=(3, 4, 5, 6))
    np.testing.assert_allclose(F.instance_norm(x).numpy(), F.group_norm(x, 4).numpy(),
                               rtol=1e-10, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 5), st.integers(1, 6),
       st.floats(0.0, 1.0), st.integers(0, 2**31))
def test_random_shapes_and_running_statistics(n, c, h, w, momentum, seed):
    if h * w == 1:
        w = 2
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c, h, w)) * 2 - 1
    running_mean, running_var = rng.normal(size=c), rng.uniform(0.5, 2.0, size=c)
    want_mean, want_var = reference_running(x, running_mean, running_var, momentum)
    y = F.instance_norm(x, running_mean, running_var, momentum=momentum)
    np.testing.assert_allclose(y.numpy(), reference(x), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(running_mean, want_mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(running_var, want_var, rtol=1e-10, atol=1e-12)


def test_running_statistics_normalise_when_not_using_input_stats():
    x = RNG.normal(size=(2, 3, 4))
    rm, rv = RNG.normal(size=3), RNG.uniform(0.5, 2, size=3)
    w, b = RNG.normal(size=3), RNG.normal(size=3)
    want = (x - rm[:, None]) / np.sqrt(rv[:, None] + 1e-3) * w[:, None] + b[:, None]
    before = rm.copy()
    got = F.instance_norm(x, rm, rv, w, b, use_input_stats=False, eps=1e-3)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10)
    np.testing.assert_array_equal(rm, before)  # not updated
    check_op(lambda x, w, b: F.instance_norm(x, rm, rv, w, b, use_input_stats=False),
             None, [x, w, b])


def test_module_defaults_training_and_eval():
    layer = nn.InstanceNorm2d(3)
    assert repr(layer) == ("InstanceNorm2d(3, eps=1e-05, momentum=0.1, affine=False, "
                           "track_running_stats=False)")
    assert list(layer.parameters()) == [] and list(layer.state_dict()) == []
    x = RNG.normal(size=(2, 3, 4, 5))
    y = layer(x)
    assert y.dtype == np.float64  # no parameters, so no layer dtype to cast to
    np.testing.assert_allclose(y.numpy(), reference(x), rtol=1e-10)
    layer.eval()  # without running statistics eval still uses the instance's own
    np.testing.assert_allclose(layer(x).numpy(), reference(x), rtol=1e-10)


def test_module_affine_and_tracked_statistics():
    layer = nn.InstanceNorm1d(3, affine=True, track_running_stats=True, momentum=0.5)
    assert list(layer.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                        "num_batches_tracked"]
    x = RNG.normal(size=(4, 3, 6)) + 2
    y = layer(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), reference(x), rtol=1e-4, atol=1e-4)
    want_mean, want_var = reference_running(x, np.zeros(3), np.ones(3), 0.5)
    np.testing.assert_allclose(layer.running_mean.numpy(), want_mean, rtol=1e-5)
    np.testing.assert_allclose(layer.running_var.numpy(), want_var, rtol=1e-5)
    assert int(layer.num_batches_tracked.item()) == 0  # as in PyTorch: never advanced
    y.sum().backward()
    np.testing.assert_allclose(layer.bias.grad.numpy(), np.full(3, 24.0))
    layer.eval()
    z = layer(x[:1])
    want = (x[:1] - want_mean[:, None]) / np.sqrt(want_var[:, None] + 1e-5)
    np.testing.assert_allclose(z.numpy(), want, rtol=1e-4, atol=1e-5)


def test_unbatched_input_and_momentum_none():
    layer = nn.InstanceNorm2d(2, track_running_stats=True, momentum=None)
    x = RNG.normal(size=(2, 3, 3))
    y = layer(x)
    assert y.shape == (2, 3, 3)
    np.testing.assert_allclose(y.numpy(), reference(x[None])[0], rtol=1e-4, atol=1e-5)
    # momentum=None passes 0 as PyTorch does: the running statistics stay put
    np.testing.assert_array_equal(layer.running_mean.numpy(), np.zeros(2))
    one_d = nn.InstanceNorm1d(4)
    assert one_d(np.ones((4, 5), np.float32)).shape == (4, 5)


def test_int_input_is_promoted_and_empty_batch_passes():
    y = F.instance_norm(np.arange(12).reshape(1, 2, 6))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), reference(np.arange(12.0).reshape(1, 2, 6)),
                               rtol=1e-5, atol=1e-5)
    rm = np.zeros(2)
    assert F.instance_norm(np.zeros((0, 2, 3)), rm, np.ones(2)).shape == (0, 2, 3)
    np.testing.assert_array_equal(rm, np.zeros(2))


def test_constant_and_nan_channels():
    x = np.ones((1, 2, 4))
    x[0, 1, 2] = np.nan
    y = F.instance_norm(x).numpy()
    np.testing.assert_array_equal(y[0, 0], np.zeros(4))  # constant: (x - mean) = 0
    assert np.isnan(y[0, 1]).all()  # NaN spreads over its own channel only


def test_bad_input_names_the_shapes():
    with pytest.raises(ValueError, match=r"more than 1 spatial element.*\(2, 3, 1\)"):
        F.instance_norm(np.zeros((2, 3, 1)))
    with pytest.raises(ValueError, match=r"weight has shape \(2,\) but input \(2, 3, 4\)"):
        F.instance_norm(np.zeros((2, 3, 4)), weight=np.ones(2))
    with pytest.raises(ValueError, match="needs running_mean and running_var"):
        F.instance_norm(np.zeros((2, 3, 4)), use_input_stats=False)
    with pytest.raises(ValueError, match=r"\(N, C, \*\), got shape \(3,\)"):
        F.instance_norm(np.zeros(3))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, C, H, W\) or \(C, H, "
                                         r"W\), got shape \(2, 3\)"):
        nn.InstanceNorm2d(3)(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"input \(2, 4, 5\) has 4 channels.*num_features=3"):
        nn.InstanceNorm1d(3, affine=True)(np.zeros((2, 4, 5)))
    with pytest.warns(UserWarning, match="num_features=3; it is not used"):
        nn.InstanceNorm1d(3)(np.ones((2, 4, 5)))
    with pytest.raises(TypeError, match="running_mean is updated in place.*got list"):
        F.instance_norm(np.ones((2, 2, 3)), [0.0, 0.0], [1.0, 1.0])
    with pytest.raises(TypeError, match="must be real"):
        F.instance_norm(np.ones((2, 2, 3), complex))


def test_trains_with_an_optimizer():
    dlcore.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.InstanceNorm2d(2, affine=True))
    opt = dlcore.optim.SGD(model.parameters(), lr=0.1)
    before = model[1].weight.numpy().copy()
    target = RNG.normal(size=(2, 2, 4, 4)).astype(np.float32)
    loss = ((model(RNG.normal(size=(2, 1, 4, 4))) - target) ** 2).mean()
    loss.backward()
    opt.step()
    assert not np.allclose(model[1].weight.numpy(), before)
