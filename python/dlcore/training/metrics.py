"""Streaming metrics: ``update_state`` per batch, ``result`` for the whole epoch.

Every metric accumulates sufficient statistics (counts, sums, confusion counts) across
batches, so the epoch value equals the value on all samples at once: precision is
``sum(TP) / sum(TP + FP)`` over the epoch, RMSE is ``sqrt(sum(err^2) / n)``, never a mean
of per-batch values.

Argument order is Keras' and scikit-learn's: ``metric(y_true, y_pred)`` (losses, as in
PyTorch, take ``(input, target)``).

Logits or probabilities? Class decisions by ``argmax`` are the same for both. Binary
decisions threshold the prediction at 0.5 for probabilities (a sigmoid output, as Keras
assumes) and at 0 for logits; pass ``from_logits=True`` for the latter. ``compile`` sets it
for you from the loss: ``BCEWithLogitsLoss`` means logits, ``BCELoss`` probabilities.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Optional, Tuple

import numpy as np

from ..tensor import Tensor

_KINDS = (None, "binary", "categorical", "sparse")


def _array(x: Any) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


class Metric:
    """Base class: subclasses define ``update_state``, ``result`` and ``reset_state``.

    Calling a metric updates it and returns the result so far.
    """

    def __init__(self, name: Optional[str] = None) -> None:
        self.name = name or _snake(type(self).__name__)

    def update_state(self, y_true: Any, y_pred: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define update_state()")

    def result(self) -> float:
        raise NotImplementedError(f"{type(self).__name__} must define result()")

    def reset_state(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define reset_state()")

    def __call__(self, y_true: Any, y_pred: Any) -> float:
        self.update_state(y_true, y_pred)
        return self.result()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _decide_kind(y_true: np.ndarray, y_pred: np.ndarray, op: str) -> str:
    """Keras' rule: one output column -> binary; same shapes -> categorical (one-hot);
    one dimension fewer in the labels -> sparse (integer labels)."""
    if y_pred.ndim == 0:
        raise ValueError(f"{op}: predictions must have a batch dimension, got a scalar")
    if y_pred.ndim == 1 or y_pred.shape[-1] == 1:
        return "binary"
    if y_true.shape == y_pred.shape:
        return "categorical"
    if y_true.shape in (y_pred.shape[:-1], y_pred.shape[:-1] + (1,)):
        return "sparse"
    raise ValueError(f"{op}: cannot match labels of shape {y_true.shape} with predictions of "
                     f"shape {y_pred.shape}; expected the same shape (one-hot), "
                     f"{y_pred.shape[:-1]} (integer labels) or one output column (binary)")


def _same_size(y_true: np.ndarray, y_pred: np.ndarray, op: str) -> Tuple[np.ndarray, np.ndarray]:
    """Flatten labels and predictions that describe the same elements, e.g. (N,) and (N, 1)."""
    if y_true.size != y_pred.size:
        raise ValueError(f"{op}: labels of shape {y_true.shape} and predictions of shape "
                         f"{y_pred.shape} have different numbers of elements")
    return y_true.reshape(-1), y_pred.reshape(-1)


def _class_labels(y_true: np.ndarray, y_pred: np.ndarray, kind: str) -> np.ndarray:
    if kind == "categorical":
        return np.argmax(y_true, axis=-1).reshape(-1)
    return y_true.reshape(-1).astype(np.int64)


class _Thresholded(Metric):
    def __init__(self, name: Optional[str], kind: Optional[str], threshold: Optional[float],
                 from_logits: bool) -> None:
        super().__init__(name)
        if kind not in _KINDS:
            raise ValueError(f"{type(self).__name__}: kind must be one of {_KINDS}, got "
                             f"{kind!r}")
        self.kind = kind
        self.from_logits = bool(from_logits)
        self.threshold = (0.0 if from_logits else 0.5) if threshold is None else float(threshold)
        self._decided: Optional[str] = kind

    def _kind_for(self, y_true: np.ndarray, y_pred: np.ndarray) -> str:
        if self._decided is None:
            self._decided = _decide_kind(y_true, y_pred, self.name)
        return self._decided


class Accuracy(_Thresholded):
    """Fraction of correct predictions.

    Args:
        kind: ``'binary'`` (threshold one output), ``'categorical'`` (argmax of one-hot
            labels vs argmax of predictions), ``'sparse'`` (integer labels vs argmax of
            predictions), or ``None`` to decide from the shapes of the first batch as Keras
            does: predictions ``(N,)`` or ``(N, 1)`` -> binary; labels shaped like the
            predictions ``(N, C)`` -> categorical; labels ``(N,)`` -> sparse.
        threshold: binary decision threshold; default 0.5, or 0 with ``from_logits``.
        from_logits: binary predictions are logits rather than probabilities.
    """

    def __init__(self, name: Optional[str] = "accuracy", kind: Optional[str] = None,
                 threshold: Optional[float] = None, from_logits: bool = False) -> None:
        super().__init__(name, kind, threshold, from_logits)
        self.reset_state()

    def reset_state(self) -> None:
        self.correct = 0
        self.count = 0
        self._decided = self.kind

    def update_state(self, y_true: Any, y_pred: Any) -> None:
        y_true, y_pred = _array(y_true), _array(y_pred)
        kind = self._kind_for(y_true, y_pred)
        if kind == "binary":
            labels, scores = _same_size(y_true, y_pred, self.name)
            hits = (scores > self.threshold) == (labels > 0.5)
        else:
            predicted = np.argmax(y_pred, axis=-1).reshape(-1)
            labels = _class_labels(y_true, y_pred, kind)
            if labels.shape != predicted.shape:
                raise ValueError(f"{self.name}: {labels.size} labels for {predicted.size} "
                                 f"predictions (labels {y_true.shape}, predictions "
                                 f"{y_pred.shape})")
            hits = labels == predicted
        self.correct += int(np.count_nonzero(hits))
        self.count += int(hits.size)

    def result(self) -> float:
        return self.correct / self.count if self.count else 0.0


class TopKAccuracy(Metric):
    """Fraction of samples whose true class is among the ``k`` highest predictions.

    Predictions ``(N, C)``; labels integer ``(N,)`` / ``(N, 1)`` or one-hot ``(N, C)``.
    Ties count in the sample's favour (a true class tied with the k-th score is a hit).
    """

    def __init__(self, k: int = 5, name: Optional[str] = None) -> None:
        if not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"TopKAccuracy: k must be a positive int, got {k!r}")
        super().__init__(name or f"top_{k}_accuracy")
        self.k = int(k)
        self.reset_state()

    def reset_state(self) -> None:
        self.correct = 0
        self.count = 0

    def update_state(self, y_true: Any, y_pred: Any) -> None:
        y_true, y_pred = _array(y_true), _array(y_pred)
        if y_pred.ndim != 2:
            raise ValueError(f"{self.name}: predictions must be (N, C), got {y_pred.shape}")
        kind = "categorical" if y_true.shape == y_pred.shape else "sparse"
        labels = _class_labels(y_true, y_pred, kind)
        if labels.shape[0] != y_pred.shape[0]:
            raise ValueError(f"{self.name}: labels {y_true.shape} do not match predictions "
                             f"{y_pred.shape}")
        true_scores = y_pred[np.arange(len(labels)), labels]
        rank = np.count_nonzero(y_pred > true_scores[:, None], axis=1)
        self.correct += int(np.count_nonzero(rank < self.k))
        self.count += len(labels)

    def result(self) -> float:
        return self.correct / self.count if self.count else 0.0


class _ConfusionMetric(_Thresholded):
    """Precision, recall and F1 from true/false positive and false negative counts.

    Binary data (one output column, or ``kind='binary'`` for multi-label outputs): every
    element is a yes/no decision at the threshold. Multi-class data (``(N, C)`` predictions
    with integer or one-hot labels): the predicted class is the argmax and the result is
    the ``average`` over classes — ``'macro'`` (mean of the per-class values, over classes
    that occurred in the labels or the predictions) or ``'micro'`` (pooled counts).
    A ratio with a zero denominator counts as 0.
    """

    def __init__(self, name: Optional[str], kind: Optional[str], threshold: Optional[float],
                 from_logits: bool, average: str) -> None:
        super().__init__(name, kind, threshold, from_logits)
        if average not in ("macro", "micro"):
            raise ValueError(f"{type(self).__name__}: average must be 'macro' or 'micro', got "
                             f"{average!r}")
        self.average = average
        self.reset_state()

    def reset_state(self) -> None:
        self.tp = np.zeros(0, dtype=np.int64)
        self.fp = np.zeros(0, dtype=np.int64)
        self.fn = np.zeros(0, dtype=np.int64)
        self._decided = self.kind

    def _add(self, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> None:
        size = max(len(self.tp), len(tp))
        self.tp = _grow(self.tp, size) + _grow(tp, size)
        self.fp = _grow(self.fp, size) + _grow(fp, size)
        self.fn = _grow(self.fn, size) + _grow(fn, size)

    def update_state(self, y_true: Any, y_pred: Any) -> None:
        y_true, y_pred = _array(y_true), _array(y_pred)
        kind = self._kind_for(y_true, y_pred)
        if kind == "binary":
            labels, scores = _same_size(y_true, y_pred, self.name)
            predicted = scores > self.threshold
            actual = labels > 0.5
            tp = np.count_nonzero(predicted & actual)
            self._add(np.array([tp]), np.array([np.count_nonzero(predicted) - tp]),
                      np.array([np.count_nonzero(actual) - tp]))
            return
        classes = y_pred.shape[-1]
        predicted = np.argmax(y_pred, axis=-1).reshape(-1)
        actual = _class_labels(y_true, y_pred, kind)
        if actual.shape != predicted.shape:
            raise ValueError(f"{self.name}: labels {y_true.shape} do not match predictions "
                             f"{y_pred.shape}")
        if actual.size and (actual.min() < 0 or actual.max() >= classes):
            raise ValueError(f"{self.name}: labels must be in [0, {classes}), got "
                             f"{int(actual.min())}..{int(actual.max())}")
        tp = np.bincount(actual[predicted == actual], minlength=classes)
        predicted_count = np.bincount(predicted, minlength=classes)
        actual_count = np.bincount(actual, minlength=classes)
        self._add(tp, predicted_count - tp, actual_count - tp)

    def _ratio(self, numerator: np.ndarray, denominator: np.ndarray) -> float:
        if self._decided == "binary" or self.average == "micro":
            total = int(denominator.sum())
            return float(numerator.sum()) / total if total else 0.0
        seen = (self.tp + self.fp + self.fn) > 0
        if not seen.any():
            return 0.0
        num, den = numerator[seen].astype(np.float64), denominator[seen]
        per_class = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        return float(per_class.mean())


def _grow(counts: np.ndarray, size: int) -> np.ndarray:
    return counts if len(counts) == size else np.pad(counts, (0, size - len(counts)))


class Precision(_ConfusionMetric):
    """``TP / (TP + FP)``: of the samples predicted positive, how many are. See
    :class:`_ConfusionMetric` for binary vs multi-class handling."""

    def __init__(self, name: Optional[str] = "precision", kind: Optional[str] = None,
                 threshold: Optional[float] = None, from_logits: bool = False,
                 average: str = "macro") -> None:
        super().__init__(name, kind, threshold, from_logits, average)

    def result(self) -> float:
        return self._ratio(self.tp, self.tp + self.fp)


class Recall(_ConfusionMetric):
    """``TP / (TP + FN)``: of the positive samples, how many were found."""

    def __init__(self, name: Optional[str] = "recall", kind: Optional[str] = None,
                 threshold: Optional[float] = None, from_logits: bool = False,
                 average: str = "macro") -> None:
        super().__init__(name, kind, threshold, from_logits, average)

    def result(self) -> float:
        return self._ratio(self.tp, self.tp + self.fn)


class F1Score(_ConfusionMetric):
    """Harmonic mean of precision and recall, ``2 TP / (2 TP + FP + FN)`` (per class for
    ``'macro'``)."""

    def __init__(self, name: Optional[str] = "f1", kind: Optional[str] = None,
                 threshold: Optional[float] = None, from_logits: bool = False,
                 average: str = "macro") -> None:
        super().__init__(name, kind, threshold, from_logits, average)

    def result(self) -> float:
        return self._ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)


class _ErrorMetric(Metric):
    def __init__(self, name: Optional[str]) -> None:
        super().__init__(name)
        self.reset_state()

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0

    def _errors(self, y_true: Any, y_pred: Any) -> np.ndarray:
        y_true, y_pred = _array(y_true), _array(y_pred)
        if y_true.shape != y_pred.shape:
            y_true, y_pred = _same_size(y_true, y_pred, self.name)
        return y_pred.astype(np.float64) - y_true.astype(np.float64)


class MeanAbsoluteError(_ErrorMetric):
    """``mean(|y_pred - y_true|)`` over all elements seen."""

    def __init__(self, name: Optional[str] = "mae") -> None:
        super().__init__(name)

    def update_state(self, y_true: Any, y_pred: Any) -> None:
        errors = self._errors(y_true, y_pred)
        self.total += float(np.abs(errors).sum())
        self.count += errors.size

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0


class MeanSquaredError(_ErrorMetric):
    """``mean((y_pred - y_true)^2)`` over all elements seen."""

    def __init__(self, name: Optional[str] = "mse") -> None:
        super().__init__(name)

    def update_state(self, y_true: Any, y_pred: Any) -> None:
        errors = self._errors(y_true, y_pred)
        self.total += float(np.square(errors).sum())
        self.count += errors.size

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0


class RootMeanSquaredError(MeanSquaredError):
    """``sqrt(mean((y_pred - y_true)^2))`` over all elements seen (not a mean of per-batch
    roots)."""

    def __init__(self, name: Optional[str] = "rmse") -> None:
        super().__init__(name)

    def result(self) -> float:
        return math.sqrt(super().result())


class MeanMetricWrapper(Metric):
    """Turn ``fn(y_true, y_pred)`` into a streaming metric.

    ``fn`` returns one value per sample (averaged over all samples seen) or one value per
    batch (averaged weighted by the batch size, which is exact for per-sample means).
    """

    def __init__(self, fn: Callable[[Any, Any], Any], name: Optional[str] = None) -> None:
        super().__init__(name or getattr(fn, "__name__", "metric"))
        self.fn = fn
        self.reset_state()

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0

    def update_state(self, y_true: Any, y_pred: Any) -> None:
        values = _array(self.fn(y_true, y_pred)).astype(np.float64)
        if values.ndim == 0:
            n = len(_array(y_true)) if _array(y_true).ndim else 1
            self.total += float(values) * n
            self.count += n
        else:
            self.total += float(values.sum())
            self.count += values.size

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0


_FACTORIES = {
    "accuracy": lambda name, hint: Accuracy(name, kind=hint[1], from_logits=hint[0]),
    "acc": lambda name, hint: Accuracy(name, kind=hint[1], from_logits=hint[0]),
    "binary_accuracy": lambda name, hint: Accuracy(name, kind="binary", from_logits=hint[0]),
    "categorical_accuracy": lambda name, hint: Accuracy(name, kind="categorical"),
    "sparse_categorical_accuracy": lambda name, hint: Accuracy(name, kind="sparse"),
    "top_k_accuracy": lambda name, hint: TopKAccuracy(5, name),
    "top_k_categorical_accuracy": lambda name, hint: TopKAccuracy(5, name),
    "sparse_top_k_categorical_accuracy": lambda name, hint: TopKAccuracy(5, name),
    "precision": lambda name, hint: Precision(name, kind=hint[1], from_logits=hint[0]),
    "recall": lambda name, hint: Recall(name, kind=hint[1], from_logits=hint[0]),
    "f1": lambda name, hint: F1Score(name, kind=hint[1], from_logits=hint[0]),
    "f1_score": lambda name, hint: F1Score(name, kind=hint[1], from_logits=hint[0]),
    "mae": lambda name, hint: MeanAbsoluteError(name),
    "mean_absolute_error": lambda name, hint: MeanAbsoluteError(name),
    "mse": lambda name, hint: MeanSquaredError(name),
    "mean_squared_error": lambda name, hint: MeanSquaredError(name),
    "rmse": lambda name, hint: RootMeanSquaredError(name),
    "root_mean_squared_error": lambda name, hint: RootMeanSquaredError(name),
}


def get(identifier: Any, from_logits: bool = False, binary: bool = False) -> Metric:
    """A fresh metric from a name (``'accuracy'``, ``'top_k_accuracy'`` or ``'top_3_accuracy'``,
    ``'precision'``, ``'recall'``, ``'f1'``, ``'mae'``, ``'mse'``, ``'rmse'`` and their
    Keras long names), a :class:`Metric` (returned as is) or a function
    ``fn(y_true, y_pred)`` (wrapped in :class:`MeanMetricWrapper`).

    ``from_logits`` and ``binary`` are hints for name lookups (``compile`` derives them from
    the loss): binary decisions threshold logits at 0, and ``binary`` makes ``'accuracy'``,
    ``'precision'``, ... treat every output as a yes/no decision (multi-label outputs).
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower().replace("-", "_")
        hint = (from_logits, "binary" if binary else None)
        if key in _FACTORIES:
            return _FACTORIES[key](identifier, hint)
        top = re.fullmatch(r"(?:sparse_)?top_(\d+)_(?:categorical_)?accuracy", key)
        if top:
            return TopKAccuracy(int(top.group(1)), identifier)
        known = ", ".join(sorted(_FACTORIES))
        raise ValueError(f"unknown metric {identifier!r}; known names: {known}, top_<k>_accuracy")
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise TypeError(f"a metric must be a name, a Metric or a function, got "
                    f"{type(identifier).__name__}")


