"""The from-scratch NumPy baselines really compute their gradients (finite differences)."""

import numpy as np
import pytest

from dlcore.reference.networks import NumpyLeNet, NumpyMLP, NumpyRegressionMLP


def _check_gradients(net, x, labels, samples=6, eps=1e-6):
    for key in net.params:
        net.params[key] = net.params[key].astype(np.float64)
    _, grads = net.loss_and_grads(x, labels)
    rng = np.random.default_rng(1)
    for key, param in net.params.items():
        flat = param.reshape(-1)
        for i in rng.choice(flat.size, size=min(samples, flat.size), replace=False):
            original = flat[i]
            flat[i] = original + eps
            plus, _ = net.loss_and_grads(x, labels)
            flat[i] = original - eps
            minus, _ = net.loss_and_grads(x, labels)
            flat[i] = original
            numeric = (plus - minus) / (2 * eps)
            assert grads[key].reshape(-1)[i] == pytest.approx(numeric, rel=1e-4, abs=1e-7), key


def test_mlp_gradients():
    rng = np.random.default_rng(0)
    net = NumpyMLP((12, 7, 5, 3))
    _check_gradients(net, rng.standard_normal((4, 12)), np.array([0, 2, 1, 2]))


def test_regression_mlp_gradients():
    rng = np.random.default_rng(0)
    net = NumpyRegressionMLP((4, 8, 3, 2))
    _check_gradients(net, rng.standard_normal((5, 4)), rng.standard_normal((5, 2)))


def test_regression_mlp_matches_dlcore_step():
    import dlcore
    from dlcore import nn, optim

    net = NumpyRegressionMLP()
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    for layer, i in ((model[0], 0), (model[2], 1)):
        layer.weight.data[...] = net.params[f"w{i}"]
        layer.bias.data[...] = net.params[f"b{i}"]
    opt = optim.Adam(model.parameters())
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((1, 4)).astype(np.float32), np.ones((1, 1), np.float32)
    for _ in range(3):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(dlcore.tensor(x)), y)
        loss.backward()
        opt.step()
        assert loss.item() == pytest.approx(net.step(x, y), rel=1e-5)
    np.testing.assert_allclose(model[0].weight.data, net.params["w0"], rtol=1e-5, atol=1e-7)


def test_lenet_gradients():
    rng = np.random.default_rng(0)
    net = NumpyLeNet()
    _check_gradients(net, rng.standard_normal((2, 1, 28, 28)), np.array([3, 7]))


def test_mlp_step_lowers_the_loss():
    rng = np.random.default_rng(0)
    net = NumpyMLP((10, 16, 3), lr=1e-2)
    x = rng.standard_normal((32, 10)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)
    first = net.step(x, y)
    for _ in range(50):
        last = net.step(x, y)
    assert last < first * 0.7
