"""Streaming metrics: exact over many batches, shape rules as Keras, logits vs probabilities."""

import math

import numpy as np
import pytest

from dlcore import metrics


def _batches(n, size):
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def _stream(metric, y_true, y_pred, size=7):
    for s in _batches(len(y_true), size):
        metric.update_state(y_true[s], y_pred[s])
    return metric.result()


def _confusion(actual, predicted, c):
    tp = np.sum((predicted == c) & (actual == c))
    fp = np.sum((predicted == c) & (actual != c))
    fn = np.sum((predicted != c) & (actual == c))
    return tp, fp, fn


def test_accuracy_decides_binary_categorical_sparse_from_shapes():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 4)).astype(np.float32)
    labels = rng.integers(0, 4, 50)
    expected = np.mean(logits.argmax(1) == labels)
    assert _stream(metrics.Accuracy(), labels, logits) == pytest.approx(expected)
    one_hot = np.eye(4)[labels]
    assert _stream(metrics.Accuracy(), one_hot, logits) == pytest.approx(expected)
    assert _stream(metrics.Accuracy(), labels[:, None], logits) == pytest.approx(expected)

    probs = rng.random((50, 1)).astype(np.float32)
    targets = rng.integers(0, 2, 50)
    expected = np.mean((probs[:, 0] > 0.5) == targets)
    assert _stream(metrics.Accuracy(), targets, probs) == pytest.approx(expected)
    assert metrics.Accuracy().kind is None


def test_binary_accuracy_thresholds_logits_at_zero():
    y_true = np.array([1, 0, 1, 0])
    logits = np.array([0.3, -0.2, 0.1, -0.4])  # sigmoid > 0.5 exactly where logit > 0
    assert metrics.accuracy(y_true, logits, from_logits=True) == 1.0
    # Read as probabilities, every value <= 0.5 is a 0: half are wrong.
    assert metrics.accuracy(y_true, logits) == 0.5
    assert metrics.Accuracy(from_logits=True).threshold == 0.0


def test_accuracy_shape_error_names_shapes():
    with pytest.raises(ValueError, match=r"\(5, 3\).*\(5, 4\)"):
        metrics.Accuracy().update_state(np.zeros((5, 3)), np.zeros((5, 4)))


def test_top_k_accuracy_sparse_and_one_hot_with_ties():
    y_pred = np.array([[0.1, 0.5, 0.4], [0.3, 0.3, 0.4], [0.6, 0.3, 0.1]])
    y_true = np.array([2, 0, 2])
    m = metrics.TopKAccuracy(k=2)
    assert m(y_true, y_pred) == pytest.approx(2 / 3)  # sample 1: a tie for 2nd counts
    assert metrics.top_k_accuracy(np.eye(3)[y_true], y_pred, k=1) == pytest.approx(0.0)
    assert metrics.get("top_3_accuracy").k == 3


def test_precision_recall_f1_binary_streaming_equals_pooled_counts():
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 2, 101)
    probs = rng.random(101)
    predicted = probs > 0.5
    tp = np.sum(predicted & (y_true == 1))
    fp = np.sum(predicted & (y_true == 0))
    fn = np.sum(~predicted & (y_true == 1))
    assert _stream(metrics.Precision(), y_true, probs, 5) == pytest.approx(tp / (tp + fp))
    assert _stream(metrics.Recall(), y_true, probs, 5) == pytest.approx(tp / (tp + fn))
    assert _stream(metrics.F1Score(), y_true, probs, 5) == pytest.approx(
        2 * tp / (2 * tp + fp + fn))


def test_streaming_precision_is_not_mean_of_batch_precisions():
    # batch 1: 1 TP, 0 FP (precision 1); batch 2: 1 TP, 3 FP (precision 0.25).
    y1, p1 = np.array([1]), np.array([0.9])
    y2, p2 = np.array([1, 0, 0, 0]), np.array([0.9, 0.9, 0.9, 0.9])
    m = metrics.Precision()
    m.update_state(y1, p1)
    m.update_state(y2, p2)
    assert m.result() == pytest.approx(2 / 5)  # not (1 + 0.25) / 2


def test_precision_recall_f1_multiclass_macro_and_micro():
    rng = np.random.default_rng(2)
    y_true = rng.integers(0, 3, 60)
    y_pred = rng.normal(size=(60, 3))
    predicted = y_pred.argmax(1)
    prec, rec, f1 = [], [], []
    for c in range(3):
        tp, fp, fn = _confusion(y_true, predicted, c)
        prec.append(tp / (tp + fp))
        rec.append(tp / (tp + fn))
        f1.append(2 * tp / (2 * tp + fp + fn))
    assert _stream(metrics.Precision(), y_true, y_pred) == pytest.approx(np.mean(prec))
    assert _stream(metrics.Recall(), y_true, y_pred) == pytest.approx(np.mean(rec))
    assert _stream(metrics.F1Score(), y_true, y_pred) == pytest.approx(np.mean(f1))
    micro = metrics.precision(y_true, y_pred, average="micro")
    assert micro == pytest.approx(np.mean(predicted == y_true))


