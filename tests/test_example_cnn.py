"""The README's main job: the LeNet-5-style CNN learns MNIST (issue 3's bar: >= 97%
validation accuracy), and the Sobel example shows what one convolution computes."""

import runpy
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_mnist_cnn_reaches_97_percent(capsys):
    module = runpy.run_path(str(EXAMPLES / "mnist_cnn.py"))
    accuracy = module["main"]()
    assert accuracy >= 0.97
    assert "validation accuracy" in capsys.readouterr().out


def test_lenet_shapes_and_parameter_count():
    import dlcore

    module = runpy.run_path(str(EXAMPLES / "mnist_cnn.py"))
    model = module["LeNet5"]()
    assert model(dlcore.zeros(3, 1, 28, 28)).shape == (3, 10)
    # conv1 156, conv2 2,416, fc 30,840 + 10,164 + 850: LeNet-5's 44,426 parameters.
    assert sum(p.data.size for p in model.parameters()) == 44426


def test_edge_filter_marks_both_sides_of_strokes(capsys, tmp_path):
    module = runpy.run_path(str(EXAMPLES / "edge_filters.py"))
    edges = module["main"](0, png=str(tmp_path / "edges.png"))
    assert edges.shape == (28, 28)
    assert edges.min() < -1 and edges.max() > 1  # left edges negative, right edges positive
    out = capsys.readouterr().out
    assert "+" in out and "-" in out
    # A vertical step from 0 to 1 gives -4 on the two columns around it, 0 elsewhere.
    step = np.zeros((6, 6))
    step[:, 3:] = 1
    np.testing.assert_array_equal(module["edge_map"](step)[1:-1, 1:-1], [[0, -4, -4, 0]] * 4)