def _one_shot(metric: Metric, y_true: Any, y_pred: Any) -> float:
    metric.update_state(y_true, y_pred)
    return metric.result()


def accuracy(y_true: Any, y_pred: Any, from_logits: bool = False) -> float:
    """Accuracy of a whole set of predictions (see :class:`Accuracy` for the rules)."""
    return _one_shot(Accuracy(from_logits=from_logits), y_true, y_pred)


def top_k_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> float:
    return _one_shot(TopKAccuracy(k), y_true, y_pred)


def precision(y_true: Any, y_pred: Any, from_logits: bool = False,
              average: str = "macro") -> float:
    return _one_shot(Precision(from_logits=from_logits, average=average), y_true, y_pred)


def recall(y_true: Any, y_pred: Any, from_logits: bool = False, average: str = "macro") -> float:
    return _one_shot(Recall(from_logits=from_logits, average=average), y_true, y_pred)


def f1_score(y_true: Any, y_pred: Any, from_logits: bool = False,
             average: str = "macro") -> float:
    return _one_shot(F1Score(from_logits=from_logits, average=average), y_true, y_pred)


def mean_absolute_error(y_true: Any, y_pred: Any) -> float:
    return _one_shot(MeanAbsoluteError(), y_true, y_pred)


def mean_squared_error(y_true: Any, y_pred: Any) -> float:
    return _one_shot(MeanSquaredError(), y_true, y_pred)


