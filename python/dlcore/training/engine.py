"""The loops behind ``Module.fit``, ``evaluate`` and ``predict``.

One training step is the PyTorch loop written once: ``zero_grad``, forward, loss,
``backward``, ``step``. Everything else here is bookkeeping: turning arrays into batches,
running means of the loss, streaming metrics, callbacks and modes.
"""

from __future__ import annotations

import math
import time
import warnings
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from .._grad_mode import no_grad
from ..data import DataLoader, TensorDataset
from ..tensor import Tensor
from .callbacks import Callback, CallbackList
from .compile_utils import CompiledConfig
from .history import History
from .progress import ProgressBar, format_duration, resolve_verbose
from .sample_weights import sample_weights, unreduced, weighted_loss


# --------------------------------------------------------------------- inputs
def _as_array(value: Any, name: str, op: str) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, np.ndarray):
        return value
    array = np.asarray(value)
    if array.dtype == object:
        raise TypeError(f"{op}: {name} must be a numeric array, got {type(value).__name__} "
                        "that NumPy turns into an object array")
    return array


def _check_batch_size(batch_size: Optional[int], op: str) -> None:
    if batch_size is None:
        return
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size <= 0:
        raise ValueError(f"{op}: batch_size must be a positive int or None (full batch), "
                         f"got {batch_size!r}")


def make_loader(x: Any, y: Any, batch_size: Optional[int], shuffle: bool, op: str,
                need_y: bool = True, weights: Optional[np.ndarray] = None) -> DataLoader:
    """A DataLoader over ``(x, y)`` arrays (``(x, y, weights)`` with per-sample weights); a
    DataLoader ``x`` is used as it is."""
    if isinstance(x, DataLoader):
        if y is not None:
            raise ValueError(f"{op}: y must be None when x is a DataLoader (its batches carry "
                             "the targets)")
        return x
    if x is None:
        raise ValueError(f"{op}: x is required")
    _check_batch_size(batch_size, op)
    x = _as_array(x, "x", op)
    if x.ndim == 0:
        raise ValueError(f"{op}: x must have a sample dimension, got a scalar")
    if len(x) == 0:
        raise ValueError(f"{op}: x has no samples")
    arrays = [x]
    if y is not None:
        y = _as_array(y, "y", op)
        if y.ndim == 0 or len(y) != len(x):
            raise ValueError(f"{op}: x has {len(x)} samples (shape {x.shape}) but y has shape "
                             f"{y.shape}; they need the same first dimension")
        arrays.append(y)
    elif need_y:
        raise ValueError(f"{op}: y is required with array inputs")
    if weights is not None:
        arrays.append(weights)
    n = len(x)
    size = n if batch_size is None else min(int(batch_size), n)
    # A single batch holding every sample gains nothing from shuffling: keep it a view.
    return DataLoader(TensorDataset(*arrays), batch_size=size, shuffle=shuffle and size < n)


def split_batch(batch: Any) -> Tuple[Tuple[Any, ...], Any]:
    """``(inputs, target)`` of a batch: the last field is the target when there are two or
    more, a single field (or a bare array) is inputs only."""
    if isinstance(batch, (tuple, list)):
        if len(batch) == 1:
            return (batch[0],), None
        return tuple(batch[:-1]), batch[-1]
    return (batch,), None


def forward(model: Any, inputs: Sequence[Any]) -> Tensor:
    out = model(*[t if isinstance(t, Tensor) else Tensor(np.asarray(t)) for t in inputs])
    if not isinstance(out, Tensor):
        raise TypeError(f"the model must return a Tensor, got {type(out).__name__}")
    return out


def align_target(out: Tensor, target: Any) -> np.ndarray:
    """Targets shaped for the loss, as Keras does: ``(N,)`` against an ``(N, 1)`` output
    becomes ``(N, 1)`` (and vice versa), and integer targets that match the output's
    shape (0/1 labels, one-hot rows) become floats. Integer class labels ``(N,)`` for
    ``(N, C)`` logits are left alone, and labels ``(N, 1)`` become ``(N,)`` for them, as
    Keras' sparse losses take them."""
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    shape = out.data.shape
    if (t.dtype.kind in "iu" and t.ndim == len(shape) >= 2 and t.shape[-1] == 1
            and shape[-1] > 1 and t.shape[:-1] == shape[:-1]):
        return t.reshape(t.shape[:-1])
    if t.shape != shape and t.size == out.data.size and (
            (t.ndim == len(shape) - 1 and shape[-1] == 1)
            or (t.ndim == len(shape) + 1 and t.shape[-1] == 1)):
        t = t.reshape(shape)
    if t.shape == shape and t.dtype.kind in "iub" and out.data.dtype.kind == "f":
        t = t.astype(out.data.dtype)
    return t


