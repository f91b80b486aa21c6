"""The rest of PyTorch's activations (dlcore.nn.ops.activation_more): forward against the
NumPy formulas, backward against finite differences, PyTorch's gradients at the kinks,
infinities, NaN and large |x|, and the modules."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import away_from
from helpers import check_op as _check_op
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
import dlcore.nn.functional as F
from dlcore import nn
from dlcore.reference import activation as ref


def check_op(op, reference, inputs, **kwargs):
    """The shared helper with tight float64 tolerances and a float32 forward check."""
    options = {"rtol": 1e-10, "atol": 1e-10, "float32_rtol": 1e-5, **kwargs}
    _check_op(op, reference, inputs, **options)


RNG = np.random.default_rng(1)
SA = ref.SELU_SCALE * ref.SELU_ALPHA

# name -> (dlcore function, reference, points where the function or its derivative jumps)
POINTWISE = {
    "hardtanh": (F.hardtanh, ref.hardtanh, [-1.0, 1.0]),
    "hardtanh_custom": (lambda x: F.hardtanh(x, -2.0, 0.5),
                        lambda x: ref.hardtanh(x, -2.0, 0.5), [-2.0, 0.5]),
    "relu6": (F.relu6, ref.relu6, [0.0, 6.0]),
    "hardsigmoid": (F.hardsigmoid, ref.hardsigmoid, [-3.0, 3.0]),
    "hardswish": (F.hardswish, ref.hardswish, [-3.0, 3.0]),
    "selu": (F.selu, ref.selu, [0.0]),
    "celu": (F.celu, ref.celu, []),
    "celu_alpha": (lambda x: F.celu(x, 1.5), lambda x: ref.celu(x, 1.5), []),
    "mish": (F.mish, ref.mish, []),
    "softsign": (F.softsign, ref.softsign, []),
    "logsigmoid": (F.logsigmoid, ref.logsigmoid, []),
    "tanhshrink": (F.tanhshrink, ref.tanhshrink, []),
    "softshrink": (F.softshrink, ref.softshrink, [-0.5, 0.5]),
    "softshrink_lambd": (lambda x: F.softshrink(x, 1.25), lambda x: ref.softshrink(x, 1.25),
                         [-1.25, 1.25]),
    "hardshrink": (F.hardshrink, ref.hardshrink, [-0.5, 0.5]),
    "threshold": (lambda x: F.threshold(x, 0.1, 20.0), lambda x: ref.threshold(x, 0.1, 20.0),
                  [0.1]),
    "softmin_last": (F.softmin, ref.softmin, []),
    "softmin_dim0": (lambda x: F.softmin(x, 0), lambda x: ref.softmin(x, 0), []),
}


@pytest.mark.parametrize("name", sorted(POINTWISE))
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4)])
def test_forward_matches_formula_and_backward_matches_gradcheck(name, shape):
    fn, reference, kinks = POINTWISE[name]
    x = away_from(RNG.normal(scale=3.0, size=shape), kinks)
    check_op(fn, reference, [x])


@pytest.mark.parametrize("name", sorted(POINTWISE))
def test_non_contiguous_input(name):
    fn, reference, kinks = POINTWISE[name]
    x = away_from(RNG.normal(scale=3.0, size=(6, 8)), kinks)[:, ::2].T
    assert not x.flags.c_contiguous
    np.testing.assert_allclose(fn(x).numpy(), reference(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(POINTWISE))
def test_int_input_is_promoted_to_float32(name):
    fn, reference, _ = POINTWISE[name]
    x = np.array([[-7, -3, -1, 0], [1, 2, 3, 8]])
    y = fn(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), reference(x.astype(np.float64)), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(POINTWISE))
def test_empty_input_gives_empty_output_and_gradient(name):
    x = dlcore.tensor(np.zeros((0, 3)), requires_grad=True)
    y = POINTWISE[name][0](x)
    assert y.shape == (0, 3)
    y.sum().backward()
    assert x.grad.shape == (0, 3)


EXTREMES = np.array([-1e4, -1e3, -100.0, -30.0, -1e-3, 0.0, 1e-3, 30.0, 100.0, 1e3, 1e4])


@pytest.mark.parametrize("name", sorted(POINTWISE))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_inputs_stay_finite_without_warnings(name, dtype):
    fn, reference, _ = POINTWISE[name]
    x = dlcore.tensor(EXTREMES.astype(dtype), requires_grad=True)
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        y = fn(x)
        y.backward(np.ones(y.shape, dtype=dtype))
    assert np.all(np.isfinite(y.numpy())), y
    assert np.all(np.isfinite(x.grad.numpy())), x.grad
    with np.errstate(all="ignore"):
        want = reference(EXTREMES)
    # tanhshrink(1e-3) = 3.3e-10 is x - tanh(x), which in float32 carries an error of about
    # ulp(1e-3) = 1e-10 (as in PyTorch): only absolute precision there.
    atol = 1e-9 if name == "tanhshrink" and dtype == np.float32 else 1e-30
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-6 if dtype == np.float32 else 1e-13,
                               atol=atol)


# name -> (f(-inf), f(inf), f'(-inf), f'(inf)): the limits, including where PyTorch's
# formula gives NaN (hardswish and mish at -inf: -inf * 0; softsign at +-inf: inf / inf).
AT_INFINITY = {
    "hardtanh": (-1.0, 1.0, 0.0, 0.0),
    "relu6": (0.0, 6.0, 0.0, 0.0),
    "hardsigmoid": (0.0, 1.0, 0.0, 0.0),
    "hardswish": (0.0, np.inf, 0.0, 1.0),
    "selu": (-SA, np.inf, 0.0, ref.SELU_SCALE),
    "celu_alpha": (-1.5, np.inf, 0.0, 1.0),
    "mish": (0.0, np.inf, 0.0, 1.0),
    "softsign": (-1.0, 1.0, 0.0, 0.0),
    "logsigmoid": (-np.inf, 0.0, 1.0, 0.0),
    "tanhshrink": (-np.inf, np.inf, 1.0, 1.0),
    "softshrink": (-np.inf, np.inf, 1.0, 1.0),
    "hardshrink": (-np.inf, np.inf, 1.0, 1.0),
    "threshold": (20.0, np.inf, 0.0, 1.0),
}


@pytest.mark.parametrize("name", sorted(AT_INFINITY))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_infinities_give_the_limits_and_nan_propagates(name, dtype):
    fn = POINTWISE[name][0]
    at_minus, at_plus, slope_minus, slope_plus = AT_INFINITY[name]
    x = dlcore.tensor(np.array([-np.inf, np.inf, np.nan], dtype), requires_grad=True)
    y = fn(x)
    y.backward(np.ones(3, dtype))
    np.testing.assert_allclose(y.numpy()[:2], [at_minus, at_plus], rtol=1e-7)
    assert np.isnan(y.numpy()[2])
    np.testing.assert_allclose(x.grad.numpy()[:2], [slope_minus, slope_plus], rtol=1e-7)


# name -> (points, gradients PyTorch gives there)
AT_KINKS = {
    "hardswish": ([-3.0, 3.0], [-0.5, 1.5]),
    "hardsigmoid": ([-3.0, 3.0], [0.0, 0.0]),
    "hardtanh": ([-1.0, 1.0], [0.0, 0.0]),
    "hardtanh_custom": ([-2.0, 0.5], [0.0, 0.0]),
    "relu6": ([0.0, 6.0], [0.0, 0.0]),
    "softshrink": ([-0.5, 0.5], [0.0, 0.0]),
    "hardshrink": ([-0.5, 0.5], [0.0, 0.0]),
    "threshold": ([0.1], [0.0]),
    "selu": ([0.0], [SA]),
    "celu_alpha": ([0.0], [1.0]),
}


@pytest.mark.parametrize("name", sorted(AT_KINKS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradient_at_kinks_follows_pytorch(name, dtype):
    points, want = AT_KINKS[name]
    x = dlcore.tensor(np.array(points, dtype), requires_grad=True)
    POINTWISE[name][0](x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-7)


def test_values_at_kinks_are_continuous_where_the_function_is():
    np.testing.assert_array_equal(F.hardswish(np.array([-3.0, 3.0])).numpy(), [0.0, 3.0])
    np.testing.assert_array_equal(F.hardsigmoid(np.array([-3.0, 0.0, 3.0])).numpy(),
                                  [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(F.softshrink(np.array([-0.5, 0.5])).numpy(), [0.0, 0.0])
    # threshold and hardshrink jump: the value at the point is the lower branch's.
    np.testing.assert_array_equal(F.threshold(np.array([0.1, 0.2]), 0.1, 20.0).numpy(),
                                  [20.0, 0.2])
    np.testing.assert_array_equal(F.hardshrink(np.array([-0.5, 0.5, 0.6])).numpy(),
                                  [0.0, 0.0, 0.6])


def test_mish_keeps_relative_precision_in_both_tails():
    x = np.concatenate([np.linspace(-700, -20, 50), np.linspace(20, 700, 50)])
    np.testing.assert_allclose(F.mish(x).numpy(), ref.mish(x), rtol=1e-13)
    x32 = np.array([-80.0, -40.0, -15.0, 15.0, 80.0], np.float32)
    np.testing.assert_allclose(F.mish(x32).numpy(), ref.mish(x32.astype(np.float64)),
                               rtol=1e-5)


def test_logsigmoid_keeps_relative_precision_for_large_x():
    x = np.array([40.0, 100.0, 700.0])
    # -log1p(e^-x) = -e^-x to double precision here; log(1 + e^-x) would give 0.
    np.testing.assert_allclose(F.logsigmoid(x).numpy(), -np.exp(-x), rtol=1e-14)
    np.testing.assert_allclose(F.logsigmoid(np.array([50.0], np.float32)).numpy(),
                               [-np.exp(-50.0)], rtol=1e-5)
    np.testing.assert_array_equal(F.logsigmoid(np.array([-1e4])).numpy(), [-1e4])


def test_selu_constants_make_it_self_normalising():
    # For z ~ N(0, 1), E[selu(z)] = 0 and E[selu(z)^2] = 1: that is how alpha and scale were
    # chosen (Klambauer et al., 2017). Wrong digits in either would shift these.
    z = np.random.default_rng(5).standard_normal(2_000_000)
    y = F.selu(z).numpy()
    assert abs(y.mean()) < 3e-3
    assert abs((y ** 2).mean() - 1) < 3e-3
    assert abs(F.selu(np.array([-50.0])).item() + SA) < 1e-15


@settings(max_examples=30, deadline=None)
@given(
    shape=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    name=st.sampled_from(sorted(POINTWISE)),
    seed=st.integers(0, 2**16),
)
def test_random_shapes_match_reference(shape, name, seed):
    fn, reference, _ = POINTWISE[name]
    x = np.random.default_rng(seed).normal(scale=4, size=shape)
    np.testing.assert_allclose(fn(x).numpy(), reference(x), rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------- GLU
@pytest.mark.parametrize("shape, dim", [((8,), -1), ((3, 4), -1), ((3, 4), 1), ((2, 3, 4), 0),
                                        ((2, 6, 3), 1), ((2, 6, 3), -2)])
def test_glu_forward_and_gradients(shape, dim):
    x = RNG.normal(scale=2.0, size=shape)
    check_op(lambda t: F.glu(t, dim), lambda a: ref.glu(a, dim), [x])
    out_shape = list(shape)
    out_shape[dim] //= 2
    assert F.glu(x, dim).shape == tuple(out_shape)


@settings(max_examples=20, deadline=None)
@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    seed=st.integers(0, 2**16),
    data=st.data(),
)
def test_glu_random_shapes(shape, seed, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    shape[dim] *= 2
    x = np.random.default_rng(seed).normal(size=shape)
    np.testing.assert_allclose(F.glu(x, dim).numpy(), ref.glu(x, dim), rtol=1e-12)


def test_glu_int_non_contiguous_and_empty():
    x = np.arange(12).reshape(3, 4)
    y = F.glu(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), ref.glu(x.astype(np.float64)), rtol=1e-6)
    xt = RNG.normal(size=(4, 3)).T
    np.testing.assert_allclose(F.glu(xt).numpy(), ref.glu(xt), rtol=1e-12)
    assert F.glu(np.zeros((2, 0))).shape == (2, 0)


def test_glu_bad_input_names_the_dimension_and_shape():
    with pytest.raises(ValueError, match=r"glu: dimension -1 of input \(2, 3\) has odd size 3"):
        F.glu(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"glu: dim 2 is out of range for input of shape"):
        F.glu(np.zeros((2, 4)), dim=2)
    with pytest.raises(ValueError, match="glu"):
        F.glu(np.float64(1.0))


# --------------------------------------------------------------------- Softmin
def test_softmin_is_softmax_of_the_negation_and_sums_to_one():
    x = np.array([[1e4, 0.0, -1e4], [1.0, 2.0, 3.0]])
    y = F.softmin(x).numpy()
    np.testing.assert_allclose(y[0], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(y.sum(axis=1), [1.0, 1.0])
    assert y[1, 0] > y[1, 1] > y[1, 2]
    assert F.softmin(np.array([1, 2])).dtype == np.float32
    with pytest.raises(ValueError, match=r"softmin: dim 2 is out of range"):
        F.softmin(np.zeros((2, 2)), 2)


# --------------------------------------------------------------------- bad parameters
def test_bad_parameters_are_refused_by_name():
    with pytest.raises(ValueError, match=r"min_val \(2.0\) must not be greater than max_val"):
        F.hardtanh(np.zeros(2), 2.0, 1.0)
    with pytest.raises(ValueError, match="Hardtanh: min_val"):
        nn.Hardtanh(1.0, -1.0)
    with pytest.raises(ValueError, match="celu: alpha must not be 0"):
        F.celu(np.zeros(2), 0.0)
    with pytest.raises(ValueError, match="CELU: alpha"):
        nn.CELU(0.0)
    for fn, layer in [(F.softshrink, nn.Softshrink), (F.hardshrink, nn.Hardshrink)]:
        with pytest.raises(ValueError, match="lambd must be >= 0, got -0.1"):
            fn(np.zeros(2), -0.1)
        with pytest.raises(ValueError, match="lambd"):
            layer(float("nan"))
    # equal bounds are allowed: a constant output with zero gradient
    np.testing.assert_array_equal(F.hardtanh(np.array([-1.0, 2.0]), 0.5, 0.5).numpy(),
                                  [0.5, 0.5])


def test_celu_with_negative_alpha_matches_the_formula():
    x = np.array([-2.0, -0.5, 0.0, 1.0])
    alpha = -0.5
    want = np.maximum(0, x) + np.minimum(0, alpha * np.expm1(x / alpha))
    np.testing.assert_allclose(F.celu(x, alpha).numpy(), want, rtol=1e-14)
    check_op(lambda t: F.celu(t, alpha), None, [np.array([-1.3, -0.2, 0.7])])


# --------------------------------------------------------------------- modules
MODULES = [
    (nn.Hardtanh(), F.hardtanh, "Hardtanh(min_val=-1.0, max_val=1.0)"),
    (nn.Hardtanh(-2.0, 3.0, inplace=True), lambda x: F.hardtanh(x, -2.0, 3.0),
     "Hardtanh(min_val=-2.0, max_val=3.0, inplace=True)"),
    (nn.ReLU6(), F.relu6, "ReLU6()"),
    (nn.ReLU6(inplace=True), F.relu6, "ReLU6(inplace=True)"),
    (nn.Hardsigmoid(), F.hardsigmoid, "Hardsigmoid()"),
    (nn.Hardswish(), F.hardswish, "Hardswish()"),
    (nn.SELU(), F.selu, "SELU()"),
    (nn.CELU(), F.celu, "CELU(alpha=1.0)"),
    (nn.CELU(0.5), lambda x: F.celu(x, 0.5), "CELU(alpha=0.5)"),
    (nn.Mish(), F.mish, "Mish()"),
    (nn.Softsign(), F.softsign, "Softsign()"),
    (nn.LogSigmoid(), F.logsigmoid, "LogSigmoid()"),
    (nn.Tanhshrink(), F.tanhshrink, "Tanhshrink()"),
    (nn.Softshrink(), F.softshrink, "Softshrink(0.5)"),
    (nn.Hardshrink(0.25), lambda x: F.hardshrink(x, 0.25), "Hardshrink(0.25)"),
    (nn.Threshold(0.1, 20), lambda x: F.threshold(x, 0.1, 20.0),
     "Threshold(threshold=0.1, value=20.0)"),
    (nn.GLU(), F.glu, "GLU(dim=-1)"),
    (nn.GLU(0), lambda x: F.glu(x, 0), "GLU(dim=0)"),
    (nn.Softmin(dim=1), lambda x: F.softmin(x, 1), "Softmin(dim=1)"),
]


@pytest.mark.parametrize("module, function, text", MODULES, ids=lambda m: repr(m))
def test_module_equals_function_and_repr(module, function, text):
    x = dlcore.tensor(RNG.normal(scale=3.0, size=(4, 6)).astype(np.float32))
    np.testing.assert_array_equal(module(x).numpy(), function(x).numpy())
    assert repr(module) == text
    assert list(module.parameters()) == []


def test_module_defaults_follow_pytorch():
    assert (nn.Hardtanh().min_val, nn.Hardtanh().max_val) == (-1.0, 1.0)
    assert (nn.ReLU6().min_val, nn.ReLU6().max_val) == (0.0, 6.0)
    assert isinstance(nn.ReLU6(), nn.Hardtanh)
    assert nn.CELU().alpha == 1.0
    assert nn.Softshrink().lambd == 0.5 and nn.Hardshrink().lambd == 0.5
    assert nn.GLU().dim == -1
    assert nn.Hardswish().inplace is False and nn.SELU(inplace=True).inplace is True


@pytest.mark.parametrize("act", [nn.Hardswish(), nn.Hardsigmoid(), nn.Hardtanh(), nn.ReLU6(),
                                 nn.SELU(), nn.CELU(), nn.Mish(), nn.Softsign(),
                                 nn.LogSigmoid(), nn.Tanhshrink(), nn.Softshrink(),
                                 nn.Hardshrink(), nn.Threshold(0.0, -1.0), nn.Softmin(1)],
                         ids=lambda m: type(m).__name__)
def test_usable_in_sequential_and_trainable_through(act):
    dlcore.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), act, nn.Linear(8, 2))
    x = dlcore.tensor(RNG.normal(size=(5, 3)).astype(np.float32))
    out = model(x)
    assert out.shape == (5, 2)
    out.sum().backward()
    first = model[0].weight.grad.numpy()
    assert first.shape == (8, 3) and np.all(np.isfinite(first)) and np.any(first != 0)


def test_glu_in_sequential_halves_the_features():
    model = nn.Sequential(nn.Linear(3, 8), nn.GLU(), nn.Linear(4, 2))
    out = model(dlcore.tensor(RNG.normal(size=(5, 3)).astype(np.float32)))
    assert out.shape == (5, 2)
    out.sum().backward()
    assert model[0].weight.grad.shape == (8, 3)
