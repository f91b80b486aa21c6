"""``KerasMixin``: ``compile`` / ``fit`` / ``evaluate`` / ``predict`` / ``save`` on every Module.

``dlcore.nn.Module`` inherits this class, so a PyTorch-style model also trains the Keras
way. This file imports nothing heavy at module level (``nn.module`` imports it while
``dlcore.nn`` is still initialising); the work happens in ``training.engine``.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np


class KerasMixin:
    """Keras' training API for dlcore modules."""

    def compile(self, optimizer: Any = "rmsprop", loss: Any = None,
                metrics: Optional[Sequence[Any]] = None) -> None:
        """Choose the optimizer, loss and metrics that ``fit`` and ``evaluate`` use.

        Args:
            optimizer: a name (``'sgd'``, ``'adam'``, ``'adamw'``, ``'rmsprop'``,
                ``'adagrad'``, ``'adadelta'``: the ``dlcore.optim`` class with its default
                hyperparameters over ``self.parameters()``), an optimizer class, or an
                optimizer instance built on this model's parameters.
            loss: a name resolved by ``dlcore.nn.get_loss`` (Keras names such as
                ``'sparse_categorical_crossentropy'``, ``'binary_crossentropy'``,
                ``'mse'``, ``'mae'``, ``'huber'`` and PyTorch class names), a loss module
                such as ``nn.CrossEntropyLoss()``, or a function. Whatever it is, it is
                called PyTorch-style as ``loss(predictions, targets)``.
            metrics: names or ``dlcore.metrics.Metric`` objects or functions
                ``fn(y_true, y_pred)``; see ``dlcore.metrics.get``. Binary metrics learn
                from the loss whether predictions are logits (``BCEWithLogitsLoss``) or
                probabilities.

        Example:
            >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
            ...               metrics=["accuracy"])
        """
        from .compile_utils import (
            CompiledConfig,
            resolve_loss,
            resolve_metrics,
            resolve_optimizer,
        )

        loss_fn = resolve_loss(loss)
        resolved, from_logits, binary = resolve_metrics(metrics, loss_fn)
        config = CompiledConfig(resolve_optimizer(optimizer, self), loss_fn, resolved,
                                from_logits, binary)
        # object.__setattr__: a loss module must not become a registered sub-module.
        object.__setattr__(self, "_compiled", config)

    def fit(self, x: Any = None, y: Any = None, epochs: int = 1,
            batch_size: Optional[int] = 32, validation_data: Any = None,
            validation_split: float = 0.0, shuffle: bool = True,
            callbacks: Optional[Sequence[Any]] = None, verbose: Any = "auto",
            initial_epoch: int = 0, sample_weight: Any = None,
            class_weight: Optional[Dict[Any, float]] = None) -> Any:
        """Train for ``epochs - initial_epoch`` epochs; returns a ``History``.

        Args:
            x: inputs, a NumPy array or Tensor ``(N, ...)``, or a ``DataLoader`` yielding
                ``(inputs..., target)`` batches (then ``y`` is None and ``batch_size``
                and ``shuffle`` are the loader's business).
            y: targets ``(N, ...)``. ``(N,)`` targets for an ``(N, 1)`` output are
                reshaped, integer targets shaped like the output are cast to float.
            epochs: index of the last epoch + 1 (Keras' convention with ``initial_epoch``).
            batch_size: samples per step; ``None`` = full batch (plain gradient descent),
                ``1`` = stochastic gradient descent.
            validation_data: ``(x_val, y_val)`` or a DataLoader, evaluated after every
                epoch; its loss and metrics enter the logs as ``val_...``.
            validation_split: fraction in [0, 1) of the samples held out for validation:
                the *last* ones, taken before any shuffling, as Keras does (shuffle your
                data first if it is sorted, e.g. by class).
            shuffle: reshuffle the training samples every epoch (from dlcore's seeded
                generator: ``dlcore.manual_seed`` makes runs repeatable). A full batch is
                not shuffled: its order cannot change the step.
            callbacks: ``dlcore.callbacks`` objects.
            verbose: 0 silent, 1 live progress line, 2 one line per epoch, ``'auto'``
                (1 in a terminal or notebook, 2 otherwise).
            initial_epoch: the epoch to start from (to resume training).
            sample_weight: ``(N,)`` non-negative weights, one per sample of ``x``: a step's
                loss becomes ``sum(w_i * loss_i) / batch_size``. Training only (the
                validation loss stays unweighted), as in Keras.
            class_weight: ``{class: weight}`` for every class in ``y`` (integer labels,
                one-hot rows, or 0/1 targets): each sample is weighted by its class's
                weight (times its ``sample_weight``), e.g. ``{0: 1.0, 1: 9.0}`` when class
                1 is nine times rarer.

        The model trains in training mode; every module gets its previous mode back when
        ``fit`` returns. The loss in the logs is the mean over the epoch's samples.
        """
        from . import engine

        return engine.fit(self, x, y, epochs, batch_size, validation_data, validation_split,
                          shuffle, callbacks, verbose, initial_epoch, sample_weight,
                          class_weight)

    def evaluate(self, x: Any = None, y: Any = None, batch_size: Optional[int] = 32,
                 verbose: Any = 0) -> Dict[str, float]:
        """Loss and metrics on ``(x, y)`` (or a DataLoader), as a dict like
        ``{'loss': 0.31, 'accuracy': 0.9}``. Runs in eval mode without recording
        gradients and restores every module's mode afterwards."""
        from . import engine

        return engine.evaluate(self, x, y, batch_size, verbose)

    def predict(self, x: Any, batch_size: Optional[int] = 32, verbose: Any = 0) -> np.ndarray:
        """The model's outputs for ``x`` (array, Tensor or DataLoader) as one NumPy array.

        Runs in eval mode (dropout off, batch norm uses running statistics) under
        ``no_grad``; every module gets its previous mode back. ``verbose=1`` prints how
        many samples and how long."""
        from . import engine

        return engine.predict(self, x, batch_size, verbose)

    def summary(self, input_shape: Optional[Sequence[int]] = None, dtype: Any = np.float32,
                print_fn: Any = print) -> None:
        """Print Keras's table of the layers: name and type, output shape (when
        ``input_shape``, the shape of one sample, is given) and parameter count, then the
        totals. Nested modules are indented under their container.

        Example:
            >>> model.summary(input_shape=(1, 28, 28))
        """
        from .summary import summary

        summary(self, input_shape, dtype, print_fn)

    def save(self, path: Any) -> None:
        """Save the weights (``{'model': self.state_dict()}``) with ``dlcore.save``: a
        pickle-free ``.npz`` written atomically. The architecture is code and is not
        saved: rebuild the model, then ``load_weights``."""
        from ..serialization import save

        save({"model": self.state_dict()}, path)

    save_weights = save

    def load_weights(self, path: Any, strict: bool = True) -> None:
        """Load weights saved by ``save``, by ``ModelCheckpoint``, or a checkpoint dict
        with a ``'model'`` entry, or a bare ``state_dict`` saved with ``dlcore.save``.

        Raises ValueError for missing or unexpected keys (when ``strict``) and shape
        mismatches; ``CheckpointError`` for damaged files."""
        from ..serialization import load

        obj = load(path)
        state = obj.get("model") if isinstance(obj, dict) and isinstance(
            obj.get("model"), dict) else obj
        if not isinstance(state, dict):
            raise ValueError(f"load_weights: {path!r} holds a {type(obj).__name__}, not model "
                             "weights")
        self.load_state_dict(state, strict=strict)  # type: ignore[attr-defined]
