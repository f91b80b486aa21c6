"""Smoke test of examples/compare_optimizers.py: six optimizers train and one plot is saved."""

import importlib.util
import math
import os

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "compare_optimizers.py")


def test_compare_optimizers_runs_and_saves_one_plot(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("compare_optimizers", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path = tmp_path / "curves.png"
    results = module.main(epochs=2, out=str(path))
    assert list(results) == ["SGD", "SGD + momentum", "Adagrad", "RMSprop", "Adadelta", "Adam"]
    for history, _ in results.values():
        losses = history.history["loss"]
        assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
        assert losses[1] < losses[0]
    assert path.read_bytes()[:4] == b"\x89PNG"
    table = capsys.readouterr().out
    assert "Adadelta" in table and "saved" in table
