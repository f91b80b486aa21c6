"""Rosenblatt's perceptron (1958): a step unit trained by the perceptron learning rule."""

from __future__ import annotations

from typing import Any, List

import numpy as np

from ..random import default_generator
from ..tensor import Tensor, as_tensor
from . import functional as F
from .module import Module, Parameter


class Perceptron(Module):
    """``y = step(w . x + b)``: predicts 1 where the weighted sum is positive, else 0.

    The step's gradient is zero almost everywhere, so backpropagation cannot train it. It
    learns instead by Rosenblatt's rule, one sample at a time: after predicting ``y_hat`` for
    ``x`` with label ``y``,

        ``w <- w + lr * (y - y_hat) * x``,    ``b <- b + lr * (y - y_hat)``,

    which changes nothing on a correct prediction and otherwise moves the decision boundary
    toward classifying ``x`` correctly. On linearly separable data this stops after finitely
    many mistakes (Novikoff, 1962); on data no line separates, such as XOR, it never settles.

    Args:
        in_features: size of each input sample.

    Shape:
        ``(*, in_features) -> (*)``, values in {0, 1}.

    Example:
        >>> p = nn.Perceptron(2)
        >>> errors = p.fit_rosenblatt(x, y, epochs=20)   # mistakes per epoch, e.g. [3, 1, 0]
        >>> p.predict(x)
    """

    def __init__(self, in_features: int, dtype: Any = np.float32) -> None:
        super().__init__()
        if not isinstance(in_features, (int, np.integer)) or in_features < 1:
            raise ValueError(f"Perceptron: in_features must be a positive int, got "
                             f"{in_features!r}")
        self.in_features = int(in_features)
        # Zeros, as Rosenblatt started: the rule converges from any start on separable data.
        self.weight = Parameter(np.zeros((1, self.in_features), dtype=dtype))
        self.bias = Parameter(np.zeros(1, dtype=dtype))

    def forward(self, x: Any) -> Tensor:
        scores = F.linear(x, self.weight, self.bias)
        return F.step(scores).reshape(scores.shape[:-1])

    def predict(self, x: Any) -> np.ndarray:
        """Class predictions in {0, 1} as an int64 array."""
        return (self._scores(self._inputs(x, "predict")) > 0).astype(np.int64)

    def train_step(self, x: Any, y: Any, lr: float = 1.0) -> int:
        """Apply Rosenblatt's rule to one sample ``x`` (``(in_features,)``) with label ``y``.

        Returns 1 if the sample was misclassified (and the weights were updated), else 0.
        """
        self._check_lr(lr, "train_step")
        sample = self._inputs(x, "train_step")
        if sample.shape[0] != 1:
            raise ValueError(f"train_step: expected one sample of shape ({self.in_features},), "
                             f"got shape {np.shape(as_tensor(x).data)}; use fit_rosenblatt for "
                             f"a data set")
        label = self._labels(y, 1, "train_step")[0]
        return self._update(sample[0], label, lr)

    def fit_rosenblatt(self, x: Any, y: Any, epochs: int = 100, lr: float = 1.0,
                       shuffle: bool = True) -> List[int]:
        """Train with Rosenblatt's rule, one sample at a time, for up to ``epochs`` passes.

        Args:
            x: ``(N, in_features)`` inputs.
            y: ``(N,)`` labels in {0, 1}.
            epochs: the most passes over the data.
            lr: the step size (with zero initial weights it only scales them, so the
                predictions do not depend on it).
            shuffle: visit the samples in a new random order each epoch (seeded by
                ``dlcore.manual_seed``).

        Returns:
            The number of misclassified samples in each epoch. Training stops after the
            first epoch without a mistake (every sample is then classified correctly), so a
            list ending in 0 means the data were separated.
        """
        if not isinstance(epochs, (int, np.integer)) or epochs < 1:
            raise ValueError(f"fit_rosenblatt: epochs must be a positive int, got {epochs!r}")
        self._check_lr(lr, "fit_rosenblatt")
        inputs = self._inputs(x, "fit_rosenblatt")
        labels = self._labels(y, inputs.shape[0], "fit_rosenblatt")
        history: List[int] = []
        for _ in range(int(epochs)):
            order = (default_generator().permutation(len(labels)) if shuffle
                     else range(len(labels)))
            errors = sum(self._update(inputs[i], labels[i], lr) for i in order)
            history.append(int(errors))
            if errors == 0:
                break
        return history

    # ----------------------------------------------------------------- internals
    def _scores(self, inputs: np.ndarray) -> np.ndarray:
        return inputs @ self.weight.data[0] + self.bias.data[0]

    @staticmethod
    def _check_lr(lr: float, op: str) -> None:
        if not lr > 0:
            raise ValueError(f"{op}: lr must be positive, got {lr}")

    def _update(self, sample: np.ndarray, label: int, lr: float) -> int:
        predicted = 1 if float(sample @ self.weight.data[0] + self.bias.data[0]) > 0 else 0
        error = label - predicted
        if error == 0:
            return 0
        self.weight.data[0] += lr * error * sample
        self.bias.data[0] += lr * error
        return 1

    def _inputs(self, x: Any, op: str) -> np.ndarray:
        data = np.asarray(as_tensor(x).data, dtype=self.weight.dtype)
        if data.ndim == 1:
            data = data[None, :]
        if data.ndim != 2 or data.shape[1] != self.in_features:
            raise ValueError(f"Perceptron.{op}: input has shape {np.shape(as_tensor(x).data)} "
                             f"but the perceptron expects (N, {self.in_features})")
        return data

    def _labels(self, y: Any, count: int, op: str) -> np.ndarray:
        labels = np.asarray(as_tensor(y).data).reshape(-1)
        if labels.shape[0] != count:
            raise ValueError(f"Perceptron.{op}: {count} samples but {labels.shape[0]} labels")
        if not np.all((labels == 0) | (labels == 1)):
            raise ValueError(f"Perceptron.{op}: labels must be 0 or 1, got values "
                             f"{np.unique(labels)[:10].tolist()}")
        return labels.astype(np.int64)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}"