def root_mean_squared_error(y_true: Any, y_pred: Any) -> float:
    return _one_shot(RootMeanSquaredError(), y_true, y_pred)


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: Optional[int] = None,
                     from_logits: bool = False) -> np.ndarray:
    """Counts of (true class, predicted class) pairs: ``out[i, j]`` is how many samples of
    class ``i`` were predicted as ``j`` (rows true, columns predicted, as scikit-learn).

    ``y_pred`` may be class labels of ``y_true``'s shape ``(N,)`` (integers, e.g.
    ``model.predict(x).argmax(1)``), scores of shape ``(N, C)`` (the argmax is the
    prediction; ``y_true`` integer labels or one-hot rows), or one score column for a binary
    problem (thresholded at 0.5, or at 0 with ``from_logits``), which gives a 2 x 2 matrix.
    ``num_classes`` defaults to the number of score columns, or one more than the largest
    label. Returns an int64 array of shape ``(num_classes, num_classes)``.
    """
    y_true, y_pred = _array(y_true), _array(y_pred)
    op = "confusion_matrix"
    as_labels = y_pred.dtype.kind in "iu" and y_pred.ndim == 1 and y_true.shape == y_pred.shape
    kind = "labels" if as_labels else _decide_kind(y_true, y_pred, op)
    if kind in ("labels", "sparse") and not np.array_equal(y_true, np.round(y_true)):
        raise TypeError(f"{op}: labels must be integers, got {y_true.dtype} values that are "
                        f"not whole numbers")
    if kind == "labels":
        actual, predicted = y_true.reshape(-1), y_pred.reshape(-1).astype(np.int64)
        columns = 0
    elif kind == "binary":
        labels, scores = _same_size(y_true, y_pred, op)
        actual = (labels > 0.5).astype(np.int64)
        predicted = (scores > (0.0 if from_logits else 0.5)).astype(np.int64)
        columns = 2
    else:
        actual = _class_labels(y_true, y_pred, kind)
        predicted = np.argmax(y_pred, axis=-1).reshape(-1)
        columns = y_pred.shape[-1]
    actual = actual.astype(np.int64)
    largest = int(max(actual.max(initial=-1), predicted.max(initial=-1)))
    smallest = int(min(actual.min(initial=0), predicted.min(initial=0)))
    classes = max(columns, largest + 1) if num_classes is None else int(num_classes)
    if smallest < 0 or largest >= classes:
        raise ValueError(f"{op}: labels and predictions must be in [0, {classes}), got "
                         f"{smallest}..{largest}")
    return np.bincount(actual * classes + predicted, minlength=classes * classes).reshape(
        classes, classes)
