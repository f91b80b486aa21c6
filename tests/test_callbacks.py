"""Callbacks: early stopping, checkpoints, NaN, CSV, learning rates, gradient monitor, plots."""

import csv
import os
import sys

import numpy as np
import pytest

import dlcore
from dlcore import nn, optim
from dlcore.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    GradientMonitor,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
)


def _regression(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, (x @ np.array([1.0, -1.0, 2.0])).astype(np.float32)[:, None]


def _linear_model(lr=0.05):
    dlcore.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 1))
    model.compile(optim.SGD(model.parameters(), lr=lr), loss="mse", metrics=["mae"])
    return model


def _diverging_validation():
    """Training learns y = f(x) while the validation targets are -f(x): val_loss rises."""
    x, y = _regression()
    return x, y, (x, -y)


class Snapshots(Callback):
    def on_train_begin(self, logs=None):
        self.states = []

    def on_epoch_end(self, epoch, logs=None):
        self.states.append(self.model.state_dict())


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_train_begin(self, logs=None):
        self.events.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(f"epoch_begin {epoch}")

    def on_batch_begin(self, batch, logs=None):
        self.events.append(f"batch_begin {batch}")

    def on_after_backward(self, batch, logs=None):
        grads = [p.grad is not None for p in self.model.parameters()]
        self.events.append(f"after_backward {batch} {all(grads)}")

    def on_batch_end(self, batch, logs=None):
        self.events.append(f"batch_end {batch} {sorted(logs)}")

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(f"epoch_end {epoch} {sorted(logs)}")

    def on_train_end(self, logs=None):
        self.events.append("train_end")


def test_hooks_run_in_order_with_logs():
    x, y = _regression(n=8)
    model = _linear_model()
    recorder = Recorder()
    model.fit(x, y, epochs=1, batch_size=4, validation_data=(x, y), callbacks=[recorder],
              verbose=0)
    assert recorder.events == [
        "train_begin", "epoch_begin 0",
        "batch_begin 0", "after_backward 0 True", "batch_end 0 ['loss', 'mae']",
        "batch_begin 1", "after_backward 1 True", "batch_end 1 ['loss', 'mae']",
        "epoch_end 0 ['loss', 'mae', 'val_loss', 'val_mae']", "train_end"]
    assert recorder.optimizer is model._compiled.optimizer


def test_early_stopping_stops_and_restores_best_weights():
    x, y, val = _diverging_validation()
    model = _linear_model()
    snapshots = Snapshots()
    stopper = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = model.fit(x, y, epochs=20, batch_size=16, validation_data=val, verbose=0,
                        callbacks=[snapshots, stopper])
    val_loss = history.history["val_loss"]
    assert len(val_loss) == 3 and val_loss[0] < val_loss[1] < val_loss[2]
    assert stopper.stopped_epoch == 2 and stopper.best_epoch == 0
    for key, value in model.state_dict().items():
        assert np.array_equal(value, snapshots.states[0][key])
        assert not np.array_equal(value, snapshots.states[2][key])


def test_early_stopping_without_restore_keeps_last_weights_and_min_delta():
    x, y, val = _diverging_validation()
    model = _linear_model()
    snapshots = Snapshots()
    model.fit(x, y, epochs=20, batch_size=16, validation_data=val, verbose=0,
              callbacks=[snapshots, EarlyStopping(patience=1)])
    assert len(snapshots.states) == 2
    assert all(np.array_equal(v, snapshots.states[-1][k]) for k, v in model.state_dict().items())
    # training loss keeps improving, but not by min_delta=1e9: stops after patience
    model = _linear_model()
    history = model.fit(x, y, epochs=20, batch_size=16, verbose=0,
                        callbacks=[EarlyStopping("loss", min_delta=1e9, patience=3)])
    assert len(history.epoch) == 4


def test_early_stopping_mode_auto_and_missing_monitor():
    assert EarlyStopping("val_accuracy").mode == "max"
    assert EarlyStopping("val_f1").mode == "max"
    assert EarlyStopping("val_loss").mode == "min"
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")
    x, y = _regression()
    model = _linear_model()
    with pytest.warns(RuntimeWarning, match="'val_loss' is not in the logs"):
        history = model.fit(x, y, epochs=3, verbose=0, callbacks=[EarlyStopping(patience=0)])
    assert len(history.epoch) == 3


def test_model_checkpoint_keeps_the_best(tmp_path):
    x, y, val = _diverging_validation()
    model = _linear_model()
    snapshots = Snapshots()
    path = str(tmp_path / "best.npz")
    checkpoint = ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    model.fit(x, y, epochs=4, batch_size=16, validation_data=val, verbose=0,
              callbacks=[snapshots, checkpoint])
    assert checkpoint.best_epoch == 0
    saved = dlcore.load(path)
    assert saved["epoch"] == 1 and set(saved) == {"model", "optimizer", "epoch", "rng"}
    for key, value in saved["model"].items():
        assert np.array_equal(value, snapshots.states[0][key])
    restored = _linear_model()
    restored.load_weights(path)
    assert np.array_equal(restored[0].weight.data, snapshots.states[0]["0.weight"])
    assert os.listdir(tmp_path) == ["best.npz"]