def compute_loss(config: CompiledConfig, out: Tensor, target: Any) -> Tensor:
    loss = config.loss(out, align_target(out, target))
    if not isinstance(loss, Tensor):
        raise TypeError(f"the loss must return a Tensor, got {type(loss).__name__}")
    return loss if loss.data.size == 1 else loss.mean()


def _batch_len(inputs: Sequence[Any]) -> int:
    first = inputs[0]
    return len(first.data if isinstance(first, Tensor) else first)


@contextmanager
def modes_kept(model: Any, training: bool) -> Iterator[None]:
    """Run with every module in ``training`` mode, then give each its previous mode back."""
    previous = [(m, m.training) for m in model.modules()]
    model.train(training)
    try:
        yield
    finally:
        for module, mode in previous:
            object.__setattr__(module, "training", mode)


class _Tracker:
    """Running mean of the loss (weighted by batch size) and the streaming metrics."""

    def __init__(self, metrics: List[Any]) -> None:
        self.metrics = metrics
        self.reset()

    def reset(self) -> None:
        self.loss_sum = 0.0
        self.count = 0
        for metric in self.metrics:
            metric.reset_state()

    def update(self, loss_value: float, n: int, out: Tensor, target: Any) -> None:
        self.loss_sum += loss_value * n
        self.count += n
        y_true = target.data if isinstance(target, Tensor) else target
        for metric in self.metrics:
            metric.update_state(y_true, out.data)

    def logs(self) -> Dict[str, float]:
        logs = {"loss": self.loss_sum / self.count if self.count else math.nan}
        for metric in self.metrics:
            logs[metric.name] = float(metric.result())
        return logs


# --------------------------------------------------------------------- evaluate / predict
def compiled_config(model: Any, op: str) -> CompiledConfig:
    config = getattr(model, "_compiled", None)
    if config is None:
        raise RuntimeError(f"{op}: call model.compile(optimizer=..., loss=...) first")
    if config.loss is None:
        raise RuntimeError(f"{op}: the model was compiled without a loss")
    return config


def run_evaluation(model: Any, loader: DataLoader, config: CompiledConfig) -> Dict[str, float]:
    tracker = _Tracker(config.metrics)
    with modes_kept(model, False), no_grad():
        for batch in loader:
            inputs, target = split_batch(batch)
            if target is None:
                raise ValueError("evaluate: the batches carry no targets; expected (x, y)")
            out = forward(model, inputs)
            loss = compute_loss(config, out, target)
            tracker.update(float(loss.data), _batch_len(inputs), out, target)
    if tracker.count == 0:
        raise ValueError("evaluate: the data has no batches")
    return tracker.logs()


def evaluate(model: Any, x: Any, y: Any, batch_size: Optional[int], verbose: Any
             ) -> Dict[str, float]:
    config = compiled_config(model, "evaluate")
    loader = make_loader(x, y, batch_size, False, "evaluate")
    logs = run_evaluation(model, loader, config)
    if resolve_verbose(verbose) > 0:
        from .progress import format_logs

        print(format_logs(logs))
    return logs


def predict(model: Any, x: Any, batch_size: Optional[int], verbose: Any = 0) -> np.ndarray:
    loader = make_loader(x, None, batch_size, False, "predict", need_y=False)
    outputs = []
    started = time.perf_counter()
    with modes_kept(model, False), no_grad():
        for batch in loader:
            inputs, _ = split_batch(batch)
            outputs.append(forward(model, inputs).data)
    if not outputs:
        raise ValueError("predict: the data has no batches")
    result = outputs[0] if len(outputs) == 1 else np.concatenate(outputs)
    if resolve_verbose(verbose) > 0:
        elapsed = time.perf_counter() - started
        took = f"{elapsed * 1e3:.1f}ms" if elapsed < 1 else format_duration(elapsed)
        print(f"predict: {len(result)} samples in {len(outputs)} batches, {took}")
    return result


