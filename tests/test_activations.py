"""Activations: forward against the NumPy formulas, backward against finite differences,
stability for large |x|, and the modules."""

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


RNG = np.random.default_rng(0)

# name -> (dlcore function, reference, points where the derivative jumps)
ELEMENTWISE = {
    "step": (F.step, ref.step, [0.0]),
    "sigmoid": (F.sigmoid, ref.sigmoid, []),
    "tanh": (F.tanh, ref.tanh, []),
    "relu": (F.relu, ref.relu, [0.0]),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: ref.leaky_relu(x, 0.2), [0.0]),
    "leaky_relu_default": (F.leaky_relu, ref.leaky_relu, [0.0]),
    "elu": (lambda x: F.elu(x, 1.5), lambda x: ref.elu(x, 1.5), [0.0]),
    "gelu": (F.gelu, ref.gelu, []),
    "gelu_tanh": (lambda x: F.gelu(x, "tanh"), lambda x: ref.gelu(x, "tanh"), []),
    "silu": (F.silu, ref.silu, []),
    "softplus": (F.softplus, ref.softplus, []),
    "softplus_beta": (lambda x: F.softplus(x, 2.0, 3.0), lambda x: ref.softplus(x, 2.0, 3.0),
                      [1.5]),
    "softmax_last": (F.softmax, ref.softmax, []),
    "softmax_dim0": (lambda x: F.softmax(x, 0), lambda x: ref.softmax(x, 0), []),
    "log_softmax_last": (F.log_softmax, ref.log_softmax, []),
    "log_softmax_dim0": (lambda x: F.log_softmax(x, 0), lambda x: ref.log_softmax(x, 0), []),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4)])
def test_forward_matches_formula_and_backward_matches_gradcheck(name, shape):
    fn, reference, kinks = ELEMENTWISE[name]
    x = away_from(RNG.normal(scale=2.0, size=shape), kinks)
    check_op(fn, reference, [x])


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_non_contiguous_input(name):
    fn, reference, kinks = ELEMENTWISE[name]
    x = away_from(RNG.normal(size=(6, 8)), kinks)[:, ::2].T
    assert not x.flags.c_contiguous
    np.testing.assert_allclose(fn(x).numpy(), reference(x), rtol=1e-12, atol=1e-12)


EXTREMES = np.array([-1e4, -1e3, -100.0, -30.0, -1e-3, 0.0, 1e-3, 30.0, 100.0, 1e3, 1e4])


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_inputs_stay_finite_without_warnings(name, dtype):
    fn = ELEMENTWISE[name][0]
    x = dlcore.tensor(EXTREMES.astype(dtype), requires_grad=True)
    # Underflow to 0 (e.g. exp(-2e4)) is the correct result, so only it is allowed.
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        y = fn(x)
        y.backward(np.ones(y.shape, dtype=dtype))
    assert np.all(np.isfinite(y.numpy())), y
    assert np.all(np.isfinite(x.grad.numpy())), x.grad


def test_saturated_values_are_exact():
    x = EXTREMES
    np.testing.assert_array_equal(F.sigmoid(x).numpy()[[0, -1]], [0.0, 1.0])
    np.testing.assert_array_equal(F.tanh(x).numpy()[[0, -1]], [-1.0, 1.0])
    np.testing.assert_array_equal(F.elu(x).numpy()[0], -1.0)
    np.testing.assert_array_equal(F.gelu(x).numpy()[[0, -1]], [0.0, 1e4])
    np.testing.assert_array_equal(F.silu(x).numpy()[[0, -1]], [0.0, 1e4])
    logits = np.array([[1e4, 0.0, -1e4]])
    np.testing.assert_allclose(F.log_softmax(logits).numpy(), [[0.0, -1e4, -2e4]])
    np.testing.assert_allclose(F.softmax(logits).numpy(), [[1.0, 0.0, 0.0]])


