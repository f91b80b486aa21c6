"""The README's MLP example learns MNIST (issue 2's acceptance bar: >= 95% validation)."""

import runpy
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_mnist_mlp_reaches_95_percent(capsys):
    module = runpy.run_path(str(EXAMPLES / "mnist_mlp.py"))
    accuracy = module["main"]()
    assert accuracy >= 0.95
    assert "validation accuracy" in capsys.readouterr().out


def test_random_shift_moves_pixels_within_bounds():
    import numpy as np

    module = runpy.run_path(str(EXAMPLES / "mnist_mlp.py"))
    image = np.zeros((1, 5, 5), np.float32)
    image[0, 2, 2] = 1
    shifted = module["random_shift"](np.repeat(image, 50, 0), np.random.default_rng(0), 2)
    assert shifted.shape == (50, 5, 5)
    assert np.all(shifted.sum(axis=(1, 2)) == 1)  # a 2-pixel shift keeps the centre pixel
    assert len({tuple(np.argwhere(s)[0]) for s in shifted}) > 10
