"""F.one_hot: integer labels as indicator rows, as torch.nn.functional.one_hot."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import dlcore
import dlcore.nn.functional as F


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(np.int64, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
                  elements=st.integers(0, 6)), st.integers(0, 3))
def test_rows_pick_the_label_out_of_the_identity(labels, extra):
    classes = 7 + extra
    got = F.one_hot(labels, classes)
    assert got.dtype == np.int64 and got.shape == labels.shape + (classes,)
    np.testing.assert_array_equal(got.numpy(), np.eye(classes, dtype=np.int64)[labels])


def test_inferred_class_count_and_tensor_input():
    assert F.one_hot(np.array([0, 4, 1])).shape == (3, 5)
    np.testing.assert_array_equal(F.one_hot(dlcore.tensor([1, 0]), 2).numpy(), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(F.one_hot(np.uint8(2), 3).numpy(), [0, 0, 1])


def test_one_hot_targets_give_the_same_cross_entropy_as_labels():
    logits = np.random.default_rng(0).standard_normal((6, 4))
    labels = np.array([0, 3, 1, 1, 2, 0])
    by_labels = F.cross_entropy(logits, labels).item()
    by_rows = F.cross_entropy(logits, F.one_hot(labels, 4).numpy() * 1.0).item()
    assert by_rows == pytest.approx(by_labels, rel=1e-12)


def test_bad_labels_and_class_counts_are_named():
    with pytest.raises(TypeError, match="labels must be integers, got dtype float64"):
        F.one_hot(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"label 3 at position \(1, 0\) is out of range for 3 "
                                         r"classes"):
        F.one_hot(np.array([[0], [3]]), 3)
    with pytest.raises(ValueError, match="label -1 at position"):
        F.one_hot(np.array([-1, 0]), 2)
    with pytest.raises(ValueError, match="cannot infer the number of classes from no labels"):
        F.one_hot(np.zeros(0, dtype=np.int64))
    with pytest.raises(ValueError, match="num_classes must be positive"):
        F.one_hot(np.array([0]), 0)
    with pytest.raises(TypeError, match="num_classes must be an int, got float"):
        F.one_hot(np.array([0]), 2.0)
