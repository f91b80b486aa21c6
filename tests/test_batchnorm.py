"""Batch normalisation: forward, running statistics and eval mode against a NumPy reference,
gradients against the reference and finite differences, and the layers' options."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import check_op as _check_op
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
import dlcore.nn.functional as F
from dlcore import nn
from dlcore.reference import batchnorm as ref


def check_op(op, reference, inputs, **kwargs):
    """The shared helper with tight float64 tolerances and a float32 forward check."""
    options = {"rtol": 1e-10, "atol": 1e-10, "float32_rtol": 1e-5, **kwargs}
    _check_op(op, reference, inputs, **options)


RNG = np.random.default_rng(3)
SHAPES = [(8, 3), (4, 3, 5), (2, 3, 4, 5)]


@pytest.mark.parametrize("shape", SHAPES)
def test_training_forward_and_running_statistics(shape):
    x = RNG.normal(2.0, 3.0, size=shape)
    w, b = RNG.normal(size=3), RNG.normal(size=3)
    rm, rv = RNG.normal(size=3), RNG.uniform(0.5, 2, size=3)
    rm_ref, rv_ref = rm.copy(), rv.copy()
    out = F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.3, eps=1e-3)
    expected = ref.batch_norm(x, rm_ref, rv_ref, w, b, True, 0.3, 1e-3)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rm, rm_ref, rtol=1e-12)
    np.testing.assert_allclose(rv, rv_ref, rtol=1e-12)


def test_running_variance_is_unbiased_but_normalisation_uses_biased():
    x = np.array([[1.0], [3.0]])  # mean 2, biased var 1, unbiased var 2
    rm, rv = np.zeros(1), np.ones(1)
    out = F.batch_norm(x, rm, rv, training=True, momentum=1.0, eps=0.0)
    np.testing.assert_allclose(out.numpy(), [[-1.0], [1.0]])
    np.testing.assert_allclose(rm, [2.0])
    np.testing.assert_allclose(rv, [2.0])


@pytest.mark.parametrize("shape", SHAPES)
def test_eval_forward_uses_running_statistics(shape):
    x = RNG.normal(size=shape)
    rm, rv = RNG.normal(size=3), RNG.uniform(0.5, 2, size=3)
    w, b = RNG.normal(size=3), RNG.normal(size=3)
    check_op(lambda a, ww, bb: F.batch_norm(a, rm, rv, ww, bb, training=False),
             lambda a, ww, bb: ref.batch_norm(a, rm, rv, ww, bb, training=False), [x, w, b])


@pytest.mark.parametrize("shape", SHAPES)
def test_training_gradients_match_reference_and_gradcheck(shape):
    x = RNG.normal(size=shape)
    w, b = RNG.normal(size=3), RNG.normal(size=3)
    check_op(lambda a, ww, bb: F.batch_norm(a, None, None, ww, bb, training=True),
             lambda a, ww, bb: ref.batch_norm(a, None, None, ww, bb, training=True), [x, w, b])
    grad = RNG.normal(size=shape)
    xt, wt, bt = (dlcore.tensor(v, requires_grad=True) for v in (x, w, b))
    F.batch_norm(xt, None, None, wt, bt, training=True).backward(grad)
    expected = ref.batch_norm_backward(x, grad, w)
    np.testing.assert_allclose(xt.grad.numpy(), expected["input"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(wt.grad.numpy(), expected["weight"], rtol=1e-12)
    np.testing.assert_allclose(bt.grad.numpy(), expected["bias"], rtol=1e-12)


def test_without_affine_parameters():
    x = RNG.normal(size=(6, 2, 3))
    check_op(lambda a: F.batch_norm(a, None, None, training=True),
             lambda a: ref.batch_norm(a, None, None, training=True), [x])


def test_functional_errors():
    with pytest.raises(ValueError, match=r"running_mean has shape \(4,\) but input \(2, 3\) "
                                         r"has 3 channels"):
        F.batch_norm(np.zeros((2, 3)), np.zeros(4), np.ones(4), training=True)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(np.zeros((1, 3)), np.zeros(3), np.ones(3), training=True)
    with pytest.raises(ValueError, match="channel dimension"):
        F.batch_norm(np.zeros(3), None, None, training=True)


# --------------------------------------------------------------------- modules
def test_batchnorm2d_buffers_and_defaults():
    bn = nn.BatchNorm2d(4)
    assert [name for name, _ in bn.named_parameters()] == ["weight", "bias"]
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    np.testing.assert_array_equal(bn.weight.numpy(), np.ones(4))
    np.testing.assert_array_equal(bn.bias.numpy(), np.zeros(4))
    np.testing.assert_array_equal(bn.running_var.numpy(), np.ones(4))
    assert (bn.eps, bn.momentum, bn.affine, bn.track_running_stats) == (1e-5, 0.1, True, True)
    assert "BatchNorm2d(4, eps=1e-05, momentum=0.1" in repr(bn)


@pytest.mark.parametrize("cls, shape", [(nn.BatchNorm1d, (16, 3)), (nn.BatchNorm1d, (8, 3, 5)),
                                        (nn.BatchNorm2d, (4, 3, 5, 5))])
def test_module_train_then_eval_against_reference(cls, shape):
    bn = cls(3, momentum=0.2).double()
    bn.weight.data[:] = RNG.normal(size=3)
    bn.bias.data[:] = RNG.normal(size=3)
    rm, rv = np.zeros(3), np.ones(3)
    for step in range(3):
        x = RNG.normal(1.0 + step, 2.0, size=shape)
        out = bn(dlcore.tensor(x))
        expected = ref.batch_norm(x, rm, rv, bn.weight.numpy(), bn.bias.numpy(), True, 0.2)
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean.numpy(), rm, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), rv, rtol=1e-12)
    assert bn.num_batches_tracked.item() == 3
    bn.eval()
    x = RNG.normal(size=shape)
    expected = ref.batch_norm(x, rm, rv, bn.weight.numpy(), bn.bias.numpy(), False)
    np.testing.assert_allclose(bn(dlcore.tensor(x)).numpy(), expected, rtol=1e-10)
    assert bn.num_batches_tracked.item() == 3  # eval does not count batches
    np.testing.assert_allclose(bn.running_mean.numpy(), rm, rtol=1e-12)


def test_module_gradcheck_in_train_mode():
    bn = nn.BatchNorm2d(2).double()
    bn.weight.data[:] = [0.5, -1.5]
    x = RNG.normal(size=(3, 2, 2, 3))
    dlcore.gradcheck(lambda a: bn(a), [x])
    xt = dlcore.tensor(x, requires_grad=True)
    bn(xt).sum().backward()
    # sum of a normalised batch does not depend on the input: the gradient is ~0
    np.testing.assert_allclose(xt.grad.numpy(), 0.0, atol=1e-12)
    assert bn.weight.grad is not None and bn.bias.grad is not None


def test_momentum_none_is_a_cumulative_average():
    bn = nn.BatchNorm1d(2, momentum=None).double()
    batches = [RNG.normal(loc, size=(10, 2)) for loc in (0.0, 5.0, -1.0)]
    for batch in batches:
        bn(dlcore.tensor(batch))
    np.testing.assert_allclose(bn.running_mean.numpy(),
                               np.mean([b.mean(axis=0) for b in batches], axis=0), rtol=1e-12)


def test_track_running_stats_false_uses_batch_statistics_in_eval():
    bn = nn.BatchNorm1d(3, track_running_stats=False, affine=False)
    assert bn.running_mean is None and list(bn.state_dict()) == []
    assert list(bn.parameters()) == []
    bn.eval()
    x = RNG.normal(4.0, 2.0, size=(32, 3)).astype(np.float32)
    out = bn(dlcore.tensor(x)).numpy()
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=0), 1.0, rtol=1e-3)


def test_eval_mode_is_a_fixed_affine_map_and_allows_batch_one():
    bn = nn.BatchNorm1d(3)
    bn(dlcore.tensor(RNG.normal(size=(8, 3)).astype(np.float32)))
    bn.eval()
    x = RNG.normal(size=(1, 3)).astype(np.float32)
    scale = 1 / np.sqrt(bn.running_var.numpy() + 1e-5)
    np.testing.assert_allclose(bn(dlcore.tensor(x)).numpy(),
                               (x - bn.running_mean.numpy()) * scale, rtol=1e-5)


def test_module_shape_errors():
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected input of shape \(N, C, H, W\), "
                                         r"got shape \(4, 3\)"):
        nn.BatchNorm2d(3)(dlcore.zeros(4, 3))
    with pytest.raises(ValueError, match="has 5 channels in dim 1 but the layer was built for "
                                         "num_features=3"):
        nn.BatchNorm1d(3)(dlcore.zeros(4, 5))
    with pytest.raises(ValueError, match="momentum"):
        nn.BatchNorm1d(3, momentum=1.5)


def test_state_dict_round_trip_restores_running_statistics():
    bn = nn.BatchNorm1d(3)
    bn(dlcore.tensor(RNG.normal(3.0, size=(16, 3)).astype(np.float32)))
    fresh = nn.BatchNorm1d(3)
    fresh.load_state_dict(bn.state_dict())
    np.testing.assert_array_equal(fresh.running_mean.numpy(), bn.running_mean.numpy())
    assert fresh.num_batches_tracked.item() == 1


@settings(max_examples=40, deadline=None)
@given(
    shape=st.tuples(st.integers(2, 5), st.integers(1, 6)).flatmap(
        lambda nc: st.lists(st.integers(1, 9), max_size=2).map(lambda rest: nc + tuple(rest))),
    training=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_random_shapes_against_reference(shape, training, seed):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = rng.normal(3.0, 2.0, size=shape)
    w, b = rng.normal(size=c), rng.normal(size=c)
    rm, rv = rng.normal(size=c), rng.uniform(0.5, 2.0, size=c)
    rm_ref, rv_ref = rm.copy(), rv.copy()
    grad = rng.normal(size=shape)
    xt, wt, bt = (dlcore.tensor(v, requires_grad=True) for v in (x, w, b))
    out = F.batch_norm(xt, rm, rv, wt, bt, training=training, momentum=0.2)
    expected = ref.batch_norm(x, rm_ref, rv_ref, w, b, training, 0.2)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(rm, rm_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rv, rv_ref, rtol=1e-12, atol=1e-12)
    out.backward(grad)
    if training:
        want = ref.batch_norm_backward(x, grad, w)
        np.testing.assert_allclose(xt.grad.numpy(), want["input"], rtol=1e-8, atol=1e-9)
    else:
        axes, bshape = (0,) + tuple(range(2, x.ndim)), (1, c) + (1,) * (x.ndim - 2)
        scale = (w / np.sqrt(rv + 1e-5)).reshape(bshape)
        np.testing.assert_allclose(xt.grad.numpy(), grad * scale, rtol=1e-12)
        x_hat = (x - rm.reshape(bshape)) / np.sqrt(rv.reshape(bshape) + 1e-5)
        np.testing.assert_allclose(wt.grad.numpy(), np.sum(grad * x_hat, axis=axes),
                                   rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(bt.grad.numpy(), grad.sum(axis=(0,) + tuple(range(2, x.ndim))),
                               rtol=1e-10, atol=1e-10)


def test_float32_large_offset_keeps_precision():
    x = (1000.0 + np.random.default_rng(9).normal(size=(64, 2, 32))).astype(np.float32)
    out = F.batch_norm(x, None, None, training=True).numpy().astype(np.float64)
    np.testing.assert_allclose(out.mean(axis=(0, 2)), 0.0, atol=2e-4)
    np.testing.assert_allclose(out.std(axis=(0, 2)), 1.0, rtol=1e-4)
