"""fit's sample_weight and class_weight: the weighted loss, its gradient, and bad input."""

import numpy as np
import pytest

import dlcore
import dlcore.nn.functional as F
from dlcore import nn, optim
from dlcore.data import DataLoader, TensorDataset
from dlcore.training.sample_weights import class_labels, sample_weights


def _data(n=12, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)).astype(np.float32), rng.integers(0, classes, n)


def _model(outputs=3):
    dlcore.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, outputs))


def _one_full_batch_step(weights=None, class_weight=None, loss="sparse_categorical_crossentropy",
                         y=None):
    x, labels = _data()
    model = _model()
    model.compile(optim.SGD(model.parameters(), lr=0.1), loss=loss)
    model.fit(x, labels if y is None else y, epochs=1, batch_size=None, shuffle=False,
              verbose=0, sample_weight=weights, class_weight=class_weight)
    return model


def _manual_step(weights):
    """The same step written out: SGD on sum(w_i * loss_i) / N."""
    x, labels = _data()
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    losses = F.cross_entropy(model(dlcore.tensor(x)), labels, reduction="none")
    ((losses * dlcore.tensor(weights.astype(np.float32))).sum() / len(labels)).backward()
    opt.step()
    return model


def _same_parameters(a, b):
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-5, atol=1e-7)


def test_sample_weight_gives_the_weighted_mean_step():
    weights = np.linspace(0.0, 2.0, 12)
    _same_parameters(_one_full_batch_step(weights), _manual_step(weights))


def test_unit_weights_change_nothing_and_weights_change_the_step():
    plain = _one_full_batch_step()
    _same_parameters(_one_full_batch_step(np.ones(12)), plain)
    moved = _one_full_batch_step(np.linspace(0.0, 2.0, 12))
    assert not np.allclose(next(moved.parameters()).data, next(plain.parameters()).data)


def test_class_weight_equals_the_sample_weights_of_the_classes():
    _, labels = _data()
    table = {0: 0.5, 1: 3.0, 2: 1.0}
    by_class = _one_full_batch_step(class_weight=table)
    by_sample = _one_full_batch_step(np.array([table[c] for c in labels]))
    _same_parameters(by_class, by_sample)
    # One-hot targets name the same classes.
    one_hot = np.eye(3, dtype=np.float32)[labels]
    _same_parameters(_one_full_batch_step(class_weight=table, loss="categorical_crossentropy",
                                          y=one_hot), by_sample)


def test_weights_follow_the_samples_through_shuffling_and_validation_split():
    x, labels = _data(n=40, classes=2, seed=3)
    model = _model(2)
    model.compile(optim.Adam(model.parameters(), lr=0.05), loss="sparse_categorical_crossentropy")
    # Weight 0 on every sample of class 1: the model learns to predict class 0 everywhere
    # it has seen (the held-out last 10 are never trained on).
    weights = (labels == 0).astype(np.float64)
    history = model.fit(x, labels, epochs=30, batch_size=8, validation_split=0.25,
                        sample_weight=weights, verbose=0)
    assert "val_loss" in history.history
    assert np.all(model.predict(x[:30]).argmax(axis=1) == 0)


def test_class_labels_of_every_target_layout():
    np.testing.assert_array_equal(class_labels(np.array([2, 0, 1]), "fit"), [2, 0, 1])
    np.testing.assert_array_equal(class_labels(np.array([[1], [0]]), "fit"), [1, 0])
    np.testing.assert_array_equal(class_labels(np.array([0.0, 1.0, 0.9]), "fit"), [0, 1, 1])
    np.testing.assert_array_equal(class_labels(np.eye(3)[[2, 1]], "fit"), [2, 1])
    with pytest.raises(ValueError, match=r"class_weight needs class labels .* got shape"):
        class_labels(np.zeros((2, 1, 3)), "fit")


def test_bad_weights_are_clear_errors():
    x, labels = _data()
    model = _model()
    model.compile("sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"sample_weight must be .* shape \(12,\).* got shape "
                                         r"\(11,\)"):
        model.fit(x, labels, sample_weight=np.ones(11), verbose=0)
    with pytest.raises(ValueError, match=r"no weight for class\(es\) \[2\]"):
        model.fit(x, labels, class_weight={0: 1.0, 1: 2.0}, verbose=0)
    with pytest.raises(TypeError, match="class_weight must be a dict"):
        model.fit(x, labels, class_weight=[1.0, 2.0, 3.0], verbose=0)
    with pytest.raises(ValueError, match="finite and non-negative"):
        model.fit(x, labels, sample_weight=-np.ones(12), verbose=0)
    loader = DataLoader(TensorDataset(x, labels), batch_size=4)
    with pytest.raises(ValueError, match="need array inputs"):
        model.fit(loader, sample_weight=np.ones(12), verbose=0)
    custom = _model()
    custom.compile("sgd", loss=lambda out, y: F.cross_entropy(out, y))
    with pytest.raises(ValueError, match="need a loss with a 'reduction' argument"):
        custom.fit(x, labels, sample_weight=np.ones(12), verbose=0)
    assert sample_weights(3, np.zeros(3), None, None, "fit") is None


def test_weighted_regression_with_mse_weights_elements_per_sample():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 4)).astype(np.float32)
    y = rng.normal(size=(16, 2)).astype(np.float32)
    model = _model(2)
    model.compile(optim.SGD(model.parameters(), lr=0.1), loss="mse")
    weights = rng.uniform(0, 2, 16)
    model.fit(x, y, epochs=1, batch_size=None, shuffle=False, sample_weight=weights, verbose=0)
    manual = _model(2)
    opt = optim.SGD(manual.parameters(), lr=0.1)
    per_sample = ((manual(dlcore.tensor(x)) - dlcore.tensor(y)) ** 2).mean(axis=1)
    ((per_sample * dlcore.tensor(weights.astype(np.float32))).sum() / 16).backward()
    opt.step()
    _same_parameters(model, manual)
