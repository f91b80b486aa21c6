"""Dropout: the drop rate, the 1/(1-p) scaling, the gradient mask, eval identity, seeding,
channel-wise Dropout2d, and Flatten."""

from __future__ import annotations

import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F
from dlcore import nn


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_drop_rate_and_scaling(p):
    dlcore.manual_seed(0)
    x = np.ones((400, 500), np.float32)
    out = F.dropout(x, p).numpy()
    kept = out != 0
    assert kept.mean() == pytest.approx(1 - p, abs=0.005)  # 200k draws: sd ~0.001
    np.testing.assert_allclose(out[kept], 1 / (1 - p), rtol=1e-6)
    assert out.mean() == pytest.approx(1.0, abs=0.02)  # inverted: expectation preserved
    assert out.dtype == np.float32


def test_gradient_uses_the_same_mask():
    dlcore.manual_seed(1)
    x = dlcore.tensor(np.arange(1.0, 201.0), requires_grad=True)
    y = F.dropout(x, 0.3)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.numpy() / x.numpy())


def test_eval_and_p_zero_are_identity_and_p_one_zeros():
    x = dlcore.tensor(np.ones((3, 4)))
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).numpy(), np.zeros((3, 4)))
    layer = nn.Dropout(0.5).eval()
    assert layer(x) is x
    layer.train()
    assert not np.array_equal(layer(dlcore.tensor(np.ones((50, 50)))).numpy(), np.ones((50, 50)))


def test_seeded_by_manual_seed():
    x = np.ones((20, 20))
    dlcore.manual_seed(7)
    a = F.dropout(x, 0.5).numpy()
    dlcore.manual_seed(7)
    np.testing.assert_array_equal(F.dropout(x, 0.5).numpy(), a)
    assert not np.array_equal(F.dropout(x, 0.5).numpy(), a)


def test_bad_p_is_refused():
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
            nn.Dropout(bad)
        with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
            F.dropout(np.ones(3), bad)


def test_dropout2d_drops_whole_channels():
    dlcore.manual_seed(2)
    x = dlcore.tensor(np.ones((64, 32, 3, 3), np.float32), requires_grad=True)
    out = nn.Dropout2d(0.25)(x)
    values = out.numpy().reshape(64, 32, 9)
    per_map = values[:, :, :1]
    assert np.all(values == per_map)  # one decision per (n, c) map
    assert (per_map != 0).mean() == pytest.approx(0.75, abs=0.03)
    np.testing.assert_allclose(per_map[per_map != 0], 1 / 0.75, rtol=1e-6)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), out.numpy())
    assert nn.Dropout2d(0.25).eval()(x) is x
    with pytest.raises(ValueError, match=r"\(N, C, H, W\), got shape \(4, 5\)"):
        F.dropout2d(np.ones((4, 5)))


def test_dropout_in_a_model_changes_only_in_training():
    dlcore.manual_seed(3)
    model = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5), nn.Linear(8, 2))
    x = dlcore.tensor(np.ones((4, 8), np.float32))
    model.eval()
    np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())
    model.train()
    assert not np.array_equal(model(x).numpy(), model(x).numpy())


# --------------------------------------------------------------------- flatten
def test_flatten_module_and_function():
    x = dlcore.tensor(np.arange(120.0).reshape(2, 3, 4, 5), requires_grad=True)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert F.flatten(x).shape == (120,)
    assert F.flatten(x, 2).shape == (2, 3, 20)
    assert F.flatten(x, -2, -1).shape == (2, 3, 20)
    assert F.flatten(x, 1, 1) is x
    assert F.flatten(dlcore.tensor(3.0)).shape == (1,)
    assert F.flatten(np.zeros((0, 3, 2)), 1).shape == (0, 6)
    F.flatten(x, 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3, 4, 5)))
    np.testing.assert_array_equal(nn.Flatten()(x).numpy(), x.numpy().reshape(2, 60))


def test_flatten_errors():
    with pytest.raises(ValueError, match="start_dim=2 comes after end_dim=1"):
        F.flatten(np.zeros((2, 3, 4)), 2, 1)
    with pytest.raises(ValueError, match=r"start_dim=3 is out of range for input of shape "
                                         r"\(2, 3, 4\)"):
        F.flatten(np.zeros((2, 3, 4)), 3)


@pytest.mark.parametrize("drop", [lambda x: F.dropout(x, 0.5),
                                  lambda x: F.dropout2d(x, 0.5),
                                  lambda x: F.dropout(x, 1.0)])
def test_a_dropped_nan_stays_nan_as_pytorchs_product(drop):
    # PyTorch computes x * mask: NaN * 0 is NaN, so a NaN in the activations is not hidden by
    # the positions that happen to be dropped (nor is an infinity: inf * 0 is NaN).
    dlcore.manual_seed(2)
    x = np.ones((4, 6, 5, 5), np.float32)
    x[:, :, 0, 0] = np.nan
    x[:, :, 1, 1] = np.inf
    x = dlcore.tensor(x, requires_grad=True)
    out = drop(x)
    y = out.numpy()
    assert np.isnan(y[:, :, 0, 0]).all()
    assert (y[:, :, 2:, 2:] == 0).any()
    infs = y[:, :, 1, 1]
    assert (np.isnan(infs) | np.isposinf(infs)).all()
    assert np.isnan(infs).any()  # a dropped infinity (24 draws, seeded)
    # The backward is the same product on the gradient: a NaN gradient stays NaN.
    g = np.ones(x.shape, np.float32)
    g[..., 4, 4] = np.nan
    out.backward(g)
    assert np.isnan(x.grad.numpy()[..., 4, 4]).all()