def test_gelu_far_left_tail_keeps_relative_precision():
    # Phi(-10) = 7.6198530241605260e-24; 1 + erf(x/sqrt 2) would cancel to 0 here.
    np.testing.assert_allclose(F.gelu(np.array([-10.0])).numpy(), [-7.6198530241605260e-23],
                               rtol=1e-13)


def test_softmax_dim_out_of_range_is_an_error():
    with pytest.raises(ValueError, match=r"dim 1 is out of range for input of shape \(3,\)"):
        F.softmax(np.zeros(3), 1)
    with pytest.raises(ValueError, match="dim -3"):
        F.log_softmax(np.zeros((2, 3)), -3)


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
def test_softmax_over_an_empty_dim_is_empty(fn):
    # reshape(-1, 0) cannot infer the row count: this raised NumPy's 'cannot reshape array
    # of size 0 into shape (0)'. PyTorch returns an empty result.
    x = dlcore.tensor(np.zeros((2, 0, 3), np.float32), requires_grad=True)
    out = fn(x, dim=1)
    assert out.shape == (2, 0, 3)
    out.sum().backward()
    assert x.grad.shape == (2, 0, 3)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(np.zeros(2), approximate="fast")
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("erf")


def test_step_outputs_zero_one_and_passes_back_zero_gradient():
    x = dlcore.tensor([-2.0, 0.0, 0.5, 3.0], requires_grad=True)
    y = F.step(x)
    np.testing.assert_array_equal(y.numpy(), [0, 0, 1, 1])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(4))


def test_relu_and_leaky_relu_gradient_at_zero():
    x = dlcore.tensor([0.0], dtype=np.float64, requires_grad=True)
    F.relu(x).sum().backward()
    assert x.grad.item() == 0.0
    x.grad = None
    F.leaky_relu(x, 0.1).sum().backward()
    assert x.grad.item() == pytest.approx(0.1)


# --------------------------------------------------------------------- PReLU
def test_prelu_single_slope_forward_and_gradients():
    x = away_from(RNG.normal(size=(4, 3, 2)), [0.0])
    w = np.array([0.3])
    check_op(F.prelu, ref.prelu, [x, w])


@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 4), (2, 3, 2, 2)])
def test_prelu_per_channel_forward_and_gradients(shape):
    x = away_from(RNG.normal(size=shape), [0.0])
    w = np.array([0.1, -0.2, 0.5])
    check_op(F.prelu, ref.prelu, [x, w])


def test_prelu_channel_mismatch_names_shapes():
    with pytest.raises(ValueError, match=r"3 slopes but input \(2, 4\) has 4 channels"):
        F.prelu(np.zeros((2, 4)), np.ones(3))
    with pytest.raises(ValueError, match="1-D"):
        F.prelu(np.zeros((2, 4)), np.ones((2, 2)))


def test_prelu_module_learns_its_slope():
    act = nn.PReLU(3, init=0.25)
    assert [p.shape for p in act.parameters()] == [(3,)]
    np.testing.assert_array_equal(act.weight.numpy(), np.full(3, 0.25, np.float32))
    x = dlcore.tensor(-np.ones((2, 3, 4), np.float32))
    act(x).sum().backward()
    # d/dw sum(w * x) over the 8 negative entries of each channel = -8
    np.testing.assert_allclose(act.weight.grad.numpy(), np.full(3, -8.0))
    with pytest.raises(ValueError, match="num_parameters"):
        nn.PReLU(0)


# --------------------------------------------------------------------- modules
MODULES = [
    (nn.Step(), F.step),
    (nn.Sigmoid(), F.sigmoid),
    (nn.Tanh(), F.tanh),
    (nn.ReLU(), F.relu),
    (nn.LeakyReLU(), F.leaky_relu),
    (nn.LeakyReLU(0.3), lambda x: F.leaky_relu(x, 0.3)),
    (nn.ELU(), F.elu),
    (nn.ELU(alpha=0.5), lambda x: F.elu(x, 0.5)),
    (nn.GELU(), F.gelu),
    (nn.GELU(approximate="tanh"), lambda x: F.gelu(x, "tanh")),
    (nn.SiLU(), F.silu),
    (nn.Softmax(dim=1), lambda x: F.softmax(x, 1)),
    (nn.LogSoftmax(dim=0), lambda x: F.log_softmax(x, 0)),
    (nn.PReLU(), lambda x: F.prelu(x, np.array([0.25], np.float32))),
    (nn.Identity(), lambda x: x),
]