def test_model_checkpoint_every_epoch_with_formatted_names(tmp_path):
    x, y = _regression()
    model = _linear_model()
    pattern = str(tmp_path / "w-{epoch:02d}-{loss:.3f}.npz")
    history = model.fit(x, y, epochs=3, verbose=0,
                        callbacks=[ModelCheckpoint(pattern, save_weights_only=True)])
    names = sorted(os.listdir(tmp_path))
    assert names == [f"w-{e + 1:02d}-{loss:.3f}.npz"
                     for e, loss in enumerate(history.history["loss"])]
    assert set(dlcore.load(tmp_path / names[-1])) == {"model"}


def test_model_checkpoint_filepath_naming_a_missing_value(tmp_path):
    x, y = _regression()
    model = _linear_model()
    pattern = str(tmp_path / "w-{val_loss:.3f}.npz")
    with pytest.raises(ValueError, match=r"ModelCheckpoint: filepath .*'val_loss'.*"
                                         r"epoch, loss, mae"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(pattern)])


def test_terminate_on_nan_stops_at_the_bad_batch(capsys):
    x, y = _regression(n=64)
    x[40] = np.nan  # batch 5 of 8
    model = _linear_model()
    stopper = TerminateOnNaN()
    snapshots = Snapshots()
    history = model.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0,
                        callbacks=[stopper, snapshots])
    assert stopper.stopped_batch == 5
    assert len(history.epoch) == 1 and np.isnan(history.history["loss"][0])
    assert "invalid loss" in capsys.readouterr().out


def test_csv_logger_writes_a_row_per_epoch(tmp_path):
    x, y = _regression()
    path = tmp_path / "log.csv"
    model = _linear_model()
    history = model.fit(x, y, epochs=3, validation_split=0.25, verbose=0,
                        callbacks=[CSVLogger(str(path))])
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"]
    for row, loss, val_mae in zip(rows[1:], history.history["loss"], history.history["val_mae"]):
        assert float(row[1]) == loss and float(row[4]) == val_mae  # exact (repr)
    model.fit(x, y, epochs=5, initial_epoch=3, verbose=0,
              callbacks=[CSVLogger(str(path), append=True)])
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) == 6 and rows[0][0] == "epoch" and rows[-1][0] == "4"


def test_learning_rate_scheduler_functions():
    x, y = _regression()
    model = _linear_model(lr=0.1)
    history = model.fit(x, y, epochs=3, verbose=0,
                        callbacks=[LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))])
    assert history.history["lr"] == pytest.approx([0.1, 0.05, 0.1 / 3])
    model = _linear_model(lr=0.1)
    history = model.fit(x, y, epochs=3, verbose=0,
                        callbacks=[LearningRateScheduler(lambda epoch, lr: lr * 0.5)])
    assert history.history["lr"] == pytest.approx([0.05, 0.025, 0.0125])
    with pytest.raises(ValueError, match="finite number"):
        model.fit(x, y, epochs=1, verbose=0,
                  callbacks=[LearningRateScheduler(lambda epoch: float("nan"))])


def test_learning_rate_scheduler_steps_one_cycle_after_every_batch():
    x, y = _regression(n=64)
    model = _linear_model()
    opt = model._compiled.optimizer
    seen = []
    original_step = opt.step

    def spy():
        seen.append(opt.param_groups[0]["lr"])
        original_step()

    opt.step = spy
    cycle = optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, epochs=3, steps_per_epoch=4,
                                          cycle_momentum=False)
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0,
                        callbacks=[LearningRateScheduler(cycle)])
    fresh = optim.lr_scheduler.OneCycleLR(optim.SGD([nn.Parameter(np.zeros(1))]), max_lr=0.1,
                                          total_steps=12, cycle_momentum=False)
    want = [fresh.get_last_lr()[0]]
    for _ in range(11):
        fresh.step()
        want.append(fresh.get_last_lr()[0])
    assert seen == pytest.approx(want)  # every batch at its own rate, the whole cycle once
    assert cycle.last_epoch == 12
    assert history.history["lr"] == pytest.approx([want[3], want[7], want[11]])


