"""Progress output: a live throttled line in terminals, one line per epoch elsewhere."""

import io
import sys

import numpy as np
import pytest

import dlcore
from dlcore import nn
from dlcore.callbacks import ProgressBar
from dlcore.training import progress as progress_module


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _drive(bar, clock, epochs=2, steps=10, step_time=0.05):
    """Run the hooks as fit does."""
    bar.set_params({"epochs": epochs, "steps": steps, "verbose": bar.verbose})
    bar.on_train_begin()
    for epoch in range(epochs):
        bar.on_epoch_begin(epoch)
        for batch in range(steps):
            clock.now += step_time
            bar.on_batch_end(batch, {"loss": 1.0 / (batch + 1), "accuracy": 0.5})
        bar.on_epoch_end(epoch, {"loss": 0.1, "accuracy": 0.9, "val_loss": 0.2})
    bar.on_train_end()


def test_terminal_gets_throttled_live_line_then_summary(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out, clock = FakeTerminal(), FakeClock()
    _drive(ProgressBar(1, stream=out, interval=0.12, clock=clock), clock)
    text = out.getvalue()
    lines = text.split("\n")
    assert len(lines) == 3 and lines[-1] == ""  # one finished line per epoch
    first = lines[0]
    redraws = first.split("\r")[1:]
    # 10 batches of 0.05 s, redrawn at most every 0.12 s, never the last batch: 3 redraws
    assert len(redraws) == 4  # 3 live states + the summary
    assert redraws[0].startswith("Epoch 1/2  3/10 [========>......") and "ETA: 0.4s" in redraws[0]
    assert redraws[0].rstrip().endswith("loss: 0.3333 - accuracy: 0.5000")
    summary = redraws[-1].rstrip()
    assert summary.startswith("Epoch 1/2 10/10 [==============================] - 0.5s 50ms/step")
    assert summary.endswith("loss: 0.1000 - accuracy: 0.9000 - val_loss: 0.2000")
    assert len(redraws[-1]) >= max(len(r) for r in redraws[:-1])  # overwrites the live line


def test_non_terminal_gets_one_line_per_epoch_and_no_control_characters():
    out, clock = io.StringIO(), FakeClock()
    _drive(ProgressBar(1, stream=out, interval=0.0, clock=clock), clock, epochs=3)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and "\r" not in out.getvalue()
    assert lines[2].startswith("Epoch 3/3 10/10 [====")
    assert "val_loss: 0.2000" in lines[2]


def test_verbose_2_is_a_compact_line_per_epoch_even_in_a_terminal():
    out, clock = FakeTerminal(), FakeClock()
    _drive(ProgressBar(2, stream=out, interval=0.0, clock=clock), clock)
    lines = out.getvalue().splitlines()
    assert lines == [
        "Epoch 1/2 - 0.5s 50ms/step - loss: 0.1000 - accuracy: 0.9000 - val_loss: 0.2000",
        "Epoch 2/2 - 0.5s 50ms/step - loss: 0.1000 - accuracy: 0.9000 - val_loss: 0.2000",
    ]


def test_unknown_number_of_steps():
    out, clock = FakeTerminal(), FakeClock()
    bar = ProgressBar(1, stream=out, interval=0.0, clock=clock)
    _drive(bar, clock, epochs=1, steps=3)
    bar.set_params({"epochs": 1, "steps": None})
    out.seek(0)
    out.truncate()
    bar.on_train_begin()
    bar.on_epoch_begin(0)
    clock.now += 1
    bar.on_batch_end(0, {"loss": 2.0})
    bar.on_epoch_end(0, {"loss": 2.0})
    assert "1/?" in out.getvalue() and "ETA" not in out.getvalue()


def test_live_line_fits_the_terminal(monkeypatch):
    monkeypatch.setattr(progress_module.shutil, "get_terminal_size",
                        lambda fallback: type("S", (), {"columns": 40})())
    out, clock = FakeTerminal(), FakeClock()
    _drive(ProgressBar(1, stream=out, interval=0.0, clock=clock), clock, epochs=1)
    live = out.getvalue().split("\r")[1:-1]
    assert live and all(len(part.rstrip()) <= 39 for part in live)


def test_notebook_uses_tqdm_when_available(monkeypatch):
    created = []

    class FakeTqdm:
        def __init__(self, total, desc, leave, unit):
            self.total, self.desc, self.updates, self.closed = total, desc, 0, False
            created.append(self)

        def update(self, n):
            self.updates += n

        def set_postfix_str(self, text, refresh=True):
            self.postfix = text

        def close(self):
            self.closed = True

    monkeypatch.setattr(progress_module, "in_notebook", lambda: True)
    monkeypatch.setattr(progress_module, "_notebook_tqdm", lambda: FakeTqdm)
    out, clock = io.StringIO(), FakeClock()
    _drive(ProgressBar(1, stream=out, clock=clock), clock)
    assert [t.desc for t in created] == ["Epoch 1/2", "Epoch 2/2"]
    assert all(t.updates == 10 and t.closed and t.total == 10 for t in created)
    assert created[0].postfix == "loss: 0.1000 - accuracy: 0.9000 - val_loss: 0.2000"
    assert out.getvalue() == ""


def test_notebook_without_tqdm_uses_the_updating_line(monkeypatch):
    monkeypatch.setattr(progress_module, "in_notebook", lambda: True)
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm.auto now fails
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    out, clock = io.StringIO(), FakeClock()  # notebooks' streams are not TTYs
    _drive(ProgressBar(1, stream=out, interval=0.0, clock=clock), clock, epochs=1)
    assert out.getvalue().count("\r") >= 2 and out.getvalue().endswith("\n")


def test_resolve_verbose(monkeypatch):
    monkeypatch.setattr(progress_module, "in_notebook", lambda: False)
    assert progress_module.resolve_verbose("auto", FakeTerminal()) == 1
    assert progress_module.resolve_verbose("auto", io.StringIO()) == 2
    monkeypatch.setattr(progress_module, "in_notebook", lambda: True)
    assert progress_module.resolve_verbose("auto", io.StringIO()) == 1
    assert progress_module.resolve_verbose(0) == 0
    with pytest.raises(ValueError, match="verbose"):
        progress_module.resolve_verbose(3)


def test_formatting():
    assert progress_module.format_value(0.12345) == "0.1235"
    assert progress_module.format_value(0.0001234) == "1.2340e-04"
    assert progress_module.format_duration(75) == "1:15"
    assert progress_module.format_duration(3725) == "1:02:05"
    assert progress_module.format_per_step(0.0004) == "400us/step"


# --------------------------------------------------------------------- through fit
def _compiled_model():
    dlcore.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 1))
    model.compile(optimizer=dlcore.optim.SGD(model.parameters(), lr=0.05), loss="mse",
                  metrics=["mae"])
    x = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    return model, x, x.sum(axis=1, keepdims=True)


