"""Callbacks: code that ``fit`` runs at fixed points of training, with Keras' hooks.

``fit`` calls, in order: ``on_train_begin``; per epoch ``on_epoch_begin``, then per batch
``on_batch_begin``, ``on_after_backward`` (gradients are fresh, the optimizer has not stepped
yet: a dlcore addition), ``on_batch_end``; then ``on_epoch_end`` with the epoch's logs
(``loss``, metrics and their ``val_`` twins); finally ``on_train_end``. Batch logs hold the
running means of the epoch so far. A callback stops training by setting
``self.model.stop_training = True``.
"""

from __future__ import annotations

import inspect
import math
import os
import warnings
from typing import Any, Callable, Dict, List, Optional

import numpy as np

Logs = Optional[Dict[str, Any]]


def _say(text: str) -> None:
    from .progress import print_message

    print_message(text)


class Callback:
    """Base class: override the hooks you need. ``self.model`` is the model being trained,
    ``self.params`` holds ``epochs``, ``steps`` (batches per epoch, or None) and
    ``verbose``; ``self.optimizer`` is the optimizer given to ``compile``."""

    model: Any = None
    params: Dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: Dict[str, Any]) -> None:
        self.params = params

    @property
    def optimizer(self) -> Any:
        compiled = getattr(self.model, "_compiled", None)
        if compiled is None:
            raise RuntimeError(f"{type(self).__name__}: the model has no optimizer; call "
                               "model.compile(optimizer=...) first")
        return compiled.optimizer

    def on_train_begin(self, logs: Logs = None) -> None:
        pass

    def on_train_end(self, logs: Logs = None) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        pass

    def on_batch_begin(self, batch: int, logs: Logs = None) -> None:
        pass

    def on_after_backward(self, batch: int, logs: Logs = None) -> None:
        pass

    def on_batch_end(self, batch: int, logs: Logs = None) -> None:
        pass


class CallbackList:
    """Calls a hook on every callback, in order: ``callbacks.call("on_epoch_end", 3, logs)``."""

    def __init__(self, callbacks: List[Callback]) -> None:
        self.callbacks = list(callbacks)

    def call(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(*args)


# --------------------------------------------------------------------- helpers
_MAX_WORDS = ("acc", "accuracy", "precision", "recall", "f1", "auc")


def _resolve_mode(mode: str, monitor: str, owner: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    name = monitor[4:] if monitor.startswith("val_") else monitor
    return "max" if any(word in name for word in _MAX_WORDS) else "min"


def _improves(current: float, best: float, mode: str, min_delta: float) -> bool:
    if mode == "min":
        return current < best - min_delta
    return current > best + min_delta


def _missing_monitor(owner: str, monitor: str, logs: Logs) -> None:
    available = ", ".join(sorted(logs or {})) or "none"
    warnings.warn(f"{owner}: '{monitor}' is not in the logs (available: {available}); "
                  "did you forget validation_data or validation_split?", RuntimeWarning,
                  stacklevel=3)


def get_lr(optimizer: Any) -> float:
    """The learning rate of the optimizer's first parameter group."""
    return float(optimizer.param_groups[0]["lr"])


def set_lr(optimizer: Any, lr: float) -> None:
    """Set the learning rate of every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = float(lr)


# --------------------------------------------------------------------- stopping
class EarlyStopping(Callback):
    """Stop training when a monitored value has stopped improving.

    Args:
        monitor: a key of the epoch logs, e.g. ``'val_loss'`` or ``'val_accuracy'``.
        min_delta: smaller changes do not count as an improvement.
        patience: epochs without improvement before stopping.
        verbose: 1 prints a line when stopping and when restoring.
        mode: ``'min'``, ``'max'`` or ``'auto'`` (max for accuracy-, precision-, recall- and
            f1-like names, min otherwise).
        baseline: training stops if the value does not beat this within ``patience``.
        restore_best_weights: when training ends (stopped early or not), load the weights
            of the best epoch. (Keras restores only when it stops early; restoring at every
            end is what the name promises.)
        start_from_epoch: epochs of warm-up before improvements are watched.

    After training, ``stopped_epoch`` (0 if it never stopped) and ``best_epoch`` tell what
    happened.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: Optional[float] = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0) -> None:
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.verbose = verbose
        self.mode = _resolve_mode(mode, monitor, "EarlyStopping")
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = int(start_from_epoch)

    def on_train_begin(self, logs: Logs = None) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0
        self.best_weights: Optional[Dict[str, np.ndarray]] = None
        self._last_epoch = -1
        self._warned = False

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self._last_epoch = epoch
        current = (logs or {}).get(self.monitor)
        if current is None:
            if not self._warned:
                _missing_monitor("EarlyStopping", self.monitor, logs)
                self._warned = True
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.state_dict()
        self.wait += 1
        if _improves(current, self.best, self.mode, self.min_delta):
            self.best = float(current)
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.state_dict()
            if self.baseline is None or _improves(current, self.baseline, self.mode,
                                                  self.min_delta):
                self.wait = 0
            return
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs = None) -> None:
        if self.stopped_epoch and self.verbose:
            _say(f"Epoch {self.stopped_epoch + 1}: early stopping ({self.monitor} has not "
                 f"improved for {self.wait} epochs; best {self.best:.4g} at epoch "
                 f"{self.best_epoch + 1})")
        if (self.restore_best_weights and self.best_weights is not None
                and self.best_epoch != self._last_epoch):
            self.model.load_state_dict(self.best_weights)
            if self.verbose:
                _say(f"Restored the weights of epoch {self.best_epoch + 1} "
                     f"({self.monitor} = {self.best:.4g})")