# --------------------------------------------------------------------- fit
def _validation_loader(validation_data: Any, validation_split: float, x: Any, y: Any,
                       batch_size: Optional[int]) -> Tuple[Any, Any, Optional[DataLoader]]:
    """``(x_train, y_train, validation loader)``."""
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"fit: validation_split must be in [0, 1), got {validation_split}")
    if validation_data is not None and validation_split > 0:
        raise ValueError("fit: give validation_data or validation_split, not both")
    if validation_data is not None:
        if isinstance(validation_data, DataLoader):
            return x, y, validation_data
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("fit: validation_data must be (x_val, y_val) or a DataLoader "
                             "(sample weights are not supported)")
        x_val, y_val = validation_data
        return x, y, make_loader(x_val, y_val, batch_size, False, "fit (validation_data)")
    if validation_split == 0:
        return x, y, None
    if isinstance(x, DataLoader):
        raise ValueError("fit: validation_split needs array inputs; with a DataLoader pass "
                         "validation_data")
    x, y = _as_array(x, "x", "fit"), _as_array(y, "y", "fit")
    n = len(x)
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(f"fit: validation_split={validation_split} of {n} samples leaves "
                         f"{n - split_at} for validation and {split_at} for training")
    _warn_if_unseen_classes(y[:split_at], y[split_at:], validation_split)
    val = make_loader(x[split_at:], y[split_at:], batch_size, False, "fit")
    return x[:split_at], y[:split_at], val