@pytest.mark.parametrize("module, function", MODULES, ids=lambda m: type(m).__name__)
def test_module_equals_function(module, function):
    x = dlcore.tensor(RNG.normal(size=(3, 4)).astype(np.float32))
    np.testing.assert_array_equal(module(x).numpy(), function(x).numpy())
    assert type(module).__name__ in repr(module)


def test_module_defaults_follow_pytorch():
    assert nn.LeakyReLU().negative_slope == 0.01
    assert nn.ELU().alpha == 1.0
    assert nn.GELU().approximate == "none"
    prelu = nn.PReLU()
    assert prelu.num_parameters == 1 and prelu.weight.item() == pytest.approx(0.25)


@settings(max_examples=30, deadline=None)
@given(
    shape=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    name=st.sampled_from(["sigmoid", "tanh", "relu", "elu", "gelu", "silu", "softmax_last"]),
    seed=st.integers(0, 2**16),
)
def test_random_shapes_match_reference(shape, name, seed):
    fn, reference, _ = ELEMENTWISE[name]
    x = np.random.default_rng(seed).normal(scale=3, size=shape)
    np.testing.assert_allclose(fn(x).numpy(), reference(x), rtol=1e-12, atol=1e-14)


def test_softplus_is_a_smooth_relu_with_sigmoid_slope():
    x = dlcore.tensor([-1e4, -2.0, 0.0, 2.0, 25.0, 1e4], dtype=np.float64, requires_grad=True)
    y = F.softplus(x)
    np.testing.assert_allclose(y.numpy(), [0.0, np.log1p(np.exp(-2.0)), np.log(2.0),
                                           2.0 + np.log1p(np.exp(-2.0)), 25.0, 1e4], rtol=1e-14)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, ref.sigmoid(-2.0), 0.5, ref.sigmoid(2.0),
                                                1.0, 1.0], rtol=1e-14)
    assert F.softplus(np.array([1, 2])).dtype == np.float32
    layer = nn.Softplus(beta=2.0, threshold=10.0)
    assert repr(layer) == "Softplus(beta=2.0, threshold=10.0)"
    np.testing.assert_allclose(layer(np.array([0.5])).numpy(), [np.log1p(np.e) / 2], rtol=1e-6)
    with pytest.raises(ValueError, match="beta must be positive, got 0"):
        F.softplus(np.zeros(2), beta=0.0)
    with pytest.raises(ValueError, match="beta"):
        nn.Softplus(beta=-1.0)


def test_inplace_flag_is_accepted_and_shown_but_values_are_new():
    x = dlcore.tensor([-1.0, 2.0])
    for layer, want in [(nn.ReLU(inplace=True), "ReLU(inplace=True)"),
                        (nn.LeakyReLU(0.2, True), "LeakyReLU(negative_slope=0.2, inplace=True)"),
                        (nn.ELU(inplace=True), "ELU(alpha=1.0, inplace=True)"),
                        (nn.SiLU(inplace=True), "SiLU(inplace=True)")]:
        assert repr(layer) == want
        y = layer(x)
        assert y is not x
    assert repr(nn.ReLU()) == "ReLU()" and repr(nn.LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"
    np.testing.assert_array_equal(F.relu(x, inplace=True).numpy(), [0.0, 2.0])
    np.testing.assert_array_equal(x.numpy(), [-1.0, 2.0])
    for fn in (F.leaky_relu, F.elu, F.silu):
        np.testing.assert_array_equal(fn(x, inplace=True).numpy(), fn(x).numpy())
