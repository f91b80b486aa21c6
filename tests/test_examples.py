"""Smoke tests: the teaching examples run and reach what they claim."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str) -> dict:
    return runpy.run_path(str(EXAMPLES / name), run_name="example")


def test_linear_regression_finds_w_2_b_0(capsys):
    w, b = load("linear_regression.py")["main"]()
    assert abs(w - 2) < 0.05 and abs(b) < 0.05
    out = capsys.readouterr().out
    assert "dL/dw (autograd)" in out and "fitted: w = 2.0" in out


def test_perceptron_example(capsys):
    result = load("perceptron.py")["main"]()
    assert result["separable_errors"][-1] == 0
    assert min(result["xor_errors"]) > 0
    np.testing.assert_array_equal(result["mlp_predictions"], [0, 1, 1, 0])
    assert "P(y=1)" in capsys.readouterr().out


def test_mnist_autoencoder_learns_to_reconstruct(capsys):
    result = load("mnist_autoencoder.py")["main"](epochs=3, samples=2000, verbose=0)
    assert result["after"] < 0.25 * result["before"]
    out = capsys.readouterr().out
    assert "validation reconstruction MSE" in out and "@" in out
