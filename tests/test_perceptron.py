"""The perceptron: Rosenblatt's rule step by step, convergence on separable data, and the
endless cycling on XOR."""

from __future__ import annotations

import numpy as np
import pytest

import dlcore
from dlcore import nn


def separable(n=200, dim=2, margin=0.2, seed=0):
    """Points on either side of a random hyperplane, none closer to it than ``margin``."""
    rng = np.random.default_rng(seed)
    normal = rng.normal(size=dim)
    normal /= np.linalg.norm(normal)
    x = rng.uniform(-3, 3, size=(4 * n, dim))
    distance = x @ normal - 0.5
    x = x[np.abs(distance) > margin][:n]
    y = (x @ normal - 0.5 > 0).astype(np.int64)
    return x.astype(np.float32), y


XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
XOR_Y = np.array([0, 1, 1, 0])


@pytest.mark.parametrize("dim", [2, 5])
def test_converges_on_linearly_separable_data(dim):
    dlcore.manual_seed(0)
    x, y = separable(dim=dim, seed=dim)
    p = nn.Perceptron(dim)
    errors = p.fit_rosenblatt(x, y, epochs=200)
    assert errors[-1] == 0 and len(errors) < 200
    assert errors[0] > 0
    np.testing.assert_array_equal(p.predict(x), y)


def test_learns_and_and_or_gates_without_shuffling():
    for labels in ([0, 0, 0, 1], [0, 1, 1, 1]):
        p = nn.Perceptron(2)
        errors = p.fit_rosenblatt(XOR_X, labels, epochs=50, shuffle=False)
        assert errors[-1] == 0
        np.testing.assert_array_equal(p.predict(XOR_X), labels)


def test_never_separates_xor():
    dlcore.manual_seed(0)
    p = nn.Perceptron(2)
    errors = p.fit_rosenblatt(XOR_X, XOR_Y, epochs=100)
    assert len(errors) == 100 and min(errors) > 0
    assert (p.predict(XOR_X) != XOR_Y).any()


def test_train_step_is_rosenblatts_rule():
    p = nn.Perceptron(3)
    x = np.array([1.0, -2.0, 0.5], np.float32)
    # w = 0, b = 0: the score 0 is not > 0, so the prediction is 0 and label 1 is an error.
    assert p.train_step(x, 1, lr=0.5) == 1
    np.testing.assert_allclose(p.weight.numpy(), [0.5 * x])
    np.testing.assert_allclose(p.bias.numpy(), [0.5])
    # Now correct: nothing changes.
    assert p.train_step(x, 1, lr=0.5) == 0
    np.testing.assert_allclose(p.weight.numpy(), [0.5 * x])
    # A false positive moves the weights the other way.
    assert p.train_step(x, 0, lr=0.5) == 1
    np.testing.assert_allclose(p.weight.numpy(), [np.zeros(3)])
    np.testing.assert_allclose(p.bias.numpy(), [0.0])


def test_forward_is_a_step_unit_with_zero_gradient():
    p = nn.Perceptron(2)
    p.weight.data[:] = [[1.0, -1.0]]
    x = dlcore.tensor(np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 1.0]], np.float32))
    out = p(x)
    assert out.shape == (3,)
    np.testing.assert_array_equal(out.numpy(), [1.0, 0.0, 0.0])
    out.sum().backward()
    np.testing.assert_array_equal(p.weight.grad.numpy(), np.zeros((1, 2)))
    assert p.predict(x).dtype == np.int64


def test_seeded_shuffling_is_reproducible():
    x, y = separable(seed=3)
    runs = []
    for _ in range(2):
        dlcore.manual_seed(11)
        p = nn.Perceptron(2)
        runs.append((p.fit_rosenblatt(x, y), p.weight.numpy().copy()))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_errors_name_the_problem():
    p = nn.Perceptron(2)
    with pytest.raises(ValueError, match=r"labels must be 0 or 1, got values \[-1, 1\]"):
        p.fit_rosenblatt(XOR_X, [-1, 1, 1, -1])
    with pytest.raises(ValueError, match="4 samples but 3 labels"):
        p.fit_rosenblatt(XOR_X, [0, 1, 1])
    with pytest.raises(ValueError, match=r"input has shape \(4, 3\) but the perceptron expects "
                                         r"\(N, 2\)"):
        p.predict(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="one sample"):
        p.train_step(XOR_X, 1)
    with pytest.raises(ValueError, match="in_features"):
        nn.Perceptron(0)
    # A NaN step filled the weights with NaN; a zero or negative one never (or wrongly) learns.
    for lr in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="lr must be positive"):
            p.fit_rosenblatt(XOR_X, [0, 1, 1, 0], lr=lr)
        with pytest.raises(ValueError, match="lr must be positive"):
            p.train_step(XOR_X[0], 1, lr=lr)
    assert np.all(np.isfinite(p.weight.data))
