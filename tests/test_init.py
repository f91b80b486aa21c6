"""Weight initialisers: statistics on a 512x512 weight against the theory, fans of conv
weights, gains, seeding, and Linear's default."""

from __future__ import annotations

import math

import numpy as np
import pytest

import dlcore
from dlcore import nn
from dlcore.nn import init

SHAPE = (512, 512)


def weight(shape=SHAPE, dtype=np.float32):
    return nn.Parameter(np.zeros(shape, dtype=dtype))


def assert_stats(w, mean, var, bound=None):
    data = w.numpy().astype(np.float64)
    n = data.size
    assert abs(data.mean() - mean) < 4 * math.sqrt(var / n) + 1e-12
    assert data.var() == pytest.approx(var, rel=0.02)
    if bound is not None:
        assert np.abs(data).max() <= bound * (1 + 1e-6)
        assert np.abs(data).max() > 0.99 * bound  # the whole interval is used


def test_uniform_and_normal():
    dlcore.manual_seed(0)
    assert_stats(init.uniform_(weight(), -2.0, 4.0), 1.0, 36 / 12)
    assert_stats(init.normal_(weight(), 3.0, 0.5), 3.0, 0.25)
    assert_stats(init.uniform_(weight()), 0.5, 1 / 12)


def test_constant_zeros_ones():
    w = weight()
    assert init.constant_(w, 0.3) is w
    np.testing.assert_array_equal(w.numpy(), np.full(SHAPE, 0.3, np.float32))
    np.testing.assert_array_equal(init.ones_(w).numpy(), np.ones(SHAPE))
    np.testing.assert_array_equal(init.zeros_(w).numpy(), np.zeros(SHAPE))


def test_xavier():
    dlcore.manual_seed(1)
    var = 2.0 / (512 + 512)
    assert_stats(init.xavier_uniform_(weight()), 0.0, var, bound=math.sqrt(3 * var))
    assert_stats(init.xavier_normal_(weight()), 0.0, var)
    assert_stats(init.xavier_uniform_(weight(), gain=init.calculate_gain("tanh")), 0.0,
                 var * 25 / 9)


def test_xavier_uses_both_fans():
    dlcore.manual_seed(2)
    var = 2.0 / (256 + 1024)
    assert_stats(init.xavier_normal_(weight((256, 1024))), 0.0, var)


@pytest.mark.parametrize("mode, fan", [("fan_in", 1024), ("fan_out", 256)])
def test_kaiming(mode, fan):
    dlcore.manual_seed(3)
    shape = (256, 1024)
    var = 2.0 / fan  # gain^2 = 2 for ReLU
    assert_stats(init.kaiming_uniform_(weight(shape), mode=mode, nonlinearity="relu"), 0.0, var,
                 bound=math.sqrt(3 * var))
    assert_stats(init.kaiming_normal_(weight(shape), mode=mode, nonlinearity="relu"), 0.0, var)
    # The defaults (leaky_relu with a=0) are the ReLU case.
    assert_stats(init.kaiming_normal_(weight(shape), mode=mode), 0.0, var)


def test_kaiming_leaky_relu_slope():
    dlcore.manual_seed(4)
    a = 0.2
    assert_stats(init.kaiming_normal_(weight(), a=a), 0.0, 2.0 / (1 + a * a) / 512)


def test_fans_of_linear_and_conv_weights():
    assert init._calculate_fan_in_and_fan_out(weight((10, 20))) == (20, 10)
    # conv (out, in / groups, kh, kw): each output sees in/groups * kh * kw inputs
    assert init._calculate_fan_in_and_fan_out(weight((64, 32, 3, 3))) == (32 * 9, 64 * 9)
    assert init._calculate_fan_in_and_fan_out(weight((64, 8, 5, 5))) == (8 * 25, 64 * 25)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(weight((5,)))


def test_kaiming_on_a_conv_weight():
    dlcore.manual_seed(5)
    w = weight((128, 64, 3, 3))
    assert_stats(init.kaiming_normal_(w, nonlinearity="relu"), 0.0, 2.0 / (64 * 9))


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1.0
    assert init.calculate_gain("conv2d") == 1.0
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", 0.5) == pytest.approx(math.sqrt(2 / 1.25))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")


def test_in_place_keeps_dtype_and_array():
    w = weight((8, 4), dtype=np.float64)
    array = w.data
    init.kaiming_uniform_(w)
    assert w.data is array and w.dtype == np.float64
    raw = np.zeros((3, 3), np.float32)
    assert init.normal_(raw) is raw and raw.std() > 0


def test_seeded_by_manual_seed():
    dlcore.manual_seed(42)
    a = init.xavier_normal_(weight((16, 16))).numpy().copy()
    dlcore.manual_seed(42)
    b = init.xavier_normal_(weight((16, 16))).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, init.xavier_normal_(weight((16, 16))).numpy())


def test_bad_arguments():
    with pytest.raises(TypeError, match="float dtype"):
        init.normal_(np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_normal_(weight((3, 3)), mode="fan_avg")
    with pytest.raises(ValueError, match="std"):
        init.normal_(weight((2, 2)), std=-1.0)


def test_linear_default_init_is_pytorch_kaiming_uniform():
    dlcore.manual_seed(7)
    layer = nn.Linear(512, 512)
    bound = 1 / math.sqrt(512)
    assert_stats(layer.weight, 0.0, bound**2 / 3, bound=bound)
    assert np.abs(layer.bias.numpy()).max() <= bound
    # The same draws as an explicit kaiming_uniform_(a=sqrt(5)) followed by the bias.
    dlcore.manual_seed(7)
    w = init.kaiming_uniform_(weight(), a=math.sqrt(5))
    np.testing.assert_allclose(layer.weight.numpy(), w.numpy(), rtol=1e-6)
