"""``History``: what ``fit`` returns — one value per epoch for the loss and each metric."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from .callbacks import Callback, Logs
from .plotting import finish, new_figure


class History(Callback):
    """Records the logs of every epoch (``fit`` adds it to the callbacks and returns it).

    Attributes:
        history: ``{'loss': [...], 'accuracy': [...], 'val_loss': [...], ...}``, one value
            per epoch in order.
        epoch: the epoch numbers (counted from 0, so ``initial_epoch=2`` gives ``[2, 3]``).
        params: ``epochs``, ``steps`` and ``verbose`` of the ``fit`` call.
    """

    def __init__(self) -> None:
        self.history: Dict[str, List[float]] = {}
        self.epoch: List[int] = []

    def on_train_begin(self, logs: Logs = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def plot(self, path: Optional[str] = None, metrics: Optional[Sequence[str]] = None) -> Any:
        """Draw loss and metric curves, training and validation, one panel per quantity.

        Args:
            path: save the figure there as a PNG (and do not open a window).
            metrics: the quantities to draw (default: everything recorded except ``lr``);
                each panel shows ``name`` and, if recorded, ``val_name``.

        Returns:
            The matplotlib ``Figure``.

        Raises:
            ImportError: matplotlib is not installed (``pip install 'dlcore-rs[plot]'``).
            ValueError: nothing recorded, or an unknown metric name.
        """
        names = list(metrics) if metrics is not None else [
            k for k in self.history if not k.startswith("val_") and k != "lr"]
        if not names:
            names = [k[4:] for k in self.history if k.startswith("val_")]
        if not names:
            raise ValueError("History.plot: nothing was recorded (did fit run any epoch?)")
        for name in names:
            if name not in self.history and f"val_{name}" not in self.history:
                raise ValueError(f"History.plot: {name!r} was not recorded; recorded: "
                                 f"{', '.join(self.history)}")
        fig, axes = new_figure("History.plot", path, len(names))
        for ax, name in zip(axes, names):
            for key, label, style in ((name, "training", "-"),
                                      (f"val_{name}", "validation", "--")):
                values = self.history.get(key)
                if values:
                    epochs = [e + 1 for e in self.epoch[-len(values):]] or list(
                        range(1, len(values) + 1))
                    ax.plot(epochs, values, style, marker="o", markersize=3, label=label)
            ax.set_title(name)
            ax.set_xlabel("epoch")
            ax.grid(True, alpha=0.3)
            ax.legend()
        return finish(fig, path)

    def __repr__(self) -> str:
        keys = ", ".join(self.history)
        return f"History(epochs={len(self.epoch)}, keys=[{keys}])"