def test_multiclass_macro_skips_classes_never_seen():
    y_pred = np.array([[5.0, 0, 0, 0], [0, 5.0, 0, 0]])
    assert metrics.precision(np.array([0, 1]), y_pred) == 1.0  # classes 2, 3 absent


def test_regression_errors_exact_over_batches():
    rng = np.random.default_rng(3)
    y_true = rng.normal(size=(33, 1))
    y_pred = rng.normal(size=(33, 1))
    err = y_pred - y_true
    assert _stream(metrics.MeanAbsoluteError(), y_true, y_pred) == pytest.approx(
        np.abs(err).mean())
    assert _stream(metrics.MeanSquaredError(), y_true, y_pred) == pytest.approx(
        np.square(err).mean())
    rmse = _stream(metrics.RootMeanSquaredError(), y_true, y_pred, 4)
    assert rmse == pytest.approx(math.sqrt(np.square(err).mean()))
    # (N,) targets against (N, 1) predictions are the same elements.
    assert metrics.mean_absolute_error(y_true[:, 0], y_pred) == pytest.approx(
        np.abs(err).mean())


def test_reset_and_names():
    m = metrics.get("acc")
    assert m.name == "acc"
    m.update_state(np.array([1, 0]), np.array([0.9, 0.9]))
    assert m.result() == 0.5
    m.reset_state()
    assert m.result() == 0.0 and m.count == 0
    assert metrics.get("mean_squared_error").name == "mean_squared_error"
    assert isinstance(metrics.get("rmse"), metrics.RootMeanSquaredError)
    with pytest.raises(ValueError, match="unknown metric 'nope'"):
        metrics.get("nope")


def test_function_metric_is_wrapped_and_weighted_by_batch_size():
    def max_error(y_true, y_pred):
        return np.abs(y_pred - y_true).max(axis=-1)  # one value per sample

    m = metrics.get(max_error)
    assert m.name == "max_error"
    m.update_state(np.zeros((3, 2)), np.array([[1.0, 2], [0, 0], [0, 3]]))
    m.update_state(np.zeros((1, 2)), np.array([[4.0, 0]]))
    assert m.result() == pytest.approx((2 + 0 + 3 + 4) / 4)


def _pairs_counted(actual, predicted, classes):
    out = np.zeros((classes, classes), dtype=np.int64)
    for a, p in zip(actual, predicted):
        out[a, p] += 1
    return out


@pytest.mark.parametrize("seed", range(5))
def test_confusion_matrix_counts_every_pair_from_labels_scores_and_one_hot(seed):
    rng = np.random.default_rng(seed)
    classes = int(rng.integers(2, 7))
    actual = rng.integers(0, classes, 50)
    scores = rng.standard_normal((50, classes))
    predicted = scores.argmax(1)
    want = _pairs_counted(actual, predicted, classes)
    np.testing.assert_array_equal(metrics.confusion_matrix(actual, predicted, classes), want)
    np.testing.assert_array_equal(metrics.confusion_matrix(actual, scores), want)
    np.testing.assert_array_equal(metrics.confusion_matrix(np.eye(classes)[actual], scores), want)
    got = metrics.confusion_matrix(actual, predicted, classes)
    assert got.sum() == 50 and got.dtype == np.int64
    assert np.trace(got) / 50 == pytest.approx(metrics.accuracy(actual, scores))


def test_confusion_matrix_of_a_binary_problem_thresholds_scores():
    labels = np.array([0, 1, 1, 0, 1])
    probabilities = np.array([[0.2], [0.7], [0.4], [0.9], [0.6]])
    np.testing.assert_array_equal(metrics.confusion_matrix(labels, probabilities),
                                  [[1, 1], [1, 2]])
    logits = np.array([-1.0, 2.0, -3.0, 4.0, 0.5])
    np.testing.assert_array_equal(metrics.confusion_matrix(labels, logits, from_logits=True),
                                  [[1, 1], [1, 2]])


def test_confusion_matrix_errors():
    with pytest.raises(ValueError, match=r"must be in \[0, 2\), got 0..2"):
        metrics.confusion_matrix(np.array([0, 1]), np.array([0, 2]), num_classes=2)
    with pytest.raises(TypeError, match="labels must be integers"):
        metrics.confusion_matrix(np.array([0.5, 1.0]), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"must be in \[0, 1\), got -1..0"):
        metrics.confusion_matrix(np.array([-1, 0]), np.array([0, 0]))
    assert metrics.confusion_matrix(np.array([2]), np.array([2]), num_classes=4).shape == (4, 4)
