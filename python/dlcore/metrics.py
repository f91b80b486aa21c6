"""Streaming metrics for ``Module.fit`` and for direct use (Keras' names, ``(y_true, y_pred)``).

See :mod:`dlcore.training.metrics` for how each metric decides between binary, categorical
and sparse labels, and between logits and probabilities.
"""

from .training.metrics import (
    Accuracy,
    F1Score,
    MeanAbsoluteError,
    MeanMetricWrapper,
    MeanSquaredError,
    Metric,
    Precision,
    Recall,
    RootMeanSquaredError,
    TopKAccuracy,
    accuracy,
    confusion_matrix,
    f1_score,
    get,
    mean_absolute_error,
    mean_squared_error,
    precision,
    recall,
    root_mean_squared_error,
    top_k_accuracy,
)

__all__ = [
    "Accuracy",
    "F1Score",
    "MeanAbsoluteError",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "Metric",
    "Precision",
    "Recall",
    "RootMeanSquaredError",
    "TopKAccuracy",
    "accuracy",
    "confusion_matrix",
    "f1_score",
    "get",
    "mean_absolute_error",
    "mean_squared_error",
    "precision",
    "recall",
    "root_mean_squared_error",
    "top_k_accuracy",
]
