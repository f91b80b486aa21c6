"""Dropout1d and AlphaDropout: PyTorch's formulas, the drop rate, gradients, seeding, eval
identity, dtypes and bad input."""

import math

import numpy as np
import pytest
from helpers import check_op

import dlcore
import dlcore.nn.functional as F
from dlcore import nn

RNG = np.random.default_rng(0)
ALPHA = -1.7580993408473766


def affine(p):
    a = 1 / math.sqrt((ALPHA ** 2 * p + 1) * (1 - p))
    return a, -a * ALPHA * p


def seeded(fn, seed=3):
    """``fn`` with the generator reset before each call, so gradcheck sees one mask."""
    def call(*args):
        dlcore.manual_seed(seed)
        return fn(*args)
    return call


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_alpha_dropout_formula_and_rate(p):
    x = RNG.normal(size=(200, 300))
    dlcore.manual_seed(1)
    y = F.alpha_dropout(x, p, training=True).numpy()
    a, b = affine(p)
    dropped = np.isclose(y, a * ALPHA + b, rtol=0, atol=1e-12)
    np.testing.assert_allclose(y[~dropped], a * x[~dropped] + b, rtol=1e-12)
    assert abs(dropped.mean() - p) < 0.01
    # The point of alpha dropout: standardised input keeps mean 0 and variance 1.
    assert abs(y.mean()) < 0.02 and abs(y.var() - 1) < 0.03


def test_alpha_dropout_gradient_and_seeding():
    x = RNG.normal(size=(4, 5))
    check_op(seeded(lambda x: F.alpha_dropout(x, 0.4, True)), None, [x])
    dlcore.manual_seed(5)
    t = dlcore.tensor(x, requires_grad=True)
    y = F.alpha_dropout(t, 0.4, True)
    y.sum().backward()
    a, b = affine(0.4)
    kept = ~np.isclose(y.numpy(), a * ALPHA + b, rtol=0, atol=1e-12)
    np.testing.assert_allclose(t.grad.numpy(), np.where(kept, a, 0.0), rtol=1e-12)
    dlcore.manual_seed(5)
    np.testing.assert_array_equal(F.alpha_dropout(x, 0.4, True).numpy(), y.numpy())
    assert not np.array_equal(F.alpha_dropout(x, 0.4, True).numpy(), y.numpy())


def test_alpha_dropout_identity_cases_and_dtypes():
    x = RNG.normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_array_equal(F.alpha_dropout(x, 0.5).numpy(), x)  # training=False default
    np.testing.assert_array_equal(F.alpha_dropout(x, 0.0, True).numpy(), x)
    np.testing.assert_array_equal(F.alpha_dropout(x, 1.0, True).numpy(), np.zeros_like(x))
    assert F.alpha_dropout(x, 0.3, True).dtype == np.float32
    assert F.alpha_dropout(np.arange(6).reshape(2, 3), 0.3, True).dtype == np.float32
    assert F.alpha_dropout(np.zeros((0, 3)), 0.3, True).shape == (0, 3)
    dlcore.manual_seed(0)
    nan = F.alpha_dropout(np.full(50, np.nan), 0.5, True).numpy()
    assert np.isnan(nan).all()  # as PyTorch's x * noise + offset: NaN * 0 is NaN
    layer = nn.AlphaDropout(0.2)
    assert repr(layer) == "AlphaDropout(p=0.2)"
    assert not np.array_equal(layer(x).numpy(), x)
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), x)


def test_alpha_dropout_in_a_selu_network_trains():
    dlcore.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.SELU(), nn.AlphaDropout(0.2), nn.Linear(8, 1))
    opt = dlcore.optim.SGD(model.parameters(), lr=0.1)
    before = model[0].weight.numpy().copy()
    model(RNG.normal(size=(16, 8)).astype(np.float32)).pow(2).mean().backward()
    opt.step()
    assert not np.allclose(model[0].weight.numpy(), before)


def test_dropout1d_drops_whole_channels():
    x = RNG.uniform(1, 2, size=(50, 40, 7))
    dlcore.manual_seed(2)
    y = F.dropout1d(x, 0.3).numpy()
    rows = y.reshape(-1, 7)
    dropped = (rows == 0).all(axis=1)
    np.testing.assert_allclose(rows[~dropped], x.reshape(-1, 7)[~dropped] / 0.7, rtol=1e-12)
    assert abs(dropped.mean() - 0.3) < 0.04
    unbatched = F.dropout1d(RNG.uniform(1, 2, size=(300, 5)), 0.5).numpy()
    per_channel = (unbatched == 0).all(axis=1) | (unbatched != 0).all(axis=1)
    assert per_channel.all() and 0.35 < (unbatched == 0).all(axis=1).mean() < 0.65


def test_dropout1d_gradient_eval_and_module():
    x = RNG.normal(size=(2, 3, 4))
    check_op(seeded(lambda x: F.dropout1d(x, 0.5)), None, [x])
    np.testing.assert_array_equal(F.dropout1d(x, 0.5, training=False).numpy(), x)
    layer = nn.Dropout1d(0.5)
    assert repr(layer) == "Dropout1d(p=0.5)"
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), x)
    layer.train()
    dlcore.manual_seed(4)
    first = layer(x.astype(np.float32))
    assert first.dtype == np.float32
    dlcore.manual_seed(4)
    np.testing.assert_array_equal(layer(x.astype(np.float32)).numpy(), first.numpy())


def test_bad_input():
    with pytest.raises(ValueError, match=r"dropout1d: input must be \(N, C, L\) or \(C, L\), "
                                         r"got shape \(1, 2, 3, 4\)"):
        F.dropout1d(np.zeros((1, 2, 3, 4)))
    with pytest.raises(ValueError, match="alpha_dropout: dropout probability p must be in "
                                         r"\[0, 1\], got 1.5"):
        F.alpha_dropout(np.zeros(3), 1.5, True)
    with pytest.raises(ValueError, match=r"AlphaDropout: dropout probability p must be in "
                                         r"\[0, 1\], got -0.1"):
        nn.AlphaDropout(-0.1)
    with pytest.raises(ValueError, match=r"Dropout1d: dropout probability"):
        nn.Dropout1d(2)