def test_fit_auto_verbose_in_a_pipe_prints_one_line_per_epoch(monkeypatch):
    model, x, y = _compiled_model()
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    model.fit(x, y, epochs=3, batch_size=8, validation_split=0.25)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and "\r" not in out.getvalue()
    assert lines[0].startswith("Epoch 1/3 - ") and "val_mae: " in lines[0]


def test_fit_auto_verbose_in_a_terminal_draws_live_lines(monkeypatch):
    model, x, y = _compiled_model()
    out = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", out)
    bar = ProgressBar(1, interval=0.0)  # redraw after every batch
    model.fit(x, y, epochs=2, batch_size=8, callbacks=[bar])
    lines = out.getvalue().split("\n")
    assert len(lines) == 3
    assert lines[0].count("\r") == 8  # 7 live redraws (not the last batch) + summary
    assert "Epoch 1/2 8/8 [" in lines[0].split("\r")[-1]


def test_callback_messages_end_the_live_line_first(monkeypatch):
    model, x, y = _compiled_model()
    x[44] = np.nan  # batch 5 of 8
    out = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", out)
    bar = ProgressBar(1, interval=0.0)
    model.fit(x, y, epochs=2, batch_size=8, shuffle=False,
              callbacks=[dlcore.callbacks.TerminateOnNaN(), bar])
    lines = out.getvalue().split("\n")
    assert len(lines) == 4 and lines[0].count("\r") == 5  # live states of batches 0..4
    assert lines[1] == "Batch 5: invalid loss nan, terminating training"
    summary = lines[2].split("\r")[-1]
    assert summary.startswith("Epoch 1/2 6/8 [") and "ETA" not in summary
    assert lines[3] == ""


def test_fit_verbose_0_is_silent(capsys):
    model, x, y = _compiled_model()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert capsys.readouterr().out == ""
