"""Gradient clipping: the total norm (2, 1, p and inf), the scaling, and the value clamp."""

from __future__ import annotations

import math

import numpy as np
import pytest

import dlcore
from dlcore import nn
from dlcore.nn.utils import clip_grad_norm_, clip_grad_value_

RNG = np.random.default_rng(5)


def params_with_grads(*grads):
    params = []
    for g in grads:
        p = nn.Parameter(np.zeros(np.shape(g), np.float64))
        p.grad = dlcore.tensor(np.array(g, dtype=np.float64))
        params.append(p)
    return params


def test_norm_is_over_all_gradients_as_one_vector():
    grads = [RNG.normal(size=(3, 4)), RNG.normal(size=5)]
    params = params_with_grads(*grads)
    every = np.concatenate([g.ravel() for g in grads])
    for norm_type in (2.0, 1.0, 3.0, math.inf):
        expected = np.linalg.norm(every, ord=norm_type)
        total = clip_grad_norm_(params, max_norm=1e9, norm_type=norm_type)
        assert isinstance(total, dlcore.Tensor)
        assert total.item() == pytest.approx(expected, rel=1e-12)
    # Nothing was clipped with a huge max_norm.
    np.testing.assert_array_equal(params[0].grad.numpy(), grads[0])


@pytest.mark.parametrize("norm_type", [2.0, math.inf])
def test_clipping_rescales_to_max_norm_keeping_direction(norm_type):
    grads = [RNG.normal(size=(4, 4)) * 10, RNG.normal(size=3) * 10]
    params = params_with_grads(*grads)
    before = clip_grad_norm_(params, max_norm=0.5, norm_type=norm_type).item()
    every = np.concatenate([p.grad.numpy().ravel() for p in params])
    assert np.linalg.norm(every, ord=norm_type) == pytest.approx(0.5, rel=1e-5)
    scale = 0.5 / (before + 1e-6)
    np.testing.assert_allclose(params[0].grad.numpy(), grads[0] * scale, rtol=1e-12)


def test_below_max_norm_nothing_changes():
    params = params_with_grads([0.3, 0.4])
    assert clip_grad_norm_(params, 1.0).item() == pytest.approx(0.5)
    np.testing.assert_array_equal(params[0].grad.numpy(), [0.3, 0.4])


def test_parameters_without_grad_are_skipped_and_single_tensor_accepted():
    p = params_with_grads([3.0, 4.0])[0]
    q = nn.Parameter(np.zeros(2))
    assert clip_grad_norm_([p, q], 1.0).item() == pytest.approx(5.0)
    assert q.grad is None
    assert clip_grad_norm_(p, 1.0).item() == pytest.approx(1.0, rel=1e-5)
    assert clip_grad_norm_([q], 1.0).item() == 0.0


def test_model_parameters_and_float32():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    x = dlcore.tensor(RNG.normal(size=(16, 4)).astype(np.float32))
    (model(x) ** 2).sum().backward()
    total = clip_grad_norm_(model.parameters(), 0.1)
    assert total.dtype == np.float32 and total.item() > 0.1
    after = math.sqrt(sum(float((p.grad.numpy().astype(np.float64) ** 2).sum())
                          for p in model.parameters()))
    assert after == pytest.approx(0.1, rel=1e-4)
    assert all(p.grad.dtype == np.float32 for p in model.parameters())


def test_nonfinite_norm():
    params = params_with_grads([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="inf"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    params = params_with_grads([np.nan, 1.0])
    assert math.isnan(clip_grad_norm_(params, 1.0).item())


def test_negative_max_norm_is_refused():
    # max_norm / total would be negative: every gradient flipped, gradient *ascent*.
    params = params_with_grads([3.0, 4.0])
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="max_norm"):
            clip_grad_norm_(params, bad)
    np.testing.assert_array_equal(params[0].grad.numpy(), [3.0, 4.0])


def test_float32_norm_does_not_overflow():
    # sum(g^2) of these finite float32 gradients overflows float32; the norm itself does not,
    # and an inf norm would scale every gradient to 0.
    p = nn.Parameter(np.zeros(4, np.float32))
    p.grad = dlcore.tensor(np.full(4, 1e20, np.float32))
    total = clip_grad_norm_([p], 1.0)
    np.testing.assert_allclose(total.item(), 2e20, rtol=1e-6)
    np.testing.assert_allclose(p.grad.numpy(), np.full(4, 0.5), rtol=1e-5)


def test_clip_grad_value():
    params = params_with_grads([-3.0, -0.5, 0.2, 7.0], [[1.5]])
    assert clip_grad_value_(params, 1.0) is None
    np.testing.assert_array_equal(params[0].grad.numpy(), [-1.0, -0.5, 0.2, 1.0])
    np.testing.assert_array_equal(params[1].grad.numpy(), [[1.0]])
    with pytest.raises(ValueError, match="clip_value"):
        clip_grad_value_(params, -1.0)


def test_importable_as_module_path():
    import dlcore.nn.utils as utils

    assert utils.clip_grad_norm_ is nn.utils.clip_grad_norm_