def _class_labels(y: Any) -> Optional[np.ndarray]:
    """The class of each sample when ``y`` holds integer labels (``(N,)`` or ``(N, 1)``) or
    one-hot rows; None for anything else (regression targets, soft labels)."""
    y = np.asarray(y.data if isinstance(y, Tensor) else y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 1 and y.dtype.kind in "iub":
        return y
    if y.ndim == 2 and y.shape[1] > 1 and y.size and np.isin(y, (0, 1)).all() \
            and (y.sum(axis=1) == 1).all():
        return y.argmax(axis=1)
    return None


def _warn_if_unseen_classes(y_train: Any, y_val: Any, validation_split: float) -> None:
    """``validation_split`` holds out the last samples as they come (Keras's rule); on data
    sorted by class (the bundled MNIST subset is) that validates on classes the model never
    trained on, and validation accuracy sits near 0 for no visible reason. Say so."""
    train, val = _class_labels(y_train), _class_labels(y_val)
    if train is None or val is None:
        return
    unseen = np.setdiff1d(val, train)
    if unseen.size:
        shown = ", ".join(str(c) for c in unseen[:10]) + (", ..." if unseen.size > 10 else "")
        warnings.warn(
            f"fit: validation_split={validation_split} holds out the last {len(val)} samples "
            f"before any shuffling, and class(es) {shown} appear only there: the model is "
            f"validated on classes it never trains on. Shuffle x and y together first "
            f"(p = np.random.permutation(len(x)); x, y = x[p], y[p]) or pass validation_data.",
            RuntimeWarning, stacklevel=5)


def _callback_list(callbacks: Optional[Sequence[Callback]], verbose: int
                   ) -> Tuple[CallbackList, History, Optional[ProgressBar]]:
    if isinstance(callbacks, Callback):
        raise TypeError(f"fit: callbacks must be a list of callbacks; wrap the single one: "
                        f"callbacks=[{type(callbacks).__name__}(...)]")
    user = list(callbacks or [])
    for cb in user:
        if not isinstance(cb, Callback):
            raise TypeError(f"fit: callbacks must be dlcore.callbacks.Callback instances, got "
                            f"{type(cb).__name__}")
    history = History()
    progress = next((cb for cb in user if isinstance(cb, ProgressBar)), None)
    others = [cb for cb in user if cb is not progress]
    if progress is None and verbose > 0:
        progress = ProgressBar(verbose)
    # History and the display come after the user's callbacks, so they see what those add
    # to the logs (e.g. 'lr').
    ordered = others + [history] + ([progress] if progress is not None else [])
    return CallbackList(ordered), history, progress


def _training_weights(x: Any, y: Any, sample_weight: Any, class_weight: Any
                      ) -> Optional[np.ndarray]:
    """Every sample's loss weight (None without ``sample_weight`` and ``class_weight``)."""
    if sample_weight is None and class_weight is None:
        return None
    if isinstance(x, DataLoader) or x is None or y is None:
        raise ValueError("fit: sample_weight and class_weight need array inputs x and y "
                         "(with a DataLoader, weight the loss in your own training loop)")
    x_array, y_array = _as_array(x, "x", "fit"), _as_array(y, "y", "fit")
    if y_array.ndim == 0 or len(y_array) != len(x_array):
        return None  # make_loader reports the mismatch
    return sample_weights(len(x_array), y_array, sample_weight, class_weight, "fit")


def fit(model: Any, x: Any, y: Any, epochs: int, batch_size: Optional[int],
        validation_data: Any, validation_split: float, shuffle: bool,
        callbacks: Optional[Sequence[Callback]], verbose: Any, initial_epoch: int,
        sample_weight: Any = None, class_weight: Any = None) -> History:
    config = compiled_config(model, "fit")
    for name, value in (("epochs", epochs), ("initial_epoch", initial_epoch)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"fit: {name} must be a non-negative int, got {value!r}")
    weights = _training_weights(x, y, sample_weight, class_weight)
    per_element = None if weights is None else unreduced(config.loss, "fit")
    x, y, val_loader = _validation_loader(validation_data, validation_split, x, y, batch_size)
    if weights is not None:
        weights = weights[:len(x)]  # validation_split holds out the last samples
    loader = make_loader(x, y, batch_size, shuffle, "fit", weights=weights)
    level = resolve_verbose(verbose)
    cbs, history, progress = _callback_list(callbacks, level)
    try:
        steps: Optional[int] = len(loader)
    except TypeError:
        steps = None
    cbs.call("set_model", model)
    cbs.call("set_params", {"epochs": int(epochs), "steps": steps, "verbose": level})
    model.stop_training = False
    tracker = _Tracker(config.metrics)
    logs: Dict[str, float] = {}
    with modes_kept(model, True):
        try:
            cbs.call("on_train_begin", None)
            for epoch in range(int(initial_epoch), int(epochs)):
                logs = _train_epoch(model, config, loader, cbs, tracker, epoch, per_element)
                if val_loader is not None:
                    val_logs = run_evaluation(model, val_loader, config)
                    logs.update({f"val_{k}": v for k, v in val_logs.items()})
                cbs.call("on_epoch_end", epoch, logs)
                if model.stop_training:
                    break
            cbs.call("on_train_end", logs)
        finally:
            if progress is not None and hasattr(progress, "_out"):
                progress.close_line()
    return history


def _train_epoch(model: Any, config: CompiledConfig, loader: DataLoader, cbs: CallbackList,
                 tracker: _Tracker, epoch: int, per_element: Any = None) -> Dict[str, float]:
    """One pass over ``loader``; with ``per_element`` (the loss without reduction) its
    batches are ``(x, y, sample weights)`` and the loss is weighted."""
    optimizer = config.optimizer
    tracker.reset()
    cbs.call("on_epoch_begin", epoch, None)
    for index, batch in enumerate(loader):
        weights = None
        if per_element is not None:
            batch, weights = batch[:-1], batch[-1]
        inputs, target = split_batch(batch)
        if target is None:
            raise ValueError("fit: the batches carry no targets; expected (x, y) batches")
        cbs.call("on_batch_begin", index, None)
        optimizer.zero_grad()
        out = forward(model, inputs)
        if weights is None:
            loss = compute_loss(config, out, target)
        else:
            loss = weighted_loss(per_element, out, align_target(out, target), weights)
        loss.backward()
        cbs.call("on_after_backward", index, None)
        optimizer.step()
        tracker.update(float(loss.data), _batch_len(inputs), out, target)
        cbs.call("on_batch_end", index, tracker.logs())
        if model.stop_training:
            break
    if tracker.count == 0:
        raise ValueError("fit: the training data has no batches (drop_last with too few "
                         "samples?)")
    return tracker.logs()