def test_learning_rate_scheduler_wraps_lr_scheduler_objects():
    x, y, val = _diverging_validation()
    model = _linear_model(lr=0.1)
    step = optim.lr_scheduler.StepLR(model._compiled.optimizer, step_size=2, gamma=0.5)
    history = model.fit(x, y, epochs=5, verbose=0, callbacks=[LearningRateScheduler(step)])
    assert history.history["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])

    model = _linear_model(lr=0.1)
    plateau = optim.lr_scheduler.ReduceLROnPlateau(model._compiled.optimizer, patience=0)
    history = model.fit(x, y, epochs=3, validation_data=val, verbose=0,
                        callbacks=[LearningRateScheduler(plateau, monitor="val_loss")])
    # val_loss rises every epoch: each epoch after the first is a bad one
    assert history.history["lr"] == pytest.approx([0.1, 0.1, 0.01])


def test_reduce_lr_on_plateau_callback():
    x, y, val = _diverging_validation()
    model = _linear_model(lr=0.1)
    reducer = ReduceLROnPlateau(factor=0.5, patience=2, min_lr=0.02)
    history = model.fit(x, y, epochs=7, validation_data=val, verbose=0, callbacks=[reducer])
    # epochs 1, 2 bad -> halve after epoch 2 (logged from epoch 3 on), again after 4, floor 0.02
    assert history.history["lr"] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    assert model._compiled.optimizer.param_groups[0]["lr"] == pytest.approx(0.02)
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateau(factor=1.5)


# --------------------------------------------------------------------- gradient monitor
def _deep(activation, layers=8, width=16, scale=1.0):
    dlcore.manual_seed(0)
    modules = []
    for _ in range(layers):
        linear = nn.Linear(width, width)
        linear.weight.data *= scale
        modules += [linear, activation()]
    return nn.Sequential(*modules, nn.Linear(width, 1))


def _monitor_fit(model, monitor, epochs=2):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 16)).astype(np.float32)
    model.compile(optim.SGD(model.parameters(), lr=1e-4), loss="mse")
    model.fit(x, x[:, :1], epochs=epochs, batch_size=16, verbose=0, callbacks=[monitor])


def test_gradient_monitor_records_norms_and_flags_vanishing():
    monitor = GradientMonitor()
    with pytest.warns(RuntimeWarning, match="vanishing gradients.*input side"):
        _monitor_fit(_deep(nn.Sigmoid), monitor, epochs=3)
    assert monitor.layers == [str(i) for i in range(0, 16, 2)] + ["16"]
    assert monitor.epochs == [0, 1, 2] and all(len(v) == 3 for v in monitor.norms.values())
    norms = monitor.as_array()
    assert norms.shape == (3, 9) and norms[0, 0] < 1e-3 * norms[0, -1]
    assert [kind for _, kind, _ in monitor.warnings] == ["vanishing"] * 3


def test_gradient_monitor_norms_match_a_hand_computation():
    monitor = GradientMonitor()

    class Grab(Callback):
        def on_after_backward(self, batch, logs=None):
            w, b = self.model[0].weight.grad.data, self.model[0].bias.grad.data
            self.norm = np.sqrt(np.sum(w.astype(np.float64) ** 2) + np.sum(b ** 2.0))

    grab = Grab()
    model = _deep(nn.ReLU, layers=1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 16)).astype(np.float32)
    model.compile(optim.SGD(model.parameters(), lr=1e-3), loss="mse")
    model.fit(x, x[:, :1], epochs=1, batch_size=None, verbose=0, callbacks=[grab, monitor])
    assert monitor.norms["0"][0] == pytest.approx(grab.norm, rel=1e-6)


def test_gradient_monitor_quiet_on_a_healthy_network_and_flags_explosion(recwarn):
    healthy = GradientMonitor()
    _monitor_fit(_deep(nn.ReLU, layers=3), healthy)
    assert healthy.warnings == [] and not [w for w in recwarn if "Gradient" in str(w.message)]
    exploding = GradientMonitor(exploding_norm=1e3)
    with pytest.warns(RuntimeWarning, match="exploding gradients"):
        _monitor_fit(_deep(nn.ReLU, layers=6, scale=6.0), exploding, epochs=1)
    assert exploding.warnings[0][1] == "exploding"


def test_gradient_monitor_plot(tmp_path):
    monitor = GradientMonitor()
    _monitor_fit(_deep(nn.ReLU, layers=3), monitor)
    path = tmp_path / "grads.png"
    figure = monitor.plot(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(figure.axes) == 2


# --------------------------------------------------------------------- history plots
def test_history_plot_saves_a_png(tmp_path):
    x, y = _regression()
    model = _linear_model()
    history = model.fit(x, y, epochs=3, validation_split=0.25, verbose=0)
    path = tmp_path / "history.png"
    figure = history.plot(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [ax.get_title() for ax in figure.axes] == ["loss", "mae"]
    lines = figure.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["training", "validation"]
    assert list(lines[1].get_ydata()) == history.history["val_loss"]
    assert list(lines[0].get_xdata()) == [1, 2, 3]
    only = history.plot(metrics=["mae"])  # no path: a pyplot figure
    assert [ax.get_title() for ax in only.axes] == ["mae"]
    import matplotlib.pyplot as plt

    plt.close(only)
    with pytest.raises(ValueError, match="'accuracy' was not recorded"):
        history.plot(metrics=["accuracy"])


def test_history_plot_without_matplotlib_says_how_to_install(monkeypatch):
    history = dlcore.callbacks.History()
    history.history = {"loss": [1.0]}
    history.epoch = [0]
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'dlcore-rs\[plot\]'"):
        history.plot()