class TerminateOnNaN(Callback):
    """Stop training as soon as the loss becomes NaN or infinite (checked every batch)."""

    def on_train_begin(self, logs: Logs = None) -> None:
        self.stopped_batch: Optional[int] = None

    def on_batch_end(self, batch: int, logs: Logs = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.stopped_batch = batch
            _say(f"Batch {batch}: invalid loss {loss}, terminating training")
            self.model.stop_training = True


# --------------------------------------------------------------------- checkpoints and logs
class ModelCheckpoint(Callback):
    """Save the model after every epoch, or only when a monitored value improves.

    Args:
        filepath: where to save; may hold format fields filled from the epoch (1-based) and
            the logs, e.g. ``'ckpt-{epoch:02d}-{val_loss:.3f}.npz'``.
        monitor: the log value compared with ``save_best_only``.
        verbose: 1 prints a line per save.
        save_best_only: save only when ``monitor`` improves (so with a fixed ``filepath``
            the file always holds the best model).
        mode: ``'min'``, ``'max'`` or ``'auto'`` as in :class:`EarlyStopping`.
        save_weights_only: write only ``{'model': state_dict}`` (what ``model.save``
            writes). Otherwise (the default) also the optimizer state, the number of
            finished epochs and dlcore's RNG state, everything needed to resume::

                ckpt = dlcore.load(path)
                model.load_state_dict(ckpt['model']); opt.load_state_dict(ckpt['optimizer'])
                dlcore.set_rng_state(ckpt['rng'])
                model.fit(x, y, epochs=10, initial_epoch=ckpt['epoch'])

    Both kinds load with ``model.load_weights(path)``. Writes are atomic (``dlcore.save``).
    """

    def __init__(self, filepath: str, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, mode: str = "auto",
                 save_weights_only: bool = False) -> None:
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.mode = _resolve_mode(mode, monitor, "ModelCheckpoint")
        self.save_weights_only = save_weights_only
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: Optional[int] = None
        self._warned = False

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        logs = logs or {}
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                if not self._warned:
                    _missing_monitor("ModelCheckpoint", self.monitor, logs)
                    self._warned = True
                return
            if not _improves(current, self.best, self.mode, 0.0):
                return
            self.best = float(current)
            self.best_epoch = epoch
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as err:
            raise ValueError(
                f"ModelCheckpoint: filepath {self.filepath!r} cannot be filled in ({err!r}); "
                f"its fields can name: {', '.join(['epoch', *logs])} (val_ values need "
                f"validation_data or validation_split)") from None
        self._save(path, epoch)
        if self.verbose:
            _say(f"Epoch {epoch + 1}: saved the model to {path}")

    def _save(self, path: str, epoch: int) -> None:
        from ..random import get_rng_state
        from ..serialization import save

        if self.save_weights_only:
            save({"model": self.model.state_dict()}, path)
            return
        compiled = getattr(self.model, "_compiled", None)
        optimizer = compiled.optimizer if compiled is not None else None
        save({"model": self.model.state_dict(),
              "optimizer": optimizer.state_dict() if optimizer is not None else None,
              "epoch": epoch + 1,
              "rng": get_rng_state()}, path)


class CSVLogger(Callback):
    """Write the logs of every epoch as a CSV row (header: ``epoch`` and the sorted keys).

    Args:
        filename: the CSV file.
        separator: field separator.
        append: add to an existing file (the header is written only if it is empty).

    Each row is flushed as it is written, so the file is useful while training runs.
    """

    def __init__(self, filename: str, separator: str = ",", append: bool = False) -> None:
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = append
        self._file: Any = None
        self._writer: Any = None
        self._keys: Optional[List[str]] = None

    def on_train_begin(self, logs: Logs = None) -> None:
        import csv  # here, not at the top: ``import dlcore`` stays fast

        has_content = (self.append and os.path.exists(self.filename)
                       and os.path.getsize(self.filename) > 0)
        self._file = open(self.filename, "a" if self.append else "w", newline="",
                          encoding="utf-8")
        self._writer = csv.writer(self._file, delimiter=self.separator)
        self._keys = None
        self._write_header = not has_content

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        logs = logs or {}
        if self._keys is None:
            self._keys = sorted(logs)
            if self._write_header:
                self._writer.writerow(["epoch"] + self._keys)
        self._writer.writerow([epoch] + [_csv_value(logs.get(k, "NA")) for k in self._keys])
        self._file.flush()

    def on_train_end(self, logs: Logs = None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _csv_value(value: Any) -> Any:
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return value


# --------------------------------------------------------------------- learning rates
class LearningRateScheduler(Callback):
    """Set the learning rate every epoch.

    Args:
        schedule: either a function ``schedule(epoch) -> lr`` or
            ``schedule(epoch, lr) -> lr`` (epoch counted from 0), applied at the start of
            each epoch; or any ``dlcore.optim.lr_scheduler`` object built on the compiled
            optimizer, whose ``step()`` is called at the end of each epoch (PyTorch's
            convention), or after each batch for per-batch ones (``OneCycleLR``: give it
            ``epochs`` and ``steps_per_epoch`` of the ``fit`` call). ``ReduceLROnPlateau``
            schedulers are stepped with the value of ``monitor``.
        verbose: 1 prints each change.
        monitor: the log value passed to plateau schedulers.

    The epoch's learning rate is added to the logs as ``lr``.
    """

    def __init__(self, schedule: Any, verbose: int = 0, monitor: str = "val_loss") -> None:
        self.verbose = verbose
        self.monitor = monitor
        self.scheduler: Any = None
        self.schedule: Optional[Callable[..., float]] = None
        if inspect.isroutine(schedule) or not hasattr(schedule, "step"):
            if not callable(schedule):
                raise TypeError(f"LearningRateScheduler: schedule must be a function or an "
                                f"lr_scheduler, got {type(schedule).__name__}")
            self.schedule = schedule
            self._takes_lr = _required_positional(schedule) >= 2
        else:
            self.scheduler = schedule

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        if self.schedule is None:
            return
        current = get_lr(self.optimizer)
        lr = self.schedule(epoch, current) if self._takes_lr else self.schedule(epoch)
        if not isinstance(lr, (float, int, np.floating, np.integer)) or not math.isfinite(lr):
            raise ValueError(f"LearningRateScheduler: the schedule returned {lr!r} at epoch "
                             f"{epoch}; expected a finite number")
        set_lr(self.optimizer, float(lr))
        if self.verbose and lr != current:
            _say(f"Epoch {epoch + 1}: learning rate set to {float(lr):.6g}")

    def _per_batch(self) -> bool:
        return bool(getattr(self.scheduler, "per_batch", False))

    def on_batch_end(self, batch: int, logs: Logs = None) -> None:
        if self.scheduler is not None and self._per_batch():
            self._last_batch_lr = get_lr(self.optimizer)
            self.scheduler.step()

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        logs = logs if logs is not None else {}
        if self.scheduler is not None and self._per_batch():
            # The rate the epoch's last batch used, not the next one's.
            logs["lr"] = getattr(self, "_last_batch_lr", get_lr(self.optimizer))
            return
        logs["lr"] = get_lr(self.optimizer)
        if self.scheduler is None:
            return
        if _is_plateau_scheduler(self.scheduler):
            value = logs.get(self.monitor)
            if value is None:
                _missing_monitor("LearningRateScheduler", self.monitor, logs)
                return
            self.scheduler.step(value)
        else:
            self.scheduler.step()
        if self.verbose and get_lr(self.optimizer) != logs["lr"]:
            _say(f"Epoch {epoch + 1}: learning rate now {get_lr(self.optimizer):.6g}")


def _required_positional(fn: Callable[..., Any]) -> int:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 1
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind == inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return 2
    return sum(1 for p in parameters if p.kind in kinds and p.default is p.empty)


def _is_plateau_scheduler(scheduler: Any) -> bool:
    return type(scheduler).__name__ == "ReduceLROnPlateau"


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` stops improving.

    Args:
        monitor: the log value to watch.
        factor: new_lr = lr * factor (must be < 1).
        patience: epochs without improvement before reducing.
        verbose: 1 prints each reduction.
        mode: ``'min'``, ``'max'`` or ``'auto'``.
        min_delta: smaller changes do not count as an improvement.
        cooldown: epochs to wait after a reduction before watching again.
        min_lr: the learning rate never goes below this.

    Keras' callback; ``dlcore.optim.lr_scheduler.ReduceLROnPlateau`` is the PyTorch-style
    equivalent for hand-written loops. Adds ``lr`` to the logs.
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 verbose: int = 0, mode: str = "auto", min_delta: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0) -> None:
        if not 0.0 < factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor}")
        self.monitor = monitor
        self.factor = float(factor)
        self.patience = int(patience)
        self.verbose = verbose
        self.mode = _resolve_mode(mode, monitor, "ReduceLROnPlateau")
        self.min_delta = abs(float(min_delta))
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)

    def on_train_begin(self, logs: Logs = None) -> None:
        self.wait = 0
        self.cooldown_counter = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self._warned = False

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        logs = logs if logs is not None else {}
        logs["lr"] = get_lr(self.optimizer)
        current = logs.get(self.monitor)
        if current is None:
            if not self._warned:
                _missing_monitor("ReduceLROnPlateau", self.monitor, logs)
                self._warned = True
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if _improves(current, self.best, self.mode, self.min_delta):
            self.best = float(current)
            self.wait = 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = get_lr(self.optimizer)
                if old_lr > self.min_lr:
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    set_lr(self.optimizer, new_lr)
                    if self.verbose:
                        _say(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing the learning "
                             f"rate to {new_lr:.6g}")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0
