"""References for the foundation kernels: matmul, activations, softmax, cross-entropy."""

from __future__ import annotations

import numpy as np


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b``."""
    return np.matmul(a, b)


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def relu_backward(x: np.ndarray, grad: np.ndarray) -> np.ndarray:
    return grad * (x > 0)


def sigmoid(x: np.ndarray) -> np.ndarray:
    # exp of a non-positive number only: no overflow.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_backward(y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    return grad * y * (1 - y)


def tanh(x: np.ndarray) -> np.ndarray:
    return np.tanh(x)


def tanh_backward(y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    return grad * (1 - y * y)


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.exp(log_softmax(x, axis))


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-row ``-log softmax(logits)[label]``."""
    return -log_softmax(logits, 1)[np.arange(len(labels)), labels]


def cross_entropy_backward(logits: np.ndarray, labels: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """Gradient of ``sum(grad * cross_entropy(logits, labels))`` w.r.t. the logits."""
    d = softmax(logits, 1)
    d[np.arange(len(labels)), labels] -= 1
    return d * grad[:, None]
