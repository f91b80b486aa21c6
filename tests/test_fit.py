"""compile / fit / evaluate / predict on small synthetic problems, one per loss pairing."""

import warnings

import numpy as np
import pytest

import dlcore
from dlcore import nn, optim
from dlcore.callbacks import Callback
from dlcore.data import DataLoader, TensorDataset


def _blobs(n=256, classes=3, features=4, seed=0):
    """Well-separated Gaussian clusters: labels (n,) int64 and inputs (n, features)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=5.0, size=(classes, features))
    labels = rng.integers(0, classes, n)
    x = (centres[labels] + rng.normal(size=(n, features))).astype(np.float32)
    return x, labels.astype(np.int64)


def _mlp(features, outputs, *tail):
    dlcore.manual_seed(0)
    return nn.Sequential(nn.Linear(features, 16), nn.ReLU(), nn.Linear(16, outputs), *tail)


class StepCounter(Callback):
    def on_train_begin(self, logs=None):
        self.batches = []

    def on_batch_end(self, batch, logs=None):
        self.batches.append(batch)


# --------------------------------------------------------------------- the pairings
def test_sigmoid_with_binary_cross_entropy():
    x, labels = _blobs(classes=2)
    model = _mlp(4, 1, nn.Sigmoid())
    model.compile(optim.Adam(model.parameters(), lr=0.02), loss=nn.BCELoss(),
                  metrics=["accuracy", "precision", "recall"])
    history = model.fit(x, labels, epochs=8, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.15 < history.history["loss"][0]
    result = model.evaluate(x, labels)
    assert result["accuracy"] > 0.95 and result["precision"] > 0.9 and result["recall"] > 0.9
    probs = model.predict(x)
    assert probs.shape == (256, 1) and probs.min() >= 0 and probs.max() <= 1
    assert result["accuracy"] == pytest.approx(np.mean((probs[:, 0] > 0.5) == labels))


def test_logits_with_binary_crossentropy_name_thresholds_at_zero():
    x, labels = _blobs(classes=2, seed=1)
    model = _mlp(4, 1)
    model.compile("adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, labels, epochs=20, batch_size=32, verbose=0)
    logits = model.predict(x)
    result = model.evaluate(x, labels)
    assert result["accuracy"] > 0.95
    assert result["accuracy"] == pytest.approx(np.mean((logits[:, 0] > 0) == labels))


def test_logits_with_sparse_categorical_crossentropy():
    x, labels = _blobs()
    model = _mlp(4, 3)
    model.compile(optim.Adam(model.parameters(), lr=0.02),
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", "top_k_accuracy", "f1"])
    history = model.fit(x, labels, epochs=6, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.1 and history.history["accuracy"][-1] > 0.95
    assert history.history["top_k_accuracy"][-1] == 1.0  # k=5 > 3 classes
    assert model.predict(x).argmax(1).tolist() == model.predict(x, batch_size=7).argmax(
        1).tolist()


def test_sparse_labels_as_a_column_work_as_in_keras():
    # Keras' sparse losses take labels shaped (N, 1) (as many datasets ship them, e.g.
    # CIFAR-10); they were taken for one-hot rows of the wrong width.
    x, labels = _blobs(n=64)
    results = []
    for y in (labels, labels.reshape(-1, 1)):
        model = _mlp(4, 3)
        model.compile("adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
        results.append((history.history, model.evaluate(x, y)))
    assert results[0] == results[1]


def test_logits_with_categorical_crossentropy_on_one_hot_labels():
    x, labels = _blobs(seed=2)
    one_hot = np.eye(3, dtype=np.float32)[labels]
    model = _mlp(4, 3)
    model.compile(optim.Adam(model.parameters(), lr=0.02), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, one_hot, epochs=6, batch_size=32, verbose=0)
    assert model.evaluate(x, one_hot)["accuracy"] > 0.95


def test_softmax_with_categorical_crossentropy_on_probabilities():
    x, labels = _blobs(seed=3)
    one_hot = np.eye(3, dtype=np.float32)[labels]
    model = _mlp(4, 3, nn.Softmax())
    model.compile(optim.Adam(model.parameters(), lr=0.02),
                  loss=nn.get_loss("categorical_crossentropy", from_logits=False),
                  metrics=["categorical_accuracy"])
    history = model.fit(x, one_hot, epochs=8, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.2
    probs = model.predict(x)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert model.evaluate(x, one_hot)["categorical_accuracy"] > 0.95


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
def test_linear_regression_losses(loss):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(256, 3)).astype(np.float32)
    y = (x @ np.array([1.5, -2.0, 0.5]) + 0.3).astype(np.float32)  # (N,): reshaped to (N, 1)
    dlcore.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 1))
    model.compile(optim.Adam(model.parameters(), lr=0.05), loss=loss,
                  metrics=["mae", "rmse", "mse"])
    history = model.fit(x, y, epochs=30, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.01 * history.history["loss"][0] + 0.01
    result = model.evaluate(x, y, batch_size=None)
    assert result["mae"] < 0.05 and result["rmse"] < 0.07
    assert result["rmse"] == pytest.approx(np.sqrt(result["mse"]))
    np.testing.assert_allclose(model[0].weight.data[0], [1.5, -2.0, 0.5], atol=0.05)


# --------------------------------------------------------------------- the loop
def test_history_records_every_key_per_epoch_and_loss_is_sample_mean():
    x, labels = _blobs(n=100)
    model = _mlp(4, 3)
    model.compile(optim.SGD(model.parameters(), lr=0.0), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, labels, epochs=3, batch_size=32, verbose=0,
                        validation_data=(x[:10], labels[:10]))
    assert history.epoch == [0, 1, 2]
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 3 for v in history.history.values())
    # lr = 0: weights never change, so the epoch loss is the loss over all samples
    # (batches of 32, 32, 32 and 4 weighted by size).
    whole = model.evaluate(x, labels, batch_size=None)
    assert history.history["loss"][0] == pytest.approx(whole["loss"], rel=1e-6)
    assert history.history["val_loss"][0] == pytest.approx(
        model.evaluate(x[:10], labels[:10])["loss"], rel=1e-6)


def test_validation_split_holds_out_the_last_samples_before_shuffling():
    x, labels = _blobs(n=100)
    model = _mlp(4, 3)
    model.compile("adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    seen = {True: [], False: []}
    original_forward = model.forward

    def spy(inputs):
        seen[model.training].append(np.array(inputs.data))
        return original_forward(inputs)

    model.forward = spy
    history = model.fit(x, labels, epochs=1, batch_size=16, validation_split=0.2, verbose=0)
    model.forward = original_forward
    trained = np.concatenate(seen[True])
    assert not np.array_equal(trained, x[:80])  # shuffled...
    assert sorted(map(tuple, trained.tolist())) == sorted(map(tuple, x[:80].tolist()))  # ...
    assert np.array_equal(np.concatenate(seen[False]), x[80:])  # the last 20%, in order
    assert history.history["val_loss"][0] == pytest.approx(
        model.evaluate(x[80:], labels[80:])["loss"], rel=1e-6)
    with pytest.raises(ValueError, match=r"validation_split must be in \[0, 1\)"):
        model.fit(x, labels, validation_split=1.0, verbose=0)
    with pytest.raises(ValueError, match="not both"):
        model.fit(x, labels, validation_split=0.2, validation_data=(x, labels), verbose=0)
    with pytest.raises(ValueError, match="leaves 3 for validation and 0 for training"):
        model.fit(x[:3], labels[:3], validation_split=0.9, verbose=0)


@pytest.mark.parametrize("batch_size, steps", [(None, 1), (1, 40), (16, 3)])
def test_batch_size_none_is_full_batch_and_one_is_stochastic(batch_size, steps):
    x, labels = _blobs(n=40)
    model = _mlp(4, 3)
    model.compile("sgd", loss="sparse_categorical_crossentropy")
    counter = StepCounter()
    history = model.fit(x, labels, epochs=2, batch_size=batch_size, verbose=0,
                        callbacks=[counter])
    assert counter.batches == list(range(steps)) * 2
    assert len(history.history["loss"]) == 2


def test_fit_on_a_dataloader_with_dataloader_validation():
    x, labels = _blobs(n=64)
    train = DataLoader(TensorDataset(x, labels), batch_size=16, shuffle=True)
    val = DataLoader(TensorDataset(x[:16], labels[:16]), batch_size=8)
    model = _mlp(4, 3)
    model.compile(optim.Adam(model.parameters(), lr=0.02), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(train, epochs=10, validation_data=val, verbose=0)
    assert history.history["val_accuracy"][-1] > 0.9
    assert model.evaluate(val)["accuracy"] == history.history["val_accuracy"][-1]
    assert model.predict(val).shape == (16, 3)
    with pytest.raises(ValueError, match="y must be None"):
        model.fit(train, labels, verbose=0)
    with pytest.raises(ValueError, match="validation_split needs array inputs"):
        model.fit(train, validation_split=0.2, verbose=0)


def test_shuffling_is_seeded_and_initial_epoch_counts():
    x, labels = _blobs(n=64)

    def run(shuffle):
        model = _mlp(4, 3)
        model.compile(optim.SGD(model.parameters(), lr=0.1), loss="sparse_categorical_crossentropy")
        dlcore.manual_seed(7)
        history = model.fit(x, labels, epochs=4, initial_epoch=2, batch_size=8,
                            shuffle=shuffle, verbose=0)
        return model.state_dict(), history

    first, history = run(True)
    second, _ = run(True)
    unshuffled, _ = run(False)
    assert history.epoch == [2, 3] and len(history.history["loss"]) == 2
    assert all(np.array_equal(first[k], second[k]) for k in first)
    assert not all(np.array_equal(first[k], unshuffled[k]) for k in first)


class ModeProbe(nn.Module):
    """Records the training flag seen by each forward call."""

    def __init__(self):
        super().__init__()
        self.inner = nn.Linear(2, 3)
        self.frozen = nn.Linear(3, 3)
        self.modes = []

    def forward(self, x):
        self.modes.append((self.training, self.frozen.training))
        return self.frozen(self.inner(x))


def test_modes_during_and_after_fit_evaluate_predict():
    dlcore.manual_seed(0)
    model = ModeProbe()
    model.compile("adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(8, 2)).astype(np.float32)
    y = np.arange(8) % 3
    model.eval()
    model.frozen.train()  # a mixed state must come back exactly
    model.fit(x, y, epochs=1, batch_size=4, validation_data=(x, y), verbose=0)
    assert model.modes == [(True, True)] * 2 + [(False, False)] * 2
    assert (model.training, model.frozen.training, model.inner.training) == (False, True, False)
    model.modes.clear()
    model.train()
    model.predict(x)
    model.evaluate(x, y)
    assert model.modes == [(False, False)] * 2
    assert model.training and model.frozen.training


def test_predict_and_evaluate_keep_no_gradients():
    x, labels = _blobs(n=32)
    model = _mlp(4, 3)
    model.compile("adam", loss="sparse_categorical_crossentropy")
    model.predict(x)
    model.evaluate(x, labels)
    assert all(p.grad is None for p in model.parameters())
    assert isinstance(model.predict(x), np.ndarray)


def test_predict_verbose_reports_samples_and_batches(capsys):
    x, _ = _blobs(n=70)
    model = _mlp(4, 3)
    quiet = model.predict(x, batch_size=32)
    assert capsys.readouterr().out == ""
    loud = model.predict(x, batch_size=32, verbose=1)
    assert capsys.readouterr().out.startswith("predict: 70 samples in 3 batches, ")
    np.testing.assert_array_equal(quiet, loud)


def test_the_functional_loss_name_trains_like_the_class():
    x, labels = _blobs(n=64)
    losses = []
    for loss in ("cross_entropy", nn.CrossEntropyLoss()):
        dlcore.manual_seed(3)
        model = _mlp(4, 3)
        model.compile("sgd", loss=loss)
        losses.append(model.fit(x, labels, epochs=2, shuffle=False, verbose=0).history["loss"])
    assert losses[0] == losses[1]


def test_compile_resolves_optimizer_names_and_checks_ownership():
    model = _mlp(4, 3)
    for name, cls in [("sgd", optim.SGD), ("adam", optim.Adam), ("adamw", optim.AdamW),
                      ("RMSprop", optim.RMSprop), ("adagrad", optim.Adagrad),
                      ("adadelta", optim.Adadelta), ("adamax", optim.Adamax),
                      ("Nadam", optim.NAdam), ("radam", optim.RAdam)]:
        model.compile(name, loss="mse")
        assert type(model._compiled.optimizer) is cls
        owned = {id(p) for p in model.parameters()}
        assert {id(p) for g in model._compiled.optimizer.param_groups
                for p in g["params"]} == owned
    other = _mlp(4, 3)
    with pytest.raises(ValueError, match="none of the optimizer's parameters"):
        model.compile(optim.SGD(other.parameters(), lr=0.1), loss="mse")
    with pytest.raises(ValueError, match="unknown optimizer 'adabelief'"):
        model.compile("adabelief", loss="mse")
    with pytest.raises(ValueError, match="unique"):
        model.compile("sgd", loss="mse", metrics=["mae", "mae"])
    # the loss module is not registered as a sub-module
    model.compile("sgd", loss=nn.MSELoss())
    assert "loss" not in dict(model.named_modules()) and len(list(model.children())) == 3


def test_fit_argument_errors():
    x, labels = _blobs(n=20)
    model = _mlp(4, 3)
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(x, labels)
    model.compile("sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"x has 20 samples .* y has shape \(19,\)"):
        model.fit(x, labels[:19], verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(x, labels, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="epochs"):
        model.fit(x, labels, epochs=-1, verbose=0)
    with pytest.raises(ValueError, match="y is required"):
        model.fit(x, verbose=0)
    with pytest.raises(ValueError, match=r"validation_data must be \(x_val, y_val\)"):
        model.fit(x, labels, validation_data=(x, labels, labels), verbose=0)
    with pytest.raises(TypeError, match="Callback"):
        model.fit(x, labels, callbacks=[print], verbose=0)
    with pytest.raises(TypeError, match=r"list of callbacks.*\[EarlyStopping"):
        model.fit(x, labels, callbacks=dlcore.callbacks.EarlyStopping(), verbose=0)


def test_custom_loss_function_is_called_predictions_first():
    x, labels = _blobs(n=32)
    model = _mlp(4, 3)
    calls = []

    def my_loss(predictions, targets):
        calls.append((predictions.shape, np.shape(targets)))
        return nn.functional.cross_entropy(predictions, targets)

    model.compile("adam", loss=my_loss, metrics=[lambda t, p: np.mean(p.argmax(1) == t)])
    history = model.fit(x, labels, epochs=1, batch_size=32, verbose=0)
    assert calls == [((32, 3), (32,))]
    assert "<lambda>" in history.history


def test_validation_split_on_class_sorted_data_warns_about_unseen_classes():
    # The bundled MNIST subset is sorted by class: its last 20% are all 8s and 9s.
    x, _ = _blobs(n=120)
    labels = np.repeat(np.arange(3), [48, 48, 24])
    model = _mlp(4, 3)
    model.compile("adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    with pytest.warns(RuntimeWarning, match=r"class\(es\) 2 appear only there.*Shuffle"):
        model.fit(x, labels, epochs=1, validation_split=0.2, verbose=0)
    one_hot = np.eye(3, dtype=np.float32)[labels]
    model.compile("adam", loss="categorical_crossentropy")
    with pytest.warns(RuntimeWarning, match=r"class\(es\) 2 "):
        model.fit(x, one_hot, epochs=1, validation_split=0.2, verbose=0)
    # Shuffled data, and regression targets, fit without a word.
    p = np.random.default_rng(0).permutation(len(x))
    model.compile("adam", loss="sparse_categorical_crossentropy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x[p], labels[p], epochs=1, validation_split=0.2, verbose=0)
        regression = _mlp(4, 1)
        regression.compile("sgd", loss="mse")
        regression.fit(x, np.sort(x[:, :1], axis=0), epochs=1, validation_split=0.2, verbose=0)
